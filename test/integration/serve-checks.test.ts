/**
 * Submitted wallets through the check queue, with anvil as the live source and real processes:
 * two `exposure serve --no-workers` servers and an `exposure worker --queues check`, on a store
 * holding only seeds and labels (no walk). A wallet only the chain knows is pending, then complete
 * through GET /v1/checks, equal to the in-process reference with a valid witness; the next
 * screening is answered from the record without a job; concurrent screenings of one new wallet
 * through both servers run one job; every address of the chain screened in one batch equals the
 * reference; a fetch budget makes answers say which directions are not exact; SIGTERM answers
 * waiting requests pending and exits cleanly.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getAddress } from 'ethers'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import { exportEtl } from '../../src/sources/export-etl.ts'
import type { Address } from '../../src/types.ts'
import { startAnvil, type AnvilInstance } from '../support/anvil.ts'
import { buildRandomChain, type RandomChain } from '../support/chain.ts'
import { runCli } from '../support/cli.ts'
import { prepareWitnessChecker, referenceExposure, type ReferenceOptions, type WitnessStep } from '../support/reference-walk.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { startCheckWorker, startServe, type ServeProcess, type ServiceProcess } from '../support/serve.ts'
import { openApiChecker, type SeenResponse } from '../support/openapi.ts'
import { readEtlRows } from '../support/store-compare.ts'

let anvil: AnvilInstance
let server: TestRedis
let redis: Redis
let chain: RandomChain
let dir: string
let expected: Map<string, { downstream: number | null; upstream: number | null }>
let witness: ReturnType<typeof prepareWitnessChecker>
let env: Record<string, string>
let key: string
let a: ServeProcess
let b: ServeProcess
let worker: ServiceProcess | null = null

interface Result {
  address: string
  status: 'complete' | 'pending'
  checkId?: string
  risk?: string
  downstream?: { hops: number; path: WitnessStep[] } | null
  upstream?: { hops: number; path: WitnessStep[] } | null
  exact?: { downstream: boolean; upstream: boolean }
  answeredBy?: { downstream: string; upstream: string }
  finalBlock?: number
}

async function seededStore(prefix: string): Promise<Record<string, string>> {
  const e = { REDIS_URL: server.url, EXPOSURE_PREFIX: prefix, EXPOSURE_ASSETS: chain.contracts.token, EXPOSURE_CONFIRMATIONS: '0', RPC_URL: anvil.url, EXPOSURE_CHECK_SOURCE: 'rpc' }
  for (const args of [['seeds', 'import', join(dir, 'seeds.csv')], ['labels', 'import', join(dir, 'labels.csv')]]) {
    const r = await runCli(args, e)
    expect(r.code, r.stderr).toBe(0)
  }
  return e
}

async function createKey(e: Record<string, string>, name: string): Promise<string> {
  const r = await runCli(['keys', 'create', '--name', name, '--scopes', 'screen,investigate,admin', '--rate', '10000/s', '--json'], e)
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as { key: string }).key
}

/** Responses seen, checked against the OpenAPI document at the end. */
const seen: SeenResponse[] = []

async function screen(s: ServeProcess, addresses: readonly string[], waitMs: number, k = key): Promise<Result[]> {
  const response = await s.request('/v1/screen', { key: k, body: { addresses, waitMs } })
  const body = (await response.json()) as { results: Result[] }
  seen.push({ method: 'post', route: '/v1/screen', status: response.status, contentType: response.headers.get('content-type') ?? '', body })
  expect(response.status, JSON.stringify(body)).toBe(200)
  return body.results
}

/** Polls GET /v1/checks/{id} until the answer is complete (bounded: a hang guard, not a timing assertion). */
async function awaitCheck(s: ServeProcess, checkId: string): Promise<Result> {
  for (let i = 0; i < 600; i++) {
    const response = await s.request(`/v1/checks/${checkId}`, { key })
    expect(response.status).toBe(200)
    const body = (await response.json()) as Result
    seen.push({ method: 'get', route: '/v1/checks/{checkId}', status: response.status, contentType: response.headers.get('content-type') ?? '', body })
    if (body.status === 'complete') return body
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`check ${checkId} did not complete`)
}

function judge(result: Result): string[] {
  const problems: string[] = []
  const address = result.address.toLowerCase()
  const want = expected.get(address)
  if (!want) return [`${address}: not in the reference`]
  for (const direction of ['downstream', 'upstream'] as const) {
    const got = result[direction]
    if ((got?.hops ?? null) !== want[direction]) problems.push(`${address} ${direction}: service ${got?.hops ?? null}, reference ${want[direction]}`)
    if (got) {
      const why = witness(got.path, direction, address, got.hops)
      if (why !== null) problems.push(`${address} ${direction} witness: ${why}`)
    }
  }
  if (result.exact?.downstream !== true || result.exact?.upstream !== true) problems.push(`${address}: not exact ${JSON.stringify(result.exact)}`)
  if (result.finalBlock !== chain.lastBlock) problems.push(`${address}: finalBlock ${result.finalBlock}`)
  return problems
}

async function completedChecks(prefix: string): Promise<number> {
  return redis.zcard(`${prefix}:q:check:completed`)
}

beforeAll(async () => {
  ;[anvil, server] = await Promise.all([startAnvil({ args: ['--auto-impersonate'] }), startRedis()])
  redis = await connectRedis(server.url)
  dir = await mkdtemp(join(tmpdir(), 'serve-checks-'))
  chain = await buildRandomChain(anvil.url, { seed: 71, blocks: 12, txPerBlock: 10, addresses: 30 })
  await exportEtl({ rpcUrl: anvil.url, fromBlock: 0, toBlock: chain.lastBlock, dir: join(dir, 'etl') })
  const rows = await readEtlRows(join(dir, 'etl'))
  await writeFile(join(dir, 'seeds.csv'), ['address,label,source', ...chain.seeds.map((s, i) => `${s},Seed ${i},serve test`)].join('\n') + '\n')
  await writeFile(join(dir, 'labels.csv'), ['address,label,category', ...chain.labels.map((l) => `${l.address},${l.label},${l.category}`)].join('\n') + '\n')
  const options: ReferenceOptions = { maxHops: 4, listedTokens: [chain.contracts.token], counterpartyCap: 1000 }
  expected = new Map([...referenceExposure(rows, chain.seeds, chain.labels, options)].map(([addr, h]) => [addr, { downstream: h.downstream, upstream: h.upstream }]))
  witness = prepareWitnessChecker(rows, chain.seeds, chain.labels, options)
  env = await seededStore(testPrefix('live'))
  key = await createKey(env, 'exchange')
  ;[a, b] = await Promise.all([startServe(env, ['--no-workers']), startServe(env, ['--no-workers'])])
}, 180_000)

afterAll(async () => {
  await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL'), worker?.stop('SIGKILL')])
  redis?.disconnect()
  await Promise.all([anvil?.stop(), server?.stop()])
  if (dir) await rm(dir, { recursive: true, force: true })
})

/** Addresses the reference reaches downstream at ≥ 2 hops (a real search), not seeds. */
function searched(): string[] {
  return [...expected].filter(([addr, h]) => h.downstream !== null && h.downstream >= 2 && !chain.seeds.includes(addr)).map(([addr]) => addr)
}

describe('exposure serve with a live source (check queue)', () => {
  it('the reference is not trivial', () => {
    expect(searched().length).toBeGreaterThan(3)
  })

  it('a wallet only the chain knows: pending (no worker yet, not ready), then complete via GET /v1/checks, equal to the reference; next time from the record, without a job', async () => {
    const target = searched()[0]!
    expect((await a.request('/readyz')).status).toBe(503)
    const [first] = await screen(a, [target], 0)
    expect(first).toEqual({ address: getAddress(target), status: 'pending', checkId: expect.stringMatching(/^[0-9a-f]{40}-[0-9a-f]{16}$/) })
    const pending = await a.request(`/v1/checks/${first!.checkId}`, { key })
    expect(await pending.json()).toEqual({ address: getAddress(target), status: 'pending', checkId: first!.checkId })
    worker = await startCheckWorker(env)
    const ready = await a.request('/readyz')
    expect(ready.status).toBe(200)
    expect(((await ready.json()) as { checks: { checkWorkers: number } }).checks.checkWorkers).toBeGreaterThan(0)
    const done = await awaitCheck(b, first!.checkId!)
    expect(judge(done)).toEqual([])
    expect(done.answeredBy).toEqual({ downstream: 'search', upstream: 'search' })
    expect(await completedChecks(env.EXPOSURE_PREFIX!)).toBe(1)
    // Recorded: the next screening (either server) answers at once, without a job.
    const [again] = await screen(b, [getAddress(target)], 0)
    expect(again).toEqual({ ...done, checkId: undefined, status: 'complete' })
    expect(await completedChecks(env.EXPOSURE_PREFIX!)).toBe(1)
    const audit = await runCli(['audit', target, '--json'], env)
    const entries = (JSON.parse(audit.stdout) as { answeredFrom: string; status: string; key: string }[]).map((e) => `${e.answeredFrom}/${e.status}/${e.key}`)
    expect(entries).toEqual(['record/complete/exchange', 'job/complete/exchange', 'pending/pending/exchange'])
  })

  it('concurrent screenings of one new wallet through both servers run one job', async () => {
    const target = searched()[1]!
    const before = await completedChecks(env.EXPOSURE_PREFIX!)
    const all = await Promise.all([a, b, a, b, a, b].map((s) => screen(s, [target], 30_000)))
    const results = all.map((r) => r[0]!)
    expect(results.every((r) => r.status === 'complete')).toBe(true)
    expect(judge(results[0]!)).toEqual([])
    for (const r of results) expect({ ...r, checkId: undefined }).toEqual({ ...results[0], checkId: undefined })
    expect(await completedChecks(env.EXPOSURE_PREFIX!)).toBe(before + 1)
  })

  it('every address of the chain in one batch equals the reference, with valid witnesses', async () => {
    const addresses = [...expected.keys()]
    const results = await screen(a, addresses, 30_000)
    const complete: Result[] = []
    for (const r of results) complete.push(r.status === 'complete' ? r : await awaitCheck(a, r.checkId!))
    expect(complete.map((r) => r.address)).toEqual(addresses.map((x) => getAddress(x)))
    expect(complete.flatMap(judge)).toEqual([])
  })

  it('a fetch budget (EXPOSURE_CHECK_MAX_HISTORIES=1): the answer says which directions are not exact; in-process workers serve it', async () => {
    const e = await seededStore(testPrefix('budget'))
    const k = await createKey(e, 'budget')
    const c = await startServe({ ...e, EXPOSURE_CHECK_MAX_HISTORIES: '1' })
    try {
      const target = searched()[2]!
      const [r] = await screen(c, [target], 30_000, k)
      const result = r!.status === 'complete' ? r! : await awaitCheck(c, r!.checkId!)
      expect(result.exact).toEqual({ downstream: false, upstream: false })
      // Not exact: a downstream answer, when one was found, is an upper bound of the true hops.
      if (result.downstream) expect(result.downstream.hops).toBeGreaterThanOrEqual(expected.get(target)!.downstream!)
      const record = JSON.parse((await redis.hget(`${e.EXPOSURE_PREFIX}:screen:records`, target.slice(2)))!)
      expect(record.answer.exact).toEqual({ downstream: false, upstream: false })
    } finally {
      expect(await c.stop()).toEqual({ code: 0, signal: null })
    }
  })

  it('every response seen here (complete, pending, not exact, with answeredBy) matches the OpenAPI document', async () => {
    const openapi = await openApiChecker(await (await a.request('/openapi.json')).json())
    expect(openapi.errors).toEqual([])
    expect(seen.length).toBeGreaterThan(10)
    expect(seen.some((r) => JSON.stringify(r.body).includes('"pending"'))).toBe(true)
    expect(seen.map((r) => openapi.check(r)).filter((e) => e !== null)).toEqual([])
  })

  it('SIGTERM: a request waiting for a job answers pending, and server and worker exit 0', async () => {
    const e = await seededStore(testPrefix('close'))
    const k = await createKey(e, 'closing')
    const d = await startServe(e, ['--no-workers'])
    const target = searched()[3]!
    const waiting = d.request('/v1/screen', { key: k, body: { addresses: [target], waitMs: 30_000 } })
    // The request is in flight once its job is queued (nothing serves this store's check queue).
    for (let i = 0; i < 300 && (await redis.llen(`${e.EXPOSURE_PREFIX}:q:check:wait`)) === 0; i++) await new Promise((r) => setTimeout(r, 50))
    expect(await redis.llen(`${e.EXPOSURE_PREFIX}:q:check:wait`)).toBe(1)
    const exited = d.stop('SIGTERM')
    const response = await waiting
    expect(response.status).toBe(200)
    expect(((await response.json()) as { results: Result[] }).results[0]!.status).toBe('pending')
    expect(await exited, d.output()).toEqual({ code: 0, signal: null })
    expect(await worker!.stop('SIGTERM'), worker!.output()).toEqual({ code: 0, signal: null })
    expect(await a.stop('SIGTERM'), a.output()).toEqual({ code: 0, signal: null })
    const logs = a.output() + b.output() + d.output() + worker!.output()
    expect(logs).not.toContain(key)
    expect(logs).not.toContain(k)
  })
})
