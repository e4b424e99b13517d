/**
 * `npm run bench:api`: the screening service under load, on loopback, with the server, Redis and
 * the load generator (autocannon, in this process) on the same machine. On the 1M-transfer bench
 * store (bench/power-law-graph.ts, imported and walked as bench/walk.ts does):
 *   - single-address screens of known wallets (50 connections): requests/s, p50/p99;
 *   - batches of 100 known wallets (1 and 10 connections);
 *   - beside them, the same machine's Fastify hello-world and one Redis GET per request;
 *   - new wallets through the check queue against anvil: time to complete, node calls per wallet.
 * Prints a table (with the load average) and writes bench/results/api.json.
 *
 * BENCH_TRANSFERS / BENCH_ADDRESSES scale the store down for a quick try; BENCH_SECONDS sets each
 * load run's length (default 10).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import autocannon, { type Result } from 'autocannon'
import { DEFAULT_STOP_CATEGORIES } from '../src/config.ts'
import { createApiKeys } from '../src/screen/api-keys.ts'
import { DEFAULT_LISTED_TOKENS } from '../src/sources/assets.ts'
import { importEtl } from '../src/sources/etl-import.ts'
import { createGraphStore } from '../src/store/graph-store.ts'
import { freePort, startPrivateRedis } from '../src/store/private-redis.ts'
import { connectRedis } from '../src/store/redis.ts'
import type { Address } from '../src/types.ts'
import { runWalk } from '../src/walk/run-walk.ts'
import { publishedLabels } from '../src/walk/walk-runs.ts'
import { startAnvil } from '../test/support/anvil.ts'
import { buildRandomChain } from '../test/support/chain.ts'
import { generatePowerLawGraph, prng } from './power-law-graph.ts'

const TRANSFERS = Number(process.env.BENCH_TRANSFERS ?? 1_000_000)
const ADDRESSES = Number(process.env.BENCH_ADDRESSES ?? Math.max(1000, Math.round(TRANSFERS / 5)))
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const CONNECTIONS = 50
const BIN = fileURLToPath(new URL('../bin/exposure.mjs', import.meta.url))
const BASELINES = fileURLToPath(new URL('./api-baselines.ts', import.meta.url))

const say = (line: string) => process.stderr.write(`${line}\n`)
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ')

/** A child process that prints `ready` on stderr when it serves; stdout (the JSON log) is dropped. */
async function startChild(args: string[], env: Record<string, string | undefined>, ready: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} not ready: ${stderr}`)), 120_000)
    child.stderr!.on('data', (d) => {
      stderr += d
      if (stderr.includes(ready)) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${stderr}`)))
  })
  child.stderr!.removeAllListeners('data')
  child.stderr!.resume()
  child.removeAllListeners('exit')
  return child
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

async function run(label: string, options: Parameters<typeof autocannon>[0]): Promise<Result> {
  say(`${label}: ${options.connections} connections, ${SECONDS} s (load ${load()})`)
  // A short warm-up (JIT, connection pools), then the measured run.
  await autocannon({ ...options, duration: 2 })
  const result = await autocannon({ ...options, duration: SECONDS })
  if (result.errors > 0 || result.non2xx > 0 || result.timeouts > 0) say(`  ${label}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`)
  return result
}

const dir = join(tmpdir(), `exposure-bench-api-${TRANSFERS}-${ADDRESSES}`)
await rm(dir, { recursive: true, force: true })
const redisServer = await startPrivateRedis()
const redis = await connectRedis(redisServer.url)
const children: ChildProcess[] = []
const prefix = '{bench}'
try {
  // 1. The bench store, as bench/walk.ts builds it.
  say(`generating ${TRANSFERS.toLocaleString()} transfers over ${ADDRESSES.toLocaleString()} addresses`)
  const graph = await generatePowerLawGraph(dir, { seed: 20261124, transfers: TRANSFERS, addresses: ADDRESSES })
  const store = createGraphStore(redis, prefix)
  let t = performance.now()
  await importEtl(store, [dir], { listedTokens: DEFAULT_LISTED_TOKENS })
  say(`imported in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  const random = prng(7)
  const seeds = new Set<string>()
  while (seeds.size < 20) seeds.add(graph.addresses[Math.floor(ADDRESSES * (0.001 + 0.05 * random()))]!)
  await store.putSeeds([...seeds].map((address) => ({ address: address as Address, label: 'bench seed', source: 'bench/power-law-graph.ts' })))
  t = performance.now()
  await runWalk(store, { redisUrl: redisServer.url, directions: ['downstream', 'upstream'], maxHops: 4, batchSize: 512, stopCategories: DEFAULT_STOP_CATEGORIES, counterpartyCap: 1000, dust: {}, workers: 2, concurrency: 2 })
  say(`walked in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  const known = [...new Set([...Object.keys(await publishedLabels(store, 'downstream')), ...Object.keys(await publishedLabels(store, 'upstream'))])].slice(0, 10_000).map((hex) => `0x${hex}`)
  const { key } = await createApiKeys(redis, store.keys).create({ name: 'bench', scopes: ['screen'], rate: { limit: 1_000_000_000, windowMs: 1_000 } })

  // 2. The servers: the service (store answers, no live source) and the two baselines.
  const [servePort, helloPort, getPort] = await Promise.all([freePort(), freePort(), freePort()])
  const env = { REDIS_URL: redisServer.url, EXPOSURE_PREFIX: prefix, RPC_URL: undefined, ETHERSCAN_URL: undefined, EXPOSURE_CHECK_SOURCE: 'store' }
  // BENCH_CPU_PROF=<dir>: the service writes a V8 CPU profile there when it stops.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []
  children.push(await startChild([...profile, BIN, 'serve', '--port', String(servePort)], env, 'listening on'))
  children.push(await startChild(['--import', 'tsx', BASELINES, 'hello', String(helloPort)], {}, 'listening'))
  children.push(await startChild(['--import', 'tsx', BASELINES, 'get', String(getPort), redisServer.url], {}, 'listening'))

  const loadBefore = loadavg()
  const hello = await run('Fastify hello-world', { url: `http://127.0.0.1:${helloPort}/`, connections: CONNECTIONS })
  const get = await run('one Redis GET per request', { url: `http://127.0.0.1:${getPort}/`, connections: CONNECTIONS })

  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
  let next = 0
  const single = await run('single screens of known wallets', {
    url: `http://127.0.0.1:${servePort}`,
    connections: CONNECTIONS,
    requests: [{ method: 'POST', path: '/v1/screen', headers, setupRequest: (req) => ({ ...req, body: JSON.stringify({ addresses: [known[next++ % known.length]] }) }) }],
  })
  // The same wallets again: each answer (with its exposed value, computed when first asked) now
  // comes from the server's answer cache for this walk and store version.
  const singleCached = await run('single screens of the same wallets again (answers cached)', {
    url: `http://127.0.0.1:${servePort}`,
    connections: CONNECTIONS,
    requests: [{ method: 'POST', path: '/v1/screen', headers, setupRequest: (req) => ({ ...req, body: JSON.stringify({ addresses: [known[next++ % known.length]] }) }) }],
  })
  const batchBody = () => {
    const start = (next += 100) % Math.max(1, known.length - 100)
    return JSON.stringify({ addresses: known.slice(start, start + 100) })
  }
  const batch1 = await run('batches of 100 known wallets', { url: `http://127.0.0.1:${servePort}`, connections: 1, requests: [{ method: 'POST', path: '/v1/screen', headers, setupRequest: (req) => ({ ...req, body: batchBody() }) }] })
  const batch10 = await run('batches of 100 known wallets', { url: `http://127.0.0.1:${servePort}`, connections: 10, requests: [{ method: 'POST', path: '/v1/screen', headers, setupRequest: (req) => ({ ...req, body: batchBody() }) }] })
  const loadAfter = loadavg()
  for (const child of children.splice(0)) await stopChild(child)

  // 3. New wallets through the check queue against anvil (in-process check workers of a second server).
  say(`new wallets through the check queue (load ${load()})`)
  const anvil = await startAnvil({ args: ['--auto-impersonate'] })
  let fresh: { wallets: number; p50: number; p99: number; max: number; callsPerWallet: number; historiesPerWallet: number; exact: number }
  try {
    const chain = await buildRandomChain(anvil.url, { seed: 97, blocks: 20, txPerBlock: 20, addresses: 60 })
    const liveStore = createGraphStore(redis, '{benchlive}')
    await liveStore.putSeeds(chain.seeds.map((s) => ({ address: s as Address, label: 'bench seed', source: 'bench chain' })))
    const { key: liveKey } = await createApiKeys(redis, liveStore.keys).create({ name: 'bench', scopes: ['screen'], rate: { limit: 1_000_000, windowMs: 1_000 } })
    const livePort = await freePort()
    const liveEnv = { REDIS_URL: redisServer.url, EXPOSURE_PREFIX: '{benchlive}', RPC_URL: anvil.url, EXPOSURE_CHECK_SOURCE: 'rpc', EXPOSURE_CONFIRMATIONS: '0', EXPOSURE_ASSETS: chain.contracts.token }
    const live = await startChild([BIN, 'serve', '--port', String(livePort)], liveEnv, 'listening on')
    children.push(live)
    const wallets = chain.addresses.filter((a) => !chain.seeds.includes(a))
    const times: number[] = []
    let exact = 0
    for (const wallet of wallets) {
      const started = performance.now()
      const response = await fetch(`http://127.0.0.1:${livePort}/v1/screen`, { method: 'POST', headers: { authorization: `Bearer ${liveKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ addresses: [wallet], waitMs: 30_000 }) })
      const body = (await response.json()) as { results: { status: string; exact?: { downstream: boolean; upstream: boolean } }[] }
      if (body.results[0]?.status !== 'complete') throw new Error(`new wallet ${wallet} not complete within 30 s: ${JSON.stringify(body)}`)
      if (body.results[0].exact?.downstream && body.results[0].exact.upstream) exact++
      times.push(performance.now() - started)
    }
    const metrics = await (await fetch(`http://127.0.0.1:${livePort}/metrics`)).text()
    const counter = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(metrics)?.[1] ?? NaN)
    times.sort((x, y) => x - y)
    const pct = (p: number) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))]!
    fresh = { wallets: wallets.length, p50: pct(50), p99: pct(99), max: times[times.length - 1]!, callsPerWallet: counter('exposure_check_source_requests_total') / wallets.length, historiesPerWallet: counter('exposure_check_histories_fetched_total') / wallets.length, exact }
    for (const child of children.splice(0)) await stopChild(child)
  } finally {
    await anvil.stop()
  }

  // 4. The table.
  const rps = (r: Result) => r.requests.average
  const lat = (r: Result) => `${r.latency.p50} / ${r.latency.p99} ms`
  const share = rps(single) / rps(get)
  const rows: string[][] = [
    ['store', `${TRANSFERS.toLocaleString()} transfers, ${ADDRESSES.toLocaleString()} addresses, walk 4 hops both ways; ${known.length.toLocaleString()} known wallets rotated`, '', ''],
    ['Fastify hello-world (baseline)', `${Math.round(rps(hello)).toLocaleString()} req/s, p50/p99 ${lat(hello)}`, '', ''],
    ['one Redis GET per request (baseline)', `${Math.round(rps(get)).toLocaleString()} req/s, p50/p99 ${lat(get)}`, '', ''],
    ['single screens, 50 connections', `first time per wallet: ${Math.round(rps(single)).toLocaleString()} req/s, p50/p99 ${lat(single)}`, '≥ 5,000/s, p99 ≤ 15 ms', rps(single) >= 5000 && single.latency.p99 <= 15 ? 'met' : 'MISSED'],
    ['single screens, answers cached',  `${Math.round(rps(singleCached)).toLocaleString()} req/s, p50/p99 ${lat(singleCached)} (the same wallets again)`, '≥ 5,000/s, p99 ≤ 15 ms', rps(singleCached) >= 5000 && singleCached.latency.p99 <= 15 ? 'met' : 'MISSED'],
    ['single screens vs one-GET baseline', `${(share * 100).toFixed(0)} %`, '≥ 35 %', share >= 0.35 ? 'met' : 'MISSED'],
    ['batch of 100, 1 connection', `${rps(batch1).toFixed(0)} req/s (${Math.round(rps(batch1) * 100).toLocaleString()} addresses/s), p50/p99 ${lat(batch1)}`, 'p99 ≤ 25 ms', batch1.latency.p99 <= 25 ? 'met' : 'MISSED'],
    ['batch of 100, 10 connections', `${rps(batch10).toFixed(0)} req/s (${Math.round(rps(batch10) * 100).toLocaleString()} addresses/s), p50/p99 ${lat(batch10)}`, '', ''],
    ['new wallets via check queue (anvil)', `${fresh.wallets} wallets one at a time: p50 ${fresh.p50.toFixed(0)} ms, p99 ${fresh.p99.toFixed(0)} ms to complete; ${fresh.callsPerWallet.toFixed(1)} node calls, ${fresh.historiesPerWallet.toFixed(1)} histories per wallet; ${fresh.exact}/${fresh.wallets} exact`, '', ''],
    ['load average (1/5/15 min)', `before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')} (2 cores)`, '', ''],
  ]
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]!.length), ['measure', 'value', 'target', ''][c]!.length))
  const line = (r: string[]) => `| ${r.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`
  console.log(line(['measure', 'value', 'target', '']))
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
  for (const r of rows) console.log(line(r))
  const summary = (r: Result) => ({ requestsPerSecond: rps(r), p50ms: r.latency.p50, p99ms: r.latency.p99, maxMs: r.latency.max, total: r.requests.total, errors: r.errors, non2xx: r.non2xx })
  await mkdir(new URL('./results/', import.meta.url), { recursive: true })
  await writeFile(
    new URL('./results/api.json', import.meta.url),
    `${JSON.stringify({ date: new Date().toISOString(), store: { transfers: TRANSFERS, addresses: ADDRESSES, knownWallets: known.length }, seconds: SECONDS, connections: CONNECTIONS, helloWorld: summary(hello), oneRedisGet: summary(get), singleScreens: summary(single), singleScreensCached: summary(singleCached), shareOfOneGet: share, batch100: { connections1: summary(batch1), connections10: summary(batch10) }, newWallets: fresh, loadAverage: { before: loadBefore, after: loadAfter }, cores: 2 }, null, 2)}\n`,
  )
} finally {
  for (const child of children) await stopChild(child)
  redis.disconnect()
  await redisServer.stop()
  await rm(dir, { recursive: true, force: true })
}
