import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { importEtl } from '../../src/sources/etl-import.ts'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { createChecker } from '../../src/walk/check.ts'
import { DEFAULT_RISK_POLICY } from '../../src/walk/risk.ts'
import { runWalk } from '../../src/walk/run-walk.ts'
import { createWalkState } from '../../src/store/walk-state.ts'
import { partitionGlob } from '../../src/store/partitions.ts'
import { storeKeys } from '../../src/store/keys.ts'
import { callScript } from '../../src/store/scripts.ts'
import type { Address, Direction } from '../../src/types.ts'
import { DUST_FLOORS, USDT, dustOption, generateEtl } from '../support/random-etl.ts'
import { DEFAULT_STOP_CATEGORIES, prepareWitnessChecker, referenceExposure, type ReferenceOptions } from '../support/reference-walk.ts'
import { testPrefix } from '../support/redis-server.ts'
import { dropPrefix, useRedisAndTempDir, writeEtlFolder } from '../support/harness.ts'
import { judgeWalk, walkLabelsSnapshot } from '../support/store-compare.ts'
import type { EtlRows } from '../support/etl-rows.ts'

/**
 * The queue walk (CSV import → Redis → BullMQ workers) against the independent in-process
 * reference, on many random temporal graphs holding every trap of DESIGN.md, with random worker
 * counts, batch sizes, counterparty caps, dust floors and hop limits, and the graph's addresses
 * confined to a random number of the store's 256 partitions (keys.ts). Every answer must be equal,
 * and every witness path must be a real time-respecting path of the stated length.
 */
const harness = useRedisAndTempDir('walk-property')

interface Scenario {
  graphSeed: number
  workers: number
  concurrency: number
  batchSize: number
  maxHops: number
  counterpartyCap: number
  ethDust: bigint
  tokenDust: bigint
  /** How many store partitions the graph's addresses fall into (undefined: any, about one per address). */
  partitions?: number | undefined
}

async function runScenario(s: Scenario): Promise<Record<Direction, Record<string, string>>> {
  const etl = generateEtl(s.graphSeed, { partitions: s.partitions })
  const files = await writeEtlFolder(harness.dir, `g${s.graphSeed}-${s.partitions ?? 'any'}`, etl)

  const prefix = testPrefix('prop')
  const store = createGraphStore(harness.redis, prefix)
  await importEtl(store, [files], { listedTokens: [etl.listedToken as Address] })
  await store.putSeeds(etl.seeds.map((a) => ({ address: a as Address, label: 'seed', source: 'random-etl' })))
  await store.putLabels(etl.labels.map((l) => ({ address: l.address as Address, label: l.label, category: l.category })))
  const dust = dustOption(s.ethDust, s.tokenDust)
  await runWalk(store, {
    redisUrl: harness.server.url,
    directions: ['downstream', 'upstream'],
    maxHops: s.maxHops,
    batchSize: s.batchSize,
    stopCategories: DEFAULT_STOP_CATEGORIES,
    counterpartyCap: s.counterpartyCap,
    dust,
    workers: s.workers,
    concurrency: s.concurrency,
  })

  const options: ReferenceOptions = { maxHops: s.maxHops, listedTokens: [etl.listedToken], counterpartyCap: s.counterpartyCap, dust }
  const expected = referenceExposure(etl, etl.seeds, etl.labels, options)
  const witness = prepareWitnessChecker(etl, etl.seeds, etl.labels, options)
  const addresses = [...expected.keys()] as Address[]
  // (+1: the listed token's contract, which transactions may call, is not drawn by the generator.)
  if (s.partitions !== undefined) expect(new Set(addresses.map((a) => a.slice(2, 4))).size).toBeLessThanOrEqual(s.partitions + 1)
  const results = await createChecker(store, DEFAULT_RISK_POLICY).check(addresses)
  const problems: string[] = []
  results.forEach((r, i) => {
    const address = addresses[i]!
    const want = expected.get(address)!
    for (const direction of ['downstream', 'upstream'] as Direction[]) {
      const got = r[direction]
      if ((got?.hops ?? null) !== want[direction]) problems.push(`${address} ${direction}: walk ${got?.hops ?? null}, reference ${want[direction]}`)
      if (got) {
        const why = witness(got.path, direction, address, got.hops)
        if (why !== null) problems.push(`${address} ${direction} witness: ${why}`)
      }
    }
  })
  const labels = await walkLabelsSnapshot(store)
  await dropPrefix(harness.redis, prefix)
  expect(problems, `scenario ${JSON.stringify(s, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`).toEqual([])
  return labels
}

describe('queue walk equals the in-process reference', () => {
  it('on 60 random temporal graphs with every trap, any worker count and batch size, the addresses in 1 to 256 partitions', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          graphSeed: fc.integer({ min: 1, max: 1_000_000 }),
          workers: fc.integer({ min: 1, max: 3 }),
          concurrency: fc.integer({ min: 1, max: 3 }),
          batchSize: fc.integer({ min: 1, max: 32 }),
          maxHops: fc.integer({ min: 1, max: 5 }),
          counterpartyCap: fc.constantFrom(3, 6, 10, 1_000_000),
          ethDust: fc.constantFrom(0n, 0n, ...DUST_FLOORS.eth),
          tokenDust: fc.constantFrom(0n, 0n, ...DUST_FLOORS.token),
          // All in one partition (every claim and relax in one slot), a few (long per-partition
          // batches, many cross-partition hops), or spread (one address per partition, mostly).
          partitions: fc.constantFrom(undefined, 1, 2, 3, 5, 8, 17, 64, 256),
        }),
        async (s) => {
          await runScenario(s)
        },
      ),
      { numRuns: 60, seed: 20261124, endOnFailure: true },
    )
  })

  it('gives the same labels (hops, cost and witness key of every label, both directions) whatever the worker count and batch size', async () => {
    const runs: [number, number, number][] = [[1, 1, 1], [3, 7, 2], [2, 64, 3], [1, 3, 1], [3, 1, 3]]
    for (const graphSeed of [4242, 77, 31337]) {
      const labels: Record<Direction, Record<string, string>>[] = []
      for (const [workers, concurrency, batchSize] of runs) {
        labels.push(await runScenario({ graphSeed, workers, concurrency, batchSize, maxHops: 5, counterpartyCap: 1_000_000, ethDust: 0n, tokenDust: 0n }))
      }
      expect(Object.keys(labels[0]!.downstream).length, `graph ${graphSeed}`).toBeGreaterThan(10)
      expect(Object.keys(labels[0]!.upstream).length, `graph ${graphSeed}`).toBeGreaterThan(10)
      labels.forEach((l, i) => expect(l, `graph ${graphSeed}, run ${JSON.stringify(runs[i])} against run ${JSON.stringify(runs[0])}`).toEqual(labels[0]))
    }
  })

  it('loses no work when the active-partition set lost its wake-ups (a crash between relax and its ZADD), and a stopped run writes nothing', async () => {
    const etl = generateEtl(5150)
    const files = await writeEtlFolder(harness.dir, 'active', etl)
    const options = { directions: ['downstream', 'upstream'] as Direction[], maxHops: 5, batchSize: 3, stopCategories: DEFAULT_STOP_CATEGORIES, counterpartyCap: 1_000_000, dust: {}, workers: 2, concurrency: 2 }
    const labels: Record<Direction, Record<string, string>>[] = []
    for (const lose of [false, true]) {
      const prefix = testPrefix('active')
      const store = createGraphStore(harness.redis, prefix)
      await importEtl(store, [files], { listedTokens: [etl.listedToken as Address] })
      await store.putSeeds(etl.seeds.map((a) => ({ address: a as Address, label: 'seed', source: 'random-etl' })))
      const summary = await runWalk(store, {
        redisUrl: harness.server.url,
        ...options,
        // The seeds are on their partitions' frontiers, but no partition is marked active.
        start: async (state, seeds, direction) => {
          await state.reset(direction, seeds)
          if (lose) await harness.redis.del(store.keys.walkActive(state.runId, direction))
        },
      })
      labels.push(await walkLabelsSnapshot(store))
      if (lose) {
        // A late job of the run, once it is published (its guards are gone): no claim, no relax.
        const stale = createWalkState(harness.redis, store.keys, summary.runId)
        const target = etl.seeds[0]!.slice(2)
        expect(await stale.claim('downstream', 'stale-job', 10)).toEqual([])
        await expect(stale.relax('downstream', 5, [{ hex: target, hops: 0, cost: -1, key: '' }])).rejects.toThrow(/no longer running/)
        expect(await walkLabelsSnapshot(store)).toEqual(labels[1])
        expect(await harness.redis.keys(`${partitionGlob(prefix)}:walk:r:${summary.runId}:*:frontier`)).toEqual([])
        expect(await harness.redis.keys(`${partitionGlob(prefix)}:walk:running`)).toEqual([])
      }
      await dropPrefix(harness.redis, prefix)
    }
    expect(Object.keys(labels[0]!.downstream).length).toBeGreaterThan(10)
    expect(labels[1]).toEqual(labels[0])
  })

  it('refuses a relax call whose candidates do not all parse, before writing anything (a skipped candidate would be a lost label)', async () => {
    const keys = storeKeys(testPrefix('relax'))
    const runId = 'relax-run'
    const [a, b] = ['7a'.padEnd(40, '1'), '7a'.padEnd(40, '2')]
    const relaxKeys = [keys.walkLabels(runId, 'downstream', 0x7a), keys.walkFrontier(runId, 'downstream', 0x7a), keys.walkRunning(0x7a)]
    await harness.redis.set(keys.walkRunning(0x7a), runId)
    const key = `${'5e'.repeat(20)}000000100000000000000000`
    // A hop count that is no integer: the pattern skips that candidate, and the count says so.
    await expect(callScript(harness.redis, 'relax', relaxKeys, [runId, 4, `${a},1,256,${key};${b},1.5,256,${key};`, 2])).rejects.toThrow(/1 candidates parsed of 2 sent/)
    // Two stray characters before an address: the pattern would match the 40 hex digits after
    // them (another address, and the right count); the bytes it skipped say so.
    await expect(callScript(harness.redis, 'relax', relaxKeys, [runId, 4, `${a},1,256,${key};zz${b},1,256,${key};`, 2])).rejects.toThrow(/2 candidates parsed of 2 sent \(\d+ of \d+ bytes\)/)
    expect(await harness.redis.exists(relaxKeys[0]!, relaxKeys[1]!)).toBe(0)
    expect(await callScript(harness.redis, 'relax', relaxKeys, [runId, 4, `${a},1,256,${key};${b},1,256,${key};`, 2])).toEqual([2, 2, 1])
    expect(await harness.redis.hgetall(relaxKeys[0]!)).toEqual({ [a]: `1,256,${key}`, [b]: `1,256,${key}` })
    await harness.redis.del(...relaxKeys)
  })

  it('gives a tie between equally good labels to the smaller witness key, whichever the walk met first', async () => {
    // Downstream: S pays A, X, B (hop 1; A < X < B); A pays P and B pays Q (hop 2; Q < P); one
    // aggregator transaction moves USDT from P and from Q to W: W's hop-3 labels tie on (hops,
    // position). With batches of 1 the walk expands A, X, B, then Q before P (frontier order); with
    // batches of 2 it expands [A, X], then [B, P]: P's offer to W comes first. Upstream mirrors it:
    // U pays P2 and Q2 in one transaction, P2 → A2 → S and Q2 → B2 → S.
    const w = (tag: string) => `0x${tag.padEnd(40, '0')}`
    const [S, A, X, B, P, Q, W] = ['5e', '10', '20', '30', '90', '80', 'd0'].map(w) as [string, string, string, string, string, string, string]
    const [A2, X2, B2, P2, Q2, U] = ['11', '21', '31', '91', '81', 'e0'].map(w) as [string, string, string, string, string, string]
    const rows: EtlRows = { transactions: [], traces: [], tokenTransfers: [] }
    const tx = (block: number, index: number, from: string, to: string, value: bigint) => {
      const hash = `0x${(rows.transactions.length + 1).toString(16).padStart(64, '0')}`
      rows.transactions.push({ hash, nonce: '0', block_hash: `0x${String(block).padStart(64, '0')}`, block_number: String(block), transaction_index: String(index), from_address: from, to_address: to, value: String(value), gas: '21000', gas_price: '1', input: '0x', block_timestamp: String(1_700_000_000 + block), receipt_status: '1' })
      return hash
    }
    const aggregate = (block: number, moves: [string, string][]) => {
      const hash = tx(block, 0, w('ee'), w('7e'), 0n)
      moves.forEach(([from, to], i) => rows.tokenTransfers.push({ token_address: USDT, from_address: from, to_address: to, value: '5000000', transaction_hash: hash, log_index: String(i), block_number: String(block) }))
    }
    const ETH = 10n ** 17n
    tx(10, 0, S, A, ETH), tx(10, 1, S, X, ETH), tx(10, 2, S, B, ETH)
    tx(11, 0, A, P, ETH), tx(11, 1, B, Q, ETH)
    aggregate(12, [[P, W], [Q, W]])
    aggregate(20, [[U, P2], [U, Q2]])
    tx(21, 0, P2, A2, ETH), tx(21, 1, Q2, B2, ETH)
    tx(22, 0, A2, S, ETH), tx(22, 1, X2, S, ETH), tx(22, 2, B2, S, ETH)
    const files = await writeEtlFolder(harness.dir, 'ties', rows)

    const runs: [number, number, number][] = [[1, 1, 1], [1, 1, 2], [1, 1, 3], [2, 2, 2], [3, 1, 1]]
    const labels: Record<Direction, Record<string, string>>[] = []
    for (const [workers, concurrency, batchSize] of runs) {
      const prefix = testPrefix('ties')
      const store = createGraphStore(harness.redis, prefix)
      await importEtl(store, [files], { listedTokens: [USDT as Address] })
      const judged = await judgeWalk(store, harness.server.url, rows, [S], [], [USDT], 4, { workers, concurrency, batchSize })
      expect(judged.problems).toEqual([])
      expect(judged.hops.get(W)).toEqual([3, null])
      expect(judged.hops.get(U)).toEqual([null, 3])
      const [atW, atU] = await createChecker(store, DEFAULT_RISK_POLICY).check([W, U] as Address[])
      const run = JSON.stringify([workers, concurrency, batchSize])
      // The witnesses go through the smaller of the two tied neighbours (Q < P, Q2 < P2).
      expect(atW!.downstream!.path.map((step) => step.from.toLowerCase()), run).toEqual([S, B, Q])
      expect(atU!.upstream!.path.map((step) => step.to.toLowerCase()), run).toEqual([Q2, B2, S])
      labels.push(await walkLabelsSnapshot(store))
      await dropPrefix(harness.redis, prefix)
    }
    labels.forEach((l, i) => expect(l, `run ${JSON.stringify(runs[i])} against ${JSON.stringify(runs[0])}`).toEqual(labels[0]))
  })
})
