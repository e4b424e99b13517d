import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { importEtl } from '../../src/sources/etl-import.ts'
import { createLazyHistory, type AddressHistorySource } from '../../src/sources/lazy-history.ts'
import { createGraphStore, type GraphStore } from '../../src/store/graph-store.ts'
import { createChecker } from '../../src/walk/check.ts'
import { createOnDemandChecker } from '../../src/walk/on-demand-check.ts'
import { DEFAULT_RISK_POLICY } from '../../src/walk/risk.ts'
import { runWalk } from '../../src/walk/run-walk.ts'
import { ETH, type Address, type Asset, type Direction, type Transfer } from '../../src/types.ts'
import { DUST_FLOORS, dustOption, generateEtl } from '../support/random-etl.ts'
import { DEFAULT_STOP_CATEGORIES, prepareWitnessChecker, referenceExposure, type ReferenceOptions } from '../support/reference-walk.ts'
import { testPrefix } from '../support/redis-server.ts'
import { dropPrefix, useRedisAndTempDir, writeEtlFolder } from '../support/harness.ts'

/**
 * On-demand screening (walk/on-demand.ts through walk/on-demand-check.ts) against the independent
 * in-process reference, on random temporal graphs with every trap of DESIGN.md. The chain is a
 * per-address source built from the graph's etl import; the screened store starts with seeds and
 * labels only, plus, depending on the scenario:
 *   none        no walk at all: every answer is searched;
 *   partial     a random part of the transfers imported and walked from the store: the walk's
 *               labels are wrong for the chain, every answer is searched (over the partial store
 *               plus the fetched histories);
 *   lazy-down   a lazy walk of the downstream direction only with the same source: downstream from
 *               its labels (exact), upstream searched;
 *   lazy-both   a lazy walk of both directions: every answer from the labels.
 * Every address of the graph is screened; hops must equal the reference's and every witness be a
 * valid time-respecting path of exactly that length.
 */
const harness = useRedisAndTempDir('on-demand')

type Mode = 'none' | 'partial' | 'lazy-down' | 'lazy-both'

interface Scenario {
  graphSeed: number
  mode: Mode
  maxHops: number
  counterpartyCap: number
  ethDust: bigint
  tokenDust: bigint
  keep: number
}

/** The chain as a per-address source: every transfer of the graph's etl import touching the address. */
function chainSource(transfers: readonly Transfer[]): AddressHistorySource & { fetchedAddresses: Set<string> } {
  let requests = 0
  const fetchedAddresses = new Set<string>()
  return {
    name: 'test',
    fetchedAddresses,
    requests: () => requests,
    async fetch(address, fromBlock, toBlock) {
      requests++
      fetchedAddresses.add(address)
      return transfers.filter((t) => (t.from === address || t.to === address) && t.blockNumber >= fromBlock && t.blockNumber <= toBlock)
    },
  }
}

async function clear(prefix: string): Promise<void> {
  await dropPrefix(harness.redis, prefix)
}

async function runScenario(s: Scenario): Promise<{ searched: number; fromWalk: number; reached: number; walkMissed: number }> {
  const etl = generateEtl(s.graphSeed)
  const files = await writeEtlFolder(harness.dir, `g${s.graphSeed}`, etl)
  const listed = [etl.listedToken as Address]

  // The chain: the full import, read back as transfers.
  const chainPrefix = testPrefix('chain')
  const chainStore = createGraphStore(harness.redis, chainPrefix)
  await importEtl(chainStore, [files], { listedTokens: listed })
  const transfers: Transfer[] = []
  for await (const t of chainStore.transfers()) transfers.push(t)
  // SCAN order is arbitrary: sort, so that the partial store is the same on every run.
  const order = (t: Transfer) => `${String(t.blockNumber).padStart(10, '0')}/${String(t.transactionIndex).padStart(6, '0')}/${t.txHash}/${t.kind}/${String(t.subIndex).padStart(10, '0')}/${t.from}/${t.to}/${t.asset}`
  transfers.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0))
  const through = transfers.reduce((m, t) => Math.max(m, t.blockNumber), 0)
  const source = chainSource(transfers)

  const prefix = testPrefix('od')
  const store: GraphStore = createGraphStore(harness.redis, prefix)
  await store.putSeeds(etl.seeds.map((a) => ({ address: a as Address, label: 'seed', source: 'random-etl' })))
  await store.putLabels(etl.labels.map((l) => ({ address: l.address as Address, label: l.label, category: l.category })))
  const dust = dustOption(s.ethDust, s.tokenDust)
  const lazy = createLazyHistory(store, source, { throughBlock: through, listedTokens: listed })
  const walk = (directions: Direction[], beforeExpand?: (a: readonly Address[]) => Promise<unknown>) =>
    runWalk(store, { redisUrl: harness.server.url, directions, maxHops: s.maxHops, batchSize: 8, stopCategories: DEFAULT_STOP_CATEGORIES, counterpartyCap: s.counterpartyCap, dust, workers: 1, concurrency: 2, ...(beforeExpand ? { beforeExpand, source: { name: 'test' as never, throughBlock: through, assets: listed.join(','), method: '' } } : {}) })
  if (s.mode === 'partial') {
    const ids = await store.internAssets([ETH, ...listed] as Asset[])
    const part = transfers.filter((_, i) => (i * 7919 + s.graphSeed) % 100 < s.keep)
    await store.stage('partial', part, ids)
    await store.commit('partial')
    // A store walk over an empty store is refused (there is nothing to walk): then no walk, every answer searched.
    if (part.length > 0) await walk(['downstream', 'upstream'])
  } else if (s.mode === 'lazy-down' || s.mode === 'lazy-both') {
    await walk(s.mode === 'lazy-down' ? ['downstream'] : ['downstream', 'upstream'], (a) => lazy.ensure(a))
  }
  const fetchedByWalk = source.fetchedAddresses.size

  const options: ReferenceOptions = { maxHops: s.maxHops, listedTokens: [etl.listedToken], counterpartyCap: s.counterpartyCap, dust }
  const expected = referenceExposure(etl, etl.seeds, etl.labels, options)
  const witness = prepareWitnessChecker(etl, etl.seeds, etl.labels, options)
  const addresses = [...expected.keys()] as Address[]
  const checker = createOnDemandChecker(store, DEFAULT_RISK_POLICY, {
    source: 'test',
    lazy,
    throughBlock: through,
    defaults: { maxHops: s.maxHops, stopCategories: DEFAULT_STOP_CATEGORIES, counterpartyCap: s.counterpartyCap, dust: Object.fromEntries(Object.entries(dust).map(([a, v]) => [a, v.toString()])) },
  })
  // How many exposed addresses the store walk (partial mode) left unreached: what the search is for.
  let walkMissed = 0
  if (s.mode === 'partial' && (await store.redis.exists(store.keys.walkCurrent)) === 1) {
    const walked = await createChecker(store, DEFAULT_RISK_POLICY).check(addresses)
    walked.forEach((r, i) => {
      const want = expected.get(addresses[i]!)!
      if ((r.downstream === null && want.downstream !== null) || (r.upstream === null && want.upstream !== null)) walkMissed++
    })
  }
  const results = await checker.check(addresses)
  const problems: string[] = []
  let searched = 0
  let fromWalk = 0
  let reached = 0
  results.forEach((r, i) => {
    const address = addresses[i]!
    const want = expected.get(address)!
    for (const direction of ['downstream', 'upstream'] as Direction[]) {
      const got = r[direction]
      if (r.answeredBy[direction] === 'search') searched++
      else fromWalk++
      const wantWalk = s.mode === 'lazy-both' || (s.mode === 'lazy-down' && direction === 'downstream')
      if ((r.answeredBy[direction] === 'walk') !== wantWalk) problems.push(`${address} ${direction}: answered by ${r.answeredBy[direction]}`)
      if ((got?.hops ?? null) !== want[direction]) problems.push(`${address} ${direction}: on-demand ${got?.hops ?? null}, reference ${want[direction]} (${r.answeredBy[direction]})`)
      if (got) {
        if (got.hops > 0) reached++
        const why = witness(got.path, direction, address, got.hops)
        if (why !== null) problems.push(`${address} ${direction} witness: ${why}`)
        if (got.seed.toLowerCase() !== (direction === 'downstream' ? got.path[0]?.from ?? address : got.path.at(-1)?.to ?? address).toLowerCase()) problems.push(`${address} ${direction}: seed ${got.seed} is not the path's end`)
      }
    }
    if (r.finalBlock !== through) problems.push(`${address}: finalBlock ${r.finalBlock}`)
  })
  // A lazy walk of both directions answers everything: the screening fetches nothing more.
  if (s.mode === 'lazy-both' && source.fetchedAddresses.size !== fetchedByWalk) problems.push(`lazy-both fetched ${source.fetchedAddresses.size - fetchedByWalk} more addresses`)
  await clear(prefix)
  await clear(chainPrefix)
  expect(problems, `scenario ${JSON.stringify(s, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`).toEqual([])
  return { searched, fromWalk, reached, walkMissed }
}

describe('on-demand screening equals the in-process reference', () => {
  it('on 60 random temporal graphs, with no walk, a walk over a partial store, or a lazy walk of one or both directions', async () => {
    const totals = { searched: 0, fromWalk: 0, reached: 0 }
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          graphSeed: fc.integer({ min: 1, max: 1_000_000 }),
          mode: fc.constantFrom<Mode>('none', 'partial', 'partial', 'lazy-down', 'lazy-both'),
          maxHops: fc.integer({ min: 0, max: 5 }),
          counterpartyCap: fc.constantFrom(3, 6, 10, 1_000_000),
          ethDust: fc.constantFrom(0n, 0n, ...DUST_FLOORS.eth),
          tokenDust: fc.constantFrom(0n, 0n, ...DUST_FLOORS.token),
          keep: fc.integer({ min: 0, max: 90 }),
        }),
        async (s) => {
          const t = await runScenario(s)
          totals.searched += t.searched
          totals.fromWalk += t.fromWalk
          totals.reached += t.reached
        },
      ),
      { numRuns: 60, seed: 20261124, endOnFailure: true },
    )
    // The judge is not trivial: many searched answers, many of them exposed.
    expect(totals.searched).toBeGreaterThan(1000)
    expect(totals.reached).toBeGreaterThan(300)
    expect(totals.fromWalk).toBeGreaterThan(100)
  }, 300_000)

  it('a walk over a partial store that misses exposed addresses: the search finds them', async () => {
    const t = await runScenario({ graphSeed: 4242, mode: 'partial', maxHops: 4, counterpartyCap: 1_000_000, ethDust: 0n, tokenDust: 0n, keep: 30 })
    expect(t.walkMissed).toBeGreaterThan(5)
    expect(t.reached).toBeGreaterThan(10)
  })
})
