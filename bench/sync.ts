/**
 * Sync benchmark: a local anvil chain of ≥ 20,000 real transactions (ETH transfers, forwards with
 * internal calls, reverts, token logs), then
 *   1. block sync (BullMQ ingest jobs, batched JSON-RPC): blocks/s and transfers/s;
 *   2. lazy per-address walks (2 hops downstream): API calls per expanded address (JSON-RPC calls in a batch count one each) for the node's per-address lookups
 *      (trace_filter, and Otterscan's ots_searchTransactionsBefore; both trace a block once when
 *      two or more of the address's transactions sit in it) and for the Etherscan-compatible API (a local server built from the chain's etl export);
 *   3. the Etherscan source's achieved calls/s as a share of the configured limit, and its
 *      rate-limit failures (the server enforces the same limit).
 * Prints tables and writes bench/results/sync.json.
 *
 *   node --import tsx bench/sync.ts [--blocks 200] [--tx-per-block 100] [--etherscan-rate 20]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createGraphStore } from '../src/store/graph-store.ts'
import { startPrivateRedis } from '../src/store/private-redis.ts'
import { connectRedis } from '../src/store/redis.ts'
import { runSync } from '../src/sources/rpc/sync.ts'
import { exportEtl } from '../src/sources/export-etl.ts'
import { createLazyHistory } from '../src/sources/lazy-history.ts'
import { createRpcAddressSource } from '../src/sources/rpc/address-history.ts'
import { createRpcClient } from '../src/sources/rpc/client.ts'
import { createOtsAddressSource } from '../src/sources/rpc/ots-history.ts'
import { createEtherscanClient } from '../src/sources/etherscan/client.ts'
import { createEtherscanSource } from '../src/sources/etherscan/source.ts'
import { runWalk } from '../src/walk/run-walk.ts'
import { publishedLabels } from '../src/walk/walk-runs.ts'
import { DEFAULT_STOP_CATEGORIES } from '../src/config.ts'
import type { Address } from '../src/types.ts'
import { startAnvil } from '../test/support/anvil.ts'
import { buildRandomChain } from '../test/support/chain.ts'
import { startFakeEtherscan } from '../test/support/fake-etherscan.ts'
import { readEtlRows } from '../test/support/store-compare.ts'

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}

const BLOCKS = arg('blocks', 200)
const TX_PER_BLOCK = arg('tx-per-block', 100)
const ETHERSCAN_RATE = arg('etherscan-rate', 20)
const API_KEY = 'bench-key'

async function main(): Promise<void> {
  const [anvil, redisServer] = await Promise.all([startAnvil({ args: ['--auto-impersonate', '--gas-limit', '100000000'] }), startPrivateRedis()])
  const redis = await connectRedis(redisServer.url)
  const dir = await mkdtemp(join(tmpdir(), 'bench-sync-'))
  try {
    let t = performance.now()
    const chain = await buildRandomChain(anvil.url, { seed: 2026, blocks: BLOCKS, txPerBlock: TX_PER_BLOCK, addresses: 2_000 })
    const buildSeconds = (performance.now() - t) / 1000
    const listed = [chain.contracts.token as Address]
    process.stdout.write(`chain: ${chain.transactions} transactions in blocks ${chain.firstBlock}-${chain.lastBlock} (built in ${buildSeconds.toFixed(1)} s)\n`)

    // 1. Block sync.
    const store = createGraphStore(redis, '{bench-sync}')
    t = performance.now()
    const summary = await runSync(store, { redisUrl: redisServer.url, rpcUrl: anvil.url, listedTokens: listed, fromBlock: 0, toBlock: chain.lastBlock, confirmations: 0, rangeSize: 20, workers: 2, concurrency: 2 })
    const syncSeconds = (performance.now() - t) / 1000
    const stats = await store.stats()
    const blocks = chain.lastBlock + 1
    const sync = {
      blocks,
      transactions: chain.transactions,
      transfers: stats.transfers,
      seconds: syncSeconds,
      blocksPerSecond: blocks / syncSeconds,
      transfersPerSecond: stats.transfers / syncSeconds,
      transactionsPerSecond: chain.transactions / syncSeconds,
      rpcRequests: summary.rpc.requests,
      rpcCalls: summary.rpc.calls,
    }

    // 2. Lazy per-address walks (2 hops, downstream) on each per-address source.
    await exportEtl({ rpcUrl: anvil.url, fromBlock: 0, toBlock: chain.lastBlock, dir })
    const rows = await readEtlRows(dir)
    const walkOptions = { redisUrl: redisServer.url, directions: ['downstream'] as const, maxHops: 2, batchSize: 32, stopCategories: DEFAULT_STOP_CATEGORIES, counterpartyCap: 1_000_000, dust: {}, workers: 2, concurrency: 2 }
    const perSource: Record<string, { expanded: number; requests: number; requestsPerAddress: number; seconds: number }> = {}

    const rpcStore = createGraphStore(redis, '{bench-addr}')
    await rpcStore.putSeeds(chain.seeds.map((a) => ({ address: a as Address, label: 'seed', source: 'bench' })))
    const rpcClient = createRpcClient({ url: anvil.url })
    const rpcSource = createRpcAddressSource(rpcClient, listed)
    const rpcLazy = createLazyHistory(rpcStore, rpcSource, { throughBlock: chain.lastBlock, listedTokens: listed })
    t = performance.now()
    await runWalk(rpcStore, { ...walkOptions, directions: ['downstream'], beforeExpand: (a) => rpcLazy.ensure(a) })
    perSource['rpc-address'] = { expanded: rpcLazy.fetched(), requests: rpcSource.requests(), requestsPerAddress: rpcSource.requests() / Math.max(1, rpcLazy.fetched()), seconds: (performance.now() - t) / 1000 }

    const otsStore = createGraphStore(redis, '{bench-ots}')
    await otsStore.putSeeds(chain.seeds.map((a) => ({ address: a as Address, label: 'seed', source: 'bench' })))
    const otsSource = createOtsAddressSource(createRpcClient({ url: anvil.url }), listed)
    const otsLazy = createLazyHistory(otsStore, otsSource, { throughBlock: chain.lastBlock, listedTokens: listed })
    t = performance.now()
    await runWalk(otsStore, { ...walkOptions, directions: ['downstream'], beforeExpand: (a) => otsLazy.ensure(a) })
    perSource['rpc-ots'] = { expanded: otsLazy.fetched(), requests: otsSource.requests(), requestsPerAddress: otsSource.requests() / Math.max(1, otsLazy.fetched()), seconds: (performance.now() - t) / 1000 }
    const [rpcLabels, otsLabels] = await Promise.all([rpcStore, otsStore].map(async (s) => Object.keys(await publishedLabels(s, 'downstream')).length))
    process.stdout.write(`lazy walks: trace_filter store ${rpcLabels} labelled keys, ots store ${otsLabels}\n`)

    const fake = await startFakeEtherscan(rows, { apiKey: API_KEY, rate: ETHERSCAN_RATE, head: chain.lastBlock })
    const esStore = createGraphStore(redis, '{bench-es}')
    await esStore.putSeeds(chain.seeds.map((a) => ({ address: a as Address, label: 'seed', source: 'bench' })))
    const esClient = createEtherscanClient({ baseUrl: fake.url, apiKey: API_KEY, chainId: 31337, rate: ETHERSCAN_RATE, redisUrl: redisServer.url, prefix: esStore.keys.prefix })
    const esSource = createEtherscanSource(esClient, listed)
    const esLazy = createLazyHistory(esStore, esSource, { throughBlock: chain.lastBlock, listedTokens: listed, concurrency: 8 })
    t = performance.now()
    await runWalk(esStore, { ...walkOptions, directions: ['downstream'], maxHops: 2, workers: 2, concurrency: 4, batchSize: 8, beforeExpand: (a) => esLazy.ensure(a) })
    const esSeconds = (performance.now() - t) / 1000
    perSource['etherscan'] = { expanded: esLazy.fetched(), requests: esClient.stats.calls, requestsPerAddress: esClient.stats.calls / Math.max(1, esLazy.fetched()), seconds: esSeconds }
    const span = (esClient.stats.lastAt - esClient.stats.firstAt) / 1000
    const achieved = span > 0 ? (esClient.stats.calls - 1) / span : 0
    const etherscan = {
      configuredCallsPerSecond: ETHERSCAN_RATE,
      calls: esClient.stats.calls,
      achievedCallsPerSecond: achieved,
      shareOfLimit: achieved / ETHERSCAN_RATE,
      rateLimitedAnswers: fake.counts.rateLimited,
      failedCalls: 0,
    }
    await esClient.close()
    await fake.stop()

    // Report.
    const f = (n: number, d = 1) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
    process.stdout.write('\nblock sync (anvil, batched JSON-RPC, 2 ingest workers × 2 jobs, 20 blocks per job)\n')
    process.stdout.write(`  blocks ${blocks}  transactions ${chain.transactions}  transfers ${stats.transfers}  in ${f(syncSeconds, 2)} s\n`)
    process.stdout.write(`  ${f(sync.blocksPerSecond)} blocks/s  ${f(sync.transfersPerSecond)} transfers/s  ${f(sync.transactionsPerSecond)} transactions/s  (${summary.rpc.requests} HTTP requests, ${summary.rpc.calls} calls)\n`)
    process.stdout.write('\nlazy per-address walks (2 hops downstream): API calls per expanded address (JSON-RPC calls in a batch count one each)\n')
    for (const [name, s] of Object.entries(perSource)) process.stdout.write(`  ${name.padEnd(12)} expanded ${String(s.expanded).padStart(5)}  requests ${String(s.requests).padStart(6)}  per address ${f(s.requestsPerAddress, 2)}  (${f(s.seconds, 2)} s)\n`)
    process.stdout.write(`\nEtherscan source: ${etherscan.calls} calls, achieved ${f(achieved, 2)} calls/s of ${ETHERSCAN_RATE} configured = ${f(100 * etherscan.shareOfLimit)}%, rate-limited answers ${etherscan.rateLimitedAnswers}\n`)

    const result = { date: new Date().toISOString(), chain: { blocks, transactions: chain.transactions, addresses: chain.addresses.length, buildSeconds }, sync, perSource, etherscan }
    await mkdir(new URL('./results/', import.meta.url), { recursive: true })
    await writeFile(new URL('./results/sync.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`)
    process.stdout.write('\nwrote bench/results/sync.json\n')
  } finally {
    redis.disconnect()
    await anvil.stop()
    await redisServer.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error)
    process.exit(1)
  },
)
