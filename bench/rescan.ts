/**
 * `npm run bench:rescan` (issue 9): on a seeded power-law store (1,000,000 transfers by default,
 * BENCH_TRANSFERS) with BENCH_WATCHED watched wallets (100,000), three rescans — after
 * BENCH_NEW_TRANSFERS new transfers dropped in the etl inbox (10,000), after one seed added, after
 * one exchange label added — each against a full re-walk plus a full re-evaluation of the watched
 * wallets on the same store, side by side; then alerts delivered per second by the deliver worker
 * to a local receiver (BENCH_ALERTS, 5,000). Prints a table, writes bench/results/rescan-<n>.json.
 */
import { createServer } from 'node:http'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { once } from 'node:events'
import { performance } from 'node:perf_hooks'
import { buildOptions } from '../src/config.ts'
import { createDeliverQueue } from '../src/queues/watch-queues.ts'
import { importEtl } from '../src/sources/etl-import.ts'
import { createGraphStore } from '../src/store/graph-store.ts'
import { startPrivateRedis } from '../src/store/private-redis.ts'
import { connectRedis } from '../src/store/redis.ts'
import type { Address } from '../src/types.ts'
import { publishedLabels } from '../src/walk/walk-runs.ts'
import { createChecker } from '../src/walk/check.ts'
import { traceWalk } from '../src/walk/incremental.ts'
import { recordAnswers, type Alert } from '../src/watch/alerts.ts'
import { dispatch } from '../src/watch/delivery.ts'
import { recordBaselines, runRescan, type RescanSummary } from '../src/watch/rescan.ts'
import { createWatchlist } from '../src/watch/watchlist.ts'
import { createWebhooks } from '../src/watch/webhooks.ts'
import { startDeliverWorker } from '../src/queues/workers/deliver.ts'
import { generatePowerLawGraph, prng } from './power-law-graph.ts'

const TRANSFERS = Number(process.env.BENCH_TRANSFERS ?? 1_000_000)
const ADDRESSES = Number(process.env.BENCH_ADDRESSES ?? Math.max(1_000, Math.round(TRANSFERS / 5)))
const NEW = Number(process.env.BENCH_NEW_TRANSFERS ?? 10_000)
const WATCHED = Math.min(Number(process.env.BENCH_WATCHED ?? 100_000), ADDRESSES)
const ALERTS = Number(process.env.BENCH_ALERTS ?? 5_000)
const SEEDS = 20

const dir = join(tmpdir(), `exposure-bench-rescan-${TRANSFERS}`)
await rm(dir, { recursive: true, force: true })
process.stderr.write(`generating ${(TRANSFERS + NEW).toLocaleString()} transfers over ${ADDRESSES.toLocaleString()} addresses\n`)
const graph = await generatePowerLawGraph(join(dir, 'all'), { seed: 20261201, transfers: TRANSFERS + NEW, addresses: ADDRESSES })
// The last NEW transfers (later blocks) go to the inbox; the rest is the store.
const cutBlock = graph.block[TRANSFERS]!
const baseDir = join(dir, 'base')
const inbox = join(dir, 'inbox')
for (const d of [baseDir, join(inbox, 'later')]) await mkdir(d, { recursive: true })
for (const [file, blockColumn] of [['transactions.csv', 3], ['token_transfers.csv', 6]] as const) {
  const base = createWriteStream(join(baseDir, file))
  const later = createWriteStream(join(inbox, 'later', file))
  let header = true
  for await (const line of createInterface({ input: createReadStream(join(graph.dir, file)) })) {
    if (header) {
      base.write(`${line}\n`)
      later.write(`${line}\n`)
      header = false
      continue
    }
    ;(Number(line.split(',')[blockColumn]) < cutBlock ? base : later).write(`${line}\n`)
  }
  base.end()
  later.end()
  await Promise.all([once(base, 'finish'), once(later, 'finish')])
}
await rm(join(dir, 'inbox-held'), { recursive: true, force: true })
// Held back until scenario 1 (a rescan imports what the inbox holds).
const { rename } = await import('node:fs/promises')
await rename(inbox, join(dir, 'inbox-held'))
await mkdir(inbox)

const server = await startPrivateRedis()
const redis = await connectRedis(server.url)
const prefix = '{bench}'
const env = { REDIS_URL: server.url, EXPOSURE_PREFIX: prefix, EXPOSURE_DUST: 'none', EXPOSURE_ETL_INBOX: inbox, EXPOSURE_WATCH_SCREENED: '0' }
const rows: { scenario: string; rescanSeconds: number; steps: string; evaluated: string; fullSeconds: number; fullWalk: number; fullEvaluate: number; speedUp: number; alerts: number; walkMode: string }[] = []
let deliveredPerSecond = 0
try {
  const store = createGraphStore(redis, prefix)
  let t = performance.now()
  const imported = await importEtl(store, [baseDir], { listedTokens: buildOptions({}, env).listedTokens })
  process.stderr.write(`imported ${imported.transfersAdded.toLocaleString()} transfers in ${((performance.now() - t) / 1000).toFixed(1)} s\n`)
  const random = prng(9)
  const seeds = new Set<string>()
  while (seeds.size < SEEDS) seeds.add(graph.addresses[Math.floor(ADDRESSES * (0.001 + 0.05 * random()))]!)
  await redis.hset(store.keys.seeds, Object.fromEntries([...seeds].map((a) => [a, JSON.stringify({ address: a, label: 'bench seed', source: 'bench' })])))
  await redis.incr(store.keys.seedVersion)
  const options = buildOptions({}, env)
  const walkOptions = { redisUrl: server.url, directions: ['downstream', 'upstream'] as const, maxHops: options.maxHops, batchSize: options.batchSize, stopCategories: options.stopCategories, counterpartyCap: options.counterpartyCap, dust: options.dust, workers: options.workers, concurrency: options.concurrency }
  t = performance.now()
  await traceWalk(store, { ...walkOptions, directions: [...walkOptions.directions] })
  process.stderr.write(`first walk in ${((performance.now() - t) / 1000).toFixed(1)} s\n`)

  const watched = [...graph.addresses].sort((a, b) => (a < b ? -1 : 1)).filter((_, i) => i % Math.max(1, Math.floor(ADDRESSES / WATCHED)) === 0).slice(0, WATCHED) as Address[]
  await createWatchlist(redis, store.keys).add('cli', watched.map((address) => ({ address, ref: '' })), null)
  t = performance.now()
  await recordBaselines(store, options, watched)
  process.stderr.write(`${watched.length.toLocaleString()} watched wallets: baselines in ${((performance.now() - t) / 1000).toFixed(1)} s\n`)

  /** A full re-walk and re-evaluation of every watched wallet, on the same store (what a rescan replaces). */
  async function full(): Promise<{ walk: number; evaluate: number }> {
    let s = performance.now()
    await traceWalk(store, { ...walkOptions, directions: [...walkOptions.directions] })
    const walk = (performance.now() - s) / 1000
    s = performance.now()
    const checker = createChecker(store, options.riskPolicy)
    for (let i = 0; i < watched.length; i += 1_000) await checker.check(watched.slice(i, i + 1_000))
    return { walk, evaluate: (performance.now() - s) / 1000 }
  }

  async function scenario(name: string, prepare: () => Promise<Record<string, string>>): Promise<void> {
    const extra = await prepare()
    const s = performance.now()
    const result = (await runRescan(store, { options: buildOptions({}, { ...env, ...extra }), trigger: 'bench' })) as RescanSummary
    const rescanSeconds = (performance.now() - s) / 1000
    const f = await full()
    const fullSeconds = f.walk + f.evaluate
    // The full re-walk published a run of its own: record the watched answers on it (untimed), as a
    // rescan would have, so that the next scenario starts from records on the published walk.
    await runRescan(store, { options: buildOptions({}, { ...env, ...extra }), trigger: 'bench' })
    rows.push({ scenario: name, rescanSeconds, steps: result.steps.map((x) => `${x.name} ${x.seconds.toFixed(2)}`).join(', '), evaluated: result.steps.find((x) => x.name === 'evaluate')!.detail, fullSeconds, fullWalk: f.walk, fullEvaluate: f.evaluate, speedUp: fullSeconds / rescanSeconds, alerts: result.alerts, walkMode: result.walk.mode })
    process.stderr.write(`${name}: rescan ${rescanSeconds.toFixed(2)} s (${rows.at(-1)!.steps}), full ${fullSeconds.toFixed(2)} s\n`)
  }

  await scenario(`${NEW.toLocaleString()} new transfers`, async () => {
    await rm(inbox, { recursive: true })
    await rename(join(dir, 'inbox-held'), inbox)
    return {}
  })
  await scenario('one seed added', async () => {
    const file = join(dir, 'ofac.csv')
    await writeFile(file, `address,label,source\n${graph.addresses[Math.floor(ADDRESSES * 0.02)]},Lazarus Group,OFAC bench\n`)
    return { EXPOSURE_SEED_SOURCES: file }
  })
  await scenario('one exchange label added', async () => {
    // A wallet one hop from a seed: labels through it go.
    const labelled = Object.keys(await publishedLabels(store, 'downstream'))
    const pick = labelled.find((hex) => !seeds.has(`0x${hex}`)) ?? labelled[0]!
    const file = join(dir, 'labels.csv')
    await writeFile(file, `address,label,category\n0x${pick},Bench Exchange,exchange\n`)
    return { EXPOSURE_SEED_SOURCES: join(dir, 'ofac.csv'), EXPOSURE_LABEL_SOURCES: file }
  })

  // Delivery throughput: ALERTS alerts (distinct addresses) to one local endpoint.
  let received = 0
  const receiver = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      received++
      res.statusCode = 204
      res.end()
    })
  })
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
  await createWebhooks(redis, store.keys).add({ url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, events: ['risk', 'hops', 'seed'], allowPrivate: true })
  const entries = Array.from({ length: ALERTS }, (_, i) => {
    const hex = (0xbe00000000 + i).toString(16).padStart(40, '0')
    const alert: Alert = {
      id: `al_bench${i}`, address: `0x${hex}`, at: new Date().toISOString(), changes: ['risk'],
      before: { risk: 'none', downstream: null, upstream: null, runId: null },
      after: { risk: 'high', downstream: { hops: 2, seed: `0x${'5'.repeat(40)}` }, upstream: null, runId: 'bench', reason: 'bench', witness: { downstream: [], upstream: null } },
      cause: { storeVersion: { before: 1, after: 2 }, seedVersion: { before: 1, after: 1 }, labelsVersion: { before: 0, after: 0 }, seedsAdded: [], seedsRemoved: [], imported: [], rescanId: 'bench' },
      watchers: { owners: ['cli'], refs: [], screenedBy: null },
    }
    return { hex, answer: { summary: { risk: 'high', downstream: null, upstream: null }, versions: { storeId: '', storeVersion: 2, labelsVersion: 0, seedVersion: 1 }, runId: 'bench', at: alert.at }, alert }
  })
  await recordAnswers(redis, store.keys, entries)
  const connection = redis.duplicate({ maxRetriesPerRequest: null })
  const queue = createDeliverQueue(connection, store.keys.queuePrefix)
  const before = received
  const worker = startDeliverWorker({ redisUrl: server.url, prefix, backoffMs: 1_000, retryForMs: 86_400_000, concurrency: 64 })
  await worker.worker.waitUntilReady()
  t = performance.now()
  await dispatch(redis, store.keys, queue)
  while (received - before < ALERTS) await new Promise((r) => setTimeout(r, 20))
  deliveredPerSecond = ALERTS / ((performance.now() - t) / 1000)
  await worker.close()
  await queue.close()
  connection.disconnect()
  await new Promise((r) => receiver.close(r))
} finally {
  redis.disconnect()
  await server.stop()
}

console.log(`\nrescan benchmark: ${TRANSFERS.toLocaleString()} transfers, ${ADDRESSES.toLocaleString()} addresses, ${WATCHED.toLocaleString()} watched wallets, ${SEEDS} seeds, 2 cores shared\n`)
console.log('| change | rescan (s) | its steps (s) | full re-walk + re-evaluation (s) | speed-up | walk | alerts |')
console.log('|---|---|---|---|---|---|---|')
for (const r of rows) console.log(`| ${r.scenario} | ${r.rescanSeconds.toFixed(2)} | ${r.steps} | ${r.fullSeconds.toFixed(2)} (walk ${r.fullWalk.toFixed(2)} + evaluate ${r.fullEvaluate.toFixed(2)}) | ${r.speedUp.toFixed(1)}× | ${r.walkMode} | ${r.alerts} |`)
console.log('')
for (const r of rows) console.log(`${r.scenario}: ${r.evaluated}`)
console.log(`\nalerts delivered: ${ALERTS.toLocaleString()} signed webhooks to a local receiver at ${Math.round(deliveredPerSecond).toLocaleString()} alerts/s (deliver worker concurrency 64)`)
await mkdir(new URL('./results/', import.meta.url), { recursive: true })
const out = new URL(`./results/rescan-${TRANSFERS}.json`, import.meta.url)
await writeFile(out, `${JSON.stringify({ transfers: TRANSFERS, addresses: ADDRESSES, newTransfers: NEW, watched: WATCHED, seeds: SEEDS, rows, alertsDelivered: ALERTS, deliveredPerSecond, at: new Date().toISOString() }, null, 2)}\n`)
console.log(`wrote ${out.pathname}`)
process.exit(0)
