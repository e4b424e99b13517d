/**
 * `exposure serve` over HTTP, as real processes on a private redis-server, on a store holding the
 * demo's real fund flows and a published walk (no live source: every answer is the walk's):
 * every route, every auth failure, the rate limit shared by two server processes, the error
 * statuses as problem+json, records and the audit trail, a hub with 100,000 counterparties that
 * pages, the OpenAPI document checked by a real validator and every response checked against it,
 * no secret in any log line, and a clean SIGTERM.
 */
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getAddress } from 'ethers'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import type { Address, Transfer } from '../../src/types.ts'
import { runCli } from '../support/cli.ts'
import { openApiChecker } from '../support/openapi.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { startServe, type ServeProcess } from '../support/serve.ts'

const DEMO = fileURLToPath(new URL('../../fixtures/demo/', import.meta.url))
/** Present in the servers' environment: it must never show in their logs. */
const ETHERSCAN_SECRET = 'etherscan-secret-3f9c2b7d5e1a4c6b'
const HUB = '0x00000000000000000000000000000000000c0ffe' as Address

let server: TestRedis
let redis: Redis
let env: Record<string, string>
let a: ServeProcess
let b: ServeProcess
const keys: Record<string, { key: string; id: string }> = {}
let screenAddresses: string[]

/** Every response seen, to check against the OpenAPI document at the end. */
const seen: { method: string; route: string; status: number; contentType: string; body: unknown }[] = []

async function call(s: ServeProcess, route: string, path: string, init: Parameters<ServeProcess['request']>[1] = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await s.request(path, init)
  const contentType = response.headers.get('content-type') ?? ''
  const text = await response.text()
  const body = contentType.includes('json') ? JSON.parse(text) : text
  seen.push({ method: (init.method ?? (init.body === undefined && init.raw === undefined ? 'GET' : 'POST')).toLowerCase(), route, status: response.status, contentType, body })
  return { status: response.status, body, headers: response.headers }
}

async function createKey(name: string, scopes: string, rate = '1000/s'): Promise<void> {
  const r = await runCli(['keys', 'create', '--name', name, '--scopes', scopes, '--rate', rate, '--json'], env)
  expect(r.code, r.stderr).toBe(0)
  const created = JSON.parse(r.stdout) as { key: string; id: string; scopes: string[] }
  expect(created.key).toMatch(/^exk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/)
  expect(created.scopes).toEqual(scopes.split(','))
  keys[name] = { key: created.key, id: created.id }
}

beforeAll(async () => {
  server = await startRedis()
  redis = await connectRedis(server.url)
  env = { REDIS_URL: server.url, EXPOSURE_PREFIX: testPrefix('serve'), ETHERSCAN_API_KEY: ETHERSCAN_SECRET }
  for (const args of [['import', DEMO], ['seeds', 'import', `${DEMO}seeds.csv`], ['labels', 'import', `${DEMO}labels.csv`], ['trace']]) {
    const r = await runCli(args, env)
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
  }
  await createKey('exchange', 'screen')
  await createKey('analyst', 'investigate')
  await createKey('ops', 'screen,investigate,admin')
  await createKey('shared', 'screen', '4/h')
  await createKey('leaver', 'screen')
  screenAddresses = (await readFile(`${DEMO}screen.csv`, 'utf8')).split('\n').slice(1).filter((l) => l.trim() !== '').map((l) => l.split(',')[0]!)
  ;[a, b] = await Promise.all([startServe(env), startServe(env)])
}, 180_000)

afterAll(async () => {
  await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')])
  redis?.disconnect()
  await server?.stop()
})

const problemType = (r: { headers: Headers }) => r.headers.get('content-type')?.split(';')[0]

describe('exposure serve (store answers)', () => {
  it('screens: each result is the check --json object plus status; lowercase, EIP-55 and repeats are accepted, answered in order; recorded with basis and key; audited', async () => {
    const [first, second] = screenAddresses as [string, string]
    const input = [first, getAddress(second), screenAddresses[3]!, first]
    const r = await call(a, '/v1/screen', '/v1/screen', { key: keys.exchange!.key, body: { addresses: input } })
    expect(r.status).toBe(200)
    expect(r.headers.get('ratelimit-limit')).toBe('1000')
    const cli = await runCli(['check', '--json', ...input], env)
    expect(cli.code, cli.stderr).toBe(0)
    const expected = (JSON.parse(cli.stdout) as Record<string, unknown>[]).map((o) => ({ ...o, exact: { downstream: true, upstream: true }, status: 'complete' }))
    expect(r.body.results).toEqual(expected)
    expect(r.body.results.map((x: { address: string }) => x.address)).toEqual(input.map((x) => getAddress(x)))
    // Recorded: basis (walk run, seed-set version, final block) and the submitting key.
    const walkRun = await redis.hget(`${env.EXPOSURE_PREFIX}:walk:current`, 'runId')
    const seedVersion = Number(await redis.get(`${env.EXPOSURE_PREFIX}:seeds:version`))
    const record = JSON.parse((await redis.hget(`${env.EXPOSURE_PREFIX}:screen:records`, first.slice(2)))!)
    expect(record).toMatchObject({ key: 'exchange', basis: { runId: walkRun, seedVersion, finalBlock: null, source: 'store' } })
    // A walk answer is recorded as its summary and basis (the walk named there answers it again).
    const want = expected[0] as unknown as { address: string; risk: string; downstream: { hops: number; seed: string } | null; upstream: { hops: number; seed: string } | null; stale: boolean }
    expect(record.answer).toBeNull()
    expect(record.summary).toEqual({ address: want.address, risk: want.risk, downstream: want.downstream && { hops: want.downstream.hops, seed: want.downstream.seed }, upstream: want.upstream && { hops: want.upstream.hops, seed: want.upstream.seed }, stale: want.stale, exact: { downstream: true, upstream: true } })
    // Audited once per address per request, readable from the CLI and the API.
    const audit = await runCli(['audit', first, '--json'], env)
    expect(audit.code, audit.stderr).toBe(0)
    const entries = JSON.parse(audit.stdout) as { key: string; status: string; risk: string; runId: string; requestId: string; answeredFrom: string }[]
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({ key: 'exchange', status: 'complete', risk: (expected[0] as { risk?: string }).risk, runId: walkRun, answeredFrom: 'walk' })
    const api = await call(a, '/v1/audit', `/v1/audit?address=${getAddress(first)}`, { key: keys.ops!.key })
    expect(api.status).toBe(200)
    expect(api.body.entries).toEqual(entries)
  })

  it('every auth failure: no key, malformed header, unknown and wrong keys, revoked key (401); missing scope (403); the admin pages', async () => {
    const body = { addresses: [screenAddresses[0]] }
    const none = await call(a, '/v1/screen', '/v1/screen', { body })
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/)
    expect(problemType(none)).toBe('application/problem+json')
    expect(none.body).toMatchObject({ status: 401, code: 'unauthorized', type: 'urn:exposure-tracer:problem:unauthorized' })
    for (const authorization of ['Token abc', `Basic ${Buffer.from(`x:${keys.exchange!.key}`).toString('base64')}`, 'Bearer exk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', `Bearer ${keys.exchange!.key.slice(0, -1)}${keys.exchange!.key.endsWith('A') ? 'B' : 'A'}`, 'Bearer '])
      expect((await call(a, '/v1/screen', '/v1/screen', { body, headers: { authorization } })).status).toBe(401)
    expect((await call(a, '/v1/screen', '/v1/screen', { body, key: keys.leaver!.key })).status).toBe(200)
    const revoke = await runCli(['keys', 'revoke', 'leaver'], env)
    expect(revoke.code, revoke.stderr).toBe(0)
    // Servers reuse a verified key for at most a second: poll (bounded) until the revocation shows.
    let status = 200
    for (let i = 0; i < 50 && status !== 401; i++) {
      await new Promise((r) => setTimeout(r, 100))
      status = (await call(a, '/v1/screen', '/v1/screen', { body, key: keys.leaver!.key })).status
    }
    expect(status).toBe(401)
    expect((await call(b, '/v1/screen', '/v1/screen', { body, key: keys.leaver!.key })).status).toBe(401)
    // Scopes.
    const forbidden = await call(a, '/v1/addresses/{address}', `/v1/addresses/${screenAddresses[0]}`, { key: keys.exchange!.key })
    expect(forbidden.status).toBe(403)
    expect(forbidden.body.code).toBe('forbidden')
    expect((await call(a, '/v1/screen', '/v1/screen', { body, key: keys.analyst!.key })).status).toBe(403)
    expect((await call(a, '/v1/audit', `/v1/audit?address=${screenAddresses[0]}`, { key: keys.analyst!.key })).status).toBe(403)
    expect((await call(a, '/v1/checks/{checkId}', `/v1/checks/${'a'.repeat(40)}-${'b'.repeat(16)}`, { key: keys.analyst!.key })).status).toBe(403)
    // The queue dashboard: admin only; a browser logs in with the key as a Basic password.
    const page = await a.request('/admin/queues')
    expect(page.status).toBe(401)
    expect(page.headers.get('www-authenticate')).toMatch(/^Basic/)
    expect((await a.request('/admin/queues', { key: keys.exchange!.key })).status).toBe(403)
    const board = await a.request('/admin/queues', { headers: { authorization: `Basic ${Buffer.from(`ops:${keys.ops!.key}`).toString('base64')}` } })
    expect(board.status).toBe(200)
    expect(await board.text()).toContain('<base href="/admin/queues/"')
    const api = await a.request('/admin/queues/api/queues', { key: keys.ops!.key })
    expect(api.status).toBe(200)
    expect(JSON.stringify(await api.json())).toContain('"check"')
  })

  it('the rate limit of a key holds across two server processes (429 with Retry-After)', async () => {
    const body = { addresses: [screenAddresses[0]] }
    const statuses: number[] = []
    for (const s of [a, b, a, b]) statuses.push((await call(s, '/v1/screen', '/v1/screen', { body, key: keys.shared!.key })).status)
    expect(statuses).toEqual([200, 200, 200, 200])
    for (const s of [a, b]) {
      const limited = await call(s, '/v1/screen', '/v1/screen', { body, key: keys.shared!.key })
      expect(limited.status).toBe(429)
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(problemType(limited)).toBe('application/problem+json')
      expect(limited.body.code).toBe('rate-limited')
    }
    // Other keys are not affected.
    expect((await call(b, '/v1/screen', '/v1/screen', { body, key: keys.exchange!.key })).status).toBe(200)
  })

  it('bad input: malformed JSON, a bad address or checksum (naming value and index), too many addresses, an oversized body, wrong media type, unknown routes', async () => {
    const key = keys.exchange!.key
    const malformed = await call(a, '/v1/screen', '/v1/screen', { key, raw: '{"addresses": [', headers: { 'content-type': 'application/json' } })
    expect(malformed.status).toBe(400)
    expect(malformed.body.code).toBe('malformed-json')
    const good = screenAddresses[0]!
    const bad = await call(a, '/v1/screen', '/v1/screen', { key, body: { addresses: [good, good, '0x12345'] } })
    expect(bad.status).toBe(400)
    expect(bad.body).toMatchObject({ code: 'invalid-address', invalidParams: [{ name: 'addresses[2]', value: '0x12345' }] })
    expect(bad.body.detail).toContain('addresses[2] "0x12345"')
    // EIP-55 with one letter's case flipped: mixed case that fails its checksum.
    const mixed = getAddress(good)
    const at = [...mixed].findIndex((c, i) => i > 1 && /[a-fA-F]/.test(c))
    const flipped = mixed.slice(0, at) + (mixed[at] === mixed[at]!.toUpperCase() ? mixed[at]!.toLowerCase() : mixed[at]!.toUpperCase()) + mixed.slice(at + 1)
    const checksum = await call(a, '/v1/screen', '/v1/screen', { key, body: { addresses: [flipped] } })
    expect(checksum.status).toBe(400)
    expect(checksum.body.invalidParams[0].name).toBe('addresses[0]')
    expect(checksum.body.invalidParams[0].reason).toMatch(/checksum/)
    const tooMany = await call(a, '/v1/screen', '/v1/screen', { key, body: { addresses: Array.from({ length: 1001 }, () => good) } })
    expect(tooMany.status).toBe(413)
    expect(tooMany.body.code).toBe('too-many-addresses')
    const huge = await call(a, '/v1/screen', '/v1/screen', { key, raw: JSON.stringify({ addresses: [good], pad: 'x'.repeat(300 * 1024) }), headers: { 'content-type': 'application/json' } })
    expect(huge.status).toBe(413)
    expect(huge.body.code).toBe('body-too-large')
    const media = await call(a, '/v1/screen', '/v1/screen', { key, raw: '<addresses/>', headers: { 'content-type': 'application/xml' } })
    expect(media.status).toBe(415)
    for (const body of [{ addresses: [] }, { addresses: [good], waitMs: 30_001 }, { addresses: 'x' }, {}]) {
      const r = await call(a, '/v1/screen', '/v1/screen', { key, body })
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(problemType(r)).toBe('application/problem+json')
    }
    const unknown = await call(a, 'unknown', '/v1/nothing', { key })
    expect(unknown.status).toBe(404)
    expect(problemType(unknown)).toBe('application/problem+json')
    expect((await call(a, '/v1/checks/{checkId}', '/v1/checks/not-a-check', { key })).status).toBe(404)
    expect((await call(a, '/v1/addresses/{address}/neighbours', `/v1/addresses/${good}/neighbours?cursor=bogus`, { key: keys.analyst!.key })).status).toBe(400)
    expect((await call(a, '/v1/addresses/{address}', '/v1/addresses/0xnothex', { key: keys.analyst!.key })).status).toBe(400)
  })

  it('GET /v1/addresses/{address}: answer, provenance, label, first/last seen and counts; neighbours page through a hub with 100,000 counterparties', async () => {
    const seed = screenAddresses[0]!
    const before = await call(a, '/v1/screen', '/v1/screen', { key: keys.exchange!.key, body: { addresses: [seed] } })
    expect(before.body.results[0].stale).toBe(false)
    const view = await call(a, '/v1/addresses/{address}', `/v1/addresses/${seed}`, { key: keys.analyst!.key })
    expect(view.status).toBe(200)
    expect(view.body.answer.risk).toBe('severe')
    expect(view.body.seed).toMatchObject({ label: 'Lazarus Group', incident: 'ronin_bridge_2022' })
    expect(view.body.transfersOut + view.body.transfersIn).toBeGreaterThan(0)
    expect(view.body.firstSeen.blockNumber).toBeLessThanOrEqual(view.body.lastSeen.blockNumber)
    // The last answer recorded for it (later tests screened it with other keys).
    expect(view.body.lastScreening).toMatchObject({ risk: 'severe', basis: { source: 'store' } })
    expect(['exchange', 'shared', 'leaver']).toContain(view.body.lastScreening.key)
    const exchange = await call(a, '/v1/addresses/{address}', '/v1/addresses/0x4976a4a02f38326660d17bf34b431dc6e2eb2327', { key: keys.analyst!.key })
    expect(exchange.body.label).toMatchObject({ label: 'Binance 20', category: 'exchange' })

    // A hub: 100,000 distinct recipients (and a few repeats with large amounts), imported through the store.
    const store = createGraphStore(redis, env.EXPOSURE_PREFIX!)
    const transfers: Transfer[] = []
    const recipient = (i: number) => `0x${(0xd00000 + i).toString(16).padStart(40, '0')}` as Address
    for (let i = 0; i < 100_000; i++) transfers.push({ from: HUB, to: recipient(i), amount: BigInt(i + 1), asset: 'ETH', blockNumber: 30_000_000 + Math.floor(i / 100), transactionIndex: i % 100, txHash: `0x${i.toString(16).padStart(64, '0')}`, kind: 'tx', subIndex: 0 })
    const big = 25n * 10n ** 18n // above the 2^64-1 of in-records: the sender's out-record has it exactly
    transfers.push({ from: recipient(7), to: HUB, amount: big, asset: 'ETH', blockNumber: 30_001_000, transactionIndex: 0, txHash: `0x${'f'.repeat(64)}`, kind: 'tx', subIndex: 0 })
    transfers.push({ from: recipient(7), to: HUB, amount: big, asset: 'ETH', blockNumber: 30_001_001, transactionIndex: 0, txHash: `0x${'e'.repeat(64)}`, kind: 'tx', subIndex: 0 })
    const assets = await store.internAssets(['ETH'])
    await store.stage('hubtest', transfers, assets)
    await store.commit('hubtest')
    // Answers the server kept are not reused across a store change: now stale, with the reason.
    const after = await call(a, '/v1/screen', '/v1/screen', { key: keys.exchange!.key, body: { addresses: [seed] } })
    expect(after.body.results[0]).toMatchObject({ stale: true, staleReasons: [{ kind: 'transfers' }] })
    const hubView = await call(a, '/v1/addresses/{address}', `/v1/addresses/${HUB}`, { key: keys.analyst!.key })
    expect(hubView.body).toMatchObject({ transfersOut: 100_000, transfersIn: 2, counterparties: 100_000 })
    let cursor: string | null = null
    const listed: string[] = []
    let pages = 0
    do {
      const path = `/v1/addresses/${HUB}/neighbours?limit=1000${cursor === null ? '' : `&cursor=${cursor}`}`
      const page = await call(a, '/v1/addresses/{address}/neighbours', path, { key: keys.analyst!.key })
      expect(page.status).toBe(200)
      expect(page.body.total).toBe(100_001)
      for (const n of page.body.neighbours) listed.push(`${n.address.toLowerCase()}.${n.direction}`)
      if (pages === 0) {
        expect(page.body.neighbours[7]).toMatchObject({ direction: 'out', transfers: 1, totals: [{ asset: 'ETH', amount: '8' }] })
        expect(page.body.neighbours[8]).toMatchObject({ direction: 'in', transfers: 2, totals: [{ asset: 'ETH', amount: (2n * big).toString() }], first: { blockNumber: 30_001_000, transactionIndex: 0 }, last: { blockNumber: 30_001_001, transactionIndex: 0 } })
      }
      cursor = page.body.nextCursor
      pages++
    } while (cursor !== null)
    expect(pages).toBe(101)
    expect(listed).toHaveLength(100_001)
    expect(new Set(listed).size).toBe(100_001)
    // Ordered by counterparty address.
    const order = listed.map((l) => l.split('.')[0]!)
    expect([...order].sort()).toEqual(order)
    const inbound = await call(a, '/v1/addresses/{address}/neighbours', `/v1/addresses/${HUB}/neighbours?direction=in`, { key: keys.analyst!.key })
    expect(inbound.body).toMatchObject({ total: 1, nextCursor: null, neighbours: [{ address: getAddress(recipient(7)), direction: 'in', transfers: 2 }] })
  })

  it('status, healthz, readyz, metrics, the docs page', async () => {
    const status = await call(a, '/v1/status', '/v1/status', { key: keys.analyst!.key })
    expect(status.status).toBe(200)
    const cli = await runCli(['status', '--json'], env)
    const expected = JSON.parse(cli.stdout)
    expect(status.body.store).toEqual(expected.store)
    expect(status.body.walk).toEqual(expected.walk)
    expect(status.body.service.checkSource).toBe('store')
    expect((await a.request('/healthz')).status).toBe(200)
    const ready = await a.request('/readyz')
    expect(ready.status).toBe(200)
    expect(((await ready.json()) as { checks: { walk: string } }).checks.walk).toBe(expected.walk.runId)
    const metrics = await (await a.request('/metrics')).text()
    expect(metrics).toMatch(/exposure_http_request_duration_seconds_bucket\{[^}]*route="\/v1\/screen"/)
    expect(metrics).toMatch(/exposure_screens_total\{risk="severe",status="complete",from="walk"\} \d+/)
    expect(metrics).toMatch(/bullmq_job_count\{queue="check", ?state="waiting"\} 0/)
    expect(metrics).toMatch(/exposure_redis_used_memory_bytes \d+/)
    expect(metrics).toMatch(/exposure_walk_progress\{measure="running",direction=""\} 0/)
    expect(metrics.match(/^# TYPE bullmq_job_count gauge$/gm)).toHaveLength(1)
    const docs = await a.request('/docs')
    expect(docs.status).toBe(200)
    expect(await docs.text()).toContain('swagger-ui')
  })

  it('the OpenAPI document validates, and every response seen in this file matches it', async () => {
    const doc = (await (await a.request('/openapi.json')).json()) as any
    const openapi = await openApiChecker(doc)
    expect(openapi.errors).toEqual([])
    // The graph view's routes are exercised (and checked against this document) by serve-graph.test.ts,
    // the watch and alert routes by watch-api.test.ts.
    const graphRoutes = ['/v1/cases', '/v1/cases/{id}', '/v1/export/{address}', '/v1/graph/{address}']
    const watchRoutes = ['/v1/alerts', '/v1/watch', '/v1/watch/{address}']
    expect(Object.keys(doc.paths).sort()).toEqual(['/v1/addresses/{address}', '/v1/addresses/{address}/neighbours', '/v1/audit', '/v1/checks/{checkId}', '/v1/screen', '/v1/status', ...graphRoutes, ...watchRoutes].sort())
    const problems: string[] = []
    const checked = new Set<string>()
    for (const r of seen) {
      if (r.route === 'unknown') continue
      const why = openapi.check(r)
      if (why !== null) problems.push(why)
      checked.add(`${r.method} ${r.route} ${r.status}`)
    }
    expect(problems).toEqual([])
    // Every documented route was seen answering 200 here.
    for (const [route, methods] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) for (const method of Object.keys(methods)) if (route !== '/v1/checks/{checkId}' && !graphRoutes.includes(route) && !watchRoutes.includes(route)) expect(checked, `${method} ${route}`).toContain(`${method} ${route} 200`)
    for (const status of [400, 401, 403, 404, 413, 429]) expect([...checked].some((c) => c.endsWith(` ${status}`)), String(status)).toBe(true)
  })

  it('no key, secret or Authorization header in any log line; SIGTERM closes cleanly', async () => {
    const [ea, eb] = await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')])
    expect(ea).toEqual({ code: 0, signal: null })
    expect(eb).toEqual({ code: 0, signal: null })
    const logs = a.output() + b.output()
    // Refusals are logged at info with the key's name (answered requests at debug).
    expect(logs).toMatch(/"status":403[^\n]*"keyName":"exchange"/)
    expect(logs).toMatch(/"status":401/)
    for (const { key } of Object.values(keys)) {
      expect(logs).not.toContain(key)
      expect(logs).not.toContain(key.slice('exk_000000000000_'.length))
    }
    expect(logs).not.toContain(ETHERSCAN_SECRET)
    expect(logs.toLowerCase()).not.toContain('bearer')
    expect(logs.toLowerCase()).not.toContain('authorization')
  })
})
