import type { Address, Asset } from '../types.ts'
import type { WalkState } from '../store/walk-state.ts'
import type { WalkJobData } from '../queues/walk-queue.ts'
import { expandNodes } from './expand.ts'

/** Called with a job's claimed addresses before they are described and expanded. */
export type BeforeExpand = (addresses: readonly Address[]) => Promise<unknown>

export interface WalkJobResult {
  claimed: number
  expanded: number
  candidates: number
  changed: number
  queued: number
}

/**
 * One walk job: claim a batch of frontier addresses (from the active partitions, one partition per
 * claim), expand the passable ones (a seed, or not a stop node: no stop-category label and no more
 * counterparties than the cap), offer the candidates to their addresses (grouped by the target's
 * partition), release the claims. `recover`: the job runs again after a crash or failure, and first
 * takes back what it had claimed.
 */
export async function runWalkJob(state: WalkState, loadAssets: () => Promise<readonly Asset[]>, data: WalkJobData, jobId: string, beforeExpand?: BeforeExpand, { recover = false } = {}): Promise<WalkJobResult> {
  const { direction, maxHops } = data
  const claims = await state.claim(direction, jobId, data.batchSize, { recover })
  // null: the run was interrupted or replaced; the job ends without writing anything.
  if (claims === null || claims.length === 0) return { claimed: 0, expanded: 0, candidates: 0, changed: 0, queued: 0 }
  const claimed = claims.flatMap((c) => c.hexes)
  // Lazy-history hook (src/sources/lazy-history.ts): per-address sources write the claimed
  // addresses' transfers into the store before they are read. Without a hook nothing changes.
  if (beforeExpand) await beforeExpand(claimed.map((hex) => `0x${hex}` as Address))
  const stop = new Set(data.stopCategories)
  const nodes = await state.describe(direction, claimed)
  const passable = nodes.filter(
    (n) => n.labels.some((l) => l.hops < maxHops) && (n.isSeed || ((n.category === null || !stop.has(n.category)) && n.counterparties <= data.counterpartyCap)),
  )
  const lists = await state.adjacency(direction, passable)
  // Read after the lazy fetch: the first history of a token interns it into the asset table, and
  // its dust floor must apply from its first record on.
  const assets = await loadAssets()
  const dust = assets.map((asset) => (data.dust[asset] === undefined ? undefined : BigInt(data.dust[asset])))
  const expandable = passable.map((n, i) => ({ hex: n.hex, labels: n.labels, adjacency: lists[i]! }))
  const candidates = expandNodes(direction, maxHops, expandable, dust)
  const { changed, queued } = await state.relax(direction, maxHops, candidates)
  await state.release(direction, jobId, claims)
  return { claimed: claimed.length, expanded: expandable.length, candidates: candidates.length, changed, queued }
}
