/**
 * The exposure walk of test/support/reference-walk.ts (`referenceHopsFromTransfers`), same
 * semantics and same answers, written for speed: how fast one core can answer when nothing stands
 * between the algorithm and memory. The benchmark holds the queue walk against it; the unit test
 * (test/unit/reference-typed.test.ts) holds it against reference-walk.ts on random temporal graphs.
 * It does not import anything from src/.
 *
 * Layout: addresses interned to dense ids 0..n-1; two CSR adjacencies in typed arrays, out-edges
 * sorted by ascending position, in-edges sorted by descending position and stored negated. With the
 * negation, upstream ("u -> v at p reaches a seed when p <= latest(v)": raise latest(u) to p) is
 * the same loop as downstream ("v reached by p when p >= earliest(u)": lower earliest(v) to p), so
 * one function serves both directions.
 *
 * Relaxation: label-correcting, one flat FIFO queue per hop count. A node's non-dominated labels are
 * the pairs (h, best after layer h) at the layers where its best bound improved; the queue of
 * layer h holds the passable nodes that got such a label. Expanding node u at layer h only scans
 * its edges with position in [best_h(u), best_{h-1}(u)): the edges at or after the old bound were
 * relaxed from the old label already, and bounds only get better, so relaxing them again cannot
 * change anything. Every edge is therefore scanned at most once per direction, whatever the number
 * of layers: O(E + frontier · log degree) instead of reference-walk.ts' O(maxHops · E).
 */
import type { HopsPair, HopTransfer } from './reference-walk.ts'
import { positionKey } from './reference-walk.ts'

export type TypedDirection = 'downstream' | 'upstream'

export interface TypedGraph {
  /** Number of nodes (dense ids 0..n-1). */
  n: number
  /** Out-edges of node u: [outOffsets[u], outOffsets[u+1]), ascending position. */
  outOffsets: Uint32Array
  outPeers: Uint32Array
  outPos: Float64Array
  /** In-edges of node v: [inOffsets[v], inOffsets[v+1]), descending position, stored negated (so ascending). */
  inOffsets: Uint32Array
  inPeers: Uint32Array
  inNegPos: Float64Array
}

export interface InternedTransfers {
  /** Lowercase address of each id. */
  addresses: string[]
  from: Uint32Array
  to: Uint32Array
  /** positionKey(block, txIndex), exact in a double. */
  pos: Float64Array
}

/** Dense ids for `extraAddresses` first (seeds: they exist even without transfers), then senders and recipients in order. */
export function internTransfers(transfers: readonly HopTransfer[], extraAddresses: readonly string[] = []): InternedTransfers {
  const ids = new Map<string, number>()
  const addresses: string[] = []
  // Looked up as given first: lowercasing allocates a new string per call, which dominated the
  // build on a million transfers. A mixed-case spelling is kept as an alias of the lowercase id.
  const id = (address: string): number => {
    let i = ids.get(address)
    if (i !== undefined) return i
    const a = address.toLowerCase()
    i = ids.get(a)
    if (i === undefined) {
      i = addresses.length
      ids.set(a, i)
      addresses.push(a)
    }
    if (a !== address) ids.set(address, i)
    return i
  }
  for (const a of extraAddresses) id(a)
  const m = transfers.length
  const from = new Uint32Array(m)
  const to = new Uint32Array(m)
  const pos = new Float64Array(m)
  for (let e = 0; e < m; e++) {
    const t = transfers[e]!
    from[e] = id(t.from)
    to[e] = id(t.to)
    pos[e] = positionKey(t.block, t.txIndex)
  }
  return { addresses, from, to, pos }
}

/**
 * The two CSR adjacencies. Placing edges by a counting sort in global position order leaves each
 * node's range sorted without a sort per node; input already in chain order (the usual case: an
 * export, the bench generator) skips the global sort too.
 */
export function buildTypedGraph(n: number, from: ArrayLike<number>, to: ArrayLike<number>, pos: ArrayLike<number>): TypedGraph {
  const m = from.length
  if (to.length !== m || pos.length !== m) throw new Error('from, to and pos must have the same length')
  let sorted = true
  for (let e = 1; e < m; e++) {
    if ((pos[e] as number) < (pos[e - 1] as number)) {
      sorted = false
      break
    }
  }
  let order: Uint32Array | null = null
  if (!sorted) {
    order = new Uint32Array(m)
    for (let e = 0; e < m; e++) order[e] = e
    // Stable for equal positions: keeps the input order among them, so the result is deterministic.
    order.sort((a, b) => (pos[a] as number) - (pos[b] as number) || a - b)
  }
  const outOffsets = new Uint32Array(n + 1)
  const inOffsets = new Uint32Array(n + 1)
  for (let e = 0; e < m; e++) {
    const u = from[e] as number
    const v = to[e] as number
    if (u >= n || v >= n) throw new Error(`edge ${e} names node ${Math.max(u, v)} of ${n}`)
    outOffsets[u + 1]!++
    inOffsets[v + 1]!++
  }
  for (let i = 0; i < n; i++) {
    outOffsets[i + 1]! += outOffsets[i]!
    inOffsets[i + 1]! += inOffsets[i]!
  }
  const outPeers = new Uint32Array(m)
  const outPos = new Float64Array(m)
  const inPeers = new Uint32Array(m)
  const inNegPos = new Float64Array(m)
  const outCursor = outOffsets.slice(0, n)
  const inCursor = inOffsets.slice(0, n)
  for (let k = 0; k < m; k++) {
    const e = order === null ? k : (order[k] as number)
    const slot = outCursor[from[e] as number]!++
    outPeers[slot] = to[e] as number
    outPos[slot] = pos[e] as number
  }
  // Reverse global order: in-edges land by descending position, ascending once negated.
  for (let k = m - 1; k >= 0; k--) {
    const e = order === null ? k : (order[k] as number)
    const slot = inCursor[to[e] as number]!++
    inPeers[slot] = from[e] as number
    inNegPos[slot] = -(pos[e] as number)
  }
  return { n, outOffsets, outPeers, outPos, inOffsets, inPeers, inNegPos }
}

/** Distinct counterparties per node, in and out, self excluded: the counterparty-cap test of stopNodes. */
export function typedCounterparties(graph: TypedGraph): Uint32Array {
  const { n, outOffsets, outPeers, inOffsets, inPeers } = graph
  const count = new Uint32Array(n)
  // seen[v] === u + 1: v already counted for u (no clearing between nodes).
  const seen = new Uint32Array(n)
  for (let u = 0; u < n; u++) {
    const mark = u + 1
    let c = 0
    for (let k = outOffsets[u]!, end = outOffsets[u + 1]!; k < end; k++) {
      const v = outPeers[k]!
      if (v !== u && seen[v] !== mark) {
        seen[v] = mark
        c++
      }
    }
    for (let k = inOffsets[u]!, end = inOffsets[u + 1]!; k < end; k++) {
      const v = inPeers[k]!
      if (v !== u && seen[v] !== mark) {
        seen[v] = mark
        c++
      }
    }
    count[u] = c
  }
  return count
}

export interface TypedHops {
  /** Least hops per node id, -1 for none within maxHops. */
  hops: Int32Array
  /** Non-dominated (hops, position) labels created, seeds included. */
  labels: number
  /** Edges scanned. */
  relaxations: number
}

/**
 * Hops from the seeds (downstream) or to them (upstream). `passable[i]` = 1 when node i may be
 * strictly inside a path; seeds are passable whatever `passable` says (DESIGN.md rule 3).
 */
export function typedHops(graph: TypedGraph, seeds: ArrayLike<number>, passable: Uint8Array, maxHops: number, direction: TypedDirection): TypedHops {
  if (!Number.isInteger(maxHops) || maxHops < 0) throw new Error(`maxHops ${maxHops} must be a non-negative integer`)
  const n = graph.n
  const down = direction === 'downstream'
  const offsets = down ? graph.outOffsets : graph.inOffsets
  const peers = down ? graph.outPeers : graph.inPeers
  const pos = down ? graph.outPos : graph.inNegPos
  const hops = new Int32Array(n).fill(-1)
  // best[v]: earliest arrival (downstream) / negated latest departure (upstream) so far; lower is better.
  const best = new Float64Array(n).fill(Infinity)
  // prev[v]: best[v] before the layer in which it last improved: the upper end of the edges still to scan.
  const prev = new Float64Array(n).fill(Infinity)
  const stamp = new Int32Array(n).fill(-1)
  let queue = new Uint32Array(Math.max(1, n))
  let nextQueue = new Uint32Array(Math.max(1, n))
  const lo = new Float64Array(Math.max(1, n))
  const hi = new Float64Array(Math.max(1, n))
  let length = 0
  let labels = 0
  let relaxations = 0
  for (let i = 0; i < seeds.length; i++) {
    const s = seeds[i] as number
    if (hops[s] === 0) continue
    hops[s] = 0
    best[s] = -Infinity
    stamp[s] = 0
    queue[length++] = s
    labels++
  }
  for (let h = 1; h <= maxHops && length > 0; h++) {
    // The range of each queued node is fixed before the layer starts: this layer's relaxations
    // must read the previous layer's bounds (a path of h transfers, not more).
    for (let i = 0; i < length; i++) {
      const u = queue[i]!
      lo[i] = best[u]!
      hi[i] = prev[u]!
    }
    let nextLength = 0
    for (let i = 0; i < length; i++) {
      const u = queue[i]!
      const from = lo[i]!
      const until = hi[i]!
      let a = offsets[u]!
      let b = offsets[u + 1]!
      // first edge with position >= from
      while (a < b) {
        const mid = (a + b) >>> 1
        if (pos[mid]! < from) a = mid + 1
        else b = mid
      }
      const end = offsets[u + 1]!
      for (let k = a; k < end; k++) {
        const p = pos[k]!
        if (p >= until) break
        relaxations++
        const v = peers[k]!
        if (p < best[v]!) {
          if (stamp[v] !== h) {
            stamp[v] = h
            prev[v] = best[v]!
            labels++
            if (passable[v] === 1) nextQueue[nextLength++] = v
          }
          best[v] = p
          if (hops[v]! < 0) hops[v] = h
        }
      }
    }
    const swap = queue
    queue = nextQueue
    nextQueue = swap
    length = nextLength
  }
  return { hops, labels, relaxations }
}

/**
 * Same contract as reference-walk.ts' referenceHopsFromTransfers: hops for every address in
 * `transfers` and every seed, over counted (and dust-filtered) transfers; `stopSet` lowercase;
 * seeds passable even when in `stopSet`.
 */
export function typedHopsFromTransfers(
  transfers: readonly HopTransfer[],
  seeds: readonly string[],
  stopSet: ReadonlySet<string>,
  maxHops: number,
): Map<string, HopsPair> {
  const interned = internTransfers(transfers, seeds)
  const graph = buildTypedGraph(interned.addresses.length, interned.from, interned.to, interned.pos)
  const seedSet = new Set(seeds.map((s) => s.toLowerCase()))
  const seedIds = interned.addresses.flatMap((a, i) => (seedSet.has(a) ? [i] : []))
  const passable = new Uint8Array(graph.n)
  interned.addresses.forEach((a, i) => (passable[i] = seedSet.has(a) || !stopSet.has(a) ? 1 : 0))
  const down = typedHops(graph, seedIds, passable, maxHops, 'downstream').hops
  const up = typedHops(graph, seedIds, passable, maxHops, 'upstream').hops
  const out = new Map<string, HopsPair>()
  interned.addresses.forEach((address, i) => {
    const d = down[i]!
    const u = up[i]!
    out.set(address, { downstream: d < 0 ? null : d, upstream: u < 0 ? null : u })
  })
  return out
}
