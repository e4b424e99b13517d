/**
 * `npm run bench`: the walk benchmark of issue "The exposure walk, end to end".
 * On a seeded power-law temporal graph (1,000,000 transfers, 200,000 addresses by default):
 * import rate, Redis memory per transfer, walk time (4 hops, both directions, 2 workers), check
 * latency for 10,000 known addresses, and the in-process reference walk on the same graph in the
 * same run. Then the same walk with the counterparty cap off (hubs expanded, so the walk reaches
 * most of the graph), against the graphology reference and the typed-array reference
 * (test/support/reference-typed.ts, the practical limit of one core), answers compared.
 * Prints a table and writes bench/results/walk.json.
 *
 * Scale with BENCH_TRANSFERS / BENCH_ADDRESSES (e.g. for a quick try).
 */
import { publishedLabels } from '../src/walk/walk-runs.ts'
import { execFile } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createGraphStore } from '../src/store/graph-store.ts'
import { startPrivateRedis } from '../src/store/private-redis.ts'
import { connectRedis } from '../src/store/redis.ts'
import { importEtl } from '../src/sources/etl-import.ts'
import { runWalk } from '../src/walk/run-walk.ts'
import { createChecker } from '../src/walk/check.ts'
import { createTaintReplayer, type TaintAnswer } from '../src/walk/taint-region.ts'
import { parseLabels, bestLabel } from '../src/walk/labels.ts'
import { DEFAULT_RISK_POLICY } from '../src/walk/risk.ts'
import { DEFAULT_STOP_CATEGORIES } from '../src/config.ts'
import { DEFAULT_LISTED_TOKENS } from '../src/sources/assets.ts'
import type { Address, Direction } from '../src/types.ts'
import { buildTransferGraph, hopsOnGraph, referenceHopsFromTransfers, type HopTransfer, type HopsPair, type RefTransfer } from '../test/support/reference-walk.ts'
import { buildTypedGraph, internTransfers, typedCounterparties, typedHops } from '../test/support/reference-typed.ts'
import { prepareValueReferenceFromTransfers } from '../test/support/value-reference.ts'
import { generatePowerLawGraph, prng } from './power-law-graph.ts'

const execFileAsync = promisify(execFile)
const TRANSFERS = Number(process.env.BENCH_TRANSFERS ?? 1_000_000)
const ADDRESSES = Number(process.env.BENCH_ADDRESSES ?? 200_000)
const SEEDS = 20
const MAX_HOPS = 4
const CAP = 1000
/** "Cap off": no address is a stop node by its counterparty count. JSON-safe (job data), unlike Infinity. */
const NO_CAP = Number.MAX_SAFE_INTEGER
const CHECKS = 10_000
const TAINTS = 100

/** Sorted check latencies (ms) measured by bench/check-latency.ts in a process of its own. */
async function timeChecksInChild(redisUrl: string, prefix: string, addressesFile: string, mode: 'hops' | 'value'): Promise<number[]> {
  const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./check-latency.ts', import.meta.url)), redisUrl, prefix, addressesFile, mode], { maxBuffer: 64 * 1024 * 1024 })
  return JSON.parse(stdout) as number[]
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

async function usedMemory(redis: Awaited<ReturnType<typeof connectRedis>>): Promise<number> {
  const info = await redis.info('memory')
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0)
}

// Other people's tests share this machine: the table says how busy it was.
const loadBefore = loadavg()
// The process id keeps two runs at once (other worktrees on this machine) out of each other's files.
const dir = join(tmpdir(), `exposure-bench-${TRANSFERS}-${ADDRESSES}-${process.pid}`)
await rm(dir, { recursive: true, force: true })
process.stderr.write(`generating ${TRANSFERS.toLocaleString()} transfers over ${ADDRESSES.toLocaleString()} addresses in ${dir}\n`)
const graph = await generatePowerLawGraph(dir, { seed: 20261124, transfers: TRANSFERS, addresses: ADDRESSES })

const server = await startPrivateRedis()
const redis = await connectRedis(server.url)
try {
  const store = createGraphStore(redis, '{bench}')
  const memoryBefore = await usedMemory(redis)

  // 1. import through the real importer (CSV → staging → commit)
  let t = performance.now()
  const imported = await importEtl(store, [dir], { listedTokens: DEFAULT_LISTED_TOKENS })
  const importSeconds = (performance.now() - t) / 1000
  const memoryAfter = await usedMemory(redis)
  const bytesPerTransfer = (memoryAfter - memoryBefore) / imported.transfersAdded
  process.stderr.write(`imported ${imported.transfersAdded} transfers in ${importSeconds.toFixed(1)} s\n`)

  // 2. seeds: addresses with a moderate degree, picked by the seeded generator
  const random = prng(7)
  const seeds = new Set<string>()
  while (seeds.size < SEEDS) seeds.add(graph.addresses[Math.floor(ADDRESSES * (0.001 + 0.05 * random()))]!)
  await store.putSeeds([...seeds].map((address) => ({ address: address as Address, label: 'bench seed', source: 'bench/power-law-graph.ts' })))

  // 3. the queue walk: 2 in-process BullMQ workers, both directions, 4 hops
  t = performance.now()
  const walk = await runWalk(store, {
    redisUrl: server.url,
    directions: ['downstream', 'upstream'],
    maxHops: MAX_HOPS,
    batchSize: 512,
    stopCategories: DEFAULT_STOP_CATEGORIES,
    counterpartyCap: CAP,
    dust: {},
    workers: 2,
    concurrency: 2,
  })
  const walkSeconds = (performance.now() - t) / 1000
  const memoryAfterWalk = await usedMemory(redis)

  // 4. check latency, in process, one address at a time, 10,000 addresses the walk reached
  //    (measured before the reference builds its graph, whose garbage would pause this process)
  //    Hops and paths only (value: false), then the default answer with exposed value and the risk reason.
  const known = [...new Set([...Object.keys(await publishedLabels(store, 'downstream')), ...Object.keys(await publishedLabels(store, 'upstream'))])].slice(0, CHECKS).map((hex) => `0x${hex}` as Address)
  const timeChecks = async (checker: ReturnType<typeof createChecker>) => {
    const out: number[] = []
    const answers: Awaited<ReturnType<typeof checker.check>> = []
    for (const address of known) {
      const start = performance.now()
      answers.push(...(await checker.check([address])))
      out.push(performance.now() - start)
    }
    return { latencies: out.sort((a, b) => a - b), answers }
  }
  // Timed in a fresh process each (bench/check-latency.ts): this one holds the generated graph and
  // the walk's garbage, whose major collections (30–60 ms) no screening process has.
  const addressesFile = join(dir, 'check-addresses.json')
  await writeFile(addressesFile, JSON.stringify(known))
  const latencies = await timeChecksInChild(server.url, store.keys.prefix, addressesFile, 'hops')
  const valueLatencies = await timeChecksInChild(server.url, store.keys.prefix, addressesFile, 'value')
  // The answers (untimed, in this process) pick the wallets of the taint replay.
  const withValue = await timeChecks(createChecker(store, DEFAULT_RISK_POLICY))

  // 4b. the haircut taint replay for the 100 most exposed of them (by exposed value received)
  const exposedOf = (a: (typeof withValue.answers)[number]) => (a.value?.downstream ?? []).reduce((sum, v) => sum + BigInt(v.exposed), 0n)
  const mostExposed = [...withValue.answers].filter((a) => a.downstream !== null && a.downstream.hops > 0).sort((a, b) => (exposedOf(b) > exposedOf(a) ? 1 : exposedOf(b) < exposedOf(a) ? -1 : 0)).slice(0, TAINTS).map((a) => a.address.toLowerCase() as Address)
  const taintAnswers = new Map<string, TaintAnswer>()
  // One replayer for the batch: it keeps what it read while the walk and the store stay the same,
  // as the reference keeps its indexes (regions of exposed wallets overlap).
  const replayer = createTaintReplayer(store)
  t = performance.now()
  for (const address of mostExposed) taintAnswers.set(address, await replayer.taintOf(address))
  const taintSeconds = (performance.now() - t) / 1000


  // 5. the in-process reference on the same transfers (graph build timed apart from the walk)
  const transfers: HopTransfer[] = new Array(graph.transfers)
  const counterparties = new Map<string, Set<string>>()
  for (let i = 0; i < graph.transfers; i++) {
    const from = graph.addresses[graph.from[i]!]!
    const to = graph.addresses[graph.to[i]!]!
    transfers[i] = { from, to, block: graph.block[i]!, txIndex: graph.txIndex[i]! }
    if (from !== to) {
      ;(counterparties.get(from) ?? counterparties.set(from, new Set()).get(from)!).add(to)
      ;(counterparties.get(to) ?? counterparties.set(to, new Set()).get(to)!).add(from)
    }
  }
  const stopSet = new Set([...counterparties].filter(([, set]) => set.size > CAP).map(([a]) => a))
  t = performance.now()
  buildTransferGraph(transfers)
  const referenceBuildSeconds = (performance.now() - t) / 1000
  t = performance.now()
  const reference = referenceHopsFromTransfers(transfers, [...seeds], stopSet, MAX_HOPS)
  const referenceTotalSeconds = (performance.now() - t) / 1000
  const referenceWalkSeconds = Math.max(referenceTotalSeconds - referenceBuildSeconds, 1e-3)

  // 5b. the in-process taint replay over the same transfers (read back from the store: amounts, assets, order)
  const refTransfers: RefTransfer[] = []
  for await (const tr of store.transfers()) {
    refTransfers.push({ from: tr.from, to: tr.to, block: tr.blockNumber, txIndex: tr.transactionIndex, asset: tr.asset, amount: tr.amount, txHash: tr.txHash, kind: tr.kind, order: tr.kind === 'tx' ? [0] : [tr.kind === 'trace' ? 1 : 2, tr.subIndex] })
  }
  t = performance.now()
  const valueReference = prepareValueReferenceFromTransfers(refTransfers, [...seeds], stopSet, MAX_HOPS)
  const taintReferencePrepareSeconds = (performance.now() - t) / 1000
  t = performance.now()
  const taintMismatches: string[] = []
  for (const address of mostExposed) {
    const want = valueReference.taint(address)
    const got = new Map(taintAnswers.get(address)!.assets.map((a) => [a.asset, a]))
    if (got.size !== want.size || want.size === 0) taintMismatches.push(`${address}: ${got.size} assets, reference ${want.size}`)
    for (const [asset, w] of want) {
      const g = got.get(asset)
      if (g === undefined || g.taintedReceived !== w.taintedReceived || g.received !== w.received || g.taintedBalance !== w.taintedBalance) taintMismatches.push(`${address} ${asset}`)
    }
  }
  const taintReferenceSeconds = Math.max((performance.now() - t) / 1000, 1e-3)

  // 6. the walk's answers must equal the reference's, address by address
  const mismatches: string[] = []
  const labelled: Record<Direction, Map<string, number>> = { downstream: new Map(), upstream: new Map() }
  for (const direction of ['downstream', 'upstream'] as const) {
    const all = await publishedLabels(store, direction)
    for (const [hex, text] of Object.entries(all)) labelled[direction].set(`0x${hex}`, bestLabel(parseLabels(text))!.hops)
  }
  for (const [address, hops] of reference) {
    for (const direction of ['downstream', 'upstream'] as const) {
      const mine = labelled[direction].get(address) ?? null
      if (mine !== hops[direction] && mismatches.length < 10) mismatches.push(`${address} ${direction}: walk ${mine}, reference ${hops[direction]}`)
    }
  }
  const reached = { downstream: labelled.downstream.size, upstream: labelled.upstream.size }

  // 7. the typed-array reference on the same transfers: interning + CSR timed apart from the walk
  t = performance.now()
  const interned = internTransfers(transfers, [...seeds])
  const typedGraph = buildTypedGraph(interned.addresses.length, interned.from, interned.to, interned.pos)
  const typedBuildSeconds = (performance.now() - t) / 1000
  const seedIds = interned.addresses.flatMap((address, i) => (seeds.has(address) ? [i] : []))
  // Median of three: one run of a few hundred ms swings by 3–10× with the JIT's warm-up and a
  // major collection of this process' large heap; the limit should not be set by either.
  const typedWalk = (passable: Uint8Array) => {
    const runs: number[] = []
    let down = typedHops(typedGraph, seedIds, passable, MAX_HOPS, 'downstream')
    let up = typedHops(typedGraph, seedIds, passable, MAX_HOPS, 'upstream')
    for (let r = 0; r < 3; r++) {
      const start = performance.now()
      down = typedHops(typedGraph, seedIds, passable, MAX_HOPS, 'downstream')
      up = typedHops(typedGraph, seedIds, passable, MAX_HOPS, 'upstream')
      runs.push(Math.max((performance.now() - start) / 1000, 1e-4))
    }
    const seconds = [...runs].sort((a, b) => a - b)[1]!
    const hops = new Map<string, HopsPair>()
    interned.addresses.forEach((address, i) => hops.set(address, { downstream: down.hops[i]! < 0 ? null : down.hops[i]!, upstream: up.hops[i]! < 0 ? null : up.hops[i]! }))
    return { seconds, runs, hops, labels: down.labels + up.labels, relaxations: down.relaxations + up.relaxations }
  }
  t = performance.now()
  const counts = typedCounterparties(typedGraph)
  const typedCapPassable = new Uint8Array(typedGraph.n)
  for (let i = 0; i < typedGraph.n; i++) typedCapPassable[i] = counts[i]! <= CAP ? 1 : 0
  const typedStopSeconds = (performance.now() - t) / 1000
  const typedCapOn = typedWalk(typedCapPassable)
  const differ = (a: ReadonlyMap<string, HopsPair>, b: ReadonlyMap<string, HopsPair>): string[] => {
    const out: string[] = []
    if (a.size !== b.size) out.push(`${a.size} addresses vs ${b.size}`)
    for (const [address, want] of b) {
      const got = a.get(address)
      if ((got?.downstream ?? null) !== want.downstream || (got?.upstream ?? null) !== want.upstream) out.push(`${address}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`)
      if (out.length >= 10) break
    }
    return out
  }
  const typedCapOnMismatches = differ(typedCapOn.hops, reference)

  // 8. cap off: hubs are expanded. The queue walk, the graphology reference and the typed-array
  //    reference on the same store and transfers; every answer compared.
  t = performance.now()
  await runWalk(store, {
    redisUrl: server.url,
    directions: ['downstream', 'upstream'],
    maxHops: MAX_HOPS,
    batchSize: 512,
    stopCategories: DEFAULT_STOP_CATEGORIES,
    counterpartyCap: NO_CAP,
    dust: {},
    workers: 2,
    concurrency: 2,
  })
  const walkNoCapSeconds = (performance.now() - t) / 1000
  const walkNoCapHops = new Map<string, HopsPair>()
  for (const direction of ['downstream', 'upstream'] as const) {
    for (const [hex, text] of Object.entries(await publishedLabels(store, direction))) {
      const address = `0x${hex}`
      const pair = walkNoCapHops.get(address) ?? walkNoCapHops.set(address, { downstream: null, upstream: null }).get(address)!
      pair[direction] = bestLabel(parseLabels(text))!.hops
    }
  }
  const reachedNoCap = { downstream: [...walkNoCapHops.values()].filter((p) => p.downstream !== null).length, upstream: [...walkNoCapHops.values()].filter((p) => p.upstream !== null).length }
  // Timed on a graph built beforehand: subtracting a separately timed build, as for the cap-on
  // row, can go below zero on a busy machine.
  const referenceNoCap = new Map<string, HopsPair>()
  let referenceNoCapSeconds = 0
  {
    const noCapGraph = buildTransferGraph(transfers, [...seeds])
    t = performance.now()
    const down = hopsOnGraph(noCapGraph, seeds, new Set(), MAX_HOPS, 'downstream')
    const up = hopsOnGraph(noCapGraph, seeds, new Set(), MAX_HOPS, 'upstream')
    referenceNoCapSeconds = (performance.now() - t) / 1000
    noCapGraph.forEachNode((_key, { address, index }) => referenceNoCap.set(address, { downstream: down[index]! < 0 ? null : down[index]!, upstream: up[index]! < 0 ? null : up[index]! }))
  }
  const typedNoCap = typedWalk(new Uint8Array(typedGraph.n).fill(1))
  // The walk labels only what it reached; the references name every address (null when unreached).
  const reachedOnly = (m: ReadonlyMap<string, HopsPair>) => new Map([...m].filter(([, p]) => p.downstream !== null || p.upstream !== null))
  const noCapMismatches = [...differ(walkNoCapHops, reachedOnly(referenceNoCap)).map((m) => `walk vs graphology: ${m}`), ...differ(typedNoCap.hops, referenceNoCap).map((m) => `typed vs graphology: ${m}`)]
  const noCapRatio = walkNoCapSeconds / typedNoCap.seconds

  const importRate = imported.transfersAdded / importSeconds
  const speedShare = referenceWalkSeconds / walkSeconds
  const rows = [
    ['load average 1/5/15 min', `${loadBefore.map((l) => l.toFixed(2)).join(' / ')} before, ${loadavg().map((l) => l.toFixed(2)).join(' / ')} after (2 cores; others' tests may run)`, '', ''],
    ['graph', `${TRANSFERS.toLocaleString()} transfers, ${ADDRESSES.toLocaleString()} addresses, ${SEEDS} seeds, cap ${CAP}`, '', ''],
    ['import rate', `${Math.round(importRate).toLocaleString()} transfers/s (${importSeconds.toFixed(1)} s)`, '≥ 100,000/s', importRate >= 100_000 ? 'met' : 'MISSED'],
    ['Redis memory per transfer', `${bytesPerTransfer.toFixed(1)} B (after walk: ${((memoryAfterWalk - memoryBefore) / imported.transfersAdded).toFixed(1)} B incl. labels)`, '≤ 150 B', bytesPerTransfer <= 150 ? 'met' : 'MISSED'],
    ['walk, 4 hops, both, 2 workers', `${walkSeconds.toFixed(2)} s (${reached.downstream.toLocaleString()} down + ${reached.upstream.toLocaleString()} up labelled)`, '', ''],
    ['reference walk (in process)', `${referenceWalkSeconds.toFixed(2)} s walk + ${referenceBuildSeconds.toFixed(2)} s graph build`, '', ''],
    ['walk speed vs reference', `${(speedShare * 100).toFixed(0)} % (${(walkSeconds / referenceWalkSeconds).toFixed(2)}× the time)`, '≥ 25 %', speedShare >= 0.25 ? 'met' : 'MISSED'],
    ['answers equal reference', mismatches.length === 0 ? `yes (${reference.size.toLocaleString()} addresses × 2 directions)` : `NO: ${mismatches.length}+ differ`, 'yes', mismatches.length === 0 ? 'met' : 'MISSED'],
    ['check latency p50 / p99', `${percentile(latencies, 50).toFixed(3)} / ${percentile(latencies, 99).toFixed(3)} ms (${latencies.length.toLocaleString()} addresses, hops and paths)`, 'p99 ≤ 2 ms', percentile(latencies, 99) <= 2 ? 'met' : 'MISSED'],
    ['check with exposed value p50 / p99', `${percentile(valueLatencies, 50).toFixed(3)} / ${percentile(valueLatencies, 99).toFixed(3)} ms (the default answer: value per asset, risk reason)`, 'p99 ≤ 3 ms', percentile(valueLatencies, 99) <= 3 ? 'met' : 'MISSED'],
    ['haircut replay, 100 most exposed', `${taintSeconds.toFixed(2)} s (${((taintSeconds / Math.max(1, mostExposed.length)) * 1000).toFixed(1)} ms each, from Redis)`, '', ''],
    ['replay reference (in process)', `${taintReferenceSeconds.toFixed(2)} s replay + ${taintReferencePrepareSeconds.toFixed(2)} s indexes; ratio ${(taintSeconds / taintReferenceSeconds).toFixed(2)}×; ${taintMismatches.length === 0 ? 'equal' : `${taintMismatches.length} DIFFER`}`, '≤ 3×, equal', taintSeconds <= 3 * taintReferenceSeconds && taintMismatches.length === 0 ? 'met' : 'MISSED'],
    ['typed-array reference, cap on', `${(typedCapOn.seconds * 1000).toFixed(0)} ms walk (median of 3) + ${typedBuildSeconds.toFixed(2)} s intern/CSR + ${(typedStopSeconds * 1000).toFixed(0)} ms counterparties; ${typedCapOnMismatches.length === 0 ? 'equal to graphology' : `${typedCapOnMismatches.length}+ DIFFER`}`, 'equal', typedCapOnMismatches.length === 0 ? 'met' : 'MISSED'],
    ['walk, cap off (hubs expanded)', `${walkNoCapSeconds.toFixed(2)} s (${reachedNoCap.downstream.toLocaleString()} down + ${reachedNoCap.upstream.toLocaleString()} up labelled)`, '', ''],
    ['graphology reference, cap off', `${referenceNoCapSeconds.toFixed(2)} s walk (${(walkNoCapSeconds / referenceNoCapSeconds).toFixed(2)}× by the queue walk)`, '', ''],
    ['typed-array reference, cap off', `${(typedNoCap.seconds * 1000).toFixed(0)} ms walk, median of ${typedNoCap.runs.map((r) => (r * 1000).toFixed(0)).join(' / ')} (${typedNoCap.labels.toLocaleString()} labels, ${typedNoCap.relaxations.toLocaleString()} edges scanned)`, '', ''],
    ['queue walk vs typed-array, cap off', `${noCapRatio.toFixed(1)}× the time`, '≤ 8×', noCapRatio <= 8 ? 'met' : 'MISSED'],
    ['cap-off answers equal (walk, graphology, typed)', noCapMismatches.length === 0 ? `yes (${referenceNoCap.size.toLocaleString()} addresses × 2 directions)` : `NO: ${noCapMismatches.length}+ differ`, 'yes', noCapMismatches.length === 0 ? 'met' : 'MISSED'],
  ]
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]!.length), ['measure', 'value', 'target', ''][c]!.length))
  const line = (r: string[]) => `| ${r.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`
  console.log(line(['measure', 'value', 'target', '']))
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
  for (const r of rows) console.log(line(r))
  for (const m of mismatches) console.log(`mismatch: ${m}`)
  for (const m of [...typedCapOnMismatches.map((m) => `typed vs graphology, cap on: ${m}`), ...noCapMismatches]) console.log(`mismatch: ${m}`)

  await mkdir(new URL('./results/', import.meta.url), { recursive: true })
  const result = {
    date: new Date().toISOString(),
    graph: { transfers: TRANSFERS, addresses: ADDRESSES, seeds: SEEDS, counterpartyCap: CAP, maxHops: MAX_HOPS },
    import: { seconds: importSeconds, readSeconds: imported.readSeconds, transfersPerSecond: importRate, rows: imported.rows, transfers: imported.transfersAdded },
    memory: { bytesPerTransfer, bytesPerTransferAfterWalk: (memoryAfterWalk - memoryBefore) / imported.transfersAdded },
    walk: { seconds: walkSeconds, workers: 2, labelled: reached },
    reference: { walkSeconds: referenceWalkSeconds, buildSeconds: referenceBuildSeconds, speedShare },
    check: { p50ms: percentile(latencies, 50), p99ms: percentile(latencies, 99), count: latencies.length },
    checkWithValue: { p50ms: percentile(valueLatencies, 50), p99ms: percentile(valueLatencies, 99) },
    taint: { wallets: mostExposed.length, seconds: taintSeconds, referenceSeconds: taintReferenceSeconds, referencePrepareSeconds: taintReferencePrepareSeconds, equal: taintMismatches.length === 0 },
    typed: { buildSeconds: typedBuildSeconds, counterpartiesSeconds: typedStopSeconds, capOnWalkSeconds: typedCapOn.seconds, capOnEqual: typedCapOnMismatches.length === 0 },
    capOff: {
      walkSeconds: walkNoCapSeconds,
      labelled: reachedNoCap,
      referenceWalkSeconds: referenceNoCapSeconds,
      typedWalkSeconds: typedNoCap.seconds,
      typedLabels: typedNoCap.labels,
      typedRelaxations: typedNoCap.relaxations,
      walkOverTyped: noCapRatio,
      equal: noCapMismatches.length === 0,
    },
    loadAverage: { before: loadBefore, after: loadavg() },
    equal: mismatches.length === 0,
  }
  await writeFile(new URL('./results/walk.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`)
  for (const m of taintMismatches.slice(0, 10)) console.log(`taint mismatch: ${m}`)
  if (mismatches.length > 0 || taintMismatches.length > 0 || typedCapOnMismatches.length > 0 || noCapMismatches.length > 0) process.exitCode = 1
} finally {
  redis.disconnect()
  await server.stop()
  await rm(dir, { recursive: true, force: true })
}
