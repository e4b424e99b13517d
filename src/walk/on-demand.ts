/**
 * On-demand screening of one address: its downstream and upstream hops computed from the address
 * outwards, over per-address histories fetched as the search reaches them (the same lazy-history
 * machinery as the walk), instead of from the seeds inwards.
 *
 * downstream.hops(W) = the least k of a time-respecting path seed → … → W (DESIGN.md). Read
 * backwards it is the walk's *upstream* rule with W in the place of the seeds: W gets the label
 * (0, "leaves after everything"), an expanded address Z offers every sender X of an in-transfer at
 * position p ≤ its latest departure the label (h + 1, departure p), and the answer is the fewest
 * hops at which a seed is labelled. upstream.hops(W) is the mirror: the walk's downstream rule from
 * W over out-transfers, answered at the first seed. Both use the walk's own expansion
 * (expandNodes: same dust, same tie-breaks) and the relax script's dominance rule, so the labels
 * are the walk's labels of a walk whose only "seed" is W.
 *
 * Which addresses are expanded: W always (an end of the path may be anything), any other address
 * only when it is passable (DESIGN rule 3: it sits strictly inside the path). Seeds are not
 * expanded: a path that runs through a seed to another seed is longer than its prefix to the first
 * one, so it never gives the least hops. Labels with hops ≥ (best answer so far) are not expanded
 * either: they can only offer more hops than a seed already has.
 *
 * Why this is exact (equal to a full walk over the same chain): every label is a real
 * time-respecting path W ⇝ X (read in the right direction) whose interior is passable, so the
 * answer is never below the true hops; and the search is the label-correcting fixpoint over every
 * label with fewer hops than the answer: the layered argument of the reference walk applies with
 * the roles of W and the seeds swapped (keeping only the latest departure / earliest arrival per
 * hop count is exact because passability depends on the address only). The witness follows the
 * labels' keys from the seed back to W, taking at each address the fewest-hop label that fits the
 * transfer (witness.lua's rule); it is checked to have exactly `hops` steps.
 *
 * Pure: the addresses' node strings come from `io.load`, which fetches their histories first.
 */
import { BaseError } from '../errors.ts'
import { IN_SIZE, OUT_SIZE, splitNode } from '../store/records.ts'
import type { Direction } from '../types.ts'
import { expandNodes, type Candidate } from './expand.ts'
import { SEED_COST, findKeyed, keyNeighbour, type HopLabel } from './labels.ts'

export interface SearchNode {
  hex: string
  /** The address's node string (records.ts), its history complete; null: no transfers. */
  node: Buffer | null
  /** A seed, or not a stop node (no stop-category label, counterparties within the cap). */
  passable: boolean
}

export interface SearchIo {
  isSeed(hex: string): boolean
  /**
   * Node strings and passability of these addresses, their histories fetched first; null when a
   * fetch budget is spent before all of them were fetched: the search stops there (incomplete).
   */
  load(hexes: readonly string[]): Promise<SearchNode[] | null>
}

/** One transfer of the witness, in path order. `record` is an out-record (76 bytes) or an in-record (39 bytes) of `to`. */
export interface SearchStep {
  fromHex: string
  toHex: string
  record: Buffer
}

export interface SearchAnswer {
  hops: number
  seedHex: string
  steps: SearchStep[]
}

export interface SearchResult {
  /**
   * The least hops with a witness when `complete`. When not (the budget ran out), the fewest hops
   * found so far: a real path, so the true hops are at most these; null then means "none found
   * before the budget ran out", not "none".
   */
  answer: SearchAnswer | null
  /** Addresses expanded (their histories read). */
  expanded: number
  /** False when `io.load` answered null (a fetch budget ran out) before the search finished. */
  complete: boolean
}

/**
 * The least hops of `direction` exposure of `targetHex` (hex40), with a witness, or null when no
 * path of at most `maxHops` transfers exists. `dust[assetId]` as in expandNodes.
 */
export async function searchExposure(direction: Direction, targetHex: string, maxHops: number, dust: readonly (bigint | undefined)[], io: SearchIo): Promise<SearchResult> {
  if (io.isSeed(targetHex)) return { answer: { hops: 0, seedHex: targetHex, steps: [] }, expanded: 0, complete: true }
  // The walk rule that runs from W: the mirror of the answer's direction.
  const rule: Direction = direction === 'downstream' ? 'upstream' : 'downstream'
  const labels = new Map<string, HopLabel[]>([[targetHex, [{ hops: 0, cost: SEED_COST[rule], key: '' }]]])
  const lists = new Map<string, Buffer>()
  const passable = new Map<string, boolean>()
  let best = Number.POSITIVE_INFINITY
  let frontier = new Set<string>([targetHex])
  let expanded = 0
  let complete = true
  while (frontier.size > 0) {
    // A label with h hops offers h + 1: worth expanding only below the best answer so far.
    const bound = Math.min(maxHops, best - 1)
    const batch = [...frontier].filter((hex) => !io.isSeed(hex) && labels.get(hex)!.some((l) => l.hops < bound)).sort()
    frontier = new Set()
    const unknown = batch.filter((hex) => !passable.has(hex))
    if (unknown.length > 0) {
      const loaded = await io.load(unknown)
      if (loaded === null) {
        complete = false
        break
      }
      for (const n of loaded) {
        passable.set(n.hex, n.passable)
        const { out, in: inn } = splitNode(n.node)
        lists.set(n.hex, rule === 'downstream' ? out : inn)
      }
    }
    const nodes = batch
      .filter((hex) => hex === targetHex || passable.get(hex) === true)
      .map((hex) => ({ hex, labels: labels.get(hex)!, adjacency: lists.get(hex) ?? Buffer.alloc(0) }))
    expanded += nodes.length
    for (const candidate of expandNodes(rule, bound, nodes, dust)) {
      const outcome = offer(labels, candidate)
      if (outcome === null) continue
      if (io.isSeed(candidate.hex)) best = Math.min(best, candidate.hops)
      else if (outcome === 'new' && candidate.hops < maxHops) frontier.add(candidate.hex)
    }
  }
  if (!Number.isFinite(best)) return { answer: null, expanded, complete }
  // Among the seeds at the least hops, the smallest address (a deterministic witness).
  const seedHex = [...labels.keys()].filter((hex) => io.isSeed(hex) && labels.get(hex)!.some((l) => l.hops === best)).sort()[0]!
  const steps = witness(rule, targetHex, seedHex, best, labels, lists, complete)
  // An incomplete search's labels are real paths too, but a label it had not expanded yet may
  // shorten the witness below `best`: the path is what it reports.
  return { answer: { hops: steps.length, seedHex, steps }, expanded, complete }
}

/** The relax script's rule (store/lua/relax.lua) in memory: 'new' kept (expand again), 'same' replaced an equal label with a larger key, null dominated. */
function offer(labels: Map<string, HopLabel[]>, c: Candidate): 'new' | 'same' | null {
  const list = labels.get(c.hex) ?? []
  let sameCost = false
  for (const l of list) {
    if (l.hops <= c.hops && l.cost <= c.cost) {
      if (l.hops === c.hops && l.cost === c.cost && c.key < l.key) sameCost = true
      else return null
    }
  }
  const kept = list.filter((l) => !(c.hops <= l.hops && c.cost <= l.cost))
  kept.push({ hops: c.hops, cost: c.cost, key: c.key })
  labels.set(c.hex, kept)
  return sameCost ? 'same' : 'new'
}

/** From the seed back to W along the labels' keys; the steps in path order (seed → W downstream, W → seed upstream). */
function witness(rule: Direction, targetHex: string, seedHex: string, hops: number, labels: ReadonlyMap<string, HopLabel[]>, lists: ReadonlyMap<string, Buffer>, strict = true): SearchStep[] {
  const fail = (why: string): never => {
    throw new BaseError('INTERNAL', `on-demand witness of 0x${targetHex} from seed 0x${seedHex}: ${why}`, { value: `0x${targetHex}` })
  }
  const steps: SearchStep[] = []
  let hex = seedHex
  let label = labels.get(seedHex)!.filter((l) => l.hops === hops).sort((a, b) => a.cost - b.cost)[0]!
  while (label.hops > 0) {
    const next = keyNeighbour(label.key)
    const list = lists.get(next) ?? fail(`no list of 0x${next}`)
    const size = rule === 'downstream' ? OUT_SIZE : IN_SIZE
    const offset = findKeyed(list, size, label.key, hex)
    if (offset < 0) fail(`the record ${label.key.slice(40)} of 0x${next} is not in its list`)
    const record = list.subarray(offset, offset + size)
    // rule upstream (downstream answer): an in-record of `next`, transfer hex → next;
    // rule downstream (upstream answer): an out-record of `next`, transfer next → hex.
    steps.push(rule === 'upstream' ? { fromHex: hex, toHex: next, record } : { fromHex: next, toHex: hex, record })
    const limit = label.cost
    const fitting = (labels.get(next) ?? []).filter((l) => l.cost <= limit).sort((a, b) => a.hops - b.hops || a.cost - b.cost)[0]
    // Strict (a complete search): the fewest-hop label that fits has exactly one hop less.
    if (fitting === undefined || (strict ? fitting.hops !== label.hops - 1 : fitting.hops >= label.hops)) fail(`no label of 0x${next} with ${label.hops - 1} hops fits the path`)
    label = fitting!
    hex = next
  }
  if (hex !== targetHex || (strict ? steps.length !== hops : steps.length > hops)) fail(`the path ends at 0x${hex} after ${steps.length} steps`)
  return rule === 'upstream' ? steps : steps.reverse()
}
