/**
 * `npm run bench:sizing`: the README's "Sizing" table, derived from the latest measurements so
 * that no number in it is typed by hand. Reads bench/results/walk.json (`npm run bench`: import
 * rate, walk time, labelled addresses) and bench/results/memory.json (`npm run bench:memory`:
 * bytes per transfer and per address by key family) and prints markdown.
 *
 * Extrapolation (printed with the table): memory = transfers × B/transfer + addresses × B/address,
 * with the bench graph's transfers per address; masters: the fewest whose busiest master (by the
 * partition tags its slots hold, src/store/slot-plan.ts) fits 64 GiB usable; import hours at
 * the measured single-importer rate, and with 8 ingest hosts (bench/results/ingest.json, when
 * there: its reading and the commit's prepare divided among them, the rest of its commit not);
 * walk time linear in labelled addresses, with the bench's
 * labelled share of addresses.
 */
import { readFile } from 'node:fs/promises'
import { equalSlotRanges, partitionTagSlots, rangesSplittingTags, tagsPerRange, type SlotRange } from '../src/store/slot-plan.ts'
import { DEFAULT_BULK_LIMIT } from '../src/store/memory.ts'
import { PARTITIONS } from '../src/store/partitions.ts'
import { IN_SIZE, OUT_SIZE } from '../src/store/records.ts'

interface Family {
  name: string
  bytes: number
}
interface MemoryResult {
  date: string
  loadAverage: { before: number[]; after: number[] }
  graph: { transfers: number; addresses: number }
  walk: { labelled: { downstream: number; upstream: number } }
  usedMemory: { empty: number; afterImport: number; afterWalk: number }
  mainDictBytes: { afterWalk: number }
  families: { afterWalk: Family[] }
  nodeStrings: { keys: number; outRecords: number; inRecords: number; payload: number; usage: number; recordBytes: number }
}
interface WalkResult {
  date: string
  loadAverage?: { before: number[]; after: number[] }
  graph: { transfers: number; addresses: number; maxHops: number; counterpartyCap: number }
  import: { transfersPerSecond: number; transfers: number; seconds: number; readSeconds?: number }
  walk: { seconds: number; workers: number; labelled: { downstream: number; upstream: number } }
  capOff?: { walkSeconds: number; labelled: { downstream: number; upstream: number }; typedWalkSeconds: number }
}

const read = async <T>(name: string): Promise<T> => JSON.parse(await readFile(new URL(`./results/${name}`, import.meta.url), 'utf8')) as T
const memory = await read<MemoryResult>('memory.json')
const walk = await read<WalkResult>('walk.json')

const GiB = 2 ** 30
const MASTER_USABLE = 64 * GiB
const T0 = memory.graph.transfers
const A0 = memory.graph.addresses
const perAddress = T0 / A0

// What grows with transfers: the records and the per-transaction/per-block indexes. Everything
// else in the node strings (header, SDS, rounding, key name, robj, dict entry) and the main dict's
// buckets is paid per key, so per address; walk labels are per labelled address.
const family = (prefix: string) => memory.families.afterWalk.filter((f) => f.name.startsWith(prefix)).reduce((s, f) => s + f.bytes, 0)
const nodes = family('node strings')
const records = memory.nodeStrings.recordBytes
const transferBytes = records + family('tx index') + family('block times') + family('pending tokens')
const labels = family('walk labels')
const addressBytes = nodes - records + memory.mainDictBytes.afterWalk
const measuredTotal = memory.usedMemory.afterWalk - memory.usedMemory.empty
// used_memory also holds what no key's MEMORY USAGE shows (client buffers, BullMQ's small keys, Lua
// caches, dict rehash tables): spread per transfer, so the model adds back up to the measured total.
const rest = measuredTotal - transferBytes - addressBytes - labels
const bT = (transferBytes + rest) / T0
const bA = addressBytes / A0
const labelledShare = (memory.walk.labelled.downstream + memory.walk.labelled.upstream) / A0
const bLabel = labels / (memory.walk.labelled.downstream + memory.walk.labelled.upstream)

const importRate = walk.import.transfersPerSecond
// Through ingest jobs (`npm run bench:ingest`, one worker process): reading the files and the
// commit's prepare step (prepare jobs) share out over ingest hosts; the rest of the commit (the
// token join, the commit point and the apply) stays one step. Without that run, no such column.
const READING_HOSTS = 8
const ingest = await read<{ transfers: number; rows: { mode: string; seconds: number; readSeconds: number; steps?: { prepare: number } }[] }>('ingest.json').catch(() => null)
const jobs = ingest?.rows.find((r) => r.mode.startsWith('ingest jobs, 1 worker process')) ?? null
const readShare = jobs === null ? null : (jobs.readSeconds + (jobs.steps?.prepare ?? 0)) / jobs.seconds
const jobsSecondsPerTransfer = jobs === null ? 0 : jobs.seconds / ingest!.transfers
const importWithHosts = (transfers: number) => transfers * jobsSecondsPerTransfer * ((readShare ?? 0) / READING_HOSTS + (1 - (readShare ?? 0)))
const walkLabelled = walk.walk.labelled.downstream + walk.walk.labelled.upstream
const walkSecondsPerLabel = walk.walk.seconds / walkLabelled
const capOffSecondsPerLabel = walk.capOff ? walk.capOff.walkSeconds / (walk.capOff.labelled.downstream + walk.capOff.labelled.upstream) : null
const walkLabelledShare = walkLabelled / walk.graph.addresses
const capOffLabelledShare = walk.capOff ? (walk.capOff.labelled.downstream + walk.capOff.labelled.upstream) / walk.graph.addresses : null

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
const bytes = (n: number) => (n >= 1024 * GiB ? `${fmt(n / (1024 * GiB), 1)} TiB` : n >= GiB ? `${fmt(n / GiB, 1)} GiB` : `${fmt(n / 2 ** 20, 0)} MiB`)
const duration = (seconds: number) => (seconds >= 86400 * 2 ? `${fmt(seconds / 86400, 1)} d` : seconds >= 3600 ? `${fmt(seconds / 3600, 1)} h` : `${fmt(seconds / 60, 1)} min`)
const load = (l?: { before: number[] }) => (l ? l.before.map((x) => x.toFixed(2)).join(' / ') : 'not recorded')

const out: string[] = []
out.push(`Measured here (2 shared cores, Redis 7.0, one server, partitioned layout; \`npm run bench:memory\` ${memory.date.slice(0, 16)}Z, load average ${load(memory.loadAverage)} before; \`npm run bench\` ${walk.date.slice(0, 16)}Z, load average ${load(walk.loadAverage)} before):`)
out.push('')
out.push(`- bench graph: ${fmt(T0)} transfers over ${fmt(A0)} addresses (${perAddress.toFixed(2)} transfers per address)`)
out.push(`- Redis memory: ${fmt(measuredTotal / T0, 1)} B per transfer in all after the walk (${fmt((memory.usedMemory.afterImport - memory.usedMemory.empty) / T0, 1)} B for the graph alone), split as`)
out.push(`  **${fmt(bT, 1)} B per transfer** (records ${fmt(records / T0, 1)} B, tx index and block times ${fmt((transferBytes - records) / T0, 1)} B, unattributed ${fmt(rest / T0, 1)} B)`)
out.push(`  + **${fmt(bA, 1)} B per address** (node string overhead: header, SDS, allocator rounding, key name, robj, dict entry and bucket)`)
out.push(`  + ${fmt(bLabel, 1)} B per label of the published walk (one address in one direction; ${fmt(labelledShare * 100, 1)} labels per 100 addresses here)`)
out.push(`- import: ${fmt(importRate)} transfers/s, one importer process${jobs === null ? '' : `; through ingest jobs with one worker process ${fmt(ingest!.transfers / jobs.seconds)} transfers/s, ${fmt(readShare! * 100, 0)} % of it reading the files and preparing the commit (shared out over hosts) and ${fmt((1 - readShare!) * 100, 0)} % the rest of the commit (\`npm run bench:ingest\`)`}`)
out.push(`- walk (${walk.graph.maxHops} hops, both directions, ${walk.walk.workers} workers): ${walk.walk.seconds.toFixed(2)} s for ${fmt(walkLabelled)} labels (cap ${walk.graph.counterpartyCap})${walk.capOff ? `; ${walk.capOff.walkSeconds.toFixed(2)} s for ${fmt(walk.capOff.labelled.downstream + walk.capOff.labelled.upstream)} labels with the cap off` : ''}`)
out.push('')
out.push(`| transfers | addresses | Redis memory | + during a re-walk | masters (64 GiB usable): tags placed / equal slot ranges | with one replica each | import, one importer |${readShare === null ? '' : ` import, ${READING_HOSTS} ingest hosts |`} walk, cap ${walk.graph.counterpartyCap} |${walk.capOff ? ' walk, cap off |' : ''}`)
out.push(`|---:|---:|---:|---:|---:|---:|---:|${readShare === null ? '' : '---:|'}---:|${walk.capOff ? '---:|' : ''}`)
// A master holds the partitions whose tags hash to its slots (per-address memory splits evenly
// over the 256 partitions: a partition is an address's first byte). The fewest masters whose
// busiest one fits, with the slots assigned so that the tags split evenly, and with the equal
// slot ranges of redis-cli --cluster create (src/store/slot-plan.ts; the default prefix's tags).
const tagSlots = partitionTagSlots('{exposure}')
function mastersFor(peak: number, rangesOf: (masters: number) => SlotRange[]): number {
  for (let m = 1; m <= tagSlots.length; m++) {
    if ((peak * Math.max(...tagsPerRange(tagSlots, rangesOf(m)))) / tagSlots.length <= MASTER_USABLE) return m
  }
  return Number.NaN
}
for (const T of [10e6, 100e6, 1e9, 10e9]) {
  const A = T / perAddress
  const labelBytes = A * labelledShare * bLabel
  const mem = T * bT + A * bA + labelBytes
  const masters = mastersFor(mem + labelBytes, (m) => rangesSplittingTags(tagSlots, m))
  const equalMasters = mastersFor(mem + labelBytes, equalSlotRanges)
  const name = T >= 1e9 ? `${T / 1e9} B` : `${T / 1e6} M`
  out.push(
    `| ${name} | ${fmt(A / 1e6, 0)} M | ${bytes(mem)} | ${bytes(labelBytes)} | ${masters} / ${equalMasters} | ${masters} + ${masters} replica${masters === 1 ? '' : 's'}, ${bytes(2 * masters * MASTER_USABLE)} RAM | ${duration(T / importRate)} |${readShare === null ? '' : ` ${duration(importWithHosts(T))} |`} ${duration(walkSecondsPerLabel * A * walkLabelledShare)} |${capOffSecondsPerLabel !== null && capOffLabelledShare !== null ? ` ${duration(capOffSecondsPerLabel * A * capOffLabelledShare)} |` : ''}`,
  )
}
// Per-address keys and per-block state are spread over 256 partition hash tags (store format 4), so
// a cluster spreads the graph over its masters; global state stays under the prefix's tag, on one master.
const peakPerTransfer = bT + (bA + 2 * labelledShare * bLabel) / perAddress
out.push('')
out.push(`A store keeps its per-address keys (node strings, walk labels, frontiers, staging) under 256 partition hash tags by the address's first byte, and its per-block state (tx index, waiting token transfers, block times) under the same tags by the block's bucket (\`src/store/keys.ts\`, store format 4), so on a Redis Cluster (\`--redis-cluster\`) the graph spreads over the masters (the cluster test checks each of 3 masters holds 25–42 % of the node strings and at least 20 % of the tx index's buckets); global state (meta, seeds, labels, amounts beyond 96 bits, queues) stays under the prefix's tag on one master. At the peak above, 64 GiB hold about ${fmt(MASTER_USABLE / peakPerTransfer / 1e6)} M transfers. A master holds the partitions whose tags hash to its slots, so the masters column counts the fewest masters whose busiest one fits: first with the slots assigned so that the tags split evenly (\`exposure cluster-slots --masters N\` prints the ranges, for a new cluster), then with the equal slot ranges that \`redis-cli --cluster create\` gives (the default prefix's tags; at 29 masters the busiest of them holds ${Math.max(...tagsPerRange(tagSlots, equalSlotRanges(29)))} of the 256 tags, not 8 or 9).`)
out.push('')
out.push(`Extrapolated, not measured: memory = transfers × ${fmt(bT, 1)} B + addresses × ${fmt(bA, 1)} B + labels, at the bench graph's ${perAddress.toFixed(2)} transfers per address and ${fmt(labelledShare * 100, 1)} labels per 100 addresses; "+ during a re-walk" is a second set of labels (a running walk's beside the published one), and the masters are counted for that peak; masters: the fewest whose busiest master's share of that peak (its partitions' share; global state, a few MB, not counted) fits 64 GiB (used_memory, before fragmentation and the fork of a save), doubled by one replica each; import at the one measured importer's rate, and through ingest jobs with ${READING_HOSTS} hosts sharing out the reading and the commit's prepare as measured with one worker process, while the rest of the commit (token join, commit point, apply) stays one step under the writer lock (its measured time, not divided: the lower bound for any number of hosts on one server); walk time linear in labelled addresses at the measured seconds per label with ${walk.walk.workers} workers on this machine, with the bench's labels per 100 addresses (${fmt(walkLabelledShare * 100, 1)} cap on${capOffLabelledShare !== null ? `, ${fmt(capOffLabelledShare * 100, 1)} cap off` : ''}).`)
// One import stages into one string per partition, which Redis caps at proto-max-bulk-len
// (graph-store.ts, memory.ts): an out-entry and an in-entry per transfer, each with its owner.
const stagedPerTransfer = OUT_SIZE + IN_SIZE + 2 * 21
const perImport = (DEFAULT_BULK_LIMIT * PARTITIONS) / stagedPerTransfer
out.push('')
out.push(`One import stages at most ${bytes(DEFAULT_BULK_LIMIT)} per partition (Redis' default proto-max-bulk-len; ${stagedPerTransfer} bytes per transfer): about ${fmt(perImport / 1e6, 0)} M transfers spread evenly, fewer where hubs crowd a partition. The import columns hold for the whole range imported in commands of fewer transfers than that (block ranges; token transfers join across commands), which is how ethereum-etl exports come; one address holds at most ${fmt(DEFAULT_BULK_LIMIT / IN_SIZE / 1e6, 1)} M incoming transfers unless proto-max-bulk-len is raised (README, Operations).`)
console.log(out.join('\n'))
