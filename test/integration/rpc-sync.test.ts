/**
 * JSON-RPC block sync and export-etl against a real anvil and a real redis-server:
 * sync (BullMQ ingest jobs) == import of the node's etl export, byte for byte; idempotent per
 * range; the walk over the synced store equals the in-process reference over the export; the CLI
 * names bad input and an unreachable node.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exportEtl } from '../../src/sources/export-etl.ts'
import { importEtl } from '../../src/sources/etl-import.ts'
import { syncKeys } from '../../src/sources/rpc/ingest.ts'
import { runSync } from '../../src/sources/rpc/sync.ts'
import { createGraphStore, type GraphStore } from '../../src/store/graph-store.ts'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import { decodeRecord, OUT_SIZE, splitNode } from '../../src/store/records.ts'
import type { Address } from '../../src/types.ts'
import { startAnvil, type AnvilInstance } from '../support/anvil.ts'
import { buildRandomChain, rpc, type RandomChain } from '../support/chain.ts'
import { runCli } from '../support/cli.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { adjacencySnapshot, judgeWalk, readEtlRows } from '../support/store-compare.ts'

let anvil: AnvilInstance
let server: TestRedis
let redis: Redis
let dir: string
let chain: RandomChain
let listed: Address[]

beforeAll(async () => {
  ;[anvil, server] = await Promise.all([startAnvil({ args: ['--auto-impersonate'] }), startRedis()])
  redis = await connectRedis(server.url)
  dir = await mkdtemp(join(tmpdir(), 'rpc-sync-'))
  chain = await buildRandomChain(anvil.url, { seed: 11, blocks: 30, txPerBlock: 12 })
  listed = [chain.contracts.token as Address]
}, 60_000)

afterAll(async () => {
  redis?.disconnect()
  await Promise.all([anvil?.stop(), server?.stop()])
  await rm(dir, { recursive: true, force: true })
})

async function sync(store: GraphStore, from: number, to: number, rangeSize = 7) {
  return runSync(store, { redisUrl: server.url, rpcUrl: anvil.url, listedTokens: listed, fromBlock: from, toBlock: to, confirmations: 0, rangeSize, workers: 2, concurrency: 2 })
}

describe('JSON-RPC block sync', () => {
  let synced: GraphStore
  let exportDir: string

  it('detects what anvil offers and writes every range through ingest jobs', async () => {
    synced = createGraphStore(redis, testPrefix('sync'))
    const summary = await sync(synced, 0, chain.lastBlock)
    expect(summary.capabilities).toMatchObject({ chainId: 31337, blockReceipts: true, traceBlock: true, traceFilter: true, debugCallTracer: true, otterscan: true })
    expect(summary.finalThrough).toBe(chain.lastBlock)
    expect(summary.jobs).toBe(Math.ceil((chain.lastBlock + 1) / 7))
    const stats = await synced.stats()
    expect(stats.transfers).toBeGreaterThan(200)
    // All three kinds arrived: external txs, internal calls, listed-token logs. Every node is read:
    // KEYS comes in hash-table order, so any first few nodes are a sample that may miss the
    // internal calls (a few contracts send them).
    const kinds = new Set<string>()
    for (const key of await redis.keys(synced.keys.nodePattern)) {
      const { out } = splitNode(await redis.getBuffer(key))
      for (let o = 0; o < out.length; o += OUT_SIZE) kinds.add(decodeRecord(out, o, OUT_SIZE).kind ?? '?')
    }
    expect([...kinds].sort()).toEqual(['log', 'trace', 'tx'])
  })

  it('equals the etl import of its own export-etl, byte for byte', async () => {
    exportDir = join(dir, 'export')
    const exported = await exportEtl({ rpcUrl: anvil.url, fromBlock: 0, toBlock: chain.lastBlock, dir: exportDir, chunk: 9 })
    expect(exported.transactions).toBe(chain.transactions + 5) // + the five deployments
    const imported = createGraphStore(redis, testPrefix('import'))
    const summary = await importEtl(imported, [exportDir], { listedTokens: listed })
    expect(summary.transfersCounted).toBeGreaterThan(200)
    const a = await adjacencySnapshot(redis, synced.keys.prefix)
    const b = await adjacencySnapshot(redis, imported.keys.prefix)
    expect(a.size).toBeGreaterThan(30)
    expect([...a.keys()]).toEqual([...b.keys()])
    for (const [key, bytes] of a) expect(b.get(key), key).toBe(bytes)
    expect((await synced.stats()).transfers).toBe((await imported.stats()).transfers)
  })

  it('is idempotent per range: syncing again (other range size) changes no byte', async () => {
    const before = await adjacencySnapshot(redis, synced.keys.prefix)
    const keys = syncKeys(synced.keys.prefix)
    // Forget what is covered: every range is read and committed again.
    await redis.del(keys.cursor, keys.done, keys.coverage)
    const again = await sync(synced, 0, chain.lastBlock, 13)
    expect(again.read).toEqual([{ from: 0, to: chain.lastBlock }])
    expect(await adjacencySnapshot(redis, synced.keys.prefix)).toEqual(before)
  })

  it('the walk over the synced store equals the reference over the export', async () => {
    const rows = await readEtlRows(exportDir)
    const judged = await judgeWalk(synced, server.url, rows, chain.seeds, chain.labels, listed)
    expect(judged.problems).toEqual([])
    expect(judged.reached.downstream).toBeGreaterThan(10)
    expect(judged.reached.upstream).toBeGreaterThan(5)
  })

  it('writes only blocks at or below the finality line', async () => {
    const store = createGraphStore(redis, testPrefix('final'))
    const head = Number(BigInt(await rpc<string>(anvil.url, 'eth_blockNumber')))
    const summary = await runSync(store, { redisUrl: server.url, rpcUrl: anvil.url, listedTokens: listed, fromBlock: 0, confirmations: 10, rangeSize: 50, workers: 1 })
    expect(summary.finalThrough).toBe(head - 10)
    const blocks = new Set<number>()
    for (const key of await redis.keys(store.keys.nodePattern)) {
      const { out } = splitNode(await redis.getBuffer(key))
      for (let o = 0; o < out.length; o += OUT_SIZE) blocks.add(out.readUInt32BE(o))
    }
    expect(Math.max(...blocks)).toBeLessThanOrEqual(head - 10)
  })
})

describe('exposure sync / export-etl CLI', () => {
  it('syncs and prints a JSON summary', async () => {
    const prefix = testPrefix('cli')
    const result = await runCli(['sync', '--from-block', '0', '--to-block', String(chain.lastBlock), '--confirmations', '0', '--rpc-url', anvil.url, '--json'], { REDIS_URL: server.url, EXPOSURE_PREFIX: prefix, EXPOSURE_ASSETS: listed.join(',') })
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ finalThrough: chain.lastBlock, fromBlock: 0 })
    const status = await runCli(['status', '--json'], { REDIS_URL: server.url, EXPOSURE_PREFIX: prefix })
    expect(status.code).toBe(0)
    expect(JSON.parse(status.stdout).sync).toMatchObject({ finalThrough: chain.lastBlock, capabilities: { traceBlock: true, blockReceipts: true, otterscan: true } })
    const table = await runCli(['status'], { REDIS_URL: server.url, EXPOSURE_PREFIX: prefix })
    expect(table.stdout).toContain(`final through block ${chain.lastBlock}; node: chain 31337, eth_getBlockReceipts yes, trace_block yes`)
  })

  it('answers bad block numbers with exit 2 naming the flag', async () => {
    const env = { REDIS_URL: server.url, EXPOSURE_PREFIX: testPrefix('cli'), RPC_URL: anvil.url }
    const bad = await runCli(['sync', '--from-block', '12x'], env)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--from-block')
    expect(bad.stderr).toContain('"12x"')
    const reversed = await runCli(['export-etl', '--from-block', '9', '--to-block', '3', dir], env)
    expect(reversed.code).toBe(2)
    expect(reversed.stderr).toContain('--to-block')
    const noNode = await runCli(['sync', '--from-block', '0'], { ...env, RPC_URL: '' })
    expect(noNode.code).toBe(2)
    expect(noNode.stderr).toContain('RPC_URL')
  })

  it('names an unreachable node (exit 1)', async () => {
    const result = await runCli(['sync', '--from-block', '0', '--rpc-url', 'http://127.0.0.1:9'], { REDIS_URL: server.url, EXPOSURE_PREFIX: testPrefix('cli') })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('cannot reach the Ethereum node at http://127.0.0.1:9')
  })
})
