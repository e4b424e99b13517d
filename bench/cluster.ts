/**
 * `npm run bench:cluster`: the bench graph of `npm run bench` (seeded power-law, 1,000,000
 * transfers over 200,000 addresses by default, written as etl exports in files of 500 blocks) on
 * one redis-server and on a local 3-master/3-replica Redis Cluster, side by side in one run, as an
 * operator runs it (the CLI): import through ingest jobs with 1 and 2 `exposure worker --queues
 * ingest` processes, the walk with 2 and 4 workers, check latency p50/p99 (a fresh process, hops
 * and paths), Redis memory per transfer and per master. The answers of both are compared.
 * Prints a table and writes bench/results/cluster.json.
 *
 * Every Redis runs on this machine's cores beside the workers, so the cluster's numbers show its
 * overhead (routing, per-slot pipelines, stepwise answers, replication, WAIT before commits and
 * publication), not its scale; the masters' rows show how the store's partitions spread.
 */
import { execFile } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import Table from 'cli-table3'
import { startPrivateRedis } from '../src/store/private-redis.ts'
import { memoryInfo } from '../src/store/memory.ts'
import { connectRedis, scanKeys, unlinkKeys } from '../src/store/redis.ts'
import { startRedisCluster } from '../test/support/redis-cluster.ts'
import { BIN, splitEtlFile, startIngestWorkerProcess, stopProcesses } from './etl-files.ts'
import { generatePowerLawGraph, prng } from './power-law-graph.ts'

const execFileAsync = promisify(execFile)
const TRANSFERS = Number(process.env.BENCH_TRANSFERS ?? 1_000_000)
const ADDRESSES = Number(process.env.BENCH_ADDRESSES ?? 200_000)
/** Blocks per etl file (the bench graph has 200 transactions per block: 100,000 rows per transactions file). */
const BLOCKS_PER_FILE = 500
const SEEDS = 20
const CHECKS = 5_000
const CHECK_LATENCY = fileURLToPath(new URL('./check-latency.ts', import.meta.url))




async function cli(env: NodeJS.ProcessEnv, args: string[]): Promise<{ stdout: string; seconds: number }> {
  const t = performance.now()
  const { stdout } = await execFileAsync(process.execPath, [BIN, ...args], { env, maxBuffer: 256 * 1024 * 1024 })
  return { stdout, seconds: (performance.now() - t) / 1000 }
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

interface TargetResult {
  target: string
  import: Record<string, number>
  walk: Record<string, number>
  checkP50: number
  checkP99: number
  bytesPerTransfer: number
  masters: { node: string; keys: number; usedMemory: number; tags: number }[] | null
  answers: string
}

const dir = join(tmpdir(), `exposure-bench-cluster-${process.pid}`)
await rm(dir, { recursive: true, force: true })
process.stderr.write(`generating ${TRANSFERS.toLocaleString()} transfers over ${ADDRESSES.toLocaleString()} addresses in ${dir}\n`)
const graph = await generatePowerLawGraph(dir, { seed: 20261124, transfers: TRANSFERS, addresses: ADDRESSES })
await splitEtlFile(join(dir, 'transactions.csv'), 'transactions', dir, BLOCKS_PER_FILE)
await splitEtlFile(join(dir, 'token_transfers.csv'), 'token_transfers', dir, BLOCKS_PER_FILE)
const random = prng(7)
const seeds = new Set<string>()
while (seeds.size < SEEDS) seeds.add(graph.addresses[Math.floor(ADDRESSES * (0.001 + 0.05 * random()))]!)
const aside = join(tmpdir(), `exposure-bench-cluster-aside-${process.pid}`)
await mkdir(aside, { recursive: true })
const seedsFile = join(aside, 'seeds.csv')
await writeFile(seedsFile, `address,label,source\n${[...seeds].map((a) => `${a},bench seed,bench/power-law-graph.ts`).join('\n')}\n`)
const checkFile = join(aside, 'check.json')
await writeFile(checkFile, JSON.stringify(graph.addresses.slice(0, CHECKS)))
const answersFile = join(aside, 'answers.txt')
await writeFile(answersFile, graph.addresses.slice(0, 2_000).join('\n') + '\n')
const loadBefore = loadavg()

const server = await startPrivateRedis()
const cluster = await startRedisCluster()
const results: TargetResult[] = []
try {
  for (const [target, env] of [
    ['one server', { ...process.env, REDIS_URL: server.url, REDIS_CLUSTER_NODES: undefined, EXPOSURE_PREFIX: undefined, RPC_URL: undefined }],
    ['cluster, 3 masters + 3 replicas', { ...process.env, REDIS_URL: undefined, REDIS_CLUSTER_NODES: cluster.nodes.join(','), EXPOSURE_PREFIX: undefined, RPC_URL: undefined }],
  ] as const) {
    const environment = env as NodeJS.ProcessEnv
    const url = target === 'one server' ? server.url : cluster.url
    const result: TargetResult = { target, import: {}, walk: {}, checkP50: NaN, checkP99: NaN, bytesPerTransfer: NaN, masters: null, answers: '' }
    const connection = await connectRedis(url)
    const usedBefore = (await memoryInfo(connection)).used
    for (const workers of [1, 2]) {
      const prefix = `{bench${workers}}`
      const processes = await Promise.all(Array.from({ length: workers }, () => startIngestWorkerProcess(prefix, environment)))
      try {
        const { stdout, seconds } = await cli(environment, ['--prefix', prefix, 'import', dir, '--ingest-workers', '0', '--json'])
        result.import[`${workers}`] = (JSON.parse(stdout) as { transfersAdded: number }).transfersAdded / seconds
        process.stderr.write(`${target}: import with ${workers} ingest worker(s) ${seconds.toFixed(1)} s\n`)
      } finally {
        await stopProcesses(processes)
      }
      // Only the last import's store stays: memory per transfer is one store's.
      if (workers === 1) {
        // The prefix's own tag and its partition tags ({bench1}… and {bench1:pXX}…).
        for (const pattern of [`${prefix}*`, `${prefix.slice(0, -1)}:p*`]) await scanKeys(connection, pattern, (keys) => unlinkKeys(connection, keys))
      }
    }
    // The store of the 2-worker import is the one walked and checked.
    const prefix = '{bench2}'
    const status = JSON.parse((await cli(environment, ['--prefix', prefix, 'status', '--json'])).stdout) as { redis: { masters?: TargetResult['masters'] } }
    result.bytesPerTransfer = ((await memoryInfo(connection)).used - usedBefore) / TRANSFERS
    connection.disconnect()
    result.masters = status.redis.masters ?? null
    await cli(environment, ['--prefix', prefix, 'seeds', 'import', seedsFile])
    for (const workers of [2, 4]) {
      // A full walk each time (trace is full unless --incremental).
      const { seconds } = await cli(environment, ['--prefix', prefix, 'trace', '--workers', String(workers), '--concurrency', '2'])
      result.walk[`${workers}`] = seconds
      process.stderr.write(`${target}: walk with ${workers} workers ${seconds.toFixed(1)} s\n`)
    }
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', CHECK_LATENCY, url, prefix, checkFile, 'hops'], { maxBuffer: 64 * 1024 * 1024 })
    const latencies = JSON.parse(stdout) as number[]
    result.checkP50 = percentile(latencies, 50)
    result.checkP99 = percentile(latencies, 99)
    const answers = JSON.parse((await cli(environment, ['--prefix', prefix, 'check', '--file', answersFile, '--json'])).stdout) as Record<string, unknown>[]
    result.answers = JSON.stringify(answers.map(({ walk: _walk, ...rest }) => rest))
    results.push(result)
  }
} finally {
  await cluster.stop()
  await server.stop()
  await rm(dir, { recursive: true, force: true })
  await rm(aside, { recursive: true, force: true })
}
const loadAfter = loadavg()

const [one, many] = results as [TargetResult, TargetResult]
const table = new Table({ head: ['measure', one.target, many.target], style: { head: [], border: [] } })
const rate = (r: number | undefined) => `${Math.round(r ?? 0).toLocaleString('en-US')} transfers/s`
table.push(['import, 1 ingest worker process', rate(one.import['1']), rate(many.import['1'])])
table.push(['import, 2 ingest worker processes', rate(one.import['2']), rate(many.import['2'])])
table.push(['walk, 4 hops both ways, 2 workers (trace, wall clock)', `${one.walk['2']!.toFixed(1)} s`, `${many.walk['2']!.toFixed(1)} s`])
table.push(['walk, 4 workers', `${one.walk['4']!.toFixed(1)} s`, `${many.walk['4']!.toFixed(1)} s`])
table.push(['check p50 / p99 (hops and paths, fresh process)', `${one.checkP50.toFixed(3)} / ${one.checkP99.toFixed(3)} ms`, `${many.checkP50.toFixed(3)} / ${many.checkP99.toFixed(3)} ms`])
table.push(['Redis memory per transfer (all masters, after the import)', `${one.bytesPerTransfer.toFixed(1)} B`, `${many.bytesPerTransfer.toFixed(1)} B`])
table.push(['memory per master', '-', (many.masters ?? []).map((m) => `${m.node} ${(m.usedMemory / 2 ** 20).toFixed(0)} MiB, ${m.keys.toLocaleString('en-US')} keys, ${m.tags} tag(s)`).join('; ')])
table.push(['answers of 2,000 wallets equal', many.answers === one.answers ? 'yes' : 'NO', ''])
table.push(['machine', `${cpus().length} cores; load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`, ''])
process.stdout.write(`${table.toString()}\n`)
await mkdir(new URL('./results/', import.meta.url), { recursive: true })
await writeFile(new URL('./results/cluster.json', import.meta.url), JSON.stringify({ date: new Date().toISOString(), transfers: TRANSFERS, addresses: ADDRESSES, loadBefore, loadAfter, results: results.map(({ answers: _a, ...r }) => r), answersEqual: many.answers === one.answers }, null, 2))
if (many.answers !== one.answers) process.exitCode = 1
