/**
 * Whether an answer from the published walk still describes the store, and if not, why. Pure: the
 * answer script (store/lua/answer.lua) returns the walk's basis and the store's versions in one
 * atomic read; this compares them.
 */
import type { WalkParams } from './params.ts'
import type { WalkBasis } from './walk-runs.ts'

export type StaleKind = 'store' | 'transfers' | 'seeds' | 'labels' | 'parameters'

export interface StaleReason {
  kind: StaleKind
  detail: string
}

/** The store's versions at the time of an answer. */
export interface StoreVersions {
  storeId: string
  storeVersion: number
  labelsVersion: number
  seedVersion: number
}

/**
 * Reasons an answer from `basis` is stale now. `params`: the parameters the asking process is
 * configured with explicitly (flags or environment); a parameter left at its default is not
 * compared, so a walk run with `--hops 6` is not called stale by a process with default settings.
 */
export function staleReasons(basis: WalkBasis, now: StoreVersions, params: Partial<WalkParams> = {}): StaleReason[] {
  const reasons: StaleReason[] = []
  if (basis.storeId !== now.storeId) reasons.push({ kind: 'store', detail: 'the store was replaced after the walk (Redis lost its data, or the store was flushed)' })
  else if (basis.storeVersion !== now.storeVersion) reasons.push({ kind: 'transfers', detail: `transfers were committed after the walk (store version ${basis.storeVersion} → ${now.storeVersion})` })
  if (basis.seedVersion !== now.seedVersion) reasons.push({ kind: 'seeds', detail: `the seed set changed after the walk (version ${basis.seedVersion} → ${now.seedVersion})` })
  if (basis.labelsVersion !== now.labelsVersion) reasons.push({ kind: 'labels', detail: `service labels changed after the walk (version ${basis.labelsVersion} → ${now.labelsVersion})` })
  const differs: string[] = []
  for (const key of ['maxHops', 'stopCategories', 'counterpartyCap', 'dust'] as const) {
    const wanted = params[key]
    if (wanted === undefined) continue
    if (JSON.stringify(wanted) !== JSON.stringify(basis.params[key])) differs.push(`${key} ${JSON.stringify(basis.params[key])} → ${JSON.stringify(wanted)}`)
  }
  if (differs.length > 0) reasons.push({ kind: 'parameters', detail: `the configuration differs from the walk's parameters (${differs.join('; ')})` })
  return reasons
}
