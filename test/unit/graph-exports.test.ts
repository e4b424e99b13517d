/**
 * The export formats against their own parsers: GEXF read back by graphology-gexf, GraphML read
 * back by graphology-graphml and, independently, by a plain streaming XML parser (saxes) that
 * checks the keys, nodes, edges and every data value; graphology's JSON by Graph.from; CSV by
 * csv-parse. Attributes hostile to each format (markup, quotes, commas, line breaks, a label
 * holding an <img onerror>, amounts beyond 2^64 as strings, negative and fractional numbers,
 * booleans, non-ASCII) come back unchanged.
 */
import Graph from 'graphology'
import { parse as parseGexf } from 'graphology-gexf'
import { parse as parseGraphml } from 'graphology-graphml'
import { parse as parseCsv } from 'csv-parse/sync'
import { SaxesParser } from 'saxes'
import { describe, expect, it } from 'vitest'
import { csvField, exportGraph, toEdgeCsv, toGexf, toGraphml } from '../../src/graph/exports.ts'

const HOSTILE = '<img src=x onerror=window.__xss=1> & "quoted", comma\nnew line — Ωmega'

function sample(): Graph {
  const g = new Graph({ type: 'directed', multi: false, allowSelfLoops: true })
  g.replaceAttributes({ center: '0xAa00000000000000000000000000000000000001', hops: 2, truncated: false })
  const nodes = [
    { id: '0xAa00000000000000000000000000000000000001', label: 'centre', downstreamHops: 1, upstreamHops: -1, seed: false, category: '', receivedEth: '340282366920938463463374607431768211457', note: HOSTILE },
    { id: '0xbB00000000000000000000000000000000000002', label: HOSTILE, downstreamHops: 0, upstreamHops: 0, seed: true, category: 'exchange', receivedEth: '0', note: '' },
    { id: '0x0000000000000000000000000000000000000003', label: 'x = "1" < 2', downstreamHops: 2, upstreamHops: 3, seed: false, category: 'mixer', receivedEth: '18446744073709551616', note: 'ratio 0.5' },
  ]
  for (const { id, ...a } of nodes) g.addNode(id, a)
  g.addDirectedEdgeWithKey('e1', nodes[1]!.id, nodes[0]!.id, { transfers: 2, totals: JSON.stringify({ ETH: '2001000000000000000000' }), valueEth: '2001000000000000000000', firstBlock: 21895319, lastBlock: 21895320, firstTime: -1, lastTime: 1740148187, weight: 0.25 })
  g.addDirectedEdgeWithKey('e2', nodes[0]!.id, nodes[2]!.id, { transfers: 1, totals: JSON.stringify({ ETH: '1', '0xAE7ab96520DE3A18E5e111B5EaAb095312D7fE84': '5' }), valueEth: '1', firstBlock: 1, lastBlock: 1, firstTime: 0, lastTime: 0, weight: 3 })
  g.addDirectedEdgeWithKey('e3', nodes[2]!.id, nodes[0]!.id, { transfers: 7, totals: '{}', valueEth: '0', firstBlock: 2, lastBlock: 9, firstTime: 5, lastTime: 6, weight: 1.5 })
  return g
}

/** GEXF has no empty value: graphology-gexf leaves empty strings out, and they read back as absent. */
function withoutEmpty(g: Graph): Graph {
  const copy = g.copy()
  copy.forEachNode((node, attributes) => copy.replaceNodeAttributes(node, Object.fromEntries(Object.entries(attributes).filter(([, v]) => v !== ''))))
  return copy
}

function same(a: Graph, b: Graph): void {
  expect(b.type).toBe('directed')
  expect(b.order).toBe(a.order)
  expect(b.size).toBe(a.size)
  a.forEachNode((node, attributes) => {
    expect(b.hasNode(node)).toBe(true)
    expect(b.getNodeAttributes(node)).toEqual(attributes)
  })
  a.forEachEdge((edge, attributes, source, target) => {
    expect(b.hasDirectedEdge(source, target)).toBe(true)
    expect(b.getEdgeAttributes(b.directedEdge(source, target)!)).toEqual(attributes)
  })
}

/** GraphML read by saxes: keys, nodes with their data, edges with theirs; no DOM, no graphology. */
function readGraphmlIndependently(xml: string) {
  const parser = new SaxesParser({ xmlns: true })
  const keys = new Map<string, { for: string; name: string; type: string }>()
  const nodes = new Map<string, Record<string, string>>()
  const edges: { id: string; source: string; target: string; data: Record<string, string> }[] = []
  let edgedefault = ''
  let current: Record<string, string> | null = null
  let dataKey: string | null = null
  let text = ''
  parser.on('error', (error) => {
    throw error
  })
  parser.on('opentag', (tag) => {
    const attr = (name: string) => String(tag.attributes[name] && typeof tag.attributes[name] === 'object' ? (tag.attributes[name] as { value: string }).value : '')
    expect(tag.uri).toBe('http://graphml.graphdrawing.org/xmlns')
    if (tag.local === 'key') keys.set(attr('id'), { for: attr('for'), name: attr('attr.name'), type: attr('attr.type') })
    if (tag.local === 'graph') edgedefault = attr('edgedefault')
    if (tag.local === 'node') nodes.set(attr('id'), (current = {}))
    if (tag.local === 'edge') edges.push({ id: attr('id'), source: attr('source'), target: attr('target'), data: (current = {}) })
    if (tag.local === 'data') {
      dataKey = attr('key')
      text = ''
    }
  })
  parser.on('text', (t) => {
    if (dataKey !== null) text += t
  })
  parser.on('closetag', (tag) => {
    if (tag.local === 'data' && current !== null && dataKey !== null) current[keys.get(dataKey)!.name] = text
    if (tag.local === 'data') dataKey = null
    if (tag.local === 'node' || tag.local === 'edge') current = null
  })
  parser.write(xml).close()
  return { keys, nodes, edges, edgedefault }
}

describe('graph exports', () => {
  it('GEXF: graphology-gexf reads back the same nodes, edges and attributes (empty strings left out)', () => {
    const g = sample()
    const xml = toGexf(g)
    expect(xml).toContain('version="1.3"')
    expect(xml).not.toContain('<img')
    same(withoutEmpty(g), parseGexf(Graph, xml))
  })

  it('GraphML: graphology-graphml reads back the same nodes, edges and attributes', () => {
    const g = sample()
    const back = parseGraphml(Graph, toGraphml(g))
    same(g, back)
    expect(back.getAttributes()).toMatchObject({ center: g.getAttribute('center'), hops: 2, truncated: false })
  })

  it('GraphML: an independent streaming XML reader finds every key typed, every node and edge with every value as written', () => {
    const g = sample()
    const { keys, nodes, edges, edgedefault } = readGraphmlIndependently(toGraphml(g))
    expect(edgedefault).toBe('directed')
    const byName = (kind: string) => Object.fromEntries([...keys.values()].filter((k) => k.for === kind).map((k) => [k.name, k.type]))
    expect(byName('node')).toEqual({ label: 'string', downstreamHops: 'long', upstreamHops: 'long', seed: 'boolean', category: 'string', receivedEth: 'string', note: 'string' })
    expect(byName('edge')).toEqual({ transfers: 'long', totals: 'string', valueEth: 'string', firstBlock: 'long', lastBlock: 'long', firstTime: 'long', lastTime: 'long', weight: 'double' })
    expect(byName('graph')).toEqual({ center: 'string', hops: 'long', truncated: 'boolean' })
    expect([...nodes.keys()]).toEqual(g.nodes())
    g.forEachNode((node, attributes) => expect(nodes.get(node)).toEqual(Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, String(v)]))))
    expect(edges.map((e) => [e.id, e.source, e.target])).toEqual(g.edges().map((e) => [e, g.source(e), g.target(e)]))
    for (const e of edges) expect(e.data).toEqual(Object.fromEntries(Object.entries(g.getEdgeAttributes(e.id)).map(([k, v]) => [k, String(v)])))
  })

  it("graphology JSON: Graph.from reads back the same graph", () => {
    const g = sample()
    const back = Graph.from(JSON.parse(exportGraph(g, 'json')))
    same(g, back)
    expect(back.getAttributes()).toEqual(g.getAttributes())
  })

  it('CSV of edges: csv-parse reads one row per edge with every attribute; formula-looking text is defused', () => {
    const g = sample()
    const rows = parseCsv(toEdgeCsv(g), { columns: true }) as Record<string, string>[]
    expect(rows).toHaveLength(g.size)
    rows.forEach((row, i) => {
      const e = g.edges()[i]!
      expect(row).toEqual({ source: g.source(e), target: g.target(e), ...Object.fromEntries(Object.entries(g.getEdgeAttributes(e)).map(([k, v]) => [k, String(v)])) })
    })
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`)
    expect(csvField(-5)).toBe('-5')
    expect(csvField(HOSTILE)).toBe(`"${HOSTILE.replace(/"/g, '""')}"`)
  })
})
