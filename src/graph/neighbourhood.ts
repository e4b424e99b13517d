/**
 * An address's neighbourhood as a graphology graph, for the graph view and the exports.
 *
 * Nodes are addresses within `hops` transfer steps of the centre (either direction), found
 * breadth-first; each expanded node contributes at most `limit` counterparties (a hub keeps the
 * first `limit` in a fixed order and says how many more there are: `more`), the centre from
 * `offset` on, so that a hub pages. Edges are the transfers among the chosen nodes, aggregated per
 * direction (one edge `from→to`): count, totals per asset (decimal strings of base units, exact:
 * summed from the senders' out-records, the 96-bit ceiling read on the side), first and last
 * position and block time.
 *
 * Node attributes come from the published walk (least downstream and upstream hops of its
 * labels), the seed set (provenance) and the service labels. Attributes are flat (strings,
 * numbers, booleans) so that GEXF, GraphML and CSV carry them unchanged; bigints are strings.
 */
import Graph from 'graphology'
import type { GraphStore } from '../store/graph-store.ts'
import { IN_SIZE, MAX_AMOUNT, OUT_SIZE, decodeRecord, readPosition, splitNode } from '../store/records.ts'
import type { Address, Asset, Seed, ServiceLabel } from '../types.ts'
import { checksumAddress } from '../walk/checksum.ts'
import { parseLabels } from '../walk/labels.ts'
import { labelsIn } from '../walk/walk-runs.ts'
import { mgetBufferByPartition } from '../store/partitions.ts'
import { readBlockTimes } from '../store/block-times.ts'

export const DEFAULT_LIMIT = 200
export const MAX_LIMIT = 1_000
export const MAX_HOPS = 3
/** Nodes in one neighbourhood at most (hops 2–3 around hubs would otherwise explode). */
export const MAX_NODES = 5_000

export interface NodeAttributes {
  /** EIP-55. */
  address: string
  label: string
  /** BFS distance from the centre in this view (0 = the centre). */
  distance: number
  /** Least downstream hops from a seed in the published walk; -1: not reached (none). */
  downstreamHops: number
  upstreamHops: number
  seed: boolean
  seedLabel: string
  seedSource: string
  /** Seed provenance columns as JSON text ({} when none). */
  seedProvenance: string
  serviceLabel: string
  /** Service category (exchange, mixer, bridge, dex, …) or ''. */
  category: string
  /** Counterparties in the store (whole, not only those shown). */
  counterparties: number
  /** Counterparties after the page shown (beyond the cap: the next page starts at offset + limit); 0 on the last page. */
  more: number
  /** Whether its counterparties were read (expanded) in this view. */
  expanded: boolean
  /** ETH received over the edges shown, wei as a decimal string. */
  receivedEth: string
}

export interface EdgeAttributes {
  transfers: number
  /** Totals per asset as JSON text: {"ETH": "123", "0xToken…": "456"} (base units). */
  totals: string
  /** ETH total, wei as a decimal string ('0' when none). */
  valueEth: string
  firstBlock: number
  lastBlock: number
  /** Block times (seconds); -1 when the store does not know them. */
  firstTime: number
  lastTime: number
}

export type NeighbourhoodGraph = Graph<NodeAttributes, EdgeAttributes, { center: string; hops: number; limit: number; offset: number; runId: string; truncated: boolean }>

export interface NeighbourhoodOptions {
  hops?: number
  limit?: number
  /** Where the centre's counterparties start (paging a hub). */
  offset?: number
  maxNodes?: number
}

interface Counterparty {
  hex: string
  transfers: number
}

/** Builds the neighbourhood graph of `center` (lowercase 0x address). */
export async function buildNeighbourhood(store: GraphStore, center: Address, options: NeighbourhoodOptions = {}): Promise<NeighbourhoodGraph> {
  const hops = options.hops ?? 1
  const limit = options.limit ?? DEFAULT_LIMIT
  const offset = options.offset ?? 0
  const maxNodes = options.maxNodes ?? MAX_NODES
  const { redis, keys } = store
  const current = await redis.hgetall(keys.walkCurrent)
  const runId = current.runId ?? ''
  const directions = (current.directions ?? '').split(',').filter((d) => d !== '')

  const nodes = new Map<string, Buffer | null>()
  const distance = new Map<string, number>()
  const more = new Map<string, number>()
  const expanded = new Set<string>()
  const centerHex = center.slice(2).toLowerCase()
  distance.set(centerHex, 0)
  let frontier = [centerHex]
  let truncated = false
  for (let d = 0; d <= hops && frontier.length > 0; d++) {
    const buffers = await readNodes(store, frontier)
    frontier.forEach((hex, i) => nodes.set(hex, buffers[i] ?? null))
    if (d === hops) break
    const next: string[] = []
    for (const hex of frontier) {
      const all = counterpartiesOf(nodes.get(hex) ?? null, hex)
      const start = hex === centerHex ? offset : 0
      const shown = all.slice(start, start + limit)
      more.set(hex, Math.max(0, all.length - start - shown.length))
      expanded.add(hex)
      for (const c of shown) {
        if (distance.has(c.hex)) continue
        if (distance.size >= maxNodes) {
          truncated = true
          break
        }
        distance.set(c.hex, d + 1)
        next.push(c.hex)
      }
    }
    frontier = next
  }

  const hexes = [...distance.keys()]
  const [seedJson, labelJson, down, up] = await Promise.all([
    hmget(store, keys.seeds, hexes.map((h) => `0x${h}`)),
    hmget(store, keys.labels, hexes.map((h) => `0x${h}`)),
    runId !== '' && directions.includes('downstream') ? labelsIn(store.redis, keys, runId, 'downstream', hexes) : Promise.resolve(hexes.map(() => null)),
    runId !== '' && directions.includes('upstream') ? labelsIn(store.redis, keys, runId, 'upstream', hexes) : Promise.resolve(hexes.map(() => null)),
  ])
  const graph: NeighbourhoodGraph = new Graph({ type: 'directed', multi: false, allowSelfLoops: true })
  graph.replaceAttributes({ center: checksumAddress(center), hops, limit, offset, runId, truncated })
  hexes.forEach((hex, i) => {
    const seed = seedJson[i] ? (JSON.parse(seedJson[i]!) as Seed) : null
    const service = labelJson[i] ? (JSON.parse(labelJson[i]!) as ServiceLabel) : null
    const address = checksumAddress(`0x${hex}`)
    const node = nodes.get(hex) ?? null
    graph.addNode(address, {
      address,
      label: seed ? `${seed.label} ${address.slice(0, 8)}…` : service ? service.label : `${address.slice(0, 8)}…${address.slice(-4)}`,
      distance: distance.get(hex)!,
      downstreamHops: leastHops(down[i]),
      upstreamHops: leastHops(up[i]),
      seed: seed !== null,
      seedLabel: seed?.label ?? '',
      seedSource: seed?.source ?? '',
      seedProvenance: JSON.stringify(seed?.extra ?? {}),
      serviceLabel: service?.label ?? '',
      category: service?.category ?? '',
      counterparties: node && node.length >= 4 ? node.readUInt32BE(0) : 0,
      more: more.get(hex) ?? 0,
      expanded: expanded.has(hex),
      receivedEth: '0',
    })
  })

  // Edges: every transfer among the chosen nodes, from its sender's out-records.
  const assets = await store.loadAssets()
  const idOf = new Map(hexes.map((h) => [h, checksumAddress(`0x${h}`)]))
  interface Agg { transfers: number; totals: Map<number, bigint>; first: number; last: number }
  const edges = new Map<string, Agg>()
  for (const hex of hexes) {
    const { out } = splitNode(nodes.get(hex) ?? null)
    for (let o = 0; o < out.length; o += OUT_SIZE) {
      const to = out.toString('hex', o + 6, o + 26)
      if (!idOf.has(to)) continue
      const key = `${hex}>${to}`
      let a = edges.get(key)
      if (!a) edges.set(key, (a = { transfers: 0, totals: new Map(), first: Number.POSITIVE_INFINITY, last: -1 }))
      const r = decodeRecord(out, o, OUT_SIZE)
      const amount = r.amount === MAX_AMOUNT ? await store.exactAmount({ txHash: r.txHash!, kind: r.kind!, subIndex: r.subIndex!, from: `0x${hex}`, to: `0x${to}`, amount: r.amount }) : r.amount
      a.transfers++
      a.totals.set(r.assetId, (a.totals.get(r.assetId) ?? 0n) + amount)
      const position = readPosition(out, o)
      if (position < a.first) a.first = position
      if (position > a.last) a.last = position
    }
  }
  const blocks = new Set<number>()
  for (const a of edges.values()) blocks.add(Math.floor(a.first / 65536)).add(Math.floor(a.last / 65536))
  const blockList = [...blocks]
  const known = await readBlockTimes(store.redis, keys, blockList)
  const times = new Map<number, number>(blockList.map((b) => [b, known.get(b) ?? -1]))
  const received = new Map<string, bigint>()
  for (const [key, a] of edges) {
    const [from, to] = key.split('>') as [string, string]
    const totals: Record<string, string> = {}
    for (const [id, amount] of [...a.totals].sort((x, y) => x[0] - y[0])) totals[assetName(assets[id])] = amount.toString()
    const eth = a.totals.get(0) ?? 0n
    received.set(to, (received.get(to) ?? 0n) + eth)
    const firstBlock = Math.floor(a.first / 65536)
    const lastBlock = Math.floor(a.last / 65536)
    graph.addDirectedEdgeWithKey(`${idOf.get(from)}->${idOf.get(to)}`, idOf.get(from)!, idOf.get(to)!, {
      transfers: a.transfers,
      totals: JSON.stringify(totals),
      valueEth: eth.toString(),
      firstBlock,
      lastBlock,
      firstTime: times.get(firstBlock) ?? -1,
      lastTime: times.get(lastBlock) ?? -1,
    })
  }
  for (const [hex, eth] of received) graph.setNodeAttribute(idOf.get(hex)!, 'receivedEth', eth.toString())
  return graph
}

/** An address's counterparties (both directions, once each), ordered: most transfers first, then by address. */
export function counterpartiesOf(node: Buffer | null, selfHex: string): Counterparty[] {
  const { out, in: inn } = splitNode(node)
  const counts = new Map<string, number>()
  for (let o = 0; o < out.length; o += OUT_SIZE) {
    const hex = out.toString('hex', o + 6, o + 26)
    counts.set(hex, (counts.get(hex) ?? 0) + 1)
  }
  for (let o = 0; o < inn.length; o += IN_SIZE) {
    const hex = inn.toString('hex', o + 6, o + 26)
    counts.set(hex, (counts.get(hex) ?? 0) + 1)
  }
  counts.delete(selfHex)
  return [...counts].map(([hex, transfers]) => ({ hex, transfers })).sort((a, b) => b.transfers - a.transfers || (a.hex < b.hex ? -1 : 1))
}

function leastHops(text: string | null | undefined): number {
  const labels = parseLabels(text)
  return labels.length === 0 ? -1 : Math.min(...labels.map((l) => l.hops))
}

function assetName(asset: Asset | undefined): string {
  return asset === undefined || asset === 'ETH' ? 'ETH' : checksumAddress(asset)
}

async function readNodes(store: GraphStore, hexes: readonly string[]): Promise<(Buffer | null)[]> {
  const out: (Buffer | null)[] = []
  for (let i = 0; i < hexes.length; i += 500) out.push(...(await mgetBufferByPartition(store.redis, (h) => store.keys.node(`0x${h}` as Address), hexes.slice(i, i + 500))))
  return out
}

async function hmget(store: GraphStore, key: string, fields: readonly string[]): Promise<(string | null)[]> {
  const out: (string | null)[] = []
  for (let i = 0; i < fields.length; i += 1_000) out.push(...(await store.redis.hmget(key, ...fields.slice(i, i + 1_000))))
  return out
}
