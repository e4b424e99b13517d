import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { BaseError } from '../errors.ts'
import type { GraphStore } from '../store/graph-store.ts'
import { createWalkState, type WalkState } from '../store/walk-state.ts'
import { addWalkTokens, createWalkQueue, initialJobId, type WalkJobData } from '../queues/walk-queue.ts'
import type { Address, Direction } from '../types.ts'
import { startWalkWorker } from '../../workers/walk.ts'
import { recordStoreSource } from '../sources/walk-source.ts'
import type { BeforeExpand } from './walk-job.ts'

export interface WalkOptions {
  redisUrl: string
  directions: readonly Direction[]
  maxHops: number
  batchSize: number
  stopCategories: readonly string[]
  counterpartyCap: number
  dust: Readonly<Record<string, bigint>>
  /** In-process workers to start for this walk; 0 = rely on separate `exposure worker` processes. */
  workers: number
  concurrency: number
  /** Called about ten times a second while the walk runs. */
  onProgress?: (progress: WalkProgress) => void
  /** Give up after this long with no progress (ms). Default 120 s. */
  idleTimeoutMs?: number
  /**
   * How the walk starts from the current state. Default: a clean walk (each direction's labels
   * reset, every seed at hop 0 on the frontier). An incremental walk (walk/incremental.ts) instead
   * keeps the labels and puts only what changed on the frontier; the label-correcting search then
   * reaches the same fixpoint as a clean walk.
   */
  start?: (state: WalkState, seeds: readonly Address[], direction: Direction) => Promise<void>
  /**
   * Lazy-history hook for the in-process workers (src/sources/lazy-history.ts). Default none.
   * Without one the walk is a store walk and records source 'store' in the walk meta itself (seed
   * changes' incremental walks, the demo, …), so that separate `exposure worker` processes never
   * fetch for it with the source of an earlier lazy walk; with one, the caller records its source
   * (sources/walk-source.ts prepareWalkSource, as `exposure trace --source` does).
   */
  beforeExpand?: BeforeExpand
}

export interface WalkProgress {
  labelled: Record<Direction, number>
  frontier: number
  active: number
}

export interface WalkSummary {
  runId: string
  seconds: number
  labelled: Record<Direction, number>
  seeds: number
}

const POLL_MS = 25
const LOCK_MS = 30_000

/**
 * Runs a walk to completion: resets the directions' labels, puts the seeds on the frontier, adds
 * the first tokens, and watches until no job is waiting or running and the frontier is empty.
 * It is also the walk's watchdog: if the queue is idle while work is left (a token lost with a
 * job that failed for good), it puts claimed addresses back and adds a token.
 */
export async function runWalk(store: GraphStore, options: WalkOptions): Promise<WalkSummary> {
  const redis: Redis = store.redis
  const keys = store.keys
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`
  // The lock expires unless the coordinator keeps renewing it: a coordinator that died frees the
  // store within LOCK_MS.
  const lock = await redis.set(keys.walkLock, runId, 'PX', LOCK_MS, 'NX')
  if (lock !== 'OK') throw new BaseError('WALK_BUSY', `a walk is already running on store ${keys.prefix} (lock ${keys.walkLock}); wait for it to finish (a lock whose coordinator died expires within ${LOCK_MS / 1000} s)`, { value: keys.walkLock })
  let lockRenewedAt = Date.now()
  const startedAt = Date.now()
  const state = createWalkState(redis, keys)
  const queueConnection = redis.duplicate({ maxRetriesPerRequest: null })
  const queue = createWalkQueue(queueConnection, keys.queuePrefix)
  const workers = Array.from({ length: options.workers }, () => startWalkWorker({ redisUrl: options.redisUrl, prefix: keys.prefix, concurrency: options.concurrency, ...(options.beforeExpand ? { beforeExpand: options.beforeExpand } : {}) }))
  try {
    const seeds = (await redis.hkeys(keys.seeds)) as Address[]
    const dust = Object.fromEntries(Object.entries(options.dust).map(([asset, min]) => [asset, min.toString()]))
    const jobData = (direction: Direction): WalkJobData => ({
      runId,
      direction,
      maxHops: options.maxHops,
      batchSize: options.batchSize,
      stopCategories: [...options.stopCategories],
      counterpartyCap: options.counterpartyCap,
      dust,
    })
    await queue.clean(0, 0, 'failed')
    if (!options.beforeExpand) await recordStoreSource(store)
    await redis.hset(keys.walkMeta, {
      runId,
      status: 'running',
      startedAt: new Date(startedAt).toISOString(),
      directions: options.directions.join(','),
      params: JSON.stringify({ ...jobData('downstream'), direction: undefined }),
      storeVersion: (await redis.hget(keys.meta, 'lastImport')) ?? '',
    })
    await redis.hdel(keys.walkMeta, 'finishedAt')
    for (const direction of options.directions) {
      if (options.start) await options.start(state, seeds, direction)
      else await state.reset(direction, seeds)
    }
    const tokens = Math.max(1, options.workers * options.concurrency)
    for (const direction of options.directions) {
      await addWalkTokens(queue, jobData(direction), Array.from({ length: tokens }, (_, i) => initialJobId(runId, direction, i)))
    }

    let watchdogTokens = 0
    let lastChange = Date.now()
    let lastSignature = ''
    for (;;) {
      await sleep(POLL_MS)
      if (Date.now() - lockRenewedAt > LOCK_MS / 3) {
        if ((await redis.get(keys.walkLock)) !== runId) throw new BaseError('WALK_FAILED', `lost the walk lock ${keys.walkLock} (another coordinator took over?)`, { value: keys.walkLock })
        await redis.pexpire(keys.walkLock, LOCK_MS)
        lockRenewedAt = Date.now()
      }
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed')
      const failed = counts.failed ?? 0
      if (failed > 0) {
        const [job] = await queue.getFailed(0, 0)
        throw new BaseError('WALK_FAILED', `walk job failed for good: ${job?.failedReason ?? 'unknown reason'}`, { value: job?.id ?? '' })
      }
      const busy = (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0) + (counts['waiting-children'] ?? 0)
      const labelled = {} as Record<Direction, number>
      let frontier = 0
      let claims = 0
      for (const direction of options.directions) {
        labelled[direction] = await state.labelCount(direction)
        const pending = await state.pending(direction)
        frontier += pending.frontier
        claims += pending.claims
      }
      options.onProgress?.({ labelled, frontier, active: counts.active ?? 0 })
      const signature = `${JSON.stringify(labelled)}/${frontier}/${claims}/${busy}`
      if (signature !== lastSignature) {
        lastSignature = signature
        lastChange = Date.now()
      } else if (Date.now() - lastChange > (options.idleTimeoutMs ?? 120_000)) {
        throw new BaseError('WALK_FAILED', `walk made no progress for ${Math.round((Date.now() - lastChange) / 1000)} s (${busy} jobs queued or running, frontier ${frontier}); are workers running? (start them with 'exposure worker')`)
      }
      if (busy > 0) continue
      if (frontier === 0 && claims === 0) {
        const finishedAt = Date.now()
        await redis.hset(keys.walkMeta, { status: 'complete', finishedAt: new Date(finishedAt).toISOString() })
        return { runId, seconds: (finishedAt - startedAt) / 1000, labelled, seeds: seeds.length }
      }
      // Idle but work left: a token was lost with a job that failed for good. Recover.
      for (const direction of options.directions) {
        await state.reclaimOrphans(direction)
        const pending = await state.pending(direction)
        if (pending.frontier > 0) await addWalkTokens(queue, jobData(direction), [`${runId}-${direction}-watchdog-${watchdogTokens++}`])
      }
    }
  } catch (error) {
    await redis.hset(keys.walkMeta, { status: 'failed' }).catch(() => undefined)
    throw error
  } finally {
    await Promise.all(workers.map((w) => w.close()))
    await queue.close()
    queueConnection.disconnect()
    if ((await redis.get(keys.walkLock)) === runId) await redis.del(keys.walkLock)
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
