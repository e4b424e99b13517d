/**
 * `npm run bench:memory`: where Redis' bytes go. Imports the bench graph (bench/power-law-graph.ts,
 * the same seed and size as `npm run bench`; BENCH_TRANSFERS / BENCH_ADDRESSES to scale) into a
 * private redis-server, runs the same walk (4 hops, both directions, cap 1000, 2 workers), then
 * measures every key family with `MEMORY USAGE <key> SAMPLES 0` over a SCAN, beside `INFO memory`
 * and `MEMORY STATS`, and splits the node strings into record bytes, header, SDS header, allocator
 * rounding and per-key overhead. Prints tables and writes bench/results/memory.json.
 *
 * Families with more than BENCH_MEMORY_MAX_KEYS keys (default 1,000,000) are sampled: every k-th
 * key in SCAN order is measured and the sums scaled by k; the table says so.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Redis } from 'ioredis'
import { createGraphStore } from '../src/store/graph-store.ts'
import { startPrivateRedis } from '../src/store/private-redis.ts'
import { connectRedis } from '../src/store/redis.ts'
import { HEADER_SIZE, IN_SIZE, OUT_SIZE } from '../src/store/records.ts'
import { importEtl } from '../src/sources/etl-import.ts'
import { runWalk } from '../src/walk/run-walk.ts'
import { DEFAULT_STOP_CATEGORIES } from '../src/config.ts'
import { DEFAULT_LISTED_TOKENS } from '../src/sources/assets.ts'
import type { Address } from '../src/types.ts'
import { generatePowerLawGraph, prng } from './power-law-graph.ts'

const TRANSFERS = Number(process.env.BENCH_TRANSFERS ?? 1_000_000)
const ADDRESSES = Number(process.env.BENCH_ADDRESSES ?? 200_000)
const MAX_KEYS = Number(process.env.BENCH_MEMORY_MAX_KEYS ?? 1_000_000)
const SEEDS = 20
const MAX_HOPS = 4
const CAP = 1000
const PREFIX = '{bench}'
/** The prefix's tag or one of its partition tags, at the start of a key. */
const TAG = /^\{bench(?::p[0-9a-f]{2})?\}/

/** Key families, first match wins. The prefix is stripped before matching. */
const FAMILIES: readonly { name: string; test: (rest: string) => boolean }[] = [
  { name: 'node strings (:n:)', test: (k) => k.startsWith(':n:') },
  { name: 'tx index (:txi:)', test: (k) => k.startsWith(':txi:') },
  { name: 'pending tokens (:ptok:)', test: (k) => k.startsWith(':ptok:') },
  { name: 'block times (:bt:)', test: (k) => k.startsWith(':bt:') },
  { name: 'meta, assets, amounts', test: (k) => k === ':meta' || k === ':assets' || k === ':amounts' },
  { name: 'walk labels (:walk:r:…:labels)', test: (k) => k.startsWith(':walk:') && k.endsWith(':labels') },
  { name: 'walk other (frontier, claims, seeds, meta)', test: (k) => k.startsWith(':walk:') },
  { name: 'change sets (:changes:)', test: (k) => k.startsWith(':changes:') },
  { name: 'BullMQ (:q:)', test: (k) => k.startsWith(':q:') },
  { name: 'seeds, labels', test: (k) => k.startsWith(':seeds') || k === ':labels' },
  { name: 'other', test: () => true },
]

interface FamilyStats {
  name: string
  keys: number
  measured: number
  /** Sum of MEMORY USAGE over the measured keys, scaled to all keys. */
  bytes: number
  sampledOneIn: number
}

/** jemalloc's small and large size classes: four per doubling above 128 B, 16 B apart below. */
export function jemallocClass(size: number): number {
  if (size <= 8) return 8
  if (size <= 128) return Math.ceil(size / 16) * 16
  const group = 2 ** Math.floor(Math.log2(size - 1))
  const step = group / 4
  return Math.ceil(size / step) * step
}

/** Bytes of an SDS string's header plus its terminating NUL, by length (sds.c's sdsReqType). */
function sdsOverhead(length: number): number {
  if (length < 32) return 1 + 1
  if (length < 256) return 3 + 1
  if (length < 65536) return 5 + 1
  return 9 + 1
}

/** What MEMORY USAGE adds around a string value: the robj (16 B) and the main dict's entry (24 B). */
const ROBJ = 16
const DICT_ENTRY = 24

async function info(redis: Redis): Promise<Record<string, string>> {
  const text = await redis.info('memory')
  return Object.fromEntries(text.split(/\r?\n/).filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]))
}

/** MEMORY STATS as a flat object (nested db.N maps as "db.0.overhead.hashtable.main"). */
async function memoryStats(redis: Redis): Promise<Record<string, number | string>> {
  const flat: Record<string, number | string> = {}
  const walk = (reply: unknown[], path: string) => {
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const key = `${path}${String(reply[i])}`
      const value = reply[i + 1]
      if (Array.isArray(value)) walk(value, `${key}.`)
      else flat[key] = typeof value === 'number' ? value : Number.isFinite(Number(value)) ? Number(value) : String(value)
    }
  }
  walk((await redis.call('MEMORY', 'STATS')) as unknown[], '')
  return flat
}

interface NodeStrings {
  keys: number
  measured: number
  outRecords: number
  inRecords: number
  /** Scaled to all node keys. */
  usage: number
  payload: number
  sdsHeaders: number
  valueAllocations: number
  keyAllocations: number
  robjAndEntries: number
}

async function scanFamilies(redis: Redis): Promise<{ families: FamilyStats[]; nodes: NodeStrings }> {
  // First pass: count keys per family, so that the second knows whether (and how) to sample.
  const keysOf = new Map<string, string[]>()
  let cursor = '0'
  do {
    // The store's keys: its global ones under {bench}, its per-address ones under the 256
    // partition tags {bench:pXX} (store/keys.ts). The private server holds nothing else.
    const [next, batch] = await redis.scan(cursor, 'MATCH', '{bench*', 'COUNT', 5000)
    cursor = next
    for (const key of batch) {
      const rest = key.replace(TAG, '')
      const family = FAMILIES.find((f) => f.test(rest))!.name
      const list = keysOf.get(family) ?? keysOf.set(family, []).get(family)!
      list.push(key)
    }
  } while (cursor !== '0')
  const families: FamilyStats[] = []
  const nodes: NodeStrings = { keys: 0, measured: 0, outRecords: 0, inRecords: 0, usage: 0, payload: 0, sdsHeaders: 0, valueAllocations: 0, keyAllocations: 0, robjAndEntries: 0 }
  for (const { name } of FAMILIES) {
    const all = keysOf.get(name) ?? []
    if (all.length === 0) continue
    const oneIn = Math.max(1, Math.ceil(all.length / MAX_KEYS))
    const measured = all.filter((_, i) => i % oneIn === 0)
    const isNode = name.startsWith('node strings')
    let bytes = 0
    for (let i = 0; i < measured.length; i += 1000) {
      const chunk = measured.slice(i, i + 1000)
      const pipe = redis.pipeline()
      for (const key of chunk) {
        pipe.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')
        if (isNode) (pipe.strlen(key), pipe.getrangeBuffer(key, 4, 7))
      }
      const replies = (await pipe.exec())!
      const per = isNode ? 3 : 1
      for (let j = 0; j < chunk.length; j++) {
        const usage = Number(replies[j * per]![1])
        bytes += usage
        if (!isNode) continue
        const length = Number(replies[j * per + 1]![1])
        const outCount = (replies[j * per + 2]![1] as Buffer).readUInt32BE(0)
        const key = chunk[j]!
        const keyAllocation = jemallocClass(Buffer.byteLength(key) + sdsOverhead(Buffer.byteLength(key)))
        nodes.outRecords += outCount
        nodes.inRecords += (length - HEADER_SIZE - outCount * OUT_SIZE) / IN_SIZE
        nodes.usage += usage
        nodes.payload += length
        nodes.sdsHeaders += sdsOverhead(length)
        nodes.keyAllocations += keyAllocation
        nodes.robjAndEntries += ROBJ + DICT_ENTRY
        // MEMORY USAGE = robj + the value's allocation + the key's allocation + dict entry: the value's is what is left.
        nodes.valueAllocations += usage - ROBJ - DICT_ENTRY - keyAllocation
      }
    }
    families.push({ name, keys: all.length, measured: measured.length, bytes: bytes * oneIn, sampledOneIn: oneIn })
    if (isNode) {
      nodes.keys = all.length
      nodes.measured = measured.length
      for (const field of ['outRecords', 'inRecords', 'usage', 'payload', 'sdsHeaders', 'valueAllocations', 'keyAllocations', 'robjAndEntries'] as const) nodes[field] *= oneIn
    }
  }
  return { families, nodes }
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)))
  const line = (r: string[]) => `| ${r.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join(' | ')} |`
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}

const fmt = (n: number, digits = 1) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })

const loadBefore = loadavg()
const dir = join(tmpdir(), `exposure-bench-memory-${TRANSFERS}-${ADDRESSES}-${process.pid}`)
await rm(dir, { recursive: true, force: true })
process.stderr.write(`generating ${TRANSFERS.toLocaleString()} transfers over ${ADDRESSES.toLocaleString()} addresses in ${dir}\n`)
const graph = await generatePowerLawGraph(dir, { seed: 20261124, transfers: TRANSFERS, addresses: ADDRESSES })
const server = await startPrivateRedis()
const redis = await connectRedis(server.url)
try {
  const store = createGraphStore(redis, PREFIX)
  const empty = { info: await info(redis), stats: await memoryStats(redis) }
  let t = performance.now()
  const imported = await importEtl(store, [dir], { listedTokens: DEFAULT_LISTED_TOKENS })
  const importSeconds = (performance.now() - t) / 1000
  process.stderr.write(`imported ${imported.transfersAdded.toLocaleString()} transfers in ${importSeconds.toFixed(1)} s; measuring\n`)
  const afterImport = { info: await info(redis), stats: await memoryStats(redis), ...(await scanFamilies(redis)) }

  // The same seeds as bench/walk.ts: addresses of moderate degree picked by the seeded generator.
  const random = prng(7)
  const seeds = new Set<string>()
  while (seeds.size < SEEDS) seeds.add(graph.addresses[Math.floor(ADDRESSES * (0.001 + 0.05 * random()))]!)
  await store.putSeeds([...seeds].map((address) => ({ address: address as Address, label: 'bench seed', source: 'bench/power-law-graph.ts' })))
  t = performance.now()
  const walk = await runWalk(store, { redisUrl: server.url, directions: ['downstream', 'upstream'], maxHops: MAX_HOPS, batchSize: 512, stopCategories: DEFAULT_STOP_CATEGORIES, counterpartyCap: CAP, dust: {}, workers: 2, concurrency: 2 })
  const walkSeconds = (performance.now() - t) / 1000
  process.stderr.write(`walked in ${walkSeconds.toFixed(1)} s; measuring\n`)
  const afterWalk = { info: await info(redis), stats: await memoryStats(redis), ...(await scanFamilies(redis)) }

  const T = imported.transfersAdded
  const A = afterWalk.nodes.keys
  const used = (s: { info: Record<string, string> }) => Number(s.info.used_memory)
  const baseline = used(empty)
  const graphBytes = used(afterImport) - baseline
  const totalBytes = used(afterWalk) - baseline
  const keySum = afterWalk.families.reduce((sum, f) => sum + f.bytes, 0)
  // MEMORY STATS' main-dict overhead counts the dict entries too, which MEMORY USAGE already holds:
  // only the bucket array (8 B a slot, a power of two at least the key count) is not in the key sums.
  const mainDict = (s: { stats: Record<string, number | string> }) => Number(s.stats['db.0.overhead.hashtable.main'] ?? 0) - DICT_ENTRY * Number(s.stats['keys.count'] ?? 0)

  console.log(`\n${T.toLocaleString()} transfers, ${A.toLocaleString()} addresses (node strings), ${(T / A).toFixed(2)} transfers per address; walk: 4 hops, both directions, cap ${CAP}, 2 workers (${walk.labelled.downstream.toLocaleString()} down + ${walk.labelled.upstream.toLocaleString()} up labelled)`)
  console.log(`load average 1/5/15 min: ${loadBefore.map((l) => l.toFixed(2)).join(' / ')} before, ${loadavg().map((l) => l.toFixed(2)).join(' / ')} after (2 cores, shared)\n`)
  const familyRows = afterWalk.families.map((f) => [
    f.name,
    f.keys.toLocaleString(),
    f.sampledOneIn > 1 ? `1 in ${f.sampledOneIn}` : 'all',
    fmt(f.bytes / 2 ** 20),
    fmt(f.bytes / T),
    fmt(f.bytes / A),
    `${fmt((100 * f.bytes) / keySum)} %`,
  ])
  familyRows.push(['sum of MEMORY USAGE', afterWalk.families.reduce((s, f) => s + f.keys, 0).toLocaleString(), '', fmt(keySum / 2 ** 20), fmt(keySum / T), fmt(keySum / A), '100.0 %'])
  familyRows.push(['main dict buckets (MEMORY STATS − entries)', '', '', fmt(mainDict(afterWalk) / 2 ** 20), fmt(mainDict(afterWalk) / T), fmt(mainDict(afterWalk) / A), ''])
  familyRows.push(['used_memory − empty server (INFO)', '', '', fmt(totalBytes / 2 ** 20), fmt(totalBytes / T), fmt(totalBytes / A), ''])
  familyRows.push(['  of which after import, before walk', '', '', fmt(graphBytes / 2 ** 20), fmt(graphBytes / T), fmt(graphBytes / A), ''])
  console.log('By key family, after the walk (MEMORY USAGE <key> SAMPLES 0):')
  console.log(table(['family', 'keys', 'measured', 'MiB', 'B/transfer', 'B/address', 'share'], familyRows))

  const n = afterWalk.nodes
  const records = n.outRecords * OUT_SIZE + n.inRecords * IN_SIZE
  const headers = n.keys * HEADER_SIZE
  const rounding = n.valueAllocations - n.payload - n.sdsHeaders
  const perKey = n.keyAllocations + n.robjAndEntries
  const nodeRows = [
    [`out-records (${OUT_SIZE} B × ${n.outRecords.toLocaleString()})`, n.outRecords * OUT_SIZE],
    [`in-records (${IN_SIZE} B × ${n.inRecords.toLocaleString()})`, n.inRecords * IN_SIZE],
    [`node header (${HEADER_SIZE} B per address)`, headers],
    ['SDS header + NUL of the value', n.sdsHeaders],
    ['allocator rounding of the value (jemalloc size classes)', rounding],
    ['key name allocation (prefix + :n: + 40 hex)', n.keyAllocations],
    [`robj ${ROBJ} B + dict entry ${DICT_ENTRY} B`, n.robjAndEntries],
  ] as const
  const nodeTotal = nodeRows.reduce((s, [, b]) => s + b, 0)
  console.log(`\nNode strings (${n.keys.toLocaleString()} keys${n.measured < n.keys ? `, ${n.measured.toLocaleString()} measured and scaled` : ''}): records vs per-key overhead vs rounding`)
  console.log(table(['part', 'MiB', 'B/transfer', 'B/address', 'share'], [
    ...nodeRows.map(([name, b]) => [name, fmt(b / 2 ** 20), fmt(b / T), fmt(b / A), `${fmt((100 * b) / nodeTotal)} %`]),
    ['sum (= MEMORY USAGE of the node strings)', fmt(n.usage / 2 ** 20), fmt(n.usage / T), fmt(n.usage / A), ''],
  ]))
  console.log(`\nINFO memory after the walk: used_memory ${Number(afterWalk.info.used_memory).toLocaleString()} B (empty server ${baseline.toLocaleString()} B), used_memory_dataset ${Number(afterWalk.info.used_memory_dataset).toLocaleString()} B, used_memory_overhead ${Number(afterWalk.info.used_memory_overhead).toLocaleString()} B, fragmentation ratio ${afterWalk.info.mem_fragmentation_ratio}, allocator ${afterWalk.info.mem_allocator}`)

  await mkdir(new URL('./results/', import.meta.url), { recursive: true })
  const families = (s: typeof afterWalk) => s.families.map((f) => ({ ...f, bytesPerTransfer: f.bytes / T, bytesPerAddress: f.bytes / A }))
  const result = {
    date: new Date().toISOString(),
    loadAverage: { before: loadBefore, after: loadavg() },
    graph: { transfers: T, addresses: A, generatorAddresses: ADDRESSES, seeds: SEEDS, counterpartyCap: CAP, maxHops: MAX_HOPS },
    import: { seconds: importSeconds, transfersPerSecond: T / importSeconds },
    walk: { seconds: walkSeconds, labelled: walk.labelled },
    usedMemory: { empty: baseline, afterImport: used(afterImport), afterWalk: used(afterWalk) },
    bytesPerTransfer: { graph: graphBytes / T, afterWalk: totalBytes / T },
    bytesPerAddress: { graph: graphBytes / A, afterWalk: totalBytes / A },
    mainDictBytes: { afterImport: mainDict(afterImport), afterWalk: mainDict(afterWalk) },
    families: { afterImport: families(afterImport), afterWalk: families(afterWalk) },
    nodeStrings: { ...n, recordBytes: records, headerBytes: headers, roundingBytes: rounding, perKeyBytes: perKey },
    info: { empty: empty.info, afterImport: afterImport.info, afterWalk: afterWalk.info },
    memoryStats: { afterImport: afterImport.stats, afterWalk: afterWalk.stats },
  }
  await writeFile(new URL('./results/memory.json', import.meta.url), `${JSON.stringify(result, null, 2)}\n`)
} finally {
  redis.disconnect()
  await server.stop()
  await rm(dir, { recursive: true, force: true })
}
