/**
 * Benchmark: an incremental walk after adding (and after removing) one seed, against a full
 * re-walk, on a 1M-transfer store (issue 4).
 *
 *   node --import tsx bench/seeds.ts
 *
 * A seeded power-law temporal graph (bench/power-law-graph.ts; BENCH_TRANSFERS, default 1,000,000,
 * and BENCH_ADDRESSES, default 200,000) is imported into a private redis-server; 20 seeds; 4 hops,
 * both directions, 2 in-process workers. Then, for several single seeds of different degrees:
 * add it and walk incrementally, then run a full re-walk with the same seed set and check that the
 * labels hashes are identical; remove it again the same way. Prints a table and writes
 * bench/results/seeds.json.
 */
import { publishedLabels } from '../src/walk/walk-runs.ts'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { DEFAULT_STOP_CATEGORIES } from '../src/config.ts'
import { DEFAULT_LISTED_TOKENS } from '../src/sources/assets.ts'
import { importEtl } from '../src/sources/etl-import.ts'
import { createGraphStore, type GraphStore } from '../src/store/graph-store.ts'
import { startPrivateRedis } from '../src/store/private-redis.ts'
import { connectRedis } from '../src/store/redis.ts'
import type { Address, Direction } from '../src/types.ts'
import { traceWalk, type TraceOptions, type TraceSummary } from '../src/walk/incremental.ts'
import { generatePowerLawGraph, prng } from './power-law-graph.ts'

const TRANSFERS = Number(process.env.BENCH_TRANSFERS ?? 1_000_000)
const ADDRESSES = Number(process.env.BENCH_ADDRESSES ?? Math.max(1_000, Math.round(TRANSFERS / 5)))
const SEEDS = 20
const DIRS: Direction[] = ['downstream', 'upstream']

interface Row {
  case: string
  seed: string
  /** Labels (both directions) the seed alone adds or removes: a measure of how far it reaches. */
  labelsChanged: number
  incrementalSeconds: number
  fullSeconds: number
  speedup: number
  /** Of the incremental time: reading labels, invalidating, boundary, seed offers (before the walk proper). */
  prepareSeconds: number
  invalidated: number
  boundary: number
  equal: boolean
}

async function labels(store: GraphStore): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const d of DIRS) for (const [k, v] of Object.entries(await publishedLabels(store, d))) out.set(`${d}/${k}`, v)
  return out
}

function sameMaps(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false
  for (const [k, v] of a) if (b.get(k) !== v) return false
  return true
}

function changedCount(a: Map<string, string>, b: Map<string, string>): number {
  let n = 0
  for (const [k, v] of a) if (b.get(k) !== v) n++
  for (const k of b.keys()) if (!a.has(k)) n++
  return n
}

const sum = (r: Partial<Record<Direction, number>>) => Object.values(r).reduce((x, y) => x + y, 0)

const dir = join(tmpdir(), `exposure-bench-${TRANSFERS}-${ADDRESSES}`)
await rm(dir, { recursive: true, force: true })
process.stderr.write(`generating ${TRANSFERS.toLocaleString()} transfers over ${ADDRESSES.toLocaleString()} addresses in ${dir}\n`)
const graph = await generatePowerLawGraph(dir, { seed: 20261124, transfers: TRANSFERS, addresses: ADDRESSES })
const server = await startPrivateRedis()
const redis = await connectRedis(server.url)
try {
  const store = createGraphStore(redis, '{bench-seeds}')
  let t = performance.now()
  const imported = await importEtl(store, [dir], { listedTokens: DEFAULT_LISTED_TOKENS })
  process.stderr.write(`imported ${imported.transfersAdded} transfers in ${((performance.now() - t) / 1000).toFixed(1)} s\n`)

  const random = prng(7)
  const seeds = new Set<string>()
  while (seeds.size < SEEDS) seeds.add(graph.addresses[Math.floor(ADDRESSES * (0.001 + 0.05 * random()))]!)
  const seedOf = (a: string) => ({ address: a as Address, label: 'bench seed', source: 'bench/power-law-graph.ts' })
  await store.putSeeds([...seeds].map(seedOf))

  const options: TraceOptions = {
    redisUrl: server.url,
    directions: DIRS,
    maxHops: 4,
    batchSize: 512,
    stopCategories: DEFAULT_STOP_CATEGORIES,
    counterpartyCap: 1000,
    dust: {},
    workers: 2,
    concurrency: 2,
  }
  const first = await traceWalk(store, options)
  process.stderr.write(`first full walk: ${first.seconds.toFixed(2)} s, labelled ${JSON.stringify(first.labelled)}\n`)

  // Single seeds across degrees: a well-connected one (low index = high degree), a middling one, a
  // peripheral one (most addresses of a power-law graph reach little).
  const picks = [
    { case: 'high-degree', address: graph.addresses[Math.floor(ADDRESSES * 0.002)]! },
    { case: 'mid-degree', address: graph.addresses[Math.floor(ADDRESSES * 0.05)]! },
    { case: 'peripheral', address: graph.addresses[Math.floor(ADDRESSES * 0.6)]! },
  ].filter((p) => !seeds.has(p.address))

  const rows: Row[] = []
  for (const pick of picks) {
    const before = await labels(store)
    const timed = async (run: () => Promise<TraceSummary>): Promise<[TraceSummary, number]> => {
      const started = performance.now()
      const summary = await run()
      return [summary, (performance.now() - started) / 1000]
    }

    await store.putSeeds([seedOf(pick.address)])
    const [added, addSeconds] = await timed(() => traceWalk(store, options, { incremental: true }))
    if (added.mode !== 'incremental') throw new Error(`expected an incremental walk, got a full one: ${added.reason}`)
    const afterAdd = await labels(store)
    const [, fullAddSeconds] = await timed(() => traceWalk(store, options))
    const equalAdd = sameMaps(afterAdd, await labels(store))
    rows.push({ case: `add ${pick.case}`, seed: pick.address, labelsChanged: changedCount(before, afterAdd), incrementalSeconds: addSeconds, fullSeconds: fullAddSeconds, speedup: fullAddSeconds / addSeconds, prepareSeconds: added.prepareSeconds, invalidated: 0, boundary: 0, equal: equalAdd })

    await store.redis.hdel(store.keys.seeds, pick.address)
    const [removed, removeSeconds] = await timed(() => traceWalk(store, options, { incremental: true }))
    if (removed.mode !== 'incremental') throw new Error(`expected an incremental walk, got a full one: ${removed.reason}`)
    const afterRemove = await labels(store)
    const [, fullRemoveSeconds] = await timed(() => traceWalk(store, options))
    const equalRemove = sameMaps(afterRemove, await labels(store)) && sameMaps(afterRemove, before)
    rows.push({
      case: `remove ${pick.case}`,
      seed: pick.address,
      labelsChanged: changedCount(afterAdd, afterRemove),
      incrementalSeconds: removeSeconds,
      fullSeconds: fullRemoveSeconds,
      speedup: fullRemoveSeconds / removeSeconds,
      prepareSeconds: removed.prepareSeconds,
      invalidated: sum(removed.invalidated),
      boundary: sum(removed.boundary),
      equal: equalRemove,
    })
    process.stderr.write(`${pick.case}: add ${addSeconds.toFixed(2)} s, remove ${removeSeconds.toFixed(2)} s, full ${fullAddSeconds.toFixed(2)} / ${fullRemoveSeconds.toFixed(2)} s\n`)
  }

  const head = ['case', 'labels changed', 'incremental s', 'of which prepare s', 'full re-walk s', 'speed-up', 'invalidated', 'boundary', 'equal']
  const table = rows.map((r) => [r.case, String(r.labelsChanged), r.incrementalSeconds.toFixed(3), r.prepareSeconds.toFixed(3), r.fullSeconds.toFixed(3), `${r.speedup.toFixed(1)}x`, String(r.invalidated), String(r.boundary), r.equal ? 'yes' : 'NO'])
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')
  process.stdout.write(`\nincremental walk vs full re-walk: ${TRANSFERS.toLocaleString()} transfers, ${ADDRESSES.toLocaleString()} addresses, ${SEEDS} seeds + 1, 4 hops, both directions, 2 workers\n`)
  process.stdout.write(`${line(head)}\n${line(widths.map((w) => '-'.repeat(w)))}\n${table.map(line).join('\n')}\n`)
  await mkdir(new URL('./results/', import.meta.url), { recursive: true })
  await writeFile(
    new URL('./results/seeds.json', import.meta.url),
    `${JSON.stringify({ date: new Date().toISOString(), graph: { transfers: TRANSFERS, addresses: ADDRESSES, seeds: SEEDS, maxHops: 4, counterpartyCap: 1000, workers: 2 }, firstWalk: { seconds: first.seconds, labelled: first.labelled }, rows }, null, 2)}\n`,
  )
  if (rows.some((r) => !r.equal)) process.exitCode = 1
} finally {
  redis.disconnect()
  await server.stop()
  await rm(dir, { recursive: true, force: true })
}
