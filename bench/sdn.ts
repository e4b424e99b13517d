/**
 * Benchmark: stream OFAC's full sdn_advanced.xml (121 MB; bz2 3.4 MB) through the SDN importer.
 *
 *   node --import tsx bench/sdn.ts [--runs=3]
 *
 * Reads the real file from the shared data folder (../shared/data, or $SHARED_DATA): a benchmark,
 * not a test. Every measurement runs in a fresh child process so that peak RSS
 * (`process.resourceUsage().maxRSS`) belongs to that measurement alone. Cases:
 *   baseline      load the modules only (node + tsx + ethers + saxes): the floor under every RSS
 *   bz2 inflate   pure-JS bzip2 decompression only (src/seeds/bzip2.ts)
 *   bz2 → eth     the full import from the .bz2: decompress + parse + ETH addresses
 *   xml → eth     the same from a decompressed copy in the OS temp folder (XML parsing alone)
 *   xml → all-evm the same, every EVM feature type
 * Targets: ≤ 10 s and ≤ 200 MB RSS. Prints a table and writes bench/results/sdn.json.
 */
import { spawnSync } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { openBytes } from '../src/seeds/input.ts'
import { parseSdnAdvanced } from '../src/seeds/ofac-sdn.ts'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..')
const shared = resolve(process.env.SHARED_DATA ?? join(root, '..', 'shared', 'data'))
const BZ2 = join(shared, 'ofac/sdn-advanced/sdn_advanced_2025-11-19.xml.bz2')
const XML = join(tmpdir(), 'exposure-tracer-bench', 'sdn_advanced_2025-11-19.xml')
const TARGET = { seconds: 10, rssMB: 200 }

type Mode = 'baseline' | 'inflate' | 'eth' | 'all-evm'
interface Measurement {
  case: string
  file: string
  seconds: number
  maxRssMB: number
  bytes: number
  records: number
  lazarus: number
}

/** One measurement, in this (child) process. */
async function measure(mode: Mode, file: string): Promise<Omit<Measurement, 'case'>> {
  const started = performance.now()
  let bytes = 0
  let records = 0
  let lazarus = 0
  if (mode === 'inflate') {
    for await (const chunk of await openBytes(file)) bytes += chunk.length
  } else if (mode === 'eth' || mode === 'all-evm') {
    const result = await parseSdnAdvanced(file, { features: mode })
    records = result.length
    lazarus = result.filter((r) => r.profileId === '27307').length
  }
  const seconds = (performance.now() - started) / 1000
  return { file, seconds, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024), bytes, records, lazarus }
}

function runChild(label: string, mode: Mode, file: string): Measurement {
  const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', mode, file], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  })
  if (child.status !== 0) throw new Error(`${label}: child failed (${child.status})\n${child.stderr}`)
  const line = child.stdout.trim().split('\n').at(-1) ?? ''
  return { case: label, ...(JSON.parse(line) as Omit<Measurement, 'case'>) }
}

async function decompressedCopy(): Promise<string> {
  if (existsSync(XML) && statSync(XML).size === 120_977_559) return XML
  mkdirSync(dirname(XML), { recursive: true })
  await pipeline(Readable.from(await openBytes(BZ2)), createWriteStream(XML))
  return XML
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') {
    const [mode, file] = process.argv.slice(3) as [Mode, string]
    console.log(JSON.stringify(await measure(mode, file)))
    return
  }
  if (!existsSync(BZ2)) {
    console.error(`bench/sdn.ts: the full SDN file is not here: ${BZ2}\n(it lives in the shared data folder; set SHARED_DATA to its path)`)
    process.exit(2)
  }
  const runs = Number(process.argv.find((a) => a.startsWith('--runs='))?.slice('--runs='.length) ?? 3)
  const xml = await decompressedCopy()
  const cases: Array<[string, Mode, string]> = [
    ['baseline (modules only)', 'baseline', BZ2],
    ['bz2 inflate only', 'inflate', BZ2],
    ['bz2 → eth', 'eth', BZ2],
    ['xml → eth', 'eth', xml],
    ['xml → all-evm', 'all-evm', xml],
  ]
  const rows: Measurement[] = []
  for (const [label, mode, file] of cases) {
    const all = Array.from({ length: mode === 'baseline' ? 1 : runs }, () => runChild(label, mode, file))
    const first = all[0]!
    rows.push({ ...first, seconds: median(all.map((m) => m.seconds)), maxRssMB: Math.max(...all.map((m) => m.maxRssMB)) })
  }
  for (const row of rows) {
    if (row.case.endsWith('→ eth') && (row.records !== 77 || row.lazarus !== 8)) throw new Error(`${row.case}: expected 77 ETH / 8 Lazarus, got ${row.records} / ${row.lazarus}`)
  }

  const header = ['case', 'seconds (median)', 'peak RSS MB (max)', 'records', 'Lazarus', 'within target']
  const table = rows.map((r) => [
    r.case,
    r.seconds.toFixed(2),
    String(r.maxRssMB),
    r.case.startsWith('baseline') || r.case.includes('inflate') ? '' : String(r.records),
    r.case.startsWith('baseline') || r.case.includes('inflate') ? '' : String(r.lazarus),
    r.case.startsWith('baseline') ? '' : r.seconds <= TARGET.seconds && r.maxRssMB <= TARGET.rssMB ? 'yes' : 'NO',
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  console.log(`OFAC sdn_advanced.xml 2025-11-19: 120,977,559 bytes (bz2 ${statSync(BZ2).size.toLocaleString('en')}); ${runs} runs per case`)
  console.log(line(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const row of table) console.log(line(row))
  console.log(`target: ≤ ${TARGET.seconds} s, ≤ ${TARGET.rssMB} MB RSS (RSS includes the baseline: node + tsx + modules)`)

  const results = {
    benchmark: 'sdn',
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    file: { bz2: BZ2, bz2Bytes: statSync(BZ2).size, xmlBytes: statSync(xml).size },
    runs,
    target: TARGET,
    cases: rows,
  }
  mkdirSync(join(here, 'results'), { recursive: true })
  writeFileSync(join(here, 'results', 'sdn.json'), `${JSON.stringify(results, null, 2)}\n`)
  console.log('wrote bench/results/sdn.json')
}

await main()
