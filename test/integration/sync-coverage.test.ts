/**
 * Block coverage of the JSON-RPC sync, against a real anvil and a real redis-server: the store
 * knows exactly which final block ranges it holds (a set of ranges, not one cursor); a sync reads
 * what it was asked, below the synced range too; a refused command writes nothing; two syncs at
 * once end with exactly the union (the second waits for the first and says so); status and the
 * walk say which blocks they cover. Plus the refusals of finding 10/11: a range above the
 * finality line, more confirmations than blocks, absurd worker counts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readCoverage, readHashes, syncKeys } from '../../src/sources/rpc/ingest.ts'
import { runSync, type SyncOptions } from '../../src/sources/rpc/sync.ts'
import { createGraphStore, type GraphStore } from '../../src/store/graph-store.ts'
import { createHolder } from '../../src/store/holder.ts'
import { acquireLock } from '../../src/store/locks.ts'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import { storeGlobs } from '../../src/store/partitions.ts'
import type { Address } from '../../src/types.ts'
import { startAnvil, type AnvilInstance } from '../support/anvil.ts'
import { buildRandomChain, rpc, type RandomChain } from '../support/chain.ts'
import { runCli } from '../support/cli.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { adjacencySnapshot } from '../support/store-compare.ts'
import { startCli } from '../support/sync-cli.ts'

let anvil: AnvilInstance
let server: TestRedis
let redis: Redis
let chain: RandomChain
let listed: Address[]
let full: Map<string, string>

beforeAll(async () => {
  ;[anvil, server] = await Promise.all([startAnvil({ args: ['--auto-impersonate'] }), startRedis()])
  redis = await connectRedis(server.url)
  chain = await buildRandomChain(anvil.url, { seed: 31, blocks: 36, txPerBlock: 6 })
  listed = [chain.contracts.token as Address]
  const clean = createGraphStore(redis, testPrefix('full'))
  await sync(clean, { fromBlock: 0, toBlock: chain.lastBlock })
  full = await adjacencySnapshot(redis, clean.keys.prefix)
}, 90_000)

afterAll(async () => {
  redis?.disconnect()
  await Promise.all([anvil?.stop(), server?.stop()])
})

function sync(store: GraphStore, options: Partial<SyncOptions>) {
  return runSync(store, { redisUrl: server.url, rpcUrl: anvil.url, listedTokens: listed, confirmations: 0, rangeSize: 5, workers: 2, concurrency: 2, ...options })
}

const env = (prefix: string, extra: Record<string, string> = {}) => ({ REDIS_URL: server.url, EXPOSURE_PREFIX: prefix, RPC_URL: anvil.url, EXPOSURE_ASSETS: listed.join(','), ...extra })

async function keysOf(prefix: string): Promise<string[]> {
  return (await Promise.all(storeGlobs(prefix).map((g) => redis.keys(g)))).flat().sort()
}

describe('block coverage', () => {
  it('a sync below the synced range reads what was asked (sync 20-L, then 0-19)', async () => {
    const store = createGraphStore(redis, testPrefix('below'))
    const upper = await sync(store, { fromBlock: 20, toBlock: chain.lastBlock })
    expect(upper.coverage).toEqual([{ from: 20, to: chain.lastBlock }])
    // No block from the first synced block on is missing: final through the last block.
    expect(upper.finalThrough).toBe(chain.lastBlock)
    const lower = await sync(store, { fromBlock: 0, toBlock: 19 })
    expect(lower.read).toEqual([{ from: 0, to: 19 }])
    expect(lower.coverage).toEqual([{ from: 0, to: chain.lastBlock }])
    expect(lower.finalThrough).toBe(chain.lastBlock)
    expect(await adjacencySnapshot(redis, store.keys.prefix)).toEqual(full)
    // A sync of covered blocks reads nothing and says so.
    const again = await sync(store, { fromBlock: 0, toBlock: chain.lastBlock })
    expect(again.read).toEqual([])
    expect(again.jobs).toBe(0)
  })

  it('fills a hole in the middle, and without --from-block continues from the first synced block', async () => {
    const store = createGraphStore(redis, testPrefix('hole'))
    await sync(store, { fromBlock: 0, toBlock: 9 })
    const gap = await sync(store, { fromBlock: 20, toBlock: 29 })
    expect(gap.coverage).toEqual([{ from: 0, to: 9 }, { from: 20, to: 29 }])
    // "Final through" is the end of the first synced range: block 10 is missing.
    expect(gap.finalThrough).toBe(9)
    const rest = await sync(store, { toBlock: chain.lastBlock })
    expect(rest.read).toEqual([{ from: 10, to: 19 }, { from: 30, to: chain.lastBlock }])
    expect(rest.coverage).toEqual([{ from: 0, to: chain.lastBlock }])
    expect(await adjacencySnapshot(redis, store.keys.prefix)).toEqual(full)
  })

  it('an older store (a cursor, written ranges, a hash per block) is converted: nothing read again, nothing rolled back', async () => {
    const prefix = testPrefix('older')
    const store = createGraphStore(redis, prefix)
    await sync(store, { fromBlock: 0, toBlock: 19 })
    const keys = syncKeys(prefix)
    // Rewrite the bookkeeping as the sync before coverage existed left it.
    const hashes = await readHashes(redis, keys, Array.from({ length: 20 }, (_, i) => i))
    await redis.del(keys.coverage, keys.parents, keys.hashBucket(0))
    await redis.zadd(keys.done, 0, '0-4', 5, '5-9', 10, '10-14', 15, '15-19')
    await redis.set(keys.cursor, '19')
    await redis.hset(keys.legacyHashes, Object.fromEntries([...hashes].map(([b, h]) => [String(b), h!])))
    expect(await readCoverage(redis, keys)).toEqual([{ from: 0, to: 19 }])
    const again = await sync(store, { toBlock: chain.lastBlock })
    expect(again.forks).toEqual([])
    expect(again.read).toEqual([{ from: 20, to: chain.lastBlock }])
    expect(await redis.exists(keys.done, keys.legacyHashes)).toBe(0)
    expect(await readHashes(redis, keys, [7])).toEqual(new Map([[7, hashes.get(7)]]))
    expect(await adjacencySnapshot(redis, prefix)).toEqual(full)
  })

  it('refused commands write nothing at all (exit 2, each naming what was wrong)', async () => {
    const head = Number(BigInt(await rpc<string>(anvil.url, 'eth_blockNumber')))
    const cases: { args: string[]; env?: Record<string, string>; says: RegExp }[] = [
      { args: ['--from-block', String(head + 5), '--confirmations', '0'], says: /--from-block .*beyond the node's head/ },
      { args: ['--from-block', '0', '--to-block', String(head + 1), '--confirmations', '0'], says: /--to-block .*beyond the node's head/ },
      // anvil's finalized tag is block 0 on a short chain: blocks 1-5 may still change.
      { args: ['--from-block', '0', '--to-block', '5'], says: /--to-block 5 is above the finality line .*block 0.*finalized/ },
      { args: ['--from-block', '0', '--confirmations', '1000'], says: /no block is final yet.*head \d+ .*1000 confirmations/ },
      { args: ['--from-block', '0', '--confirmations', '0', '--workers', '100000'], says: /--workers must be .*0 to 64.*"100000"/ },
      { args: ['--from-block', '0', '--confirmations', '0', '--workers', 'many'], says: /--workers must be/ },
    ]
    const results = await Promise.all(cases.map(async (c) => {
      const prefix = testPrefix('refused')
      const result = await runCli(['sync', ...c.args], env(prefix, c.env))
      return { prefix, result, c }
    }))
    for (const { prefix, result, c } of results) {
      expect(result.code, `${c.args.join(' ')}: ${result.stderr}`).toBe(2)
      expect(result.stderr).toMatch(c.says)
      expect(result.stderr).not.toMatch(/must be a block number/)
      expect(await keysOf(prefix), c.args.join(' ')).toEqual([])
    }
    // After a refusal, a sync reads every block it is asked for (the refused one left no cursor).
    const { prefix } = results[0]!
    const store = createGraphStore(redis, prefix)
    const after = await sync(store, { fromBlock: 0, toBlock: chain.lastBlock })
    expect(after.read).toEqual([{ from: 0, to: chain.lastBlock }])
    expect(await adjacencySnapshot(redis, prefix)).toEqual(full)
  })

  it('two syncs at once with different ranges both end with exactly the union', async () => {
    const prefix = testPrefix('twice')
    const [a, b] = await Promise.all([
      runCli(['sync', '--from-block', '0', '--to-block', '25', '--confirmations', '0', '--range', '3', '--json'], env(prefix)),
      runCli(['sync', '--from-block', '12', '--to-block', String(chain.lastBlock), '--confirmations', '0', '--range', '4', '--json'], env(prefix)),
    ])
    expect(a.code, a.stderr).toBe(0)
    expect(b.code, b.stderr).toBe(0)
    expect(JSON.parse(a.stdout).coverage[0].from).toBe(0)
    const store = createGraphStore(redis, prefix)
    expect(await readCoverage(redis, syncKeys(prefix))).toEqual([{ from: 0, to: chain.lastBlock }])
    expect(await adjacencySnapshot(redis, store.keys.prefix)).toEqual(full)
  })

  it('a sync waits while another sync holds the store, and says so', async () => {
    const prefix = testPrefix('wait')
    // This test process plays the other sync: a live holder of the store's sync lock.
    const holder = await createHolder(redis, 'exposure sync (the test)')
    const lock = await acquireLock(redis, `${prefix}:lock:sync`, holder, { purpose: 'sync' })
    const running = startCli(['sync', '--from-block', '0', '--to-block', '9', '--confirmations', '0', '--json'], env(prefix))
    try {
      await running.waitFor(/waiting for .*exposure sync \(the test\)/)
      expect(await readCoverage(redis, syncKeys(prefix))).toEqual([])
    } finally {
      await lock.release()
    }
    const done = await running.exited
    expect(done.code, done.stderr).toBe(0)
    expect(JSON.parse(done.stdout).coverage).toEqual([{ from: 0, to: 9 }])
  })

  it('status shows the synced ranges and the walk records them with its answers', async () => {
    const prefix = testPrefix('status')
    const store = createGraphStore(redis, prefix)
    await sync(store, { fromBlock: 0, toBlock: 9 })
    await sync(store, { fromBlock: 20, toBlock: chain.lastBlock })
    await store.putSeeds(chain.seeds.map((a) => ({ address: a as Address, label: 'seed', source: 'test' })))
    const status = await runCli(['status', '--json'], env(prefix))
    expect(status.code, status.stderr).toBe(0)
    const json = JSON.parse(status.stdout)
    expect(json.sync).toMatchObject({ finalThrough: 9, coverage: [{ from: 0, to: 9 }, { from: 20, to: chain.lastBlock }], chain: { chainId: 31337 } })
    const table = await runCli(['status'], env(prefix))
    expect(table.stdout).toContain(`blocks 0-9, 20-${chain.lastBlock}`)
    const trace = await runCli(['trace', '--json'], env(prefix))
    expect(trace.code, trace.stderr).toBe(0)
    expect(JSON.parse(trace.stdout).coverage).toMatchObject({ source: 'store', throughBlock: 9, ranges: [{ from: 0, to: 9 }, { from: 20, to: chain.lastBlock }] })
    expect(await redis.hget(`${prefix}:walk:current`, 'sourceCoverage')).toBe(`0-9,20-${chain.lastBlock}`)
    const check = await runCli(['check', '--json', chain.seeds[0]!], env(prefix))
    expect(JSON.parse(check.stdout)[0].finalBlock).toBe(9)
    const after = await runCli(['status', '--json'], env(prefix))
    expect(JSON.parse(after.stdout).walk).toMatchObject({ finalBlock: 9, coverage: [{ from: 0, to: 9 }, { from: 20, to: chain.lastBlock }] })
  })
})
