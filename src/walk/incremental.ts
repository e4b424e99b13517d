/**
 * Incremental walks: bring the labels of the published walk to what a clean walk over the store
 * as it is now computes, expanding only what changed. Four kinds of change are followed:
 * seeds added or removed, new transfers (commits that only add: the chain grows), addresses that
 * became stop nodes (a stop-category label, or new transfers past the counterparty cap), and
 * addresses that stopped being stop nodes by label.
 *
 * When: `exposure trace --incremental`, after `seeds import|remove` and by rescans, if the
 * published walk (P:walk:current, walk-runs.ts) is a valid basis: the same walk parameters, the
 * same store (its id), and every commit since it one that only added transfers, with its change
 * log still in the store (P:changes:<version>: the addresses each commit changed). Otherwise (a
 * rollback removed transfers, other parameters) the walk is a clean one and says why.
 *
 * How (per direction, in runWalk's `start` hook, before any token is queued): the new run starts
 * from a copy of the published run's labels (the published walk keeps answering until the new run
 * is published), then:
 * 1. Invalidation. Every hop label names its predecessor (labels.ts), and at a fixpoint the
 *    predecessor holds a label with exactly one hop fewer. Following these links, every label
 *    whose chain ends in a removed seed, passes through an address that became a stop node (seeds
 *    always pass), or breaks, is deleted. Then the *boundary* goes on the frontier: every address
 *    with surviving labels that expands into an address that lost labels.
 * 2. Re-expansion: the labelled addresses whose transfers changed (a new out-transfer can extend a
 *    downstream label, a new in-transfer an upstream one) and those that stopped being stop nodes.
 * 3. Added seeds are offered the hop-0 label through the relax script.
 * Then the ordinary label-correcting walk runs from that frontier.
 *
 * Why this equals a clean walk, keys included: new transfers only add paths and labels only
 * improve under them, so every old label that is not deleted in step 1 is still a path of the new
 * graph; deleting exactly the labels that depended on what went away (a seed, or passing through
 * a new stop node) leaves labels that are paths of the new setting, non-dominated among the old
 * candidates and with the smallest key among them. Every label of the new fixpoint is offered by
 * its predecessor's label: a predecessor whose labels or transfers changed is expanded again (steps
 * 1-3, and the walk itself); one whose did not offered it in the old walk, where it was kept (and
 * survives) or lost to a label that was deleted, in which case the predecessor is on the boundary.
 * Keys name records by position and content, not by index, so inserting records leaves them valid.
 * Property-tested on random graphs with random sequences of all four kinds of change
 * (test/integration/incremental-changes.test.ts).
 */
import type { Redis } from 'ioredis'
import { execOrThrow, type GraphStore } from '../store/graph-store.ts'
import { IN_SIZE, OUT_SIZE, readPosition, splitNode } from '../store/records.ts'
import type { WalkState } from '../store/walk-state.ts'
import type { Address, Direction } from '../types.ts'
import { groupByPartition, mgetBufferByPartition } from '../store/partitions.ts'
import { formatLabels, parseLabels, SEED_COST, type HopLabel } from './labels.ts'
import { labelsDigest } from './labels-digest.ts'
import { walkParams, type WalkParams } from './params.ts'
import { runWalk, type WalkOptions, type WalkSummary } from './run-walk.ts'
import { readPublished, type WalkBasis } from './walk-runs.ts'
import { labelStops } from './run-walk.ts'

export { labelsDigest } from './labels-digest.ts'
export { walkParams, type WalkParams } from './params.ts'

export interface TraceSummary extends WalkSummary {
  mode: 'full' | 'incremental'
  /** Why the walk was a full one although an incremental one was asked for. */
  reason?: string
  added: number
  removed: number
  /** Labels deleted because their chain led to a removed seed, per direction. */
  invalidated: Partial<Record<Direction, number>>
  /** Addresses put back on the frontier around the invalidated region, per direction. */
  boundary: Partial<Record<Direction, number>>
  /** Labelled addresses expanded again because their transfers changed or they stopped being stop nodes, per direction. */
  reexpanded: Partial<Record<Direction, number>>
  /** What changed since the published walk (incremental walks): addresses with new transfers, new and former stop nodes. */
  changes: { touched: number; blocked: number; unblocked: number } | null
  /** Seconds spent before the walk proper: reading the labels, invalidating, the boundary, new seeds. */
  prepareSeconds: number
}

export type TraceOptions = Omit<WalkOptions, 'start'>

const CHUNK = 2_000

/** What changed since the published walk, for an incremental walk to follow. */
export interface WalkChanges {
  /** Addresses whose nodes changed: new transfers (they are re-expanded). hex40 */
  touched: Set<string>
  /** Addresses that became stop nodes (a stop-category label, or over the counterparty cap): labels through them go. hex40 */
  blocked: Set<string>
  /** Addresses that stopped being stop nodes by label (they are re-expanded). hex40 */
  unblocked: Set<string>
}

/**
 * Whether the published walk is a basis an incremental walk with these parameters can start from,
 * and what changed since: the same parameters and store, and every commit since it one that only
 * added transfers (a rollback removes paths an incremental walk cannot follow back), with its
 * change log still in the store.
 */
export async function incrementalEligibility(store: GraphStore, params: WalkParams): Promise<{ ok: true; basis: WalkBasis; changes: WalkChanges } | { ok: false; reason: string }> {
  const { redis, keys } = store
  const basis = await readPublished(redis, keys)
  if (basis === null) return { ok: false, reason: 'no complete walk is published in this store' }
  if (JSON.stringify(basis.params) !== JSON.stringify(params)) return { ok: false, reason: `walk parameters differ from the published walk's (${JSON.stringify(basis.params)})` }
  const [storeId, versionText] = await redis.hmget(keys.meta, 'storeId', 'version')
  if ((storeId ?? '') !== basis.storeId) return { ok: false, reason: 'the store is not the one the published walk read (Redis lost its data?)' }
  const version = Number(versionText ?? 0)
  const touched = new Set<string>()
  if (version !== basis.storeVersion) {
    const shrinking = new Set(await redis.smembers(keys.shrinkingVersions))
    for (let v = basis.storeVersion + 1; v <= version; v++) {
      if (shrinking.has(String(v))) return { ok: false, reason: `a rollback (store version ${v}) removed transfers since the published walk` }
      const log = await redis.getBuffer(keys.changes(v))
      if (log === null) return { ok: false, reason: `the change log of store version ${v} is gone` }
      for (let o = 0; o + 20 <= log.length; o += 20) touched.add(log.toString('hex', o, o + 20))
    }
  }
  const before = new Set((await redis.smembers(keys.walkCurrentStops)).map((a) => a.slice(2)))
  const now = new Set((await labelStops(redis, keys.labels, params.stopCategories)).map((a) => a.slice(2)))
  const blocked = new Set([...now].filter((a) => !before.has(a)))
  const unblocked = new Set([...before].filter((a) => !now.has(a)))
  // New transfers can push an address over the counterparty cap: it became a stop node (taking an
  // address that already was one counts nothing twice: no label passes through it).
  const list = [...touched]
  for (let i = 0; i < list.length; i += CHUNK) {
    const chunk = list.slice(i, i + CHUNK)
    const pipeline = redis.pipeline()
    for (const hex of chunk) pipeline.getrangeBuffer(keys.node(`0x${hex}` as Address), 0, 3)
    const replies = await execOrThrow(pipeline)
    chunk.forEach((hex, j) => {
      const head = replies[j] as Buffer
      if (head.length === 4 && head.readUInt32BE(0) > params.counterpartyCap) blocked.add(hex)
    })
  }
  return { ok: true, basis, changes: { touched, blocked, unblocked } }
}

/**
 * Deletes the labels whose witness chain leads to a removed seed (or nowhere) and answers, per
 * changed address, the labels it keeps (empty: none). Pure.
 *
 * @param labels every labelled address of one direction: hex40 → its labels
 * @param removed hex40 of the removed seeds
 */
export function invalidateLabels(labels: ReadonlyMap<string, readonly HopLabel[]>, removed: ReadonlySet<string>, blocked: ReadonlySet<string> = new Set()): { kept: Map<string, HopLabel[]>; invalidated: number } {
  // A label holds when its chain reaches a seed that stays, through no address that became a stop
  // node (its root, a seed, always passes); a broken chain does not hold.
  const valid = new Map<string, boolean>()
  const holds = (hex: string, label: HopLabel): boolean => {
    const memo = `${hex}/${label.hops}`
    const known = valid.get(memo)
    if (known !== undefined) return known
    let ok: boolean
    if (label.hops === 0) ok = !removed.has(hex)
    else {
      const predecessor = label.key.slice(0, 40)
      const parent = labels.get(predecessor)?.find((l) => l.hops === label.hops - 1)
      ok = parent !== undefined && (parent.hops === 0 || !blocked.has(predecessor)) && holds(predecessor, parent)
    }
    valid.set(memo, ok)
    return ok
  }
  const kept = new Map<string, HopLabel[]>()
  let invalidated = 0
  for (const [hex, list] of labels) {
    const keep = list.filter((l) => holds(hex, l))
    if (keep.length === list.length) continue
    invalidated += list.length - keep.length
    kept.set(hex, keep)
  }
  return { kept, invalidated }
}

/**
 * Counterparties of a node in the lists that expand into it (downstream its senders, upstream its
 * recipients), each with the cost bound a label needs to reach the node through them: downstream a
 * label (h, c) of sender X extends over X → Z only when c ≤ the position of a transfer X → Z (the
 * latest is the loosest bound); upstream a label of recipient Y extends over Z → Y only when
 * c ≤ −position (the earliest transfer is the loosest). Dust is ignored here: a looser bound
 * only puts an address on the frontier that then offers nothing new.
 */
function feeders(direction: Direction, node: Buffer | null): Map<string, number> {
  const { out, in: inn } = splitNode(node)
  const [list, size] = direction === 'downstream' ? [inn, IN_SIZE] : [out, OUT_SIZE]
  const found = new Map<string, number>()
  for (let offset = 0; offset < list.length; offset += size) {
    const neighbour = list.toString('hex', offset + 6, offset + 26)
    const position = readPosition(list, offset)
    const bound = direction === 'downstream' ? position : -position
    const previous = found.get(neighbour)
    if (previous === undefined || bound > previous) found.set(neighbour, bound)
  }
  return found
}

/**
 * Step 1 of the module comment for one direction: delete the labels that depend on removed seeds
 * and put the boundary on the frontier. Answers the counts.
 */
export async function invalidateRemoved(store: GraphStore, state: WalkState, direction: Direction, maxHops: number, removed: readonly Address[], blocked: ReadonlySet<string> = new Set()): Promise<{ invalidated: number; boundary: number }> {
  if (removed.length === 0 && blocked.size === 0) return { invalidated: 0, boundary: 0 }
  const { redis, keys } = store
  const labels = new Map<string, HopLabel[]>()
  for await (const batch of state.scanLabels(direction)) for (const [hex, text] of batch) labels.set(hex, parseLabels(text))
  const { kept, invalidated } = invalidateLabels(labels, new Set(removed.map((a) => a.slice(2))), blocked)
  if (kept.size === 0) return { invalidated, boundary: 0 }

  const boundary = new Map<string, number>()
  const affected = [...kept.keys()]
  for (let i = 0; i < affected.length; i += CHUNK) {
    const chunk = affected.slice(i, i + CHUNK)
    const nodes = await mgetBufferByPartition(redis, (hex) => keys.node(`0x${hex}` as Address), chunk)
    chunk.forEach((_, j) => {
      for (const [neighbour, bound] of feeders(direction, nodes[j] ?? null)) {
        const list = kept.get(neighbour) ?? labels.get(neighbour) ?? []
        const least = Math.min(...list.filter((l) => l.hops < maxHops && l.cost <= bound).map((l) => l.hops))
        if (Number.isFinite(least)) boundary.set(neighbour, Math.min(least, boundary.get(neighbour) ?? least))
      }
    })
  }
  // Before the walk's jobs start: a MULTI per partition's labels is as atomic as the one before.
  const write = redis.multi()
  for (const [p, indices] of groupByPartition(affected)) {
    const labelsKey = keys.walkLabels(state.runId, direction, p)
    const group = indices.map((i) => affected[i]!)
    const dropped = group.filter((hex) => kept.get(hex)!.length === 0)
    const rewritten = group.filter((hex) => kept.get(hex)!.length > 0)
    for (let i = 0; i < dropped.length; i += CHUNK) write.hdel(labelsKey, ...dropped.slice(i, i + CHUNK))
    for (let i = 0; i < rewritten.length; i += CHUNK) {
      write.hset(labelsKey, Object.fromEntries(rewritten.slice(i, i + CHUNK).map((hex) => [hex, formatLabels(kept.get(hex)!)])))
    }
  }
  await execOrThrow(write)
  await state.enqueue(direction, [...boundary])
  return { invalidated, boundary: boundary.size }
}

/** Puts the labelled ones of `hexes` on the frontier at their least hops (below maxHops); answers how many. */
async function requeue(store: GraphStore, state: WalkState, direction: Direction, maxHops: number, hexes: readonly string[]): Promise<number> {
  let queued = 0
  for (let i = 0; i < hexes.length; i += CHUNK) {
    const chunk = hexes.slice(i, i + CHUNK)
    const labels = await state.labelsOf(direction, chunk)
    const entries: [string, number][] = []
    chunk.forEach((hex, j) => {
      const least = Math.min(...labels[j]!.filter((l) => l.hops < maxHops).map((l) => l.hops))
      if (Number.isFinite(least)) entries.push([hex, least])
    })
    await state.enqueue(direction, entries)
    queued += entries.length
  }
  return queued
}

/** Step 2: the hop-0 label for each added seed, through the relax script (frontier included). */
export async function offerSeeds(state: WalkState, direction: Direction, maxHops: number, added: readonly Address[]): Promise<void> {
  await state.relax(
    direction,
    maxHops,
    added.map((a) => ({ hex: a.slice(2), hops: 0, cost: SEED_COST[direction], key: '' })),
  )
}

/**
 * Runs a walk. With `incremental`, and a published walk that is still a valid basis (see
 * {@link incrementalEligibility}), the new run starts from the published labels and walks only the
 * seed changes since; otherwise a clean walk runs (`reason` says why). Either way the run is
 * published only when it completes.
 */
export async function traceWalk(store: GraphStore, options: TraceOptions, mode: { incremental?: boolean } = {}): Promise<TraceSummary> {
  const { redis, keys } = store
  const params = walkParams(options)
  const eligibility = mode.incremental === true ? await incrementalEligibility(store, params) : ({ ok: false, reason: 'a full walk was asked for' } as const)
  const digest = eligibility.ok ? eligibility.basis.labelsDigest : await labelsDigest(redis, keys.labels)
  let added: Address[] = []
  let removed: Address[] = []
  const invalidated: Partial<Record<Direction, number>> = {}
  const boundary: Partial<Record<Direction, number>> = {}
  const reexpanded: Partial<Record<Direction, number>> = {}
  let diffed = false
  let prepareMs = 0

  const start = async (state: WalkState, seeds: readonly Address[], direction: Direction, published: WalkBasis | null): Promise<void> => {
    // The basis must still be the published run (another walk may have been published since).
    if (!eligibility.ok || published === null || published.runId !== eligibility.basis.runId) return state.reset(direction, seeds)
    const started = Date.now()
    if (!diffed) {
      const before = new Set((await redis.smembers(keys.walkCurrentSeeds)) as Address[])
      const now = new Set(seeds)
      added = seeds.filter((s) => !before.has(s)).sort()
      removed = [...before].filter((s) => !now.has(s)).sort()
      diffed = true
    }
    await state.copyLabelsFrom(published.runId, direction)
    const { touched, blocked, unblocked } = eligibility.changes
    // Seeds always pass: one that is also a stop node blocks nothing.
    const nowSeeds = new Set(seeds.map((s) => s.slice(2)))
    const blocking = new Set([...blocked].filter((hex) => !nowSeeds.has(hex)))
    const result = await invalidateRemoved(store, state, direction, options.maxHops, removed, blocking)
    invalidated[direction] = result.invalidated
    boundary[direction] = result.boundary
    // New transfers: their labelled endpoints expand again (an out-list grew downstream, an in-list
    // upstream); an address that stopped being a stop node expands for the first time.
    reexpanded[direction] = await requeue(store, state, direction, options.maxHops, [...new Set([...touched, ...unblocked])])
    await offerSeeds(state, direction, options.maxHops, added)
    prepareMs += Date.now() - started
  }

  const summary = await runWalk(store, { ...options, start, labelsDigest: digest })
  const result: TraceSummary = { ...summary, mode: eligibility.ok && diffed ? 'incremental' : 'full', added: added.length, removed: removed.length, invalidated, boundary, reexpanded, changes: eligibility.ok ? { touched: eligibility.changes.touched.size, blocked: eligibility.changes.blocked.size, unblocked: eligibility.changes.unblocked.size } : null, prepareSeconds: prepareMs / 1000 }
  if (!eligibility.ok && mode.incremental === true) result.reason = eligibility.reason
  return result
}

/**
 * After a change to the seed set: walks it incrementally with the published walk's parameters
 * when that walk is still a valid basis; answers null (and walks nothing) otherwise, with the reason.
 */
export async function updateWalkAfterSeedChange(
  store: GraphStore,
  options: Pick<WalkOptions, 'redisUrl' | 'batchSize' | 'workers' | 'concurrency' | 'onProgress' | 'signal' | 'onNote'>,
): Promise<{ summary: TraceSummary } | { summary: null; reason: string }> {
  const basis = await readPublished(store.redis, store.keys)
  if (basis === null) return { summary: null, reason: 'no complete walk is published in this store' }
  if (basis.source !== 'store') return { summary: null, reason: `the published walk read the ${basis.source} source; run 'exposure trace --source ${basis.source} --incremental'` }
  const eligibility = await incrementalEligibility(store, basis.params)
  if (!eligibility.ok) return { summary: null, reason: eligibility.reason }
  const dust = Object.fromEntries(Object.entries(basis.params.dust).map(([asset, min]) => [asset, BigInt(min)]))
  const summary = await traceWalk(
    store,
    {
      redisUrl: options.redisUrl,
      directions: basis.params.directions,
      maxHops: basis.params.maxHops,
      stopCategories: basis.params.stopCategories,
      counterpartyCap: basis.params.counterpartyCap,
      dust,
      batchSize: options.batchSize,
      workers: options.workers,
      concurrency: options.concurrency,
      ...(basis.sourceThrough === null ? {} : { source: { name: 'store' as const, throughBlock: basis.sourceThrough, assets: '', method: '' } }),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.onNote ? { onNote: options.onNote } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    },
    { incremental: true },
  )
  return { summary }
}
