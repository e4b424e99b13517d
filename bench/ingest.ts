/**
 * `npm run bench:ingest`: imports that scale out (issue 11). The bench graph of `npm run bench`
 * (seeded power-law, 1,000,000 transfers over 200,000 addresses by default), written as etl
 * exports are, in files of 500 blocks named as ethereum-etl names them (transactions_00000000_00000499.csv,
 * token_transfers_00000000_00000499.csv …: 100,000 transactions a file), is
 * imported into a fresh private redis-server five ways in one run: the plain in-process import,
 * then through ingest jobs (`import --ingest-workers 0`, one job per block range: its transactions and token transfers) run by 1, 2 and 4
 * `exposure worker --queues ingest` processes (on this host: they share its cores with Redis and
 * the committing command, so the speed-up is bounded by the cores here), and once more with the
 * two tables as one file each, cut into byte ranges (--ingest-range). Every store is compared
 * with the plain import's (node strings, byte for byte). Prints a table and writes
 * bench/results/ingest.json.
 *
 * Scale with BENCH_TRANSFERS / BENCH_ADDRESSES.
 */
import { execFile } from 'node:child_process'
import { copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { promisify } from 'node:util'
import Table from 'cli-table3'
import { createGraphStore } from '../src/store/graph-store.ts'
import { storeKeys } from '../src/store/keys.ts'
import { startPrivateRedis } from '../src/store/private-redis.ts'
import { connectRedis } from '../src/store/redis.ts'
import { importEtl } from '../src/sources/etl-import.ts'
import { DEFAULT_LISTED_TOKENS } from '../src/sources/assets.ts'
import { BIN, splitEtlFile, startIngestWorkerProcess, stopProcesses } from './etl-files.ts'
import { generatePowerLawGraph } from './power-law-graph.ts'

const execFileAsync = promisify(execFile)
const TRANSFERS = Number(process.env.BENCH_TRANSFERS ?? 1_000_000)
const ADDRESSES = Number(process.env.BENCH_ADDRESSES ?? 200_000)
/** Blocks per etl file (the bench graph has 200 transactions per block: 100,000 rows per transactions file). */
const BLOCKS_PER_FILE = 500
/** The byte ranges of the unsplit files' mode. */
const RANGE = '32MiB'


/** A digest of every node string of a store (names without the prefix, sorted), computed in Redis. */
const DIGEST_SCRIPT = `
local keys, cursor = {}, '0'
repeat
  local reply = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 10000)
  cursor = reply[1]
  for _, k in ipairs(reply[2]) do keys[#keys + 1] = k end
until cursor == '0'
table.sort(keys)
local parts = {}
for i, k in ipairs(keys) do
  local name = string.sub(k, string.find(k, ':n:', 1, true), -1)
  parts[#parts + 1] = redis.sha1hex(name .. redis.call('GET', k))
end
return redis.sha1hex(table.concat(parts))
`


const dir = join(tmpdir(), `exposure-bench-ingest-${TRANSFERS}-${ADDRESSES}`)
await rm(dir, { recursive: true, force: true })
process.stderr.write(`generating ${TRANSFERS.toLocaleString()} transfers over ${ADDRESSES.toLocaleString()} addresses in ${dir}\n`)
await generatePowerLawGraph(dir, { seed: 20261124, transfers: TRANSFERS, addresses: ADDRESSES })
// The same tables unsplit, for the byte-range jobs (--ingest-range) of one file per table.
const wholeDir = `${dir}-whole`
await rm(wholeDir, { recursive: true, force: true })
await mkdir(wholeDir, { recursive: true })
for (const table of ['transactions.csv', 'token_transfers.csv']) await copyFile(join(dir, table), join(wholeDir, table))
await splitEtlFile(join(dir, 'transactions.csv'), 'transactions', dir, BLOCKS_PER_FILE)
await splitEtlFile(join(dir, 'token_transfers.csv'), 'token_transfers', dir, BLOCKS_PER_FILE)
const files = (await readdir(dir)).length
const loadBefore = loadavg()

const server = await startPrivateRedis()
const redis = await connectRedis(server.url)
interface Row {
  mode: string
  seconds: number
  readSeconds: number
  /** The commit's steps (ImportSummary.commitSteps). */
  steps: { join: number; headroom: number; prepare: number; apply: number } | undefined
  rate: number
  equal: boolean | null
}
const rows: Row[] = []
try {
  // The reference: the plain import in this process.
  const store = createGraphStore(redis, '{plain}')
  let t = performance.now()
  const plain = await importEtl(store, [dir], { listedTokens: DEFAULT_LISTED_TOKENS })
  let seconds = (performance.now() - t) / 1000
  rows.push({ mode: 'plain import (one process)', seconds, readSeconds: plain.readSeconds, steps: plain.commitSteps, rate: plain.transfersAdded / seconds, equal: null })
  // Node strings under every partition tag (keys.ts); the digest names each by ':n:<hex40>', so
  // stores of different prefixes compare (keys sort by partition, i.e. by their first hex byte).
  const digestOf = async (prefix: string) => (await redis.eval(DIGEST_SCRIPT, 0, storeKeys(prefix).nodePattern)) as string
  const reference = await digestOf('{plain}')
  await redis.flushall()
  const modes = [
    ...[1, 2, 4].map((workers) => ({ workers, source: dir, extra: [] as string[], mode: `ingest jobs, ${workers} worker process${workers > 1 ? 'es' : ''}` })),
    { workers: 2, source: wholeDir, extra: ['--ingest-range', RANGE], mode: `byte ranges of ${RANGE} of 2 whole files, 2 worker processes` },
  ]
  for (const { workers, source, extra, mode } of modes) {
    // As an operator scales out: `exposure worker --queues ingest` processes (here on this host)
    // run the jobs; the import command only queues them and commits.
    const prefix = `{jobs${workers}${extra.length > 0 ? 'r' : ''}}`
    const env = { ...process.env, REDIS_URL: server.url, EXPOSURE_PREFIX: undefined, RPC_URL: undefined } as NodeJS.ProcessEnv
    const processes = await Promise.all(Array.from({ length: workers }, () => startIngestWorkerProcess(prefix, env)))
    try {
      t = performance.now()
      const { stdout } = await execFileAsync(process.execPath, [BIN, '--prefix', prefix, 'import', source, '--ingest-workers', '0', ...extra, '--json'], { env, maxBuffer: 64 * 1024 * 1024 })
      seconds = (performance.now() - t) / 1000
      const summary = JSON.parse(stdout) as { transfersAdded: number; readSeconds: number; jobs: number; commitSteps?: Row['steps'] }
      const equal = (await digestOf(prefix)) === reference && summary.transfersAdded === plain.transfersAdded
      rows.push({ mode: `${mode} (${summary.jobs} jobs)`, seconds, readSeconds: summary.readSeconds, steps: summary.commitSteps, rate: summary.transfersAdded / seconds, equal })
    } finally {
      await stopProcesses(processes)
    }
    await redis.flushall()
  }
} finally {
  redis.disconnect()
  await server.stop()
  await rm(dir, { recursive: true, force: true })
  await rm(wholeDir, { recursive: true, force: true })
}
const loadAfter = loadavg()

const table = new Table({ head: ['import', 'seconds (reading + commit)', 'commit: join / headroom / prepare / apply', 'transfers/s', 'vs plain', 'store equal to plain'], style: { head: [], border: [] } })
for (const r of rows) {
  const steps = r.steps ? [r.steps.join, r.steps.headroom, r.steps.prepare, r.steps.apply].map((x) => x.toFixed(1)).join(' / ') : '-'
  table.push([r.mode, `${r.seconds.toFixed(1)} (${r.readSeconds.toFixed(1)} + ${(r.seconds - r.readSeconds).toFixed(1)})`, steps, Math.round(r.rate).toLocaleString('en-US'), `${(r.rate / rows[0]!.rate).toFixed(2)}×`, r.equal === null ? '(reference)' : r.equal ? 'yes' : 'NO'])
}
table.push(['input', `${TRANSFERS.toLocaleString('en-US')} transfers, ${ADDRESSES.toLocaleString('en-US')} addresses, ${files} files`, '', '', '', ''])
table.push(['machine', `${cpus().length} cores; load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`, '', '', '', ''])
process.stdout.write(`${table.toString()}\n`)
await mkdir(new URL('./results/', import.meta.url), { recursive: true })
await writeFile(new URL('./results/ingest.json', import.meta.url), JSON.stringify({ date: new Date().toISOString(), transfers: TRANSFERS, addresses: ADDRESSES, files, cores: cpus().length, loadBefore, loadAfter, rows }, null, 2))
if (rows.some((r) => r.equal === false)) process.exitCode = 1

