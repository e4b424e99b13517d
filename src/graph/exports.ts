/**
 * A graph in the formats investigators take elsewhere: GEXF (Gephi; graphology-gexf writes it),
 * GraphML (written here: graphology-graphml only reads), graphology's JSON, and CSV of edges.
 * Attributes are flat scalars (graph/neighbourhood.ts): amounts are decimal strings, so no
 * format rounds a bigint. Shared by the CLI (`exposure export`), the API and the web page.
 */
import { write as writeGexf } from 'graphology-gexf'
import type { AbstractGraph, Attributes } from 'graphology-types'

export const FORMATS = ['gexf', 'graphml', 'json', 'csv'] as const
export type ExportFormat = (typeof FORMATS)[number]

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  gexf: 'application/gexf+xml; charset=utf-8',
  graphml: 'application/graphml+xml; charset=utf-8',
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
}

type AnyGraph = AbstractGraph<Attributes, Attributes, Attributes>

export function exportGraph(graph: AnyGraph, format: ExportFormat): string {
  switch (format) {
    case 'gexf':
      return toGexf(graph)
    case 'graphml':
      return toGraphml(graph)
    case 'json':
      return `${JSON.stringify(graph.export(), null, 2)}\n`
    case 'csv':
      return toEdgeCsv(graph)
  }
}

/** GEXF 1.3; bigints (should any appear) as strings. */
export function toGexf(graph: AnyGraph): string {
  const plain = (attributes: Attributes) => Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]))
  return writeGexf(graph, {
    version: '1.3',
    formatNode: (_key, attributes) => {
      const { label, x, y, size, color, ...rest } = plain(attributes)
      return { ...(label === undefined ? {} : { label: String(label) }), ...(typeof x === 'number' && typeof y === 'number' ? { viz: { x, y, ...(typeof size === 'number' ? { size } : {}), ...(typeof color === 'string' ? { color } : {}) } } : {}), attributes: rest }
    },
    formatEdge: (_key, attributes) => ({ attributes: plain(attributes) }),
  })
}

type GraphmlType = 'boolean' | 'long' | 'double' | 'string'

function typeOf(values: unknown[]): GraphmlType {
  let type: GraphmlType | null = null
  for (const v of values) {
    const t: GraphmlType = typeof v === 'boolean' ? 'boolean' : typeof v === 'number' ? (Number.isInteger(v) ? 'long' : 'double') : 'string'
    if (type === null) type = t
    else if (type !== t) type = (type === 'long' && t === 'double') || (type === 'double' && t === 'long') ? 'double' : 'string'
  }
  return type ?? 'string'
}

/** XML 1.0 text: escapes markup and drops characters XML cannot carry. */
export function xmlEscape(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
}

function scalar(v: unknown): string {
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v)
  return JSON.stringify(v)
}

/**
 * GraphML (graphml.graphdrawing.org): one <key> per attribute name and element kind, typed by the
 * values it holds (boolean, long, double, else string; objects as JSON text), directed edges with
 * their keys as ids, graph attributes as <data> of the graph.
 */
export function toGraphml(graph: AnyGraph): string {
  const kinds = { graph: new Map<string, unknown[]>(), node: new Map<string, unknown[]>(), edge: new Map<string, unknown[]>() }
  const collect = (kind: keyof typeof kinds, attributes: Attributes) => {
    for (const [name, value] of Object.entries(attributes)) {
      if (value === undefined || value === null) continue
      let list = kinds[kind].get(name)
      if (!list) kinds[kind].set(name, (list = []))
      list.push(typeof value === 'object' ? JSON.stringify(value) : value)
    }
  }
  collect('graph', graph.getAttributes())
  graph.forEachNode((_n, a) => collect('node', a))
  graph.forEachEdge((_e, a) => collect('edge', a))
  const ids = { graph: new Map<string, string>(), node: new Map<string, string>(), edge: new Map<string, string>() }
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">']
  for (const kind of ['graph', 'node', 'edge'] as const) {
    for (const [name, values] of kinds[kind]) {
      const id = `${kind[0]}${ids[kind].size}`
      ids[kind].set(name, id)
      lines.push(`  <key id="${id}" for="${kind}" attr.name="${xmlEscape(name)}" attr.type="${typeOf(values)}"/>`)
    }
  }
  const data = (kind: keyof typeof ids, attributes: Attributes, indent: string) =>
    Object.entries(attributes)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([name, v]) => `${indent}<data key="${ids[kind].get(name)}">${xmlEscape(scalar(v))}</data>`)
  lines.push(`  <graph id="G" edgedefault="${graph.type === 'undirected' ? 'undirected' : 'directed'}">`)
  lines.push(...data('graph', graph.getAttributes(), '    '))
  graph.forEachNode((node, attributes) => {
    lines.push(`    <node id="${xmlEscape(node)}">`, ...data('node', attributes, '      '), '    </node>')
  })
  graph.forEachEdge((edge, attributes, source, target, _s, _t, undirected) => {
    lines.push(`    <edge id="${xmlEscape(edge)}" source="${xmlEscape(source)}" target="${xmlEscape(target)}"${graph.type === 'mixed' ? ` directed="${!undirected}"` : ''}>`, ...data('edge', attributes, '      '), '    </edge>')
  })
  lines.push('  </graph>', '</graphml>', '')
  return lines.join('\n')
}

/** RFC 4180 field: quoted when it holds a comma, quote or line break; a leading =+-@ is prefixed with ' (spreadsheet formulas). */
export function csvField(value: unknown): string {
  let text = value === undefined || value === null ? '' : scalar(value)
  if (/^[=+\-@\t\r]/.test(text) && !/^-?\d+(\.\d+)?$/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

/** One row per edge: source, target, then every edge attribute (columns: the union, in first-seen order). */
export function toEdgeCsv(graph: AnyGraph): string {
  const columns: string[] = []
  graph.forEachEdge((_e, attributes) => {
    for (const name of Object.keys(attributes)) if (!columns.includes(name)) columns.push(name)
  })
  const rows = [['source', 'target', ...columns].map(csvField).join(',')]
  graph.forEachEdge((_e, attributes, source, target) => rows.push([source, target, ...columns.map((c) => attributes[c])].map(csvField).join(',')))
  return `${rows.join('\r\n')}\r\n`
}
