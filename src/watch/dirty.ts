/**
 * Which watched wallets an incremental walk can have changed the answer of (the others are
 * recorded on the new basis without asking the checker). An answer (walk/check.ts) is a function of:
 *   - the wallet's hop labels and those along its witness chains (hops, seed, the path);
 *   - its own transfers (exposed value, last sent: the risk's materiality);
 *   - its counterparties' labels and passability (stop nodes), for the exposed value;
 *   - its seed's record (the evidence's label and source).
 * So a wallet is dirty when its own labels changed, or a label of any address on one of its old
 * label chains changed, or its node changed (new transfers), or it or a counterparty of an address
 * whose labels or stop status changed is it, or its seed changed. Everything is read before the
 * walk (the published labels, the change logs) and after it (the new labels).
 */
import type { GraphStore } from '../store/graph-store.ts'
import { IN_SIZE, OUT_SIZE, splitNode } from '../store/records.ts'
import { mgetBufferByPartition, PARTITIONS } from '../store/partitions.ts'
import type { Address, Direction } from '../types.ts'
import { incrementalEligibility } from '../walk/incremental.ts'
import { parseLabels } from '../walk/labels.ts'
import type { WalkBasis } from '../walk/walk-runs.ts'

export interface LabelSnapshot {
  runId: string
  /** The seed-set version the published walk started from. */
  seedVersion: number
  directions: Direction[]
  labels: Map<Direction, Map<string, string>>
  /** hex40 of addresses with new transfers, and of new and former stop nodes, since the published walk. */
  touched: Set<string>
  stopsChanged: Set<string>
}

async function readLabels(store: GraphStore, runId: string, direction: Direction): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (let p = 0; p < PARTITIONS; p++) {
    let cursor = '0'
    do {
      const [next, flat] = await store.redis.hscan(store.keys.walkLabels(runId, direction, p), cursor, 'COUNT', 10_000)
      cursor = next
      for (let i = 0; i < flat.length; i += 2) out.set(flat[i]!, flat[i + 1]!)
    } while (cursor !== '0')
  }
  return out
}

/** Before the walk: the published labels and what changed since (null: no basis to diff against). */
export async function snapshotBefore(store: GraphStore, published: WalkBasis): Promise<LabelSnapshot | null> {
  const eligibility = await incrementalEligibility(store, published.params)
  if (!eligibility.ok) return null
  const labels = new Map<Direction, Map<string, string>>()
  for (const d of published.directions) labels.set(d, await readLabels(store, published.runId, d))
  const { touched, blocked, unblocked } = eligibility.changes
  return { runId: published.runId, seedVersion: published.seedVersion, directions: [...published.directions], labels, touched: new Set(touched), stopsChanged: new Set([...blocked, ...unblocked]) }
}

/**
 * After an incremental walk published `runId`: the hex40 of the addresses whose answers may differ
 * (see the module comment), restricted to `watched` and its label chains. `changedSeeds`: seeds
 * added, removed or updated between the two seed-set versions.
 */
export async function dirtyAfter(store: GraphStore, before: LabelSnapshot, runId: string, watched: readonly Address[], changedSeeds: ReadonlySet<string>): Promise<Set<string>> {
  const changed = new Set<string>()
  for (const d of before.directions) {
    const old = before.labels.get(d)!
    const now = await readLabels(store, runId, d)
    for (const [hex, text] of now) if (old.get(hex) !== text) changed.add(hex)
    for (const hex of old.keys()) if (!now.has(hex)) changed.add(hex)
  }
  // Counterparties of every address whose labels or stop status changed: their exposed value may move.
  const near = new Set<string>()
  const sources = [...new Set([...changed, ...before.stopsChanged])]
  for (let i = 0; i < sources.length; i += 2_000) {
    const chunk = sources.slice(i, i + 2_000)
    const nodes = await mgetBufferByPartition(store.redis, (hex) => store.keys.node(`0x${hex}` as Address), chunk)
    for (const node of nodes) {
      const { out, in: inn } = splitNode(node)
      for (let o = 0; o + OUT_SIZE <= out.length; o += OUT_SIZE) near.add(out.toString('hex', o + 6, o + 26))
      for (let o = 0; o + IN_SIZE <= inn.length; o += IN_SIZE) near.add(inn.toString('hex', o + 6, o + 26))
    }
  }
  const dirty = new Set<string>()
  for (const address of watched) {
    const hex = address.slice(2)
    if (changed.has(hex) || near.has(hex) || before.touched.has(hex) || before.stopsChanged.has(hex) || chainTouches(before, hex, changed, changedSeeds)) dirty.add(hex)
  }
  return dirty
}

/** Whether any address on any of `hex`'s old label chains (any direction) changed, or its root is a changed seed. */
function chainTouches(before: LabelSnapshot, hex: string, changed: ReadonlySet<string>, changedSeeds: ReadonlySet<string>): boolean {
  for (const d of before.directions) {
    const labels = before.labels.get(d)!
    const stack: { hex: string; hops: number }[] = parseLabels(labels.get(hex)).map((l) => ({ hex, hops: l.hops }))
    const seen = new Set<string>()
    while (stack.length > 0) {
      const { hex: at, hops } = stack.pop()!
      const memo = `${at}/${hops}`
      if (seen.has(memo)) continue
      seen.add(memo)
      if (changed.has(at)) return true
      if (hops === 0) {
        if (changedSeeds.has(at)) return true
        continue
      }
      for (const label of parseLabels(labels.get(at))) {
        if (label.hops !== hops) continue
        stack.push({ hex: label.key.slice(0, 40), hops: hops - 1 })
      }
    }
  }
  return false
}
