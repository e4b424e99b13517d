/**
 * An independent reference for exposed value and the haircut taint replay, written apart from
 * src/ (it imports nothing from it): the judge of src/walk/value.ts and src/walk/taint.ts on random
 * temporal graphs. Same semantics, other code:
 *
 * - earliest[h][v]: the earliest arrival of seed funds at v over at most h transfers (passable
 *   interiors, positions never decreasing); latest[h][v] the mirror for upstream.
 * - exposed value of W downstream: every counting transfer S → W at p (dust floors applied) is in
 *   the total; it is exposed at level h + 1 for the least h < maxHops with S passable and
 *   earliest[h][S] ≤ p. Upstream: W → R at p, R passable, latest[h][R] ≥ p.
 * - taint: the region is W plus every passable sender S with earliest[h][S] ≤ p (h < maxHops) of a
 *   transfer S → X at p ≤ bound(X), to a fixpoint (bound(W) = ∞, bound(S) = the latest such p);
 *   then every transfer touching the region is replayed per asset in chain order (block,
 *   transaction index, then the order inside the transaction), seeds sending fully tainted value,
 *   outsiders clean, and a region address passing on ⌊a·tainted/balance⌋, its excess over its
 *   balance counted as clean "unexplained" value (reported for sends up to its bound).
 */
import type { EtlRows } from './etl-rows.ts'
import { applyDust, countingTransfers, DEFAULT_STOP_CATEGORIES, stopNodes, type RefLabel, type RefTransfer } from './reference-walk.ts'

export interface ValueOptions {
  maxHops: number
  listedTokens: readonly string[]
  stopCategories?: readonly string[]
  counterpartyCap?: number
  dust?: Record<string, bigint>
}

export interface RefAssetValue {
  total: bigint
  exposed: bigint
  byLevel: Record<number, bigint>
}

export interface RefAssetTaint {
  received: bigint
  taintedReceived: bigint
  balance: bigint
  taintedBalance: bigint
  unexplained: bigint
}

const asset = (a: string) => (a.toLowerCase() === 'eth' ? 'ETH' : a.toLowerCase())
const pos = (t: RefTransfer) => t.block * 65536 + t.txIndex

export function prepareValueReference(rows: EtlRows, seeds: readonly string[], labels: readonly RefLabel[], options: ValueOptions) {
  const counted = countingTransfers(rows, options.listedTokens)
  const stop = stopNodes(counted, labels, options.stopCategories ?? DEFAULT_STOP_CATEGORIES, options.counterpartyCap ?? Infinity)
  return prepareValueReferenceFromTransfers(applyDust(counted, options.dust), seeds, stop, options.maxHops)
}

/** The same over transfers already counted and dust-filtered, with the stop nodes given (the benchmark's entry). */
export function prepareValueReferenceFromTransfers(transfers: readonly RefTransfer[], seeds: readonly string[], stop: ReadonlySet<string>, maxHops: number) {
  const kept = transfers.map((t) => ({ ...t, asset: asset(t.asset) }))
  const seedSet = new Set(seeds.map((s) => s.toLowerCase()))
  const passable = (a: string) => seedSet.has(a) || !stop.has(a)
  const H = maxHops
  const incoming = new Map<string, RefTransfer[]>()
  const outgoing = new Map<string, RefTransfer[]>()
  for (const t of kept) {
    for (const [map, key] of [[incoming, t.to], [outgoing, t.from]] as const) {
      const list = map.get(key)
      if (list) list.push(t)
      else map.set(key, [t])
    }
  }

  // earliest[h] / latest[h]: maps address → position; a missing address is unreached.
  const earliest: Map<string, number>[] = [new Map([...seedSet].map((s) => [s, Number.NEGATIVE_INFINITY]))]
  const latest: Map<string, number>[] = [new Map([...seedSet].map((s) => [s, Number.POSITIVE_INFINITY]))]
  for (let h = 1; h <= H; h++) {
    const e = new Map(earliest[h - 1]!)
    const l = new Map(latest[h - 1]!)
    for (const t of kept) {
      const p = pos(t)
      const fromArrival = earliest[h - 1]!.get(t.from)
      if (fromArrival !== undefined && passable(t.from) && p >= fromArrival && p < (e.get(t.to) ?? Number.POSITIVE_INFINITY)) e.set(t.to, p)
      const toDeparture = latest[h - 1]!.get(t.to)
      if (toDeparture !== undefined && passable(t.to) && p <= toDeparture && p > (l.get(t.from) ?? Number.NEGATIVE_INFINITY)) l.set(t.from, p)
    }
    earliest.push(e)
    latest.push(l)
  }
  /** Least level (h + 1) at which S's funds from a seed had arrived by p, or null. */
  const downLevel = (s: string, p: number): number | null => {
    if (!passable(s)) return null
    for (let h = 0; h < H; h++) if ((earliest[h]!.get(s) ?? Number.POSITIVE_INFINITY) <= p) return h + 1
    return null
  }
  const upLevel = (r: string, p: number): number | null => {
    if (!passable(r)) return null
    for (let h = 0; h < H; h++) if ((latest[h]!.get(r) ?? Number.NEGATIVE_INFINITY) >= p) return h + 1
    return null
  }

  function value(address: string, direction: 'downstream' | 'upstream'): Map<string, RefAssetValue> {
    const w = address.toLowerCase()
    const out = new Map<string, RefAssetValue>()
    for (const t of (direction === 'downstream' ? incoming : outgoing).get(w) ?? []) {
      const entry = out.get(t.asset) ?? { total: 0n, exposed: 0n, byLevel: {} }
      out.set(t.asset, entry)
      entry.total += t.amount
      const level = direction === 'downstream' ? downLevel(t.from, pos(t)) : upLevel(t.to, pos(t))
      if (level === null) continue
      entry.exposed += t.amount
      entry.byLevel[level] = (entry.byLevel[level] ?? 0n) + t.amount
    }
    return out
  }

  function taint(address: string): Map<string, RefAssetTaint> {
    const w = address.toLowerCase()
    const bound = new Map<string, number>([[w, Number.POSITIVE_INFINITY]])
    // A worklist to the fixpoint: an address is looked at again when its bound grows.
    const work = [w]
    while (work.length > 0) {
      const x = work.pop()!
      const b = bound.get(x)!
      // A seed sends fully tainted value whatever it received: the region does not go back through one.
      if (seedSet.has(x) && x !== w) continue
      for (const t of incoming.get(x) ?? []) {
        if (pos(t) > b || downLevel(t.from, pos(t)) === null) continue
        if ((bound.get(t.from) ?? Number.NEGATIVE_INFINITY) < pos(t)) {
          bound.set(t.from, pos(t))
          work.push(t.from)
        }
      }
    }
    const region = new Set(bound.keys())
    const touchingSet = new Set<RefTransfer>()
    for (const x of region) for (const t of [...(incoming.get(x) ?? []), ...(outgoing.get(x) ?? [])]) touchingSet.add(t)
    const touching = [...touchingSet]
    const out = new Map<string, RefAssetTaint>()
    for (const a of new Set(touching.map((t) => t.asset))) {
      const list = touching.filter((t) => t.asset === a).sort((x, y) => pos(x) - pos(y) || compareOrder(x.order, y.order))
      const balance = new Map<string, bigint>()
      const tainted = new Map<string, bigint>()
      const result: RefAssetTaint = { received: 0n, taintedReceived: 0n, balance: 0n, taintedBalance: 0n, unexplained: 0n }
      let touched = false
      for (const t of list) {
        let carried = 0n
        if (seedSet.has(t.from)) carried = t.amount
        else if (region.has(t.from)) {
          const b = balance.get(t.from) ?? 0n
          const d = tainted.get(t.from) ?? 0n
          if (b >= t.amount) {
            carried = b === 0n ? 0n : (t.amount * d) / b
            balance.set(t.from, b - t.amount)
            tainted.set(t.from, d - carried)
          } else {
            // Only sends on the way to W (up to the sender's bound) are reported as unexplained.
            if (pos(t) <= bound.get(t.from)!) result.unexplained += t.amount - b
            carried = d
            balance.set(t.from, 0n)
            tainted.set(t.from, 0n)
          }
        }
        if (region.has(t.to) && !seedSet.has(t.to)) {
          balance.set(t.to, (balance.get(t.to) ?? 0n) + t.amount)
          tainted.set(t.to, (tainted.get(t.to) ?? 0n) + carried)
        }
        if (t.to === w) {
          result.received += t.amount
          result.taintedReceived += carried
          touched = true
        }
        if (t.from === w) touched = true
      }
      result.balance = balance.get(w) ?? 0n
      result.taintedBalance = tainted.get(w) ?? 0n
      if (touched) out.set(a, result)
    }
    return out
  }

  return { value, taint, kept }
}

function compareOrder(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}
