import { publishedLabels } from '../../src/walk/walk-runs.ts'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { importEtl } from '../../src/sources/etl-import.ts'
import { createGraphStore, type GraphStore } from '../../src/store/graph-store.ts'
import { invalidateLabels, traceWalk, type TraceOptions } from '../../src/walk/incremental.ts'
import { parseLabels } from '../../src/walk/labels.ts'
import { runWalk } from '../../src/walk/run-walk.ts'
import type { Address, Direction } from '../../src/types.ts'
import { DUST_FLOORS, dustOption, generateEtl } from '../support/random-etl.ts'
import { DEFAULT_STOP_CATEGORIES, rowAddresses } from '../support/reference-walk.ts'
import { testPrefix } from '../support/redis-server.ts'
import { dropPrefix, useRedisAndTempDir, writeEtlFolder } from '../support/harness.ts'

/**
 * Incremental walks equal clean walks, label for label: on random trap-laden temporal graphs, a
 * clean walk with seeds S, then adding A incrementally must give exactly the labels hashes (hops,
 * cost and predecessor key of every label, both directions) of a clean walk with S ∪ A; then
 * removing R incrementally exactly those of a clean walk with (S ∪ A) \ R.
 */
const harness = useRedisAndTempDir('seeds-incremental')

const DIRS: Direction[] = ['downstream', 'upstream']

async function labelsOf(store: GraphStore): Promise<Record<Direction, Record<string, string>>> {
  const [downstream, upstream] = await Promise.all(DIRS.map((d) => publishedLabels(store, d)))
  return { downstream: downstream!, upstream: upstream! }
}

async function setSeeds(store: GraphStore, seeds: readonly string[]): Promise<void> {
  await store.redis.del(store.keys.seeds)
  await store.putSeeds(seeds.map((a) => ({ address: a as Address, label: 'seed', source: 'random-etl' })))
}

async function cleanup(prefix: string): Promise<void> {
  await dropPrefix(harness.redis, prefix)
}

interface Scenario {
  graphSeed: number
  maxHops: number
  counterpartyCap: number
  ethDust: bigint
  tokenDust: bigint
  workers: number
  batchSize: number
  /** Fractions picking S, A and R out of the graph's addresses (deterministic from picks). */
  picks: number[]
}

async function runScenario(s: Scenario): Promise<void> {
  const etl = generateEtl(s.graphSeed)
  const files = await writeEtlFolder(harness.dir, `g${s.graphSeed}`, etl)

  // S: the generator's seeds plus some others; A: further addresses (stop nodes and hubs included);
  // R: some of S ∪ A (original seeds and added ones alike).
  const all = [...rowAddresses(etl)].sort()
  const pick = (i: number) => all[Math.floor((s.picks[i % s.picks.length]! * 7919 * (i + 1)) % all.length)]!
  const S = [...new Set([...etl.seeds.map((a) => a.toLowerCase()), pick(0)])]
  const A = [...new Set([pick(1), pick(2), pick(3), ...etl.labels.slice(0, 1).map((l) => l.address.toLowerCase())])].filter((a) => !S.includes(a))
  const union = [...new Set([...S, ...A])]
  const R = union.filter((_, i) => s.picks[(i + 4) % s.picks.length]! < 0.45)
  const after = union.filter((a) => !R.includes(a))

  const incPrefix = testPrefix('inc')
  const cleanPrefix = testPrefix('clean')
  const inc = createGraphStore(harness.redis, incPrefix)
  const clean = createGraphStore(harness.redis, cleanPrefix)
  try {
    for (const store of [inc, clean]) {
      await importEtl(store, [files], { listedTokens: [etl.listedToken as Address] })
      await store.putLabels(etl.labels.map((l) => ({ address: l.address as Address, label: l.label, category: l.category })))
    }
    const options: TraceOptions = {
      redisUrl: harness.server.url,
      directions: DIRS,
      maxHops: s.maxHops,
      batchSize: s.batchSize,
      stopCategories: DEFAULT_STOP_CATEGORIES,
      counterpartyCap: s.counterpartyCap,
      dust: dustOption(s.ethDust, s.tokenDust),
      workers: s.workers,
      concurrency: 2,
    }
    const where = `scenario ${JSON.stringify({ ...s, ethDust: String(s.ethDust), tokenDust: String(s.tokenDust) })} S=${S.length} A=${A.length} R=${R.length}`

    await setSeeds(inc, S)
    expect((await traceWalk(inc, options, { incremental: true })).mode, where).toBe('full')

    await setSeeds(inc, union)
    const added = await traceWalk(inc, options, { incremental: true })
    expect(added.mode, `${where} ${added.reason}`).toBe('incremental')
    expect(added.added).toBe(A.length)
    await setSeeds(clean, union)
    await runWalk(clean, options)
    expect(await labelsOf(inc), `${where}: after adding A`).toEqual(await labelsOf(clean))

    await setSeeds(inc, after)
    const removed = await traceWalk(inc, options, { incremental: true })
    expect(removed.mode, `${where} ${removed.reason}`).toBe('incremental')
    expect(removed.removed).toBe(R.length)
    await setSeeds(clean, after)
    await runWalk(clean, options)
    expect(await labelsOf(inc), `${where}: after removing R`).toEqual(await labelsOf(clean))
  } finally {
    await cleanup(incPrefix)
    await cleanup(cleanPrefix)
  }
}

describe('incremental walks equal clean walks (whole labels hashes, both directions)', () => {
  it('on random temporal graphs: add seeds, then remove seeds', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          graphSeed: fc.integer({ min: 1, max: 1_000_000 }),
          maxHops: fc.integer({ min: 1, max: 5 }),
          counterpartyCap: fc.constantFrom(3, 6, 1_000_000),
          ethDust: fc.constantFrom(0n, 0n, ...DUST_FLOORS.eth),
          tokenDust: fc.constantFrom(0n, 0n, ...DUST_FLOORS.token),
          workers: fc.integer({ min: 1, max: 2 }),
          batchSize: fc.constantFrom(1, 4, 64),
          picks: fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { minLength: 8, maxLength: 8 }),
        }),
        runScenario,
      ),
      { numRuns: 60, seed: 20261125, endOnFailure: true },
    )
  })

  it('follows label changes; falls back to a full walk when parameters changed or a change log is gone', async () => {
    const etl = generateEtl(77)
    const files = await writeEtlFolder(harness.dir, 'fallback', etl)
    const prefix = testPrefix('fallback')
    const store = createGraphStore(harness.redis, prefix)
    try {
      await importEtl(store, [files], { listedTokens: [etl.listedToken as Address] })
      await setSeeds(store, etl.seeds)
      const options: TraceOptions = { redisUrl: harness.server.url, directions: DIRS, maxHops: 3, batchSize: 16, stopCategories: DEFAULT_STOP_CATEGORIES, counterpartyCap: 1_000_000, dust: {}, workers: 1, concurrency: 2 }
      expect((await traceWalk(store, options, { incremental: true })).reason).toBe('no complete walk is published in this store')
      expect((await traceWalk(store, options, { incremental: true })).mode).toBe('incremental')
      const other = await traceWalk(store, { ...options, maxHops: 4 }, { incremental: true })
      expect(other.mode).toBe('full')
      expect(other.reason).toMatch(/walk parameters differ/)
      // A stop label on a seed blocks nothing (seeds always pass): followed incrementally, not a fallback.
      await store.putLabels([{ address: etl.seeds[0] as Address, label: 'x', category: 'mixer' }])
      const relabelled = await traceWalk(store, { ...options, maxHops: 4 }, { incremental: true })
      expect(relabelled.mode).toBe('incremental')
      expect(relabelled.changes).toMatchObject({ blocked: 1 })
      // A store version without a change log (written by hand here) cannot be followed.
      await store.redis.hincrby(store.keys.meta, 'version', 1)
      const unlogged = await traceWalk(store, { ...options, maxHops: 4 }, { incremental: true })
      expect(unlogged.mode).toBe('full')
      expect(unlogged.reason).toMatch(/the change log of store version \d+ is gone/)
      expect((await traceWalk(store, { ...options, maxHops: 4 }, { incremental: true })).mode).toBe('incremental')
    } finally {
      await cleanup(prefix)
    }
  })
})

describe('the boundary after a removal', () => {
  it('re-expands a surviving label whose cost equals the transfer position (funds through one transaction)', async () => {
    // s2 → x and x → z in one transaction (position p5); s1 → z earlier (p4). With s1, z's 1-hop
    // label (p4) dominates the 2-hop one through x (p5). Removing s1 must give z that label back:
    // x is on the boundary only if a label with cost == position counts as extendable.
    const prefix = testPrefix('edge')
    const store = createGraphStore(harness.redis, prefix)
    const a = (c: string) => `0x${c.repeat(40)}` as Address
    const [s1, s2, x, z] = [a('1'), a('2'), a('3'), a('4')]
    const t = (from: Address, to: Address, block: number, hash: string, kind: 'tx' | 'trace', subIndex: number) =>
      ({ from, to, amount: 10n ** 18n, asset: 'ETH' as const, blockNumber: block, transactionIndex: 0, txHash: `0x${hash.repeat(64)}` as `0x${string}`, kind, subIndex })
    try {
      const ids = await store.internAssets(['ETH'])
      await store.stage('edge', [t(s2, x, 5, 'a', 'tx', 0), t(x, z, 5, 'a', 'trace', 1), t(s1, z, 4, 'b', 'tx', 0)], ids)
      await store.commit('edge')
      const options: TraceOptions = { redisUrl: harness.server.url, directions: DIRS, maxHops: 3, batchSize: 4, stopCategories: DEFAULT_STOP_CATEGORIES, counterpartyCap: 1_000_000, dust: {}, workers: 1, concurrency: 1 }
      await setSeeds(store, [s1, s2])
      await traceWalk(store, options)
      expect(parseLabels((await publishedLabels(store, 'downstream'))[z.slice(2)]).map((l) => l.hops)).toEqual([1])
      await setSeeds(store, [s2])
      const removed = await traceWalk(store, options, { incremental: true })
      expect(removed.mode).toBe('incremental')
      expect(removed.boundary.downstream).toBe(1)
      // The key names x and its out-record to z: position (block 5, index 0), asset 0 (ETH), kind trace with sub-index 1.
      expect(parseLabels((await publishedLabels(store, 'downstream'))[z.slice(2)])).toEqual([{ hops: 2, cost: 5 * 65536, key: `${x.slice(2)}000000050000` + '00' + '400001' }])
    } finally {
      await cleanup(prefix)
    }
  })
})

describe('invalidateLabels', () => {
  // s1 → a → b; s2 → b (b keeps a 1-hop label from s2 and a 2-hop label through a from s1)
  const hex = (c: string) => c.repeat(40)
  const key = (pred: string) => `${pred}00000000`
  const labels = new Map([
    [hex('1'), parseLabels('0,-1,')],
    [hex('2'), parseLabels('0,-1,')],
    [hex('a'), parseLabels(`1,5,${key(hex('1'))}`)],
    [hex('b'), parseLabels(`1,20,${key(hex('2'))};2,7,${key(hex('a'))}`)],
    [hex('c'), parseLabels(`3,9,${key(hex('b'))}`)],
    [hex('d'), parseLabels(`2,30,${key(hex('9'))}`)], // broken chain: 9 holds no label
  ])

  it('drops exactly the labels whose chain ends in a removed seed, and broken chains', () => {
    const { kept, invalidated } = invalidateLabels(labels, new Set([hex('1')]))
    expect(invalidated).toBe(5)
    expect(Object.fromEntries(kept)).toEqual({
      [hex('1')]: [],
      [hex('a')]: [],
      [hex('b')]: [{ hops: 1, cost: 20, key: key(hex('2')) }],
      [hex('c')]: [],
      [hex('d')]: [],
    })
  })

  it('keeps everything but broken chains when nothing leads to the removed seed', () => {
    const { kept, invalidated } = invalidateLabels(labels, new Set([hex('e')]))
    expect(invalidated).toBe(1)
    expect([...kept.keys()]).toEqual([hex('d')])
  })
})
