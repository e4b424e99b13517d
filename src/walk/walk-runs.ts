/**
 * Walk runs and the published walk. Every walk writes its labels under its own run id, in each
 * address's partition (keys.ts: Q:walk:r:<run>:…); answers come from the published run
 * (P:walk:current) until a new run completes and is published in one atomic step
 * (store/lua/publish-walk.lua: the switch of P:walk:current); the previous run's per-partition
 * keys are freed right after, partition by partition. Every run is registered (P:walk:runs) before
 * it writes a key, and the one a publish replaces is registered again in the publish itself, so a
 * crash in between leaves keys that the next walk finds and frees (sweepRuns), never a mix. A run that fails, is interrupted, or whose coordinator died leaves the published walk as
 * it was; its own keys, its partitions' guards and its queued jobs are dropped.
 *
 * The published walk carries its basis: the store (id, version), the seed set's version, the
 * labels' version and digest, the parameters and the source with its block range. Answers compare
 * it with the store now and say whether they are stale, and why (walk/staleness.ts).
 */
import type { Redis } from 'ioredis'
import type { GraphStore } from '../store/graph-store.ts'
import { describeHolder, parseHolder, type Holder } from '../store/holder.ts'
import { inspectLock } from '../store/locks.ts'
import type { StoreKeys } from '../store/keys.ts'
import { hmgetByPartition, PARTITIONS } from '../store/partitions.ts'
import { defineScripts, pipeScript } from '../store/scripts.ts'
import { DIRECTIONS, type Direction } from '../types.ts'
import type { WalkParams } from './params.ts'

/** What a published walk was computed from. */
export interface WalkBasis {
  runId: string
  finishedAt: string
  directions: Direction[]
  params: WalkParams
  storeId: string
  storeVersion: number
  seedVersion: number
  labelsVersion: number
  labelsDigest: string
  /** Where expanded addresses' transfers came from ('store', 'rpc', 'etherscan'). */
  source: string
  /** Last block the answers cover; null: etl imports only (no finality line known). */
  sourceThrough: number | null
  sourceAssets: string
  sourceMethod: string
  /** Chain id of the store's live data when known. */
  chainId: string
}

/** The latest walk attempt (which may be the published one, or one that failed or is running). */
export interface WalkAttempt {
  runId: string
  status: 'running' | 'complete' | 'failed' | 'interrupted'
  startedAt: string | null
  finishedAt: string | null
  directions: Direction[]
  error: string | null
  holder: Holder | null
}

export function parseBasis(raw: Record<string, string>): WalkBasis | null {
  if (raw.runId === undefined || raw.params === undefined) return null
  return {
    runId: raw.runId,
    finishedAt: raw.finishedAt ?? '',
    directions: (raw.directions ?? '').split(',').filter((d): d is Direction => (DIRECTIONS as readonly string[]).includes(d)),
    params: JSON.parse(raw.params) as WalkParams,
    storeId: raw.storeId ?? '',
    storeVersion: Number(raw.storeVersion ?? 0),
    seedVersion: Number(raw.seedVersion ?? 0),
    labelsVersion: Number(raw.labelsVersion ?? 0),
    labelsDigest: raw.labelsDigest ?? '',
    source: raw.source ?? 'store',
    sourceThrough: raw.sourceThrough === undefined || raw.sourceThrough === '' ? null : Number(raw.sourceThrough),
    sourceAssets: raw.sourceAssets ?? '',
    sourceMethod: raw.sourceMethod ?? '',
    chainId: raw.chainId ?? '',
  }
}

export async function readPublished(redis: Redis, keys: StoreKeys): Promise<WalkBasis | null> {
  return parseBasis(await redis.hgetall(keys.walkCurrent))
}

export async function readAttempt(redis: Redis, keys: StoreKeys): Promise<WalkAttempt | null> {
  const meta = await redis.hgetall(keys.walkMeta)
  if (meta.runId === undefined) return null
  let status = (meta.status ?? 'failed') as WalkAttempt['status']
  const holder = parseHolder(meta.holder)
  // A run whose coordinator is gone (SIGKILL, a lost host) is interrupted, whatever it last wrote.
  // The coordinator renews the walk lock (and its heartbeat) while it runs: a running run is one
  // whose lock is still held, by a live holder, with the same token.
  if (status === 'running') {
    const lock = await inspectLock(redis, keys.walkLock)
    if (holder === null || lock.holder === null || lock.holder.token !== holder.token || !lock.alive) status = 'interrupted'
  }
  return {
    runId: meta.runId,
    status,
    startedAt: meta.startedAt ?? null,
    finishedAt: meta.finishedAt ?? null,
    directions: (meta.directions ?? '').split(',').filter((d): d is Direction => (DIRECTIONS as readonly string[]).includes(d)),
    error: status === 'interrupted' && meta.status === 'running' ? `its coordinator (${holder === null ? 'unknown' : describeHolder(holder)}) is gone` : (meta.error ?? null),
    holder,
  }
}

/** Deletes a run's own keys (never the published run's), and its partitions' walk guards. */
export async function dropRun(redis: Redis, keys: StoreKeys, runId: string): Promise<void> {
  await clearWalkGuards(redis, keys, runId)
  const published = await redis.hget(keys.walkCurrent, 'runId')
  if (published === runId) return
  await freeRunKeys(redis, keys, runId, { labels: true })
  await redis.unlink(keys.walkRunSeeds(runId), keys.walkRunStops(runId))
  await redis.srem(keys.walkRuns, runId)
}

/**
 * Frees the keys of every registered run that is neither the published one nor `running`: runs
 * replaced by a publish whose coordinator died before it freed them, and dropped runs whose drop
 * was cut short (Redis went away meanwhile). Without it their labels (as big as a whole walk's)
 * would stay for good, read by nothing. The caller holds the walk lock, so no coordinator owns
 * those runs, and their guards no longer name them, so no late job writes into them. Returns the
 * run ids it freed.
 */
export async function sweepRuns(redis: Redis, keys: StoreKeys, running: string): Promise<string[]> {
  const [members, published] = await Promise.all([redis.smembers(keys.walkRuns), redis.hget(keys.walkCurrent, 'runId')])
  const swept: string[] = []
  for (const runId of members) {
    if (runId === published || runId === running) continue
    await clearWalkGuards(redis, keys, runId)
    await freeRunKeys(redis, keys, runId, { labels: true })
    await redis.unlink(keys.walkRunSeeds(runId), keys.walkRunStops(runId))
    await redis.srem(keys.walkRuns, runId)
    swept.push(runId)
  }
  return swept
}

/**
 * Unlinks a run's per-partition keys (frontiers, claims, and its labels when `labels`) and its
 * active sets, one UNLINK per partition (each in one slot).
 */
export async function freeRunKeys(redis: Redis, keys: StoreKeys, runId: string, { labels }: { labels: boolean }): Promise<void> {
  const pipeline = redis.pipeline()
  for (let p = 0; p < PARTITIONS; p++) {
    pipeline.unlink(...DIRECTIONS.flatMap((d) => [...(labels ? [keys.walkLabels(runId, d, p)] : []), keys.walkFrontier(runId, d, p), keys.walkClaims(runId, d, p)]))
  }
  pipeline.unlink(...DIRECTIONS.map((d) => keys.walkActive(runId, d)))
  for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error
}

/** Sets every partition's walk guard to the run that starts (a newer run overwrites an older one's). */
export function setWalkGuards(pipeline: ReturnType<Redis['multi']>, keys: StoreKeys, runId: string): void {
  for (let p = 0; p < PARTITIONS; p++) pipeline.set(keys.walkRunning(p), runId)
}

/** Clears the partitions' walk guards that still name `runId` (never a newer run's). */
export async function clearWalkGuards(redis: Redis, keys: StoreKeys, runId: string): Promise<void> {
  defineScripts(redis)
  const pipeline = redis.pipeline()
  for (let p = 0; p < PARTITIONS; p++) pipeScript(pipeline, 'walk-guard', [keys.walkRunning(p)], [runId])
  for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error
}

/**
 * Ends the latest attempt when it is a run whose coordinator died: marks it interrupted, drops its
 * keys. Returns the run id it cleaned, or null. The caller holds the walk lock (so no live
 * coordinator owns that run).
 */
export async function cleanUpDeadRun(store: GraphStore, drainJobs: () => Promise<void>): Promise<string | null> {
  const { redis, keys } = store
  const meta = await redis.hmget(keys.walkMeta, 'runId', 'status')
  const [runId, status] = meta
  if (runId === null || runId === undefined || status !== 'running') return null
  await redis.hset(keys.walkMeta, { status: 'interrupted', error: 'its coordinator stopped before the walk completed', finishedAt: new Date().toISOString() })
  await drainJobs()
  await dropRun(redis, keys, runId)
  return runId
}

/** Every label of a run in a direction, from all its partitions: hex40 → "h,c,key;…". */
export async function runLabels(store: Pick<GraphStore, 'redis' | 'keys'>, runId: string, direction: Direction): Promise<Record<string, string>> {
  const pipeline = store.redis.pipeline()
  for (let p = 0; p < PARTITIONS; p++) pipeline.hgetall(store.keys.walkLabels(runId, direction, p))
  const out: Record<string, string> = {}
  for (const [error, reply] of (await pipeline.exec()) ?? []) {
    if (error) throw error
    Object.assign(out, reply as Record<string, string>)
  }
  return out
}

/** Every label of the published walk in a direction (tests and benchmarks read labels directly). */
export async function publishedLabels(store: Pick<GraphStore, 'redis' | 'keys'>, direction: Direction): Promise<Record<string, string>> {
  const runId = await store.redis.hget(store.keys.walkCurrent, 'runId')
  return runId === null ? {} : runLabels(store, runId, direction)
}

/** Labels of some addresses in a run and direction, each read from its partition. */
export function labelsIn(redis: Redis, keys: StoreKeys, runId: string, direction: Direction, hexes: readonly string[]): Promise<(string | null)[]> {
  return hmgetByPartition(redis, (p) => keys.walkLabels(runId, direction, p), hexes)
}
