import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { BaseError, isExposureError } from '../errors.ts'
import type { GraphStore } from '../store/graph-store.ts'
import { describeHolder } from '../store/holder.ts'
import { acquireLock } from '../store/locks.ts'
import { callScript } from '../store/scripts.ts'
import { clusterEpoch, failedOver, replicate } from '../store/durability.ts'
import { failpoint } from '../failpoints.ts'
import { createWalkState, type WalkState } from '../store/walk-state.ts'
import { addWalkTokens, createWalkQueue, initialJobId, type WalkJobData } from '../queues/walk-queue.ts'
import type { Address, Direction } from '../types.ts'
import { startWalkWorker } from '../queues/workers/walk.ts'
import { isConnectionError, quietDuplicate, scanKeys, unlinkKeys } from '../store/redis.ts'
import { storeSourceChoice } from '../sources/walk-source.ts'
import { labelsDigest } from './labels-digest.ts'
import { walkParams } from './params.ts'
import type { BeforeExpand } from './walk-job.ts'
import { cleanUpDeadRun, clearWalkGuards, dropRun, freeRunKeys, readPublished, setWalkGuards, sweepRuns, type WalkBasis } from './walk-runs.ts'

/** Where a walk reads expanded addresses' transfers, and the blocks its answers cover. */
export interface WalkSourceChoice {
  name: 'store' | 'rpc' | 'etherscan'
  /** Last block the answers cover; null: etl imports only. */
  throughBlock: number | null
  /** Listed tokens the lazy source fetches (comma-separated), '' for store walks. */
  assets: string
  /** Per-address lookup method of an rpc source ('trace_filter' | 'ots'), '' otherwise. */
  method: string
  /** The final block ranges the answers rest on, "from-to,from-to" ('' unknown or none): the synced ranges of a store walk. */
  coverage?: string
}

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
  /** Called with one line when something worth telling happens (a dead run cleaned up, waiting for a commit). */
  onNote?: (note: string) => void
  /** Give up after this long with no progress (ms). Default 120 s. */
  idleTimeoutMs?: number
  /**
   * How the run starts. Default: a clean walk (each direction's labels empty, every seed at hop 0 on
   * the frontier). An incremental walk (walk/incremental.ts) instead copies the published run's
   * labels and puts only what changed on the frontier; the label-correcting search then reaches
   * the same fixpoint as a clean walk.
   */
  start?: (state: WalkState, seeds: readonly Address[], direction: Direction, published: WalkBasis | null) => Promise<void>
  /** Lazy-history hook for the in-process workers (src/sources/lazy-history.ts). Default none. */
  beforeExpand?: BeforeExpand
  /** The source and its block range, recorded with the run for its workers and its answers. Default: the store. */
  source?: WalkSourceChoice
  /** The digest of the labels' categories the run starts with (computed when not given). */
  labelsDigest?: string
  /** Stops the walk: it is recorded as interrupted, its jobs drained, the published walk untouched. */
  signal?: AbortSignal
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
  /** The run this one replaced as the published walk ('' when none). */
  previousRunId: string
}

const POLL_MS = 25
/** How often a busy walk's coordinator sums the partitions' sizes. */
const COUNT_MS = 250
const LOCK_MS = 15_000

/**
 * Runs a walk to completion and publishes it: takes the walk lock (at once from a coordinator that
 * died), starts a new run, adds the first tokens, and watches until no job is waiting or running
 * and the frontier is empty; then publishes the run atomically. It is also the walk's watchdog: if
 * the queue is idle while work is left (a token lost with a job that failed for good), it puts
 * claimed addresses back and adds a token. A walk over an empty or vanished store fails; an
 * interrupted one (signal) is recorded as such. Either way the published walk stays as it was.
 */
export async function runWalk(store: GraphStore, options: WalkOptions): Promise<WalkSummary> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runWalkOnce(store, options)
    } catch (error) {
      if (!isExposureError(error, 'FAILED_OVER') || attempt >= MAX_FAILOVER_RESTARTS) throw error
      options.onNote?.(`${error.shortMessage}; the walk starts again (the published walk is unchanged)`)
    }
  }
}

/** How often a walk starts again after failovers before it gives up. */
const MAX_FAILOVER_RESTARTS = 3
/** How often the coordinator asks a cluster whether it failed over (ms). */
const EPOCH_CHECK_MS = 1_000

async function runWalkOnce(store: GraphStore, options: WalkOptions): Promise<WalkSummary> {
  const redis: Redis = store.redis
  const keys = store.keys
  const holder = await store.holder()
  const lock = await acquireLock(redis, keys.walkLock, holder, { ttlMs: LOCK_MS, busyCode: 'WALK_BUSY', purpose: `a walk on store ${keys.prefix}` })
  const queueConnection = quietDuplicate(redis, { maxRetriesPerRequest: null })
  const queue = createWalkQueue(queueConnection, keys.queuePrefix)
  const drainJobs = async () => {
    await queue.drain(true)
    await queue.clean(0, 0, 'failed')
  }
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`
  const startedAt = Date.now()
  let started = false
  let workers: ReturnType<typeof startWalkWorker>[] = []
  let failed = false
  try {
    const cleaned = await cleanUpDeadRun(store, drainJobs)
    if (cleaned !== null) options.onNote?.(`walk ${cleaned} was interrupted (its coordinator is gone); its partial labels were dropped`)
    const swept = (await sweepRuns(redis, keys, '')).filter((r) => r !== cleaned)
    if (swept.length > 0) options.onNote?.(`freed the keys of ${swept.length === 1 ? 'walk' : 'walks'} ${swept.join(', ')}, left behind by a coordinator that stopped before it freed them`)
    // A commit being applied right now must finish first: a walk starts on a whole store.
    const writer = await store.imports.lockWriter({ onWait: (h) => options.onNote?.(`waiting for ${describeHolder(h)} to finish writing the store`) })
    try {
      await store.imports.finishDeadCommits(null, options.onNote)
    } finally {
      await writer.release()
    }
    const source: WalkSourceChoice = options.source ?? (await storeSourceChoice(store))
    const [storeIdNow, transfersNow] = await redis.hmget(keys.meta, 'storeId', 'transfers')
    // A store walk needs transfers; a lazy one (a beforeExpand hook) fetches them as it goes.
    if (source.name === 'store' && options.beforeExpand === undefined && (storeIdNow === null || Number(transfersNow ?? 0) === 0)) {
      throw new BaseError('WALK_FAILED', `store ${keys.prefix} holds no transfers: import some (exposure import) or sync a node (exposure sync) first, or walk a live source (--source rpc|etherscan)`, { field: 'transfers', value: '0' })
    }
    if (storeIdNow === null) await redis.hsetnx(keys.meta, 'storeId', randomBytes(6).toString('hex'))
    const [storeId, storeVersion, labelsVersion] = await redis.hmget(keys.meta, 'storeId', 'version', 'labelsVersion')
    const seedVersion = (await redis.get(keys.seedVersion)) ?? '0'
    const seeds = (await redis.hkeys(keys.seeds)) as Address[]
    const digest = options.labelsDigest ?? (await labelsDigest(redis, keys.labels))
    const params = walkParams(options)
    const dust = Object.fromEntries(Object.entries(options.dust).map(([asset, min]) => [asset, min.toString()]))
    const jobData = (direction: Direction): WalkJobData => ({ runId, direction, maxHops: options.maxHops, batchSize: options.batchSize, stopCategories: [...options.stopCategories], counterpartyCap: options.counterpartyCap, dust })
    await drainJobs()
    const start = redis.multi()
    start.del(keys.walkMeta)
    start.hset(keys.walkMeta, {
      runId,
      status: 'running',
      holder: JSON.stringify(holder),
      startedAt: new Date(startedAt).toISOString(),
      directions: options.directions.join(','),
      params: JSON.stringify({ ...jobData('downstream'), direction: undefined }),
      storeId: storeId ?? '',
      storeVersion: storeVersion ?? '0',
      source: source.name,
      sourceThrough: source.throughBlock === null ? '' : String(source.throughBlock),
      sourceAssets: source.assets,
      sourceMethod: source.method,
      sourceCoverage: source.coverage ?? '',
    })
    // Registered before any of the run's keys exist, so whatever it leaves behind can be found.
    start.sadd(keys.walkRuns, runId)
    setWalkGuards(start, keys, runId)
    if (seeds.length > 0) start.sadd(keys.walkRunSeeds(runId), ...seeds)
    const stops = await labelStops(redis, keys.labels, options.stopCategories)
    for (let i = 0; i < stops.length; i += 10_000) start.sadd(keys.walkRunStops(runId), ...stops.slice(i, i + 10_000))
    // A failover cuts what the walk wrote since the replica last caught up: read the cluster's
    // epoch now, and watch it (durability.ts).
    const epoch = await clusterEpoch(redis)
    let epochCheckedAt = Date.now()
    const assertNoFailover = async () => {
      epochCheckedAt = Date.now()
      if (await failedOver(redis, epoch)) throw new BaseError('FAILED_OVER', `a Redis master failed over during walk ${runId}: labels it wrote may be lost`, { value: runId })
    }
    await start.exec()
    started = true
    const published = await readPublished(redis, keys)
    const state = createWalkState(redis, keys, runId)
    for (const direction of options.directions) {
      if (options.start) await options.start(state, seeds, direction, published)
      else await state.reset(direction, seeds)
    }
    workers = Array.from({ length: options.workers }, () => startWalkWorker({ redisUrl: options.redisUrl, prefix: keys.prefix, concurrency: options.concurrency, ...(options.beforeExpand ? { beforeExpand: options.beforeExpand } : {}) }))
    const tokens = Math.max(1, options.workers * options.concurrency)
    for (const direction of options.directions) {
      await addWalkTokens(queue, jobData(direction), Array.from({ length: tokens }, (_, i) => initialJobId(runId, direction, i)))
    }

    let watchdogTokens = 0
    let lastCounted = 0
    const lastLabelled = { downstream: 0, upstream: 0 } as Record<Direction, number>
    const lastFrontier = { downstream: 0, upstream: 0 } as Record<Direction, number>
    const lastClaims = { downstream: 0, upstream: 0 } as Record<Direction, number>
    let lastChange = Date.now()
    let lastSignature = ''
    for (;;) {
      await sleep(POLL_MS)
      if (options.signal?.aborted) throw new BaseError('INTERRUPTED', `walk ${runId} interrupted; the published walk is unchanged`, { value: runId })
      lock.assertHeld()
      let counts: Record<string, number>
      const labelled = {} as Record<Direction, number>
      let frontier = 0
      let claims = 0
      try {
        const [meta, storeIdNow2] = await Promise.all([redis.hmget(keys.walkMeta, 'runId', 'status'), redis.hget(keys.meta, 'storeId')])
        if (storeIdNow2 !== storeId) throw new BaseError('STORE_VANISHED', `the store vanished during walk ${runId} (Redis restarted without persistence, or the store was flushed): the walk cannot complete; import and walk again`, { value: keys.prefix })
        if (meta[0] !== runId || meta[1] !== 'running') throw new BaseError('WALK_FAILED', `walk ${runId} was replaced or stopped by another process (the walk meta now says ${meta[0] ?? 'nothing'}: ${meta[1] ?? 'no status'})`, { value: runId })
        if (Date.now() - epochCheckedAt > EPOCH_CHECK_MS) await assertNoFailover()
        counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed')
        // The partitions' sizes (768 commands a direction): every poll once the queue is idle (the
        // walk may be complete), otherwise a few times a second for progress and repairs.
        const idle = busyOf(counts) === 0
        if (idle || Date.now() - lastCounted >= COUNT_MS) {
          lastCounted = Date.now()
          for (const direction of options.directions) {
            const sizes = await state.partitionCounts(direction)
            lastLabelled[direction] = sizes.labelled
            lastFrontier[direction] = sum(sizes.frontier)
            lastClaims[direction] = sum(sizes.claims)
            await state.repairActive(direction, sizes.frontier)
          }
        }
        for (const direction of options.directions) {
          labelled[direction] = lastLabelled[direction]
          frontier += lastFrontier[direction]
          claims += lastClaims[direction]
        }
      } catch (error) {
        // Redis restarting (with its data) is ridden out; the process-wide outage guard ends the
        // command if it does not come back (store/redis.ts).
        if (isConnectionError(error)) continue
        throw error
      }
      if ((counts.failed ?? 0) > 0) {
        const [job] = await queue.getFailed(0, 0)
        throw new BaseError('WALK_FAILED', `walk job failed for good: ${job?.failedReason ?? 'unknown reason'}`, { value: job?.id ?? '' })
      }
      const busy = busyOf(counts)
      options.onProgress?.({ labelled, frontier, active: counts.active ?? 0 })
      const signature = `${JSON.stringify(labelled)}/${frontier}/${claims}/${busy}`
      if (signature !== lastSignature) {
        lastSignature = signature
        lastChange = Date.now()
      } else if (Date.now() - lastChange > (options.idleTimeoutMs ?? 120_000)) {
        throw new BaseError('WALK_FAILED', `walk made no progress for ${Math.round((Date.now() - lastChange) / 1000)} s: ${await whyIdle(queue, busy, frontier)}`, { value: runId })
      }
      if (busy > 0) continue
      if (frontier === 0 && claims === 0) {
        const finishedAt = new Date().toISOString()
        const assets = await store.loadAssets()
        const dustIds = assets.flatMap((asset, id) => (options.dust[asset] === undefined ? [] : [`${id}=${amountHex(options.dust[asset]!)}`])).join(',')
        let previousRunId: string
        failpoint('walk:before-publish')
        // Every label durable before the run is published, and none cut by a failover (durability.ts).
        await replicate(redis, keys.durabilityKeys)
        await assertNoFailover()
        try {
          // No job runs now (busy 0, nothing claimed): from here on no job may write into this
          // run, which is about to become the published walk.
          await clearWalkGuards(redis, keys, runId)
          previousRunId = (await publish(redis, keys, runId, storeId ?? '', finishedAt, source.name !== 'store' || options.beforeExpand !== undefined, {
            directions: options.directions.join(','),
            params: JSON.stringify(params),
            storeId: storeId ?? '',
            storeVersion: storeVersion ?? '0',
            seedVersion,
            labelsVersion: labelsVersion ?? '0',
            labelsDigest: digest,
            source: source.name,
            sourceThrough: source.throughBlock === null ? '' : String(source.throughBlock),
            sourceAssets: source.assets,
            sourceMethod: source.method,
            sourceCoverage: source.coverage ?? '',
            dustIds,
          })) as string
        } catch (error) {
          const message = (error as Error).message
          if (/STORE_VANISHED/.test(message)) throw new BaseError('STORE_VANISHED', `the store vanished during walk ${runId} (Redis restarted without persistence, or the store was flushed): nothing was published; import and walk again`, { value: keys.prefix }, { cause: error })
          if (/WALK_STOPPED/.test(message)) throw new BaseError('WALK_FAILED', `walk ${runId} was stopped by another process before it could be published`, { value: runId }, { cause: error })
          throw error
        }
        failpoint('walk:published')
        // The run's empty frontiers and claims, and the replaced run's labels, partition by
        // partition (a crash before this ends leaves them registered: the next walk frees them).
        await freeRunKeys(redis, keys, runId, { labels: false })
        await sweepRuns(redis, keys, runId)
        await pruneChangeLog(redis, keys, Number((await redis.hget(keys.walkCurrent, 'storeVersion')) ?? 0))
        return { runId, seconds: (Date.now() - startedAt) / 1000, labelled, seeds: seeds.length, previousRunId }
      }
      // Idle but work left: a token was lost with a job that failed for good. Recover.
      for (const direction of options.directions) {
        await state.reclaimOrphans(direction)
        const pending = await state.pending(direction)
        if (pending.frontier > 0) await addWalkTokens(queue, jobData(direction), [`${runId}-${direction}-watchdog-${watchdogTokens++}`])
      }
    }
  } catch (error) {
    failed = true
    if (started) {
      const interrupted = isExposureError(error, 'INTERRUPTED')
      await redis
        .hset(keys.walkMeta, { status: interrupted ? 'interrupted' : 'failed', error: (error as Error).message, finishedAt: new Date().toISOString() })
        .catch(() => undefined)
      await drainJobs().catch(() => undefined)
      await dropRun(redis, keys, runId).catch(() => undefined)
    }
    throw error
  } finally {
    // A failed walk's jobs are not worth waiting for (their run is dropped).
    await Promise.all(workers.map((w) => w.close({ force: failed })))
    await queue.close().catch(() => undefined)
    queueConnection.disconnect()
    await lock.release()
  }
}

/** Drops the change log of store versions up to the published walk's (no incremental walk needs them). */
async function pruneChangeLog(redis: Redis, keys: GraphStore['keys'], upTo: number): Promise<void> {
  await scanKeys(redis, `${keys.prefix}:changes:*`, async (found) => {
    const doomed = found.filter((key) => /:changes:\d+$/.test(key) && Number(key.slice(key.lastIndexOf(':') + 1)) <= upTo)
    if (doomed.length > 0) await unlinkKeys(redis, doomed)
  })
  const shrinking = (await redis.smembers(keys.shrinkingVersions)).filter((v) => Number(v) <= upTo)
  if (shrinking.length > 0) await redis.srem(keys.shrinkingVersions, ...shrinking)
}

/** Addresses whose service label's category is a stop category (incremental walks diff these). */
export async function labelStops(redis: Redis, labelsKey: string, stopCategories: readonly string[]): Promise<string[]> {
  const stop = new Set(stopCategories)
  const out: string[] = []
  let cursor = '0'
  do {
    const [next, entries] = await redis.hscan(labelsKey, cursor, 'COUNT', 10_000)
    cursor = next
    for (let i = 0; i < entries.length; i += 2) {
      const category = (JSON.parse(entries[i + 1]!) as { category?: string }).category
      if (category !== undefined && stop.has(category)) out.push(entries[i]!)
    }
  } while (cursor !== '0')
  return out
}

/** publish-walk.lua: the run becomes the published walk, atomically. Answers the previous run id. */
async function publish(redis: Redis, keys: GraphStore['keys'], runId: string, storeId: string, finishedAt: string, versionAtPublish: boolean, basis: Record<string, string>): Promise<unknown> {
  return callScript(redis, 'publish-walk', [keys.walkMeta, keys.walkCurrent, keys.walkCurrentSeeds, keys.walkRunSeeds(runId), keys.meta, keys.walkCurrentStops, keys.walkRunStops(runId), keys.walkRuns], [runId, storeId, finishedAt, keys.prefix, versionAtPublish ? '1' : '0', ...Object.entries(basis).flat()])
}

/** 12 big-endian bytes of an amount (an out-record's amount field), as hex; saturated like records. */
function amountHex(amount: bigint): string {
  const max = (1n << 96n) - 1n
  return (amount > max ? max : amount).toString(16).padStart(24, '0')
}

/** Why a walk stopped moving: no worker, or the failure its jobs keep retrying on. */
async function whyIdle(queue: ReturnType<typeof createWalkQueue>, busy: number, frontier: number): Promise<string> {
  const workers = await queue.getWorkersCount().catch(() => -1)
  if (workers === 0) return `no worker serves the walk queue (${busy} jobs queued, frontier ${frontier}); start one with 'exposure worker' or run trace without --no-workers`
  const [retrying] = await queue.getDelayed(0, 0).catch(() => [])
  if (retrying?.failedReason) return `its jobs keep failing and being retried (${busy} queued, frontier ${frontier}); last failure: ${retrying.failedReason}`
  const [active] = await queue.getActive(0, 0).catch(() => [])
  if (active) return `a job has been running without progress (${active.id}); a source may be stalled (frontier ${frontier}, ${workers >= 0 ? `${workers} workers` : 'workers unknown'})`
  return `${busy} jobs queued, frontier ${frontier}, ${workers >= 0 ? `${workers} workers` : 'workers unknown'}`
}

function busyOf(counts: Record<string, number>): number {
  return (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0) + (counts['waiting-children'] ?? 0)
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
