/**
 * The graph view's API on a real `exposure serve` (private redis-server, the demo's fund flows,
 * seeds, labels and a published walk): the neighbourhood JSON equals what the library builds,
 * every export format reads back with its parser, case files are saved, listed and reopened
 * exactly (notes kept verbatim), bad input is a 400 naming the value, an unknown address a 404,
 * keys without the investigate scope get 403; the OpenAPI document stays valid and every
 * response seen matches it; `/` serves the built page with its content security policy.
 */
import Graph from 'graphology'
import { parse as parseGexf } from 'graphology-gexf'
import { parse as parseGraphml } from 'graphology-graphml'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildNeighbourhood } from '../../src/graph/neighbourhood.ts'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import type { Address } from '../../src/types.ts'
import { runCli } from '../support/cli.ts'
import { openApiChecker } from '../support/openapi.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { startServe, type ServeProcess } from '../support/serve.ts'

const DEMO = fileURLToPath(new URL('../../fixtures/demo/', import.meta.url))
const DEPOSITOR = '0xbc25d57412a04956cdd95af07825c5c1f34d29eb' as Address

let server: TestRedis
let redis: Redis
let env: Record<string, string>
let serve: ServeProcess
const keys = { analyst: '', exchange: '' }
const seen: { method: string; route: string; status: number; contentType: string; body: unknown }[] = []

async function call(route: string, path: string, init: Parameters<ServeProcess['request']>[1] = {}): Promise<{ status: number; body: any; text: string; headers: Headers }> {
  const response = await serve.request(path, init)
  const contentType = response.headers.get('content-type') ?? ''
  const text = await response.text()
  const body = contentType.includes('json') ? JSON.parse(text) : text
  if (contentType.includes('json')) seen.push({ method: (init.method ?? (init.body === undefined ? 'GET' : 'POST')).toLowerCase(), route, status: response.status, contentType, body })
  return { status: response.status, body, text, headers: response.headers }
}

beforeAll(async () => {
  server = await startRedis()
  redis = await connectRedis(server.url)
  env = { REDIS_URL: server.url, EXPOSURE_PREFIX: testPrefix('sgraph') }
  for (const args of [['import', DEMO], ['seeds', 'import', `${DEMO}seeds.csv`], ['labels', 'import', `${DEMO}labels.csv`], ['trace']]) {
    const r = await runCli(args, env)
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
  }
  for (const [name, scopes] of [['analyst', 'investigate'], ['exchange', 'screen']]) {
    const r = await runCli(['keys', 'create', '--name', name!, '--scopes', scopes!, '--json'], env)
    expect(r.code, r.stderr).toBe(0)
    keys[name as keyof typeof keys] = (JSON.parse(r.stdout) as { key: string }).key
  }
  serve = await startServe(env)
}, 180_000)

afterAll(async () => {
  await serve?.stop('SIGKILL')
  redis?.disconnect()
  await server?.stop()
})

describe('graph API', () => {
  it('GET /v1/graph/{address}: the neighbourhood as graphology JSON, equal to the library\'s; EIP-55 accepted; paging parameters honoured', async () => {
    const r = await call('/v1/graph/{address}', `/v1/graph/${DEPOSITOR}?hops=2&limit=50`, { key: keys.analyst })
    expect(r.status).toBe(200)
    const expected = await buildNeighbourhood(createGraphStore(redis, env.EXPOSURE_PREFIX!), DEPOSITOR, { hops: 2, limit: 50 })
    expect(r.body).toEqual(JSON.parse(JSON.stringify(expected.export())))
    expect(r.body.attributes).toMatchObject({ hops: 2, limit: 50, offset: 0, truncated: false })
    const checksummed = r.body.attributes.center as string
    const again = await call('/v1/graph/{address}', `/v1/graph/${checksummed}?hops=2&limit=50`, { key: keys.analyst })
    expect(again.body).toEqual(r.body)
  })

  it('bad input is 400 naming the value; an unknown address 404; no key 401; a screen-only key 403', async () => {
    const bad = await call('/v1/graph/{address}', '/v1/graph/0x098B716B8Aaf21512996dC57EB0615e2383E2f97', { key: keys.analyst })
    expect(bad.status).toBe(400)
    expect(bad.body.invalidParams[0]).toMatchObject({ name: 'address' })
    const hops = await call('/v1/graph/{address}', `/v1/graph/${DEPOSITOR}?hops=4`, { key: keys.analyst })
    expect(hops.status).toBe(400)
    expect(hops.body.invalidParams[0]).toMatchObject({ name: 'hops', value: '4' })
    const unknown = await call('/v1/graph/{address}', `/v1/graph/0x${'1'.repeat(40)}`, { key: keys.analyst })
    expect(unknown.status).toBe(404)
    expect(unknown.body.detail).toContain('is not in the store')
    expect((await call('/v1/graph/{address}', `/v1/graph/${DEPOSITOR}`)).status).toBe(401)
    const forbidden = await call('/v1/graph/{address}', `/v1/graph/${DEPOSITOR}`, { key: keys.exchange })
    expect(forbidden.status).toBe(403)
    expect(forbidden.body.detail).toContain('investigate')
    const format = await call('/v1/export/{address}', `/v1/export/${DEPOSITOR}?format=pdf`, { key: keys.analyst })
    expect(format.status).toBe(400)
    expect(format.body.invalidParams[0]).toMatchObject({ name: 'format' })
  })

  it('GET /v1/export/{address}: GEXF, GraphML, JSON and CSV attachments that read back as the same graph', async () => {
    const json = await call('/v1/graph/{address}', `/v1/graph/${DEPOSITOR}?hops=1`, { key: keys.analyst })
    const reference = Graph.from(json.body)
    for (const format of ['gexf', 'graphml', 'json', 'csv'] as const) {
      const r = await serve.request(`/v1/export/${DEPOSITOR}?hops=1&format=${format}`, { key: keys.analyst })
      expect(r.status).toBe(200)
      expect(r.headers.get('content-disposition')).toMatch(new RegExp(`^attachment; filename="0x[0-9a-fA-F]{40}-1hops\\.${format}"$`))
      const text = await r.text()
      if (format === 'csv') {
        expect(text.split('\r\n').filter((l) => l !== '')).toHaveLength(reference.size + 1)
        continue
      }
      const back = format === 'gexf' ? parseGexf(Graph, text) : format === 'graphml' ? parseGraphml(Graph, text) : Graph.from(JSON.parse(text))
      expect(new Set(back.nodes())).toEqual(new Set(reference.nodes()))
      expect(back.size).toBe(reference.size)
      reference.forEachEdge((_e, a, s, t) => expect(back.getEdgeAttribute(back.edge(s, t)!, 'valueEth')).toBe(a.valueEth))
    }
  })

  it('case files: saved (201, Location), listed newest first, reopened exactly with notes verbatim; invalid cases 400; unknown id 404', async () => {
    const note = '<img src=x onerror=window.__xss=1> "quoted" & more'
    const input = { name: 'Ronin depositor', address: DEPOSITOR, hops: 2, nodes: [{ address: DEPOSITOR, x: 1.5, y: -2, note }, { address: '0x098b716b8aaf21512996dc57eb0615e2383e2f96', x: 0, y: 0 }], filters: { asset: 'ETH', minValueEth: '0.5' }, notes: 'free text', expansions: [{ address: DEPOSITOR, offset: 0 }] }
    const saved = await call('/v1/cases', '/v1/cases', { key: keys.analyst, body: input })
    expect(saved.status).toBe(201)
    expect(saved.body.id).toMatch(/^case_[A-Za-z0-9_-]{12}$/)
    expect(saved.headers.get('location')).toBe(`/v1/cases/${saved.body.id}`)
    expect(saved.body).toMatchObject({ ...input, createdBy: 'analyst' })
    const second = await call('/v1/cases', '/v1/cases', { key: keys.analyst, body: { ...input, name: 'second', nodes: [] } })
    expect(second.status).toBe(201)
    const list = await call('/v1/cases', '/v1/cases', { key: keys.analyst })
    expect(list.body.cases.map((c: { id: string }) => c.id)).toEqual([second.body.id, saved.body.id].sort((a, b) => (second.body.createdAt === saved.body.createdAt ? (a < b ? -1 : 1) : a === second.body.id ? -1 : 1)))
    expect(list.body.cases.find((c: { id: string }) => c.id === saved.body.id)).toMatchObject({ name: 'Ronin depositor', nodes: 2, createdBy: 'analyst' })
    const opened = await call('/v1/cases/{id}', `/v1/cases/${saved.body.id}`, { key: keys.analyst })
    expect(opened.status).toBe(200)
    expect(opened.body).toEqual(saved.body)
    expect(opened.body.nodes[0].note).toBe(note)
    for (const [body, name] of [[{ ...input, name: '' }, 'name'], [{ ...input, nodes: [{ address: '0x12', x: 0, y: 0 }] }, 'nodes'], [{ ...input, hops: 7 }, 'hops'], [{ ...input, nodes: [{ address: DEPOSITOR, x: 'a', y: 0 }] }, 'nodes']] as const) {
      const r = await call('/v1/cases', '/v1/cases', { key: keys.analyst, body })
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(JSON.stringify(r.body.invalidParams)).toContain(name)
    }
    expect((await call('/v1/cases/{id}', '/v1/cases/case_AAAAAAAAAAAA', { key: keys.analyst })).status).toBe(404)
    expect((await call('/v1/cases/{id}', '/v1/cases/nope', { key: keys.analyst })).status).toBe(400)
    expect((await call('/v1/cases', '/v1/cases', { key: keys.exchange })).status).toBe(403)
  })

  it('/ serves the built page with a strict content security policy; its assets load', async () => {
    const page = await serve.request('/')
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toContain('text/html')
    const csp = page.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).not.toContain('unsafe-inline')
    const html = await page.text()
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!)
    expect(assets.length).toBeGreaterThanOrEqual(2)
    for (const a of assets) expect((await serve.request(a)).status).toBe(200)
  })

  it('the OpenAPI document is valid and names the new routes; every JSON response seen matches it', async () => {
    const doc = (await (await serve.request('/openapi.json')).json()) as { paths: Record<string, unknown> }
    for (const route of ['/v1/graph/{address}', '/v1/export/{address}', '/v1/cases', '/v1/cases/{id}']) expect(doc.paths[route], route).toBeDefined()
    const checker = await openApiChecker(doc)
    expect(checker.errors).toEqual([])
    expect(seen.length).toBeGreaterThan(10)
    for (const r of seen) expect(checker.check(r)).toBeNull()
  })
})
