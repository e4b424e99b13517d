import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { importEtl } from '../../src/sources/etl-import.ts'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { createChecker } from '../../src/walk/check.ts'
import { DEFAULT_RISK_POLICY } from '../../src/walk/risk.ts'
import { runWalk } from '../../src/walk/run-walk.ts'
import { taintOf } from '../../src/walk/taint-region.ts'
import type { Address } from '../../src/types.ts'
import { DUST_FLOORS, dustOption, generateEtl } from '../support/random-etl.ts'
import { DEFAULT_STOP_CATEGORIES } from '../support/reference-walk.ts'
import { prepareValueReference } from '../support/value-reference.ts'
import { testPrefix } from '../support/redis-server.ts'
import { dropPrefix, useRedisAndTempDir, writeEtlFolder } from '../support/harness.ts'

/**
 * Exposed value and the haircut taint replay (store, walk, src/walk/value.ts and taint.ts)
 * against the independent reference of test/support/value-reference.ts on random temporal graphs
 * with every trap, random hop limits, counterparty caps and dust floors: every amount equal to the
 * base unit, for every address, both directions, every asset.
 */
const harness = useRedisAndTempDir('value-property')

interface Scenario {
  graphSeed: number
  maxHops: number
  counterpartyCap: number
  ethDust: bigint
  tokenDust: bigint
}

async function runScenario(s: Scenario): Promise<{ valued: number; tainted: number }> {
  const etl = generateEtl(s.graphSeed)
  const files = await writeEtlFolder(harness.dir, `v${s.graphSeed}`, etl)
  const prefix = testPrefix('value')
  const store = createGraphStore(harness.redis, prefix)
  await importEtl(store, [files], { listedTokens: [etl.listedToken as Address] })
  await store.putSeeds(etl.seeds.map((a) => ({ address: a as Address, label: 'seed', source: 'random-etl' })))
  await store.putLabels(etl.labels.map((l) => ({ address: l.address as Address, label: l.label, category: l.category })))
  const dust = dustOption(s.ethDust, s.tokenDust)
  await runWalk(store, { redisUrl: harness.server.url, directions: ['downstream', 'upstream'], maxHops: s.maxHops, batchSize: 8, stopCategories: DEFAULT_STOP_CATEGORIES, counterpartyCap: s.counterpartyCap, dust, workers: 1, concurrency: 2 })
  const reference = prepareValueReference(etl, etl.seeds, etl.labels, { maxHops: s.maxHops, listedTokens: [etl.listedToken], counterpartyCap: s.counterpartyCap, dust })
  const addresses = [...new Set(reference.kept.flatMap((t) => [t.from, t.to]))].sort() as Address[]
  const answers = await createChecker(store, DEFAULT_RISK_POLICY).check(addresses)
  const problems: string[] = []
  let valued = 0
  answers.forEach((answer, i) => {
    const address = addresses[i]!
    for (const direction of ['downstream', 'upstream'] as const) {
      const want = reference.value(address, direction)
      const exposedSomewhere = [...want.values()].some((v) => v.exposed > 0n)
      const got = answer.value?.[direction] ?? null
      if (answer[direction] === null) {
        // No path: nothing can be exposed (the reference must agree), and no value is reported.
        if (exposedSomewhere) problems.push(`${address} ${direction}: no path, but the reference has exposed value`)
        if (got !== null) problems.push(`${address} ${direction}: value reported without a path`)
        continue
      }
      if (got === null) {
        problems.push(`${address} ${direction}: a path but no value`)
        continue
      }
      valued++
      const gotByAsset = new Map(got.map((v) => [v.asset.toLowerCase() === 'eth' ? 'ETH' : v.asset.toLowerCase(), v]))
      for (const [asset, v] of want) {
        const g = gotByAsset.get(asset)
        const wantByHops = Object.fromEntries(Object.entries(v.byLevel).map(([level, amount]) => [level, amount.toString()]))
        if (g === undefined || g.total !== v.total.toString() || g.exposed !== v.exposed.toString() || JSON.stringify(g.byHops) !== JSON.stringify(wantByHops)) {
          problems.push(`${address} ${direction} ${asset}: got ${JSON.stringify(g)}, reference total ${v.total} exposed ${v.exposed} ${JSON.stringify(wantByHops)}`)
        }
      }
      if (gotByAsset.size !== want.size) problems.push(`${address} ${direction}: ${gotByAsset.size} assets, reference ${want.size}`)
    }
  })
  // Taint for every downstream-exposed address (the replay is per address).
  let tainted = 0
  for (const [i, answer] of answers.entries()) {
    if (answer.downstream === null) continue
    const address = addresses[i]!
    const got = new Map((await taintOf(store, address)).assets.map((a) => [a.asset, a]))
    const want = reference.taint(address)
    tainted++
    for (const [asset, w] of want) {
      const g = got.get(asset)
      const fields = (x: { received: bigint; taintedReceived: bigint; balance: bigint; taintedBalance: bigint; unexplained: bigint }) => [x.received, x.taintedReceived, x.balance, x.taintedBalance, x.unexplained].join('/')
      if (g === undefined || fields(g) !== fields(w)) problems.push(`${address} taint ${asset}: got ${g === undefined ? 'nothing' : fields(g)}, reference ${fields(w)} (received/tainted/balance/tainted balance/unexplained)`)
    }
    if (got.size !== want.size) problems.push(`${address} taint: ${got.size} assets, reference ${want.size}`)
  }
  await dropPrefix(harness.redis, prefix)
  expect(problems.slice(0, 15)).toEqual([])
  return { valued, tainted }
}

describe('exposed value and haircut taint equal the independent reference', () => {
  it('on 40 random temporal graphs, to the base unit, for every address, direction and asset', async () => {
    let valued = 0
    let tainted = 0
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          graphSeed: fc.integer({ min: 1, max: 1_000_000 }),
          maxHops: fc.integer({ min: 1, max: 4 }),
          counterpartyCap: fc.constantFrom(3, 8, 1_000),
          ethDust: fc.constantFrom(0n, ...DUST_FLOORS.eth),
          tokenDust: fc.constantFrom(0n, ...DUST_FLOORS.token),
        }),
        async (s) => {
          const r = await runScenario(s)
          valued += r.valued
          tainted += r.tainted
        },
      ),
      { numRuns: 40, seed: 1212 },
    )
    // The property must have had something to judge.
    expect(valued).toBeGreaterThan(200)
    expect(tainted).toBeGreaterThan(100)
  }, 600_000)
})
