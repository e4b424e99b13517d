/**
 * Exposed value: how much, not only how close. Pure: the store's reads are in value-inputs.ts.
 *
 * Downstream, for an address W and each asset: of the value W received (every in-transfer that
 * counts, dust floors applied), the part that came over time-respecting transfers from the seeds'
 * downstream region — a transfer S → W at position p is exposed when S is passable (a seed, or not
 * a stop node) and S holds a downstream label (h, c) that arrived no later than p (c ≤ p) with
 * h < maxHops; its *level* is h + 1 for the least such h (direct from a seed: 1). Upstream, the
 * mirror: of the value W sent, the part sent to a passable R whose funds reach a seed in h more
 * hops departing no earlier than p (an upstream label (h, c) with p ≤ −c, h < maxHops), level h + 1.
 * The share is exposed / total, per asset. Amounts are exact bigints.
 */
import type { Direction } from '../types.ts'
import type { HopLabel } from './labels.ts'

/** One transfer of W's in-list (downstream) or out-list (upstream), as value needs it. */
export interface ValueTransfer {
  /** The sender (downstream) or recipient (upstream), hex40. */
  counterparty: string
  position: number
  /** 'ETH' or the token's lowercase address. */
  asset: string
  amount: bigint
}

export interface Counterparty {
  /** Its labels in the direction (the published walk's). */
  labels: readonly HopLabel[]
  /** A seed, or not a stop node: exposure passes through it. */
  passable: boolean
  isSeed?: boolean
}

export interface AssetValue {
  asset: string
  /** Everything W received (downstream) or sent (upstream) in this asset, above the dust floor. */
  total: bigint
  /** The exposed part of it. */
  exposed: bigint
  /** Exposed value by level (1 = direct from a seed downstream, or straight to a seed upstream). */
  byLevel: Map<number, bigint>
  /** Position of the first exposed transfer (downstream: when exposed funds first arrived). */
  firstExposed: number | null
  /** Position of the last transfer of any kind in this list. */
  last: number | null
}

/** The level of a transfer at `position` from/to a counterparty, or null when it is not exposed. */
export function exposureLevel(direction: Direction, counterparty: Counterparty | undefined, position: number, maxHops: number): number | null {
  if (counterparty === undefined || !counterparty.passable) return null
  let best: number | null = null
  for (const label of counterparty.labels) {
    if (label.hops >= maxHops) continue
    const fits = direction === 'downstream' ? label.cost <= position : position <= -label.cost
    if (fits && (best === null || label.hops < best)) best = label.hops
  }
  return best === null ? null : best + 1
}

/**
 * Exposed value per asset of one direction. `dust[asset]` is the asset's floor (absent: none):
 * transfers below it do not count at all, neither in the total nor in the exposed part.
 */
export function exposedValue(direction: Direction, transfers: readonly ValueTransfer[], counterparties: ReadonlyMap<string, Counterparty>, dust: Readonly<Record<string, bigint>>, maxHops: number): Map<string, AssetValue> {
  const out = new Map<string, AssetValue>()
  for (const t of transfers) {
    const floor = dust[t.asset]
    if (floor !== undefined && t.amount < floor) continue
    let entry = out.get(t.asset)
    if (!entry) out.set(t.asset, (entry = { asset: t.asset, total: 0n, exposed: 0n, byLevel: new Map(), firstExposed: null, last: null }))
    entry.total += t.amount
    if (entry.last === null || t.position > entry.last) entry.last = t.position
    const level = exposureLevel(direction, counterparties.get(t.counterparty), t.position, maxHops)
    if (level === null) continue
    entry.exposed += t.amount
    entry.byLevel.set(level, (entry.byLevel.get(level) ?? 0n) + t.amount)
    if (entry.firstExposed === null || t.position < entry.firstExposed) entry.firstExposed = t.position
  }
  return out
}

/** exposed / total as a number in [0, 1], exact enough for a percentage (bigints of any size). */
export function share(exposed: bigint, total: bigint): number {
  if (total === 0n) return 0
  // Six significant decimals without converting huge bigints to doubles first.
  return Number((exposed * 1_000_000n) / total) / 1_000_000
}
