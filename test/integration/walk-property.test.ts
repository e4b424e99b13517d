import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { importEtl } from '../../src/sources/etl-import.ts'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { createChecker } from '../../src/walk/check.ts'
import { DEFAULT_RISK_POLICY } from '../../src/walk/risk.ts'
import { runWalk } from '../../src/walk/run-walk.ts'
import type { Address, Direction } from '../../src/types.ts'
import { DUST_FLOORS, dustOption, generateEtl } from '../support/random-etl.ts'
import { DEFAULT_STOP_CATEGORIES, prepareWitnessChecker, referenceExposure, type ReferenceOptions } from '../support/reference-walk.ts'
import { testPrefix } from '../support/redis-server.ts'
import { dropPrefix, useRedisAndTempDir, writeEtlFolder } from '../support/harness.ts'

/**
 * The queue walk (CSV import → Redis → BullMQ workers) against the independent in-process
 * reference, on many random temporal graphs holding every trap of DESIGN.md, with random worker
 * counts, batch sizes, counterparty caps, dust floors and hop limits. Every answer must be equal,
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
}

async function runScenario(s: Scenario): Promise<void> {
  const etl = generateEtl(s.graphSeed)
  const files = await writeEtlFolder(harness.dir, `g${s.graphSeed}`, etl)

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
  await dropPrefix(harness.redis, prefix)
  expect(problems, `scenario ${JSON.stringify(s, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`).toEqual([])
}

describe('queue walk equals the in-process reference', () => {
  it('on 60 random temporal graphs with every trap, any worker count and batch size', async () => {
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
        }),
        runScenario,
      ),
      { numRuns: 60, seed: 20261124, endOnFailure: true },
    )
  })

  it('gives the same labels whatever the worker count and batch size (same graph)', async () => {
    for (const [workers, batchSize] of [[1, 1], [3, 7], [2, 64]] as const) {
      await runScenario({ graphSeed: 4242, workers, concurrency: 2, batchSize, maxHops: 4, counterpartyCap: 1_000_000, ethDust: 0n, tokenDust: 0n })
    }
  })
})
