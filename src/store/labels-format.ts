/**
 * The label format of walk state as the store keeps it (the relax script, Lua, reads and writes the
 * same text): the walk builds on it in src/walk/labels.ts (label keys) and src/walk/expand.ts.
 */
import type { Direction } from '../types.ts'

/**
 * Hop labels. Each address keeps, per direction, the non-dominated `(hops, cost)` pairs:
 *
 * - downstream: cost = the position at which funds from a seed arrived (seed: -1, "before
 *   everything"); a label can be extended by an outgoing transfer at position ≥ cost.
 * - upstream: cost = minus the position at which funds leave towards a seed (seed: -2^50, "after
 *   everything"); a label can be extended by an incoming transfer at position ≤ -cost.
 *
 * In both, smaller is better, and (h1, c1) dominates (h2, c2) when h1 ≤ h2 and c1 ≤ c2. Keeping
 * every non-dominated pair (at most maxHops + 1 of them) is what makes the label-correcting walk
 * exact on temporal graphs: a label with more hops but an earlier arrival can still open paths
 * that the shorter one cannot.
 *
 * `key` names how the label was reached: predecessor hex40 + the transfer's record in the list
 * that was expanded (downstream: the predecessor's out-list; upstream: the successor's in-list),
 * by outRecordKey / inRecordKey (src/walk/labels.ts). Seeds have an empty key. Among labels of
 * equal (hops, cost) the smaller key wins, so the witness path does not depend on the order in
 * which jobs ran.
 *
 * Stored as text "h,c,key;h,c,key" because the relax script (Lua) parses it.
 */
export interface HopLabel {
  hops: number
  cost: number
  key: string
}

export const SEED_COST: Record<Direction, number> = { downstream: -1, upstream: -(2 ** 50) }

export function parseLabels(text: string | null | undefined): HopLabel[] {
  if (!text) return []
  return text.split(';').map((part) => {
    const [h, c, key] = part.split(',')
    return { hops: Number(h), cost: Number(c), key: key ?? '' }
  })
}

export function formatLabels(labels: readonly HopLabel[]): string {
  return labels.map((l) => `${l.hops},${l.cost},${l.key}`).join(';')
}

export function seedLabel(direction: Direction): string {
  return formatLabels([{ hops: 0, cost: SEED_COST[direction], key: '' }])
}

/** A label offered to an address; the relax script keeps it if nothing dominates it. */
export interface Candidate {
  hex: string
  hops: number
  cost: number
  key: string
}
