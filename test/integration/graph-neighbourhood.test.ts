/**
 * The neighbourhood graph on a real store (the demo's fund flows, seeds, labels and a published
 * walk, built by the CLI on a private redis-server): node hops equal `exposure check`'s answers,
 * seeds and service labels carry their provenance, every edge's count and per-asset totals equal
 * the transfers read independently (store/transfers-of.ts), a hub is capped and pages by offset
 * with nothing lost or repeated, and `exposure export` writes files its parsers read back, or
 * refuses bad input with exit code 2 and writes nothing.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Graph from 'graphology'
import { parse as parseGexf } from 'graphology-gexf'
import { parse as parseGraphml } from 'graphology-graphml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildNeighbourhood } from '../../src/graph/neighbourhood.ts'
import { createGraphStore, type GraphStore } from '../../src/store/graph-store.ts'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import { transfersOfMany } from '../../src/store/transfers-of.ts'
import { checksumAddress } from '../../src/walk/checksum.ts'
import type { Address, Transfer } from '../../src/types.ts'
import { runCli } from '../support/cli.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'

const DEMO = fileURLToPath(new URL('../../fixtures/demo/', import.meta.url))
const DEPOSITOR = '0xbc25d57412a04956cdd95af07825c5c1f34d29eb' as Address
const RONIN_EXPLOITER = '0x098b716b8aaf21512996dc57eb0615e2383e2f96' as Address
const HUB = '0x00000000000000000000000000000000000b0b00' as Address
const HUB_FANOUT = 450

let server: TestRedis
let redis: Redis
let store: GraphStore
let env: Record<string, string>
let dir: string

beforeAll(async () => {
  server = await startRedis()
  redis = await connectRedis(server.url)
  env = { REDIS_URL: server.url, EXPOSURE_PREFIX: testPrefix('graph') }
  for (const args of [['import', DEMO], ['seeds', 'import', `${DEMO}seeds.csv`], ['labels', 'import', `${DEMO}labels.csv`], ['trace']]) {
    const r = await runCli(args, env)
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
  }
  store = createGraphStore(redis, env.EXPOSURE_PREFIX!)
  // A hub sending to 450 addresses, one of them twice.
  const transfers: Transfer[] = []
  const to = (i: number) => `0x${(0xe00000 + i).toString(16).padStart(40, '0')}` as Address
  for (let i = 0; i < HUB_FANOUT; i++) transfers.push({ from: HUB, to: to(i), amount: BigInt(i + 1), asset: 'ETH', blockNumber: 40_000_000 + i, transactionIndex: 0, txHash: `0x${(i + 1).toString(16).padStart(64, 'a')}`, kind: 'tx', subIndex: 0 })
  transfers.push({ from: HUB, to: to(3), amount: 10n ** 30n, asset: 'ETH', blockNumber: 40_001_000, transactionIndex: 1, txHash: `0x${'b'.repeat(64)}`, kind: 'tx', subIndex: 0 })
  await store.stage('hub', transfers, await store.internAssets(['ETH']))
  await store.commit('hub')
  dir = await mkdtemp(join(tmpdir(), 'graph-'))
}, 120_000)

afterAll(async () => {
  redis?.disconnect()
  await server?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('neighbourhood graph', () => {
  it("two hops around a Tornado depositor: hops equal check's answers, seeds and labels carry provenance, edges equal the transfers read independently", async () => {
    const graph = await buildNeighbourhood(store, DEPOSITOR, { hops: 2, limit: 1000 })
    expect(graph.getAttribute('center')).toBe(checksumAddress(DEPOSITOR))
    expect(graph.getAttribute('truncated')).toBe(false)
    expect(graph.order).toBeGreaterThan(3)
    const nodes = graph.nodes()
    const r = await runCli(['check', '--json', ...nodes], env)
    expect(r.code, r.stderr).toBe(0)
    const answers = JSON.parse(r.stdout) as { address: string; downstream: { hops: number } | null; upstream: { hops: number } | null }[]
    for (const a of answers) {
      expect(graph.getNodeAttribute(a.address, 'downstreamHops'), a.address).toBe(a.downstream?.hops ?? -1)
      expect(graph.getNodeAttribute(a.address, 'upstreamHops'), a.address).toBe(a.upstream?.hops ?? -1)
    }
    expect(graph.getNodeAttribute(checksumAddress(DEPOSITOR), 'downstreamHops')).toBe(1)
    const exploiter = graph.getNodeAttributes(checksumAddress(RONIN_EXPLOITER))
    expect(exploiter).toMatchObject({ seed: true, seedLabel: 'Lazarus Group', distance: 1, downstreamHops: 0 })
    expect(exploiter.seedSource).toContain('OFAC SDN')
    expect(JSON.parse(exploiter.seedProvenance)).toMatchObject({ incident: 'ronin_bridge_2022', listed: '2022-04-14' })
    // Distances are BFS distances; every node within 2.
    graph.forEachNode((_n, a) => expect(a.distance).toBeLessThanOrEqual(2))

    // Edges: every transfer among the nodes, aggregated per direction, against transfers-of.ts.
    const lower = nodes.map((n) => n.toLowerCase() as Address)
    const inGraph = new Set(lower)
    const all = await transfersOfMany(store, lower, await store.loadAssets(), { outgoing: true, incoming: false })
    const expected = new Map<string, { transfers: number; totals: Record<string, bigint> }>()
    for (const { outgoing } of all.values()) {
      for (const t of outgoing) {
        if (!inGraph.has(t.to)) continue
        const key = `${checksumAddress(t.from)}->${checksumAddress(t.to)}`
        const e = expected.get(key) ?? { transfers: 0, totals: {} }
        e.transfers++
        const asset = t.asset === 'ETH' ? 'ETH' : checksumAddress(t.asset)
        e.totals[asset] = (e.totals[asset] ?? 0n) + t.amount
        expected.set(key, e)
      }
    }
    expect(new Set(graph.edges())).toEqual(new Set(expected.keys()))
    for (const [key, e] of expected) {
      const a = graph.getEdgeAttributes(key)
      expect(a.transfers).toBe(e.transfers)
      expect(JSON.parse(a.totals)).toEqual(Object.fromEntries(Object.entries(e.totals).map(([k, v]) => [k, v.toString()])))
      expect(a.valueEth).toBe((e.totals.ETH ?? 0n).toString())
      expect(a.firstBlock).toBeLessThanOrEqual(a.lastBlock)
    }
    // The depositor received 1000 + 1001 ETH from the exploiter.
    expect(graph.getEdgeAttribute(`${checksumAddress(RONIN_EXPLOITER)}->${checksumAddress(DEPOSITOR)}`, 'valueEth')).toBe('2001000000000000000000')
  })

  it('a hub is capped at the limit with the rest counted, and its pages by offset cover every counterparty once', async () => {
    const first = await buildNeighbourhood(store, HUB, { hops: 1, limit: 200 })
    expect(first.order).toBe(201)
    expect(first.getNodeAttributes(checksumAddress(HUB))).toMatchObject({ counterparties: HUB_FANOUT, more: HUB_FANOUT - 200, expanded: true })
    // Most transfers first: the counterparty paid twice leads.
    const twice = checksumAddress(`0x${(0xe00003).toString(16).padStart(40, '0')}`)
    expect(first.hasNode(twice)).toBe(true)
    expect(first.getEdgeAttributes(`${checksumAddress(HUB)}->${twice}`)).toMatchObject({ transfers: 2, valueEth: (10n ** 30n + 4n).toString() })
    const seen = new Set<string>()
    for (let offset = 0; offset < HUB_FANOUT; offset += 200) {
      const page = await buildNeighbourhood(store, HUB, { hops: 1, limit: 200, offset })
      expect(page.getNodeAttribute(checksumAddress(HUB), 'more')).toBe(HUB_FANOUT - offset - (page.order - 1))
      for (const n of page.nodes()) if (n !== checksumAddress(HUB)) {
        expect(seen.has(n)).toBe(false)
        seen.add(n)
      }
    }
    expect(seen.size).toBe(HUB_FANOUT)
    const capped = await buildNeighbourhood(store, HUB, { hops: 1, limit: 1000, maxNodes: 100 })
    expect(capped.order).toBe(100)
    expect(capped.getAttribute('truncated')).toBe(true)
  })

  it('exposure export writes GEXF and GraphML that their parsers read back as the same graph; bad input exits 2 and writes nothing', async () => {
    const reference = await buildNeighbourhood(store, DEPOSITOR, { hops: 1 })
    for (const format of ['gexf', 'graphml'] as const) {
      const out = join(dir, `n.${format}`)
      const r = await runCli(['export', DEPOSITOR.toUpperCase().replace('0X', '0x'), '--hops', '1', '--format', format, '--out', out], env)
      expect(r.code, r.stderr).toBe(0)
      const text = await readFile(out, 'utf8')
      const back = format === 'gexf' ? parseGexf(Graph, text) : parseGraphml(Graph, text)
      expect(new Set(back.nodes())).toEqual(new Set(reference.nodes()))
      expect(new Set(back.edges().map((e) => `${back.source(e)}->${back.target(e)}`))).toEqual(new Set(reference.edges()))
      reference.forEachNode((n, a) => expect(back.getNodeAttribute(n, 'downstreamHops')).toBe(a.downstreamHops))
    }
    const csv = await runCli(['export', DEPOSITOR, '--format', 'csv'], env)
    expect(csv.code, csv.stderr).toBe(0)
    expect(csv.stdout.split('\r\n')[0]).toBe('source,target,transfers,totals,valueEth,firstBlock,lastBlock,firstTime,lastTime')
    for (const [args, field] of [[['export', '0x1234', '--out', join(dir, 'bad1')], '0x1234'], [['export', DEPOSITOR, '--hops', '9', '--out', join(dir, 'bad2')], '--hops'], [['export', DEPOSITOR, '--format', 'pdf', '--out', join(dir, 'bad3')], '--format']] as const) {
      const r = await runCli(args, env)
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toContain(field)
    }
    for (const f of ['bad1', 'bad2', 'bad3']) expect(existsSync(join(dir, f))).toBe(false)
  })

  it('with EXPOSURE_PUBLIC_URL, exposure path prints the deep link that opens the graph view on the address; a bad URL exits 2', async () => {
    const r = await runCli(['path', DEPOSITOR], { ...env, EXPOSURE_PUBLIC_URL: 'https://exposure.example/' })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`graph view:\n  https://exposure.example/#/address/${checksumAddress(DEPOSITOR)}\n`)
    const without = await runCli(['path', DEPOSITOR], env)
    expect(without.stdout).not.toContain('graph view')
    const bad = await runCli(['path', DEPOSITOR], { ...env, EXPOSURE_PUBLIC_URL: 'exposure.example' })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('EXPOSURE_PUBLIC_URL')
  })
})
