import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildOptions, type Options } from '../../src/config.ts'
import { createApiKeys } from '../../src/screen/api-keys.ts'
import { readLabelsFrom, readSeedsFrom } from '../../src/seeds/import-file.ts'
import { planImport, planRemove } from '../../src/seeds/seed-set.ts'
import { importEtl } from '../../src/sources/etl-import.ts'
import { createGraphStore, type GraphStore } from '../../src/store/graph-store.ts'
import { createSeedVersions } from '../../src/store/seed-versions.ts'
import type { Address } from '../../src/types.ts'
import { createChecker } from '../../src/walk/check.ts'
import { traceWalk } from '../../src/walk/incremental.ts'
import { applyLabels, runRescan, type RescanSummary } from '../../src/watch/rescan.ts'
import { useRedisAndTempDir } from '../support/harness.ts'
import { openApiChecker, type SeenResponse } from '../support/openapi.ts'
import { testPrefix } from '../support/redis-server.ts'
import { startServe, type ServeProcess } from '../support/serve.ts'

/**
 * /v1/watch and /v1/alerts on a real `exposure serve` (issue 9): each API key sees and removes
 * only its own watch entries; a wallet screened through the service is watched for
 * EXPOSURE_WATCH_SCREENED; a key reads the alerts of the wallets it watches or screened, after a
 * cursor; bad input is a 400 problem naming the value; every response matches the OpenAPI document.
 */
const harness = useRedisAndTempDir('watch-api')
const DEMO = fileURLToPath(new URL('../../fixtures/demo/', import.meta.url))
let serve: ServeProcess
let store: GraphStore
let options: Options
let prefix: string
const keys: Record<string, { key: string; id: string }> = {}
const seen: SeenResponse[] = []
let exposed: Address[] = []

async function call(path: string, route: string, init: { method?: string; key?: string; body?: unknown } = {}) {
  const response = await serve.request(path, init)
  const contentType = response.headers.get('content-type') ?? ''
  const body = (await response.json()) as any
  seen.push({ method: (init.method ?? (init.body === undefined ? 'GET' : 'POST')).toLowerCase(), route, status: response.status, contentType, body })
  return { status: response.status, body }
}

beforeAll(async () => {
  prefix = testPrefix('watch')
  const env = { REDIS_URL: harness.server.url, EXPOSURE_PREFIX: prefix, EXPOSURE_WORKERS: '1' }
  options = buildOptions({}, env)
  store = createGraphStore(harness.redis, prefix)
  await importEtl(store, [DEMO], { listedTokens: options.listedTokens })
  const seeds = await readSeedsFrom(`${DEMO}seeds.csv`)
  await createSeedVersions(harness.redis, store.keys).apply('import', 'demo seeds', (current) => planImport(current, seeds.seeds))
  await applyLabels(store, (await readLabelsFrom(`${DEMO}labels.csv`)).labels)
  await traceWalk(store, { redisUrl: options.redisUrl, directions: ['downstream', 'upstream'], maxHops: options.maxHops, batchSize: 64, stopCategories: options.stopCategories, counterpartyCap: options.counterpartyCap, dust: options.dust, workers: 1, concurrency: 2 })
  const api = createApiKeys(harness.redis, store.keys)
  for (const [name, scopes] of [['alice', ['screen']], ['bob', ['screen']], ['analyst', ['investigate']], ['ops', ['screen', 'admin']]] as const) {
    const { key, info } = await api.create({ name, scopes: [...scopes] })
    keys[name] = { key, id: info.id }
  }
  // Wallets exposed (not seeds) in the demo: their answers change when the seeds go.
  const candidates = [...new Set(readFileSync(`${DEMO}screen.csv`, 'utf8').split('\n').slice(1).map((l) => l.split(',')[0]!.trim().toLowerCase()).filter((a) => a.startsWith('0x')))] as Address[]
  const answers = await createChecker(store, options.riskPolicy).check(candidates)
  exposed = candidates.filter((_, i) => answers[i]!.risk !== 'none' && (answers[i]!.downstream?.hops ?? 0) + (answers[i]!.upstream?.hops ?? 0) > 0)
  serve = await startServe(env)
}, 120_000)

afterAll(async () => {
  await serve?.stop('SIGKILL')
})

describe('/v1/watch and /v1/alerts', () => {
  it('each key sees, adds and removes only its own entries; bad input is a 400 naming the value; scopes apply', async () => {
    expect(exposed.length).toBeGreaterThanOrEqual(3)
    const [w1, w2] = exposed as [Address, Address]
    const added = await call('/v1/watch', '/v1/watch', { key: keys.alice!.key, body: { addresses: [w1, w2], ref: 'customer-1', expires: '30d' } })
    expect(added.status).toBe(200)
    expect(added.body.added).toHaveLength(2)
    expect(added.body.added[0]).toMatchObject({ owner: `key:${keys.alice!.id}`, ref: 'customer-1' })
    expect(Date.parse(added.body.added[0].expiresAt) - Date.parse(added.body.added[0].addedAt)).toBe(30 * 86_400_000)
    expect(added.body.baselines).toBe(2)
    expect((await call('/v1/watch', '/v1/watch', { key: keys.bob!.key, body: { addresses: [w1] } })).status).toBe(200)

    const alice = await call('/v1/watch', '/v1/watch', { key: keys.alice!.key })
    expect(alice.status).toBe(200)
    expect(alice.body.entries.map((e: { address: string }) => e.address.toLowerCase()).sort()).toEqual([w1, w2].sort())
    expect(alice.body.entries.every((e: { last: unknown }) => e.last !== null)).toBe(true)
    const bob = await call('/v1/watch', '/v1/watch', { key: keys.bob!.key })
    expect(bob.body.entries.map((e: { address: string; owner: string }) => [e.address.toLowerCase(), e.owner])).toEqual([[w1, `key:${keys.bob!.id}`]])

    expect((await call(`/v1/watch/${w2}`, '/v1/watch/{address}', { method: 'DELETE', key: keys.bob!.key })).status).toBe(404)
    const removed = await call(`/v1/watch/${w2}`, '/v1/watch/{address}', { method: 'DELETE', key: keys.alice!.key })
    expect(removed.status).toBe(200)
    expect((await call('/v1/watch', '/v1/watch', { key: keys.alice!.key })).body.entries).toHaveLength(1)

    const badAddress = await call('/v1/watch', '/v1/watch', { key: keys.alice!.key, body: { addresses: [w1, '0x1234'] } })
    expect(badAddress.status).toBe(400)
    expect(JSON.stringify(badAddress.body.invalidParams)).toContain('0x1234')
    expect((await call('/v1/watch', '/v1/watch', { key: keys.alice!.key, body: { addresses: [] } })).status).toBe(400)
    const badExpiry = await call('/v1/watch', '/v1/watch', { key: keys.alice!.key, body: { addresses: [w1], expires: 'soon' } })
    expect(badExpiry.status).toBe(400)
    expect(JSON.stringify(badExpiry.body.invalidParams)).toContain('expires')
    expect((await call(`/v1/watch/0xnothex`, '/v1/watch/{address}', { method: 'DELETE', key: keys.alice!.key })).status).toBe(400)
    expect((await call('/v1/watch', '/v1/watch', { key: keys.analyst!.key })).status).toBe(403)
    expect((await call('/v1/watch', '/v1/watch')).status).toBe(401)
    // Nothing of the refused requests was written.
    expect(await harness.redis.hlen(`${prefix}:watch`)).toBe(2)
  })

  it('screened wallets are watched; a rescan after the seeds go raises alerts that each key reads (its own) after a cursor', async () => {
    const [w1, , w3] = exposed as [Address, Address, Address]
    // alice screens w3: watched for EXPOSURE_WATCH_SCREENED (90 days by default) without an entry.
    expect((await call('/v1/screen', '/v1/screen', { key: keys.alice!.key, body: { addresses: [w3] } })).status).toBe(200)
    const off = (await runRescan(store, { options: buildOptions({}, { REDIS_URL: harness.server.url, EXPOSURE_PREFIX: prefix, EXPOSURE_WATCH_SCREENED: '0' }), trigger: 'test' })) as RescanSummary
    expect(off.watched).toBe(1) // w1 (alice's and bob's entries)
    const on = (await runRescan(store, { options, trigger: 'test' })) as RescanSummary
    expect(on.watched).toBe(2)
    expect(on.baselines).toBe(1) // w3's first answer
    expect(on.alerts).toBe(0)

    // Every seed removed: w1 and w3 are no longer exposed.
    const versions = createSeedVersions(harness.redis, store.keys)
    await versions.apply('remove', 'all seeds', (current) => planRemove(current, { addresses: [...current.keys()] }))
    const rescan = (await runRescan(store, { options, trigger: 'test' })) as RescanSummary
    expect(rescan.walk.mode).toBe('incremental')
    expect(rescan.alerts).toBe(2)

    const alice = await call('/v1/alerts', '/v1/alerts', { key: keys.alice!.key })
    expect(alice.status).toBe(200)
    expect(alice.body.alerts.map((a: { alert: { address: string } }) => a.alert.address.toLowerCase()).sort()).toEqual([w1, w3].sort())
    const a3 = alice.body.alerts.find((a: { alert: { address: string } }) => a.alert.address.toLowerCase() === w3).alert
    expect(a3.watchers).toEqual({ owners: [], refs: [], screenedBy: 'alice' })
    expect(a3.after.risk).toBe('none')
    expect(a3.cause.seedsRemoved.length).toBeGreaterThan(0)
    const bob = await call('/v1/alerts', '/v1/alerts', { key: keys.bob!.key })
    expect(bob.body.alerts.map((a: { alert: { address: string } }) => a.alert.address.toLowerCase())).toEqual([w1])
    const ops = await call('/v1/alerts?limit=1', '/v1/alerts', { key: keys.ops!.key })
    expect(ops.body.alerts).toHaveLength(1)
    const next = await call(`/v1/alerts?after=${ops.body.nextCursor}`, '/v1/alerts', { key: keys.ops!.key })
    expect(next.body.alerts).toHaveLength(1)
    const end = await call(`/v1/alerts?after=${next.body.nextCursor}`, '/v1/alerts', { key: keys.ops!.key })
    expect(end.body).toEqual({ alerts: [], nextCursor: next.body.nextCursor })
    const bad = await call('/v1/alerts?after=yesterday', '/v1/alerts', { key: keys.ops!.key })
    expect(bad.status).toBe(400)
    expect((await call('/v1/alerts', '/v1/alerts', { key: keys.analyst!.key })).status).toBe(403)
    const metrics = await (await serve.request('/metrics')).text()
    expect(metrics).toMatch(/exposure_webhook_deliveries\{endpoint="",outcome="alerts"\} 2/)
  })

  it('every response matches the OpenAPI document', async () => {
    const doc = await (await serve.request('/openapi.json')).json()
    const checker = await openApiChecker(doc)
    expect(checker.errors).toEqual([])
    expect(seen.length).toBeGreaterThan(15)
    expect(seen.map((r) => checker.check(r)).filter((e) => e !== null)).toEqual([])
  })
})
