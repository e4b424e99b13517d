/**
 * Chain identity and parent links, against a real anvil behind a hostile proxy: the store records
 * the chain id and genesis hash at its first sync (or lazy rpc walk); a sync, an ingest job, a
 * lazy rpc walk or an on-demand check against a node of another chain is refused naming both
 * chains, and writes nothing. A node answering wrong parent hashes is never accepted silently:
 * the sync fails naming the block, and the coverage does not claim it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isExposureError } from '../../src/errors.ts'
import { addIngestJobs, createIngestQueue } from '../../src/queues/ingest-queue.ts'
import { readCoverage, syncKeys } from '../../src/sources/rpc/ingest.ts'
import { runSync, type SyncOptions } from '../../src/sources/rpc/sync.ts'
import { createGraphStore, type GraphStore } from '../../src/store/graph-store.ts'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import { storeGlobs } from '../../src/store/partitions.ts'
import type { Address } from '../../src/types.ts'
import { startIngestWorker } from '../../src/queues/workers/ingest.ts'
import { startAnvil, type AnvilInstance } from '../support/anvil.ts'
import { buildRandomChain, type RandomChain } from '../support/chain.ts'
import { runCli } from '../support/cli.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { blockParam, startRewriteProxy, type RewriteProxy } from '../support/rewrite-proxy.ts'
import { adjacencySnapshot } from '../support/store-compare.ts'

let anvil: AnvilInstance
let server: TestRedis
let redis: Redis
let chain: RandomChain
let listed: Address[]
let proxy: RewriteProxy

const FAKE_HASH = `0x${'ab'.repeat(32)}`

beforeAll(async () => {
  ;[anvil, server] = await Promise.all([startAnvil({ args: ['--auto-impersonate'] }), startRedis()])
  redis = await connectRedis(server.url)
  chain = await buildRandomChain(anvil.url, { seed: 41, blocks: 24, txPerBlock: 5 })
  listed = [chain.contracts.token as Address]
  proxy = await startRewriteProxy(anvil.url)
}, 90_000)

afterAll(async () => {
  redis?.disconnect()
  await proxy?.stop()
  await Promise.all([anvil?.stop(), server?.stop()])
})

function sync(store: GraphStore, options: Partial<SyncOptions>) {
  return runSync(store, { redisUrl: server.url, rpcUrl: anvil.url, listedTokens: listed, confirmations: 0, rangeSize: 5, workers: 1, concurrency: 2, rpc: { maxAttempts: 2, backoffMs: 5 }, ...options })
}

const env = (prefix: string) => ({ REDIS_URL: server.url, EXPOSURE_PREFIX: prefix, EXPOSURE_ASSETS: listed.join(','), RPC_URL: proxy.url })

/** Every key of the store (BullMQ's housekeeping aside) with its value's dump, to show a refused command changed nothing. */
async function dump(prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const key of (await Promise.all(storeGlobs(prefix).map((g) => redis.keys(g)))).flat().sort()) if (!key.startsWith(`${prefix}:q:`)) out.set(key, ((await redis.dumpBuffer(key)) ?? Buffer.alloc(0)).toString('hex'))
  return out
}

describe('chain identity', () => {
  it('records the chain at the first sync and refuses a node of another chain id everywhere', async () => {
    const prefix = testPrefix('chainid')
    const store = createGraphStore(redis, prefix)
    const first = await sync(store, { fromBlock: 0, toBlock: 10 })
    expect(first.chain).toMatchObject({ chainId: 31337 })
    expect(first.chain.genesis).toMatch(/^0x[0-9a-f]{64}$/)
    await store.putSeeds([{ address: chain.seeds[0] as Address, label: 'seed', source: 'test' }])
    const before = await dump(prefix)

    proxy.setRewrite((call) => (call.method === 'eth_chainId' ? '0x5' : undefined))
    try {
      const cli = await runCli(['sync', '--confirmations', '0', '--json'], env(prefix))
      expect(cli.code, cli.stderr).toBe(2)
      expect(cli.stderr).toMatch(/chain 5.*chain 31337|chain 31337.*chain 5/)
      const trace = await runCli(['trace', '--source', 'rpc', '--confirmations', '0'], env(prefix))
      expect(trace.code, trace.stderr).toBe(2)
      expect(trace.stderr).toMatch(/chain 5.*chain 31337|chain 31337.*chain 5/)
      const check = await runCli(['check', '--source', 'rpc', '--confirmations', '0', chain.seeds[0]!], env(prefix))
      expect(check.code, check.stderr).toBe(2)
      expect(check.stderr).toMatch(/chain 5.*chain 31337|chain 31337.*chain 5/)
      expect(await dump(prefix)).toEqual(before)

      // An ingest job served by a worker whose node is of another chain fails, writing nothing.
      const worker = startIngestWorker({ redisUrl: server.url, prefix, rpcUrl: proxy.url, listedTokens: listed, concurrency: 1 })
      const queue = createIngestQueue(redis.duplicate({ maxRetriesPerRequest: null }), store.keys.queuePrefix)
      try {
        await addIngestJobs(queue, [{ source: 'rpc', from: 11, to: 15, listedTokens: listed }])
        let failed: string | undefined
        for (let i = 0; i < 600 && failed === undefined; i++) {
          const [job] = await queue.getFailed(0, 0)
          failed = job?.failedReason
          if (failed === undefined) await new Promise((r) => setTimeout(r, 50))
        }
        expect(failed).toMatch(/chain 5.*chain 31337|chain 31337.*chain 5/)
      } finally {
        await worker.close()
        await queue.obliterate({ force: true })
        await queue.close()
      }
      expect(await readCoverage(redis, syncKeys(prefix))).toEqual([{ from: 0, to: 10 }])
    } finally {
      proxy.setRewrite(null)
    }
  })

  it('refuses a node with the same chain id and another genesis block', async () => {
    const prefix = testPrefix('genesis')
    const store = createGraphStore(redis, prefix)
    await sync(store, { fromBlock: 0, toBlock: 4 })
    const before = await dump(prefix)
    proxy.setRewrite((call, result) => (call.method === 'eth_getBlockByNumber' && blockParam(call) === 0 ? { ...(result as object), hash: FAKE_HASH } : undefined))
    try {
      const cli = await runCli(['sync', '--confirmations', '0'], env(prefix))
      expect(cli.code, cli.stderr).toBe(2)
      expect(cli.stderr).toContain('genesis')
      expect(cli.stderr).toContain(FAKE_HASH)
      expect(await dump(prefix)).toEqual(before)
    } finally {
      proxy.setRewrite(null)
    }
  })

  it('a lazy rpc walk records the chain; a sync against another chain is then refused', async () => {
    const prefix = testPrefix('lazy')
    const store = createGraphStore(redis, prefix)
    await store.putSeeds([{ address: chain.seeds[0] as Address, label: 'seed', source: 'test' }])
    const walked = await runCli(['trace', '--source', 'rpc', '--confirmations', '0', '--hops', '1', '--rpc-url', anvil.url], { ...env(prefix) })
    expect(walked.code, walked.stderr).toBe(0)
    expect(await redis.hget(`${prefix}:chain`, 'chainId')).toBe('31337')
    proxy.setRewrite((call) => (call.method === 'eth_chainId' ? '0x5' : undefined))
    try {
      const cli = await runCli(['sync', '--from-block', '0', '--confirmations', '0'], env(prefix))
      expect(cli.code, cli.stderr).toBe(2)
      expect(cli.stderr).toMatch(/chain 5.*chain 31337|chain 31337.*chain 5/)
    } finally {
      proxy.setRewrite(null)
    }
  })
})

describe('parent links', () => {
  it('a wrong parent an earlier sync was told is found when the block before it is read, and read again', async () => {
    const prefix = testPrefix('stale')
    const store = createGraphStore(redis, prefix)
    // Blocks 15-19 from a node that lies about block 15's parent (nothing stored around them to tell).
    proxy.setRewrite((call, result) => (call.method === 'eth_getBlockByNumber' && blockParam(call) === 15 && result !== null ? { ...(result as object), parentHash: FAKE_HASH } : undefined))
    try {
      await sync(store, { fromBlock: 15, toBlock: 19, rpcUrl: proxy.url })
    } finally {
      proxy.setRewrite(null)
    }
    const notes: string[] = []
    const honest = await sync(store, { fromBlock: 10, toBlock: 14, onNote: (n) => notes.push(n) })
    expect(notes.join('\n')).toMatch(/block 15 as stored names parent 0xabab.*rolled back and are read again/)
    expect(honest.coverage).toEqual([{ from: 10, to: 19 }])
    const clean = createGraphStore(redis, testPrefix('clean'))
    await sync(clean, { fromBlock: 10, toBlock: 19 })
    expect(await adjacencySnapshot(redis, prefix)).toEqual(await adjacencySnapshot(redis, clean.keys.prefix))
  })

  for (const bad of [12, 15]) {
    it(`a node answering a wrong parent hash for block ${bad} (${bad % 5 === 0 ? 'the first block of a job' : 'inside a job'}) is refused`, async () => {
      const prefix = testPrefix('parent')
      const store = createGraphStore(redis, prefix)
      proxy.setRewrite((call, result) => (call.method === 'eth_getBlockByNumber' && blockParam(call) === bad && result !== null ? { ...(result as object), parentHash: FAKE_HASH } : undefined))
      let error: unknown
      try {
        error = await sync(store, { fromBlock: 0, toBlock: chain.lastBlock, rpcUrl: proxy.url }).catch((e: unknown) => e)
      } finally {
        proxy.setRewrite(null)
      }
      expect(isExposureError(error, 'RPC_ERROR'), String(error)).toBe(true)
      expect((error as Error).message).toContain(`block ${bad}`)
      expect((error as Error).message).toContain('parent')
      // The coverage never claims the block whose link is broken, nor the ones after it.
      const coverage = await readCoverage(redis, syncKeys(prefix))
      for (const r of coverage) expect(r.to).toBeLessThan(bad)
      // And what it claims is exactly a clean sync of those blocks.
      const clean = createGraphStore(redis, testPrefix('clean'))
      for (const r of coverage) await sync(clean, { fromBlock: r.from, toBlock: r.to })
      expect(await adjacencySnapshot(redis, prefix)).toEqual(await adjacencySnapshot(redis, clean.keys.prefix))
      // Read again from an honest node, the sync completes.
      const honest = await sync(store, { fromBlock: 0, toBlock: chain.lastBlock })
      expect(honest.coverage).toEqual([{ from: 0, to: chain.lastBlock }])
    })
  }
})
