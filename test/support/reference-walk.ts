/**
 * An independent, deliberately plain, in-process implementation of DESIGN.md's
 * "Exposure semantics", used by the tests and the benchmark as a judge of the real (Redis/BullMQ)
 * walk. It does not import anything from src/.
 *
 * Algorithm: a layered dynamic programme over a graphology MultiDirectedGraph whose edges are the
 * counting transfers.
 *
 *   downstream: earliest[h][v] = the earliest position at which funds from a seed can have arrived
 *               at v along a time-respecting path of at most h transfers whose interior nodes are
 *               passable. earliest[0][seed] = -inf. For h >= 1, earliest[h] starts as a copy of
 *               earliest[h-1], then for every node u with earliest[h-1][u] defined and u passable,
 *               every transfer u -> v at position p >= earliest[h-1][u] (equal positions chain)
 *               lowers earliest[h][v] to p. hops(v) = least h with earliest[h][v] defined.
 *   upstream:   the mirror: latest[h][u] = the latest position at which u can send funds that reach
 *               a seed in at most h transfers; latest[0][seed] = +inf; a transfer u -> v at p with
 *               p <= latest[h-1][v] and v passable raises latest[h][u] to p.
 *
 * Keeping only the earliest arrival (latest departure) per hop budget is exact: any continuation
 * that a later arrival allows, an earlier arrival allows too, and passability depends on the node
 * only, not on the path.
 */
import { MultiDirectedGraph } from 'graphology'
import type { EtlRows, TokenRow, TraceRow, TxRow } from './etl-rows.ts'

export type RefDirection = 'downstream' | 'upstream'

export const DEFAULT_STOP_CATEGORIES: readonly string[] = ['exchange', 'dex', 'bridge', 'mixer', 'service']

export interface RefLabel {
  address: string
  label: string
  category: string
}

export interface ReferenceOptions {
  maxHops: number
  /** Token contract addresses whose Transfer rows count (any case). */
  listedTokens: readonly string[]
  /** Label categories that make an address a stop node. Default: exchange, dex, bridge, mixer, service. */
  stopCategories?: readonly string[]
  /** An address with more distinct counterparties than this is a stop node. Default: Infinity. */
  counterpartyCap?: number
  /** Minimum value per asset ('ETH' or a token address) below which a transfer does not count. */
  dust?: Record<string, bigint>
}

export interface HopsPair {
  downstream: number | null
  upstream: number | null
}

/** A transfer that counts under DESIGN.md rule 1 (before dust). Lowercase addresses and hash. */
export interface RefTransfer {
  from: string
  to: string
  block: number
  txIndex: number
  asset: string
  amount: bigint
  txHash: string
  kind: 'tx' | 'trace' | 'log'
  /**
   * Order inside the transaction, compared element by element (a shorter prefix first): [0] for
   * the external transaction, [1, ...trace address] for an internal call (depth first), [2, log
   * index] for a token transfer. Only the taint replay reads it.
   */
  order: number[]
}

/** The minimal transfer the lower-level walk needs (already counted and dust-filtered). */
export interface HopTransfer {
  from: string
  to: string
  block: number
  txIndex: number
}

// ---------------------------------------------------------------------------------------------
// Parsing helpers

const DECIMAL = /^[0-9]+$/

function parseAmount(text: string, where: string): bigint {
  if (text === '') return 0n
  if (!DECIMAL.test(text)) throw new Error(`${where}: value ${JSON.stringify(text)} is not a decimal integer`)
  return BigInt(text)
}

/** A decimal integer field, or null when empty. */
function parseIndex(text: string, where: string): number | null {
  if (text === '') return null
  if (!DECIMAL.test(text)) throw new Error(`${where}: ${JSON.stringify(text)} is not a decimal integer`)
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw new Error(`${where}: ${text} is too large`)
  return n
}

const TX_INDEX_LIMIT = 2 ** 24
const BLOCK_LIMIT = 2 ** 29

/**
 * One number that orders like the pair (block, txIndex) compared lexicographically: exact because
 * txIndex < 2^24 and block < 2^29, so block * 2^24 + txIndex < 2^53.
 */
export function positionKey(block: number, txIndex: number): number {
  if (!Number.isInteger(block) || block < 0 || block >= BLOCK_LIMIT) throw new Error(`block ${block} out of range`)
  if (!Number.isInteger(txIndex) || txIndex < 0 || txIndex >= TX_INDEX_LIMIT) {
    throw new Error(`transaction index ${txIndex} out of range`)
  }
  return block * TX_INDEX_LIMIT + txIndex
}

// ---------------------------------------------------------------------------------------------
// Rule 1: which rows are transfers

export function txRowTransfer(row: TxRow, i: number): RefTransfer | null {
  const where = `transactions row ${i + 1}`
  if (row.receipt_status !== '1') return null
  const amount = parseAmount(row.value, where)
  if (amount <= 0n) return null
  if (row.to_address === '' || row.from_address === '') return null
  const block = parseIndex(row.block_number, `${where} block_number`)
  const txIndex = parseIndex(row.transaction_index, `${where} transaction_index`)
  if (block === null || txIndex === null) return null
  return {
    from: row.from_address.toLowerCase(),
    to: row.to_address.toLowerCase(),
    block,
    txIndex,
    asset: 'ETH',
    amount,
    txHash: row.hash.toLowerCase(),
    kind: 'tx',
    order: [0],
  }
}

export function traceRowTransfer(row: TraceRow, i: number): RefTransfer | null {
  const where = `traces row ${i + 1}`
  if (row.trace_type !== 'call') return null
  if (row.call_type !== 'call') return null
  if (row.error !== '') return null
  if (row.status !== '1') return null
  if (row.trace_address === '') return null // the top-level trace repeats the transaction
  if (row.from_address === '' || row.to_address === '') return null
  if (row.transaction_hash === '') return null
  const amount = parseAmount(row.value, where)
  if (amount <= 0n) return null
  const block = parseIndex(row.block_number, `${where} block_number`)
  const txIndex = parseIndex(row.transaction_index, `${where} transaction_index`)
  if (block === null || txIndex === null) return null
  return {
    from: row.from_address.toLowerCase(),
    to: row.to_address.toLowerCase(),
    block,
    txIndex,
    asset: 'ETH',
    amount,
    txHash: row.transaction_hash.toLowerCase(),
    kind: 'trace',
    order: [1, ...row.trace_address.split(',').map(Number)],
  }
}

export function tokenRowTransfer(
  row: TokenRow,
  i: number,
  listed: ReadonlySet<string>,
  txIndexByHash: ReadonlyMap<string, number>,
): RefTransfer | null {
  const where = `token_transfers row ${i + 1}`
  const token = row.token_address.toLowerCase()
  if (!listed.has(token)) return null
  const amount = parseAmount(row.value, where)
  if (amount <= 0n) return null
  if (row.from_address === '' || row.to_address === '') return null
  const txHash = row.transaction_hash.toLowerCase()
  const txIndex = txIndexByHash.get(txHash)
  if (txIndex === undefined) return null // no transactions row to join with: no position
  const block = parseIndex(row.block_number, `${where} block_number`)
  if (block === null) return null
  return {
    from: row.from_address.toLowerCase(),
    to: row.to_address.toLowerCase(),
    block,
    txIndex,
    asset: token,
    amount,
    txHash,
    kind: 'log',
    order: [2, Number(row.log_index)],
  }
}

/** All transfers that count under rule 1 (dust NOT applied). */
export function countingTransfers(rows: EtlRows, listedTokens: readonly string[]): RefTransfer[] {
  const listed = new Set(listedTokens.map((t) => t.toLowerCase()))
  const txIndexByHash = new Map<string, number>()
  rows.transactions.forEach((row, i) => {
    const idx = parseIndex(row.transaction_index, `transactions row ${i + 1} transaction_index`)
    if (idx !== null && row.hash !== '') txIndexByHash.set(row.hash.toLowerCase(), idx)
  })
  const out: RefTransfer[] = []
  rows.transactions.forEach((row, i) => {
    const t = txRowTransfer(row, i)
    if (t) out.push(t)
  })
  rows.traces.forEach((row, i) => {
    const t = traceRowTransfer(row, i)
    if (t) out.push(t)
  })
  rows.tokenTransfers.forEach((row, i) => {
    const t = tokenRowTransfer(row, i, listed, txIndexByHash)
    if (t) out.push(t)
  })
  return out
}

function normalizeAsset(asset: string): string {
  return asset.toLowerCase() === 'eth' ? 'ETH' : asset.toLowerCase()
}

/** Rule 6: drops transfers below the per-asset minimum. */
export function applyDust(transfers: readonly RefTransfer[], dust: Record<string, bigint> | undefined): RefTransfer[] {
  if (!dust) return [...transfers]
  const min = new Map<string, bigint>()
  for (const [asset, value] of Object.entries(dust)) min.set(normalizeAsset(asset), value)
  return transfers.filter((t) => t.amount >= (min.get(t.asset) ?? 0n))
}

/**
 * Stop nodes: labelled with a stop category, or more than `cap` distinct counterparties over the
 * given (counting, un-dusted) transfers. May contain seeds; the walk treats seeds as passable anyway.
 */
export function stopNodes(
  transfers: readonly RefTransfer[],
  labels: readonly RefLabel[],
  stopCategories: readonly string[] = DEFAULT_STOP_CATEGORIES,
  counterpartyCap: number = Infinity,
): Set<string> {
  const stopCats = new Set(stopCategories.map((c) => c.trim().toLowerCase()))
  const stop = new Set<string>()
  for (const l of labels) {
    if (stopCats.has(l.category.trim().toLowerCase())) stop.add(l.address.toLowerCase())
  }
  const counterparties = new Map<string, Set<string>>()
  const add = (a: string, b: string): void => {
    let s = counterparties.get(a)
    if (!s) counterparties.set(a, (s = new Set()))
    s.add(b)
  }
  for (const t of transfers) {
    if (t.from === t.to) continue
    add(t.from, t.to)
    add(t.to, t.from)
  }
  for (const [a, s] of counterparties) if (s.size > counterpartyCap) stop.add(a)
  return stop
}

// ---------------------------------------------------------------------------------------------
// The walk

interface NodeAttrs {
  /** Lowercase address. The node key is the node's dense index as a string. */
  address: string
  index: number
}

interface EdgeAttrs {
  /** positionKey(block, txIndex) */
  pos: number
}

export type TransferGraph = MultiDirectedGraph<NodeAttrs, EdgeAttrs>

/**
 * The transfer graph: one node per address (key = dense index as a string, attribute `address`),
 * one edge per transfer, attribute `pos` = positionKey(block, txIndex). Integer node keys make
 * graphology several times faster to build than 42-character address keys.
 */
export function buildTransferGraph(transfers: readonly HopTransfer[], extraAddresses: readonly string[] = []): TransferGraph {
  const graph: TransferGraph = new MultiDirectedGraph<NodeAttrs, EdgeAttrs>({ allowSelfLoops: true })
  const keyOf = new Map<string, string>()
  const node = (address: string): string => {
    const a = address.toLowerCase()
    let key = keyOf.get(a)
    if (key === undefined) {
      const index = keyOf.size
      key = String(index)
      keyOf.set(a, key)
      graph.addNode(key, { address: a, index })
    }
    return key
  }
  for (const a of extraAddresses) node(a)
  let e = 0
  for (const t of transfers) {
    graph.addEdgeWithKey(String(e++), node(t.from), node(t.to), { pos: positionKey(t.block, t.txIndex) })
  }
  return graph
}

/**
 * The layered programme of the file comment, over all edges per layer (Bellman-Ford style).
 * Returns hops per node index, -1 for none within maxHops. Exported so that the benchmark can time
 * the walk on a graph built once, apart from the build.
 */
export function hopsOnGraph(
  graph: TransferGraph,
  seeds: ReadonlySet<string>,
  stopSet: ReadonlySet<string>,
  maxHops: number,
  direction: RefDirection,
): Int32Array {
  if (!Number.isInteger(maxHops) || maxHops < 0) throw new Error(`maxHops ${maxHops} must be a non-negative integer`)
  const n = graph.order
  const passable = new Uint8Array(n)
  const hops = new Int32Array(n).fill(-1)
  const downstream = direction === 'downstream'
  // bound[i]: downstream = earliest arrival, upstream = latest departure, within h hops;
  // +Infinity (downstream) / -Infinity (upstream) = not reached.
  const unreached = downstream ? Infinity : -Infinity
  let bound = new Float64Array(n).fill(unreached)
  graph.forEachNode((_key, attrs) => {
    const isSeed = seeds.has(attrs.address)
    passable[attrs.index] = isSeed || !stopSet.has(attrs.address) ? 1 : 0
    if (isSeed) {
      bound[attrs.index] = -unreached
      hops[attrs.index] = 0
    }
  })
  for (let h = 1; h <= maxHops; h++) {
    const next = bound.slice()
    if (downstream) {
      // transfer u -> v at pos: u reached by pos with <= h-1 hops and passable => v reached by pos.
      graph.forEachEdge((_e, edge, _s, _t, u, v) => {
        if (passable[u.index] === 1 && (bound[u.index] as number) <= edge.pos && edge.pos < (next[v.index] as number)) {
          next[v.index] = edge.pos
        }
      })
    } else {
      // transfer u -> v at pos: v can reach a seed leaving at or after pos with <= h-1 hops and is
      // passable => u can reach a seed leaving at pos.
      graph.forEachEdge((_e, edge, _s, _t, u, v) => {
        if (passable[v.index] === 1 && (bound[v.index] as number) >= edge.pos && edge.pos > (next[u.index] as number)) {
          next[u.index] = edge.pos
        }
      })
    }
    let changed = false
    for (let i = 0; i < n; i++) {
      if (next[i] !== bound[i]) changed = true
      if (hops[i] === -1 && next[i] !== unreached) hops[i] = h
    }
    // A layer that changes nothing is a fixpoint: every later layer would be identical.
    if (!changed) break
    bound = next
  }
  return hops
}

/**
 * Lower-level entry for the benchmark: hops for every address in `transfers` and every seed, over
 * already counted (and dust-filtered) transfers. Addresses are compared lowercased; `stopSet` must
 * hold lowercase addresses. Seeds are passable even when in `stopSet`.
 */
export function referenceHopsFromTransfers(
  transfers: readonly HopTransfer[],
  seeds: readonly string[],
  stopSet: ReadonlySet<string>,
  maxHops: number,
): Map<string, HopsPair> {
  const seedSet = new Set(seeds.map((s) => s.toLowerCase()))
  const graph = buildTransferGraph(transfers, [...seedSet])
  const down = hopsOnGraph(graph, seedSet, stopSet, maxHops, 'downstream')
  const up = hopsOnGraph(graph, seedSet, stopSet, maxHops, 'upstream')
  const out = new Map<string, HopsPair>()
  graph.forEachNode((_key, { address, index }) => {
    const d = down[index] as number
    const u = up[index] as number
    out.set(address, { downstream: d < 0 ? null : d, upstream: u < 0 ? null : u })
  })
  return out
}

/**
 * Hops (downstream and upstream) for every address named as sender or recipient in any row
 * (counting or not), and every seed. Addresses are lowercase keys.
 */
export function referenceExposure(
  rows: EtlRows,
  seeds: readonly string[],
  labels: readonly RefLabel[],
  options: ReferenceOptions,
): Map<string, HopsPair> {
  const counted = countingTransfers(rows, options.listedTokens)
  const stop = stopNodes(counted, labels, options.stopCategories ?? DEFAULT_STOP_CATEGORIES, options.counterpartyCap ?? Infinity)
  const kept = applyDust(counted, options.dust)
  const hops = referenceHopsFromTransfers(kept, seeds, stop, options.maxHops)
  const out = new Map<string, HopsPair>()
  for (const a of rowAddresses(rows)) out.set(a, hops.get(a) ?? { downstream: null, upstream: null })
  for (const s of seeds) {
    const a = s.toLowerCase()
    out.set(a, hops.get(a) ?? { downstream: 0, upstream: 0 })
  }
  return out
}

/** Every non-empty from/to address in the rows, lowercased. */
export function rowAddresses(rows: EtlRows): Set<string> {
  const out = new Set<string>()
  const add = (a: string): void => {
    if (a !== '') out.add(a.toLowerCase())
  }
  for (const r of rows.transactions) (add(r.from_address), add(r.to_address))
  for (const r of rows.traces) (add(r.from_address), add(r.to_address))
  for (const r of rows.tokenTransfers) (add(r.from_address), add(r.to_address))
  return out
}

// ---------------------------------------------------------------------------------------------
// Witness paths

export interface WitnessStep {
  from: string
  to: string
  txHash: string
  blockNumber: number
  transactionIndex: number
  asset: string
  amount: string
}

function stepKey(s: {
  txHash: string
  from: string
  to: string
  asset: string
  amount: bigint
  block: number
  txIndex: number
}): string {
  return [s.txHash, s.from, s.to, s.asset, s.amount.toString(), s.block, s.txIndex].join('|')
}

/**
 * Prepares the counting transfers and stop nodes once; the returned function checks one witness.
 * See checkWitness.
 */
export function prepareWitnessChecker(
  rows: EtlRows,
  seeds: readonly string[],
  labels: readonly RefLabel[],
  options: ReferenceOptions,
): (path: readonly WitnessStep[], direction: RefDirection, target: string, hops: number) => string | null {
  const counted = countingTransfers(rows, options.listedTokens)
  const stop = stopNodes(counted, labels, options.stopCategories ?? DEFAULT_STOP_CATEGORIES, options.counterpartyCap ?? Infinity)
  const kept = applyDust(counted, options.dust)
  const known = new Set(kept.map(stepKey))
  const dusted = new Set(counted.map(stepKey))
  const seedSet = new Set(seeds.map((s) => s.toLowerCase()))
  const passable = (a: string): boolean => seedSet.has(a) || !stop.has(a)

  return (path, direction, target, hops) => {
    const tgt = target.toLowerCase()
    if (path.length !== hops) return `path has ${path.length} steps but hops is ${hops}`
    if (hops === 0) return seedSet.has(tgt) ? null : `hops 0 but ${target} is not a seed`
    const steps = path.map((s) => ({
      from: s.from.toLowerCase(),
      to: s.to.toLowerCase(),
      txHash: s.txHash.toLowerCase(),
      block: s.blockNumber,
      txIndex: s.transactionIndex,
      asset: normalizeAsset(s.asset),
      amountText: s.amount,
    }))
    const first = steps[0]
    const last = steps[steps.length - 1]
    if (!first || !last) return 'empty path'
    if (direction === 'downstream') {
      if (!seedSet.has(first.from)) return `downstream path starts at ${first.from}, not a seed`
      if (last.to !== tgt) return `downstream path ends at ${last.to}, not the target ${tgt}`
    } else {
      if (first.from !== tgt) return `upstream path starts at ${first.from}, not the target ${tgt}`
      if (!seedSet.has(last.to)) return `upstream path ends at ${last.to}, not a seed`
    }
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i]
      if (!s) return `step ${i} missing`
      if (!DECIMAL.test(s.amountText)) return `step ${i}: amount ${JSON.stringify(s.amountText)} is not a decimal string`
      if (!Number.isInteger(s.block) || !Number.isInteger(s.txIndex)) return `step ${i}: position is not integral`
      const key = stepKey({ ...s, amount: BigInt(s.amountText) })
      if (!known.has(key)) {
        if (dusted.has(key)) return `step ${i}: transfer ${s.txHash} ${s.from}->${s.to} is below the dust threshold`
        return `step ${i}: no counting transfer ${s.txHash} ${s.from}->${s.to} ${s.amountText} ${s.asset} at (${s.block}, ${s.txIndex})`
      }
      if (i > 0) {
        const prev = steps[i - 1]
        if (!prev) return `step ${i - 1} missing`
        if (prev.to !== s.from) return `step ${i} starts at ${s.from} but step ${i - 1} ends at ${prev.to}`
        if (s.block < prev.block || (s.block === prev.block && s.txIndex < prev.txIndex)) {
          return `step ${i} at (${s.block}, ${s.txIndex}) is before step ${i - 1} at (${prev.block}, ${prev.txIndex})`
        }
        if (!passable(s.from)) return `interior node ${s.from} (before step ${i}) is a stop node`
      }
    }
    return null
  }
}

/**
 * null if `path` is a valid witness for `target` at `hops` in `direction` under DESIGN.md's rules,
 * else a message saying what is wrong. Addresses, hashes and token assets compare case-insensitively.
 */
export function checkWitness(
  path: readonly WitnessStep[],
  direction: RefDirection,
  target: string,
  hops: number,
  rows: EtlRows,
  seeds: readonly string[],
  labels: readonly RefLabel[],
  options: ReferenceOptions,
): string | null {
  return prepareWitnessChecker(rows, seeds, labels, options)(path, direction, target, hops)
}
