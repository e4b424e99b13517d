import type { Redis } from 'ioredis'
import { BaseError } from '../errors.ts'
import type { Address, Direction } from '../types.ts'
import { parseLabels, seedLabel, type HopLabel } from '../walk/labels.ts'
import type { Candidate } from '../walk/expand.ts'
import { execOrThrow } from './graph-store.ts'
import type { StoreKeys } from './keys.ts'
import { HEADER_SIZE, OUT_SIZE } from './records.ts'
import { callScript, defineScripts, pipeScript } from './scripts.ts'

/** Candidates per relax call: keeps each script run short so Redis stays responsive. */
const RELAX_CHUNK = 4_000

/** What a walk job needs to know about one claimed address. */
export interface ClaimedNode {
  hex: string
  labels: HopLabel[]
  isSeed: boolean
  category: string | null
  counterparties: number
  /** Out-records in its node string (where its in-records start). */
  outCount: number
}

/**
 * One walk run's state in Redis: its hop labels, frontier and claims (keys.ts: P:walk:r:<run>:…).
 * The relax and claim scripts write only while the walk meta names this run as running, so a job
 * of an interrupted or replaced run can never write into a published walk or leave keys behind.
 */
export function createWalkState(redis: Redis, keys: StoreKeys, runId: string) {
  defineScripts(redis)

  /** Clears one direction's labels, frontier and claims, and puts the seeds at hop 0. */
  async function reset(direction: Direction, seeds: readonly Address[]): Promise<void> {
    const pipeline = redis.multi()
    pipeline.del(keys.walkLabels(runId, direction), keys.walkFrontier(runId, direction), keys.walkClaims(runId, direction))
    if (seeds.length > 0) {
      const label = seedLabel(direction)
      pipeline.hset(keys.walkLabels(runId, direction), Object.fromEntries(seeds.map((s) => [s.slice(2), label])))
      pipeline.zadd(keys.walkFrontier(runId, direction), ...seeds.flatMap((s) => [0, s.slice(2)]))
    }
    await execOrThrow(pipeline)
  }

  /** Claims a batch of the frontier for a job; null when this run is no longer the running walk. */
  /**
   * Starts this run's direction from another run's labels (an incremental walk from the published
   * walk): the labels are copied, the published ones stay as they are until this run is published.
   */
  async function copyLabelsFrom(sourceRunId: string, direction: Direction): Promise<void> {
    const pipeline = redis.multi()
    pipeline.del(keys.walkLabels(runId, direction), keys.walkFrontier(runId, direction), keys.walkClaims(runId, direction))
    pipeline.copy(keys.walkLabels(sourceRunId, direction), keys.walkLabels(runId, direction))
    await execOrThrow(pipeline)
  }

  async function claim(direction: Direction, jobId: string, count: number): Promise<string[] | null> {
    const joined = (await callScript(redis, 'claim', [keys.walkFrontier(runId, direction), keys.walkClaims(runId, direction), keys.walkMeta], [jobId, count, runId])) as string | number
    if (joined === -1) return null
    return joined === '' ? [] : String(joined).split(',')
  }

  async function release(direction: Direction, jobId: string): Promise<void> {
    await redis.hdel(keys.walkClaims(runId, direction), jobId)
  }

  /** Labels, seed flag, service category and counterparty count of each address, in one round trip. */
  async function describe(direction: Direction, hexes: readonly string[]): Promise<ClaimedNode[]> {
    const pipeline = redis.pipeline()
    pipeline.hmget(keys.walkLabels(runId, direction), ...hexes)
    pipeline.hmget(keys.seeds, ...hexes.map((h) => `0x${h}`))
    pipeline.hmget(keys.labels, ...hexes.map((h) => `0x${h}`))
    for (const hex of hexes) pipeline.getrangeBuffer(keys.node(`0x${hex}`), 0, HEADER_SIZE - 1)
    const replies = await execOrThrow(pipeline)
    const labels = replies[0] as (string | null)[]
    const seeds = replies[1] as (string | null)[]
    const services = replies[2] as (string | null)[]
    return hexes.map((hex, i) => {
      const header = replies[3 + i] as Buffer
      const service = services[i]
      return {
        hex,
        labels: parseLabels(labels[i]),
        isSeed: seeds[i] !== null && seeds[i] !== undefined,
        category: service ? ((JSON.parse(service) as { category?: string }).category ?? null) : null,
        counterparties: header.length === HEADER_SIZE ? header.readUInt32BE(0) : 0,
        outCount: header.length === HEADER_SIZE ? header.readUInt32BE(4) : 0,
      }
    })
  }

  /** The out-records (downstream) or in-records (upstream) of each node, without the rest. */
  async function adjacency(direction: Direction, nodes: readonly { hex: string; outCount: number }[]): Promise<Buffer[]> {
    if (nodes.length === 0) return []
    const pipeline = redis.pipeline()
    for (const { hex, outCount } of nodes) {
      const outEnd = HEADER_SIZE + outCount * OUT_SIZE
      if (direction === 'downstream') pipeline.getrangeBuffer(keys.node(`0x${hex}`), HEADER_SIZE, outEnd - 1)
      else pipeline.getrangeBuffer(keys.node(`0x${hex}`), outEnd, -1)
    }
    return ((await execOrThrow(pipeline)) as (Buffer | null)[]).map((b) => b ?? Buffer.alloc(0))
  }

  /** Offers candidates; returns how many labels changed and how many addresses were queued. */
  async function relax(direction: Direction, maxHops: number, candidates: readonly Candidate[]): Promise<{ changed: number; queued: number }> {
    let changed = 0
    let queued = 0
    if (candidates.length === 0) return { changed, queued }
    const pipeline = redis.pipeline()
    for (let start = 0; start < candidates.length; start += RELAX_CHUNK) {
      const args: (string | number)[] = [maxHops]
      for (const c of candidates.slice(start, start + RELAX_CHUNK)) args.push(c.hex, c.hops, c.cost, c.key)
      pipeScript(pipeline, 'relax', [keys.walkLabels(runId, direction), keys.walkFrontier(runId, direction), keys.walkMeta], [runId, ...args])
    }
    for (const reply of await execOrThrow(pipeline)) {
      const [c, q] = reply as [number, number]
      if (c < 0) throw new BaseError('WALK_STOPPED', `walk ${runId} is no longer running`, { value: runId })
      changed += c
      queued += q
    }
    return { changed, queued }
  }

  async function pending(direction: Direction): Promise<{ frontier: number; claims: number }> {
    const [frontier, claims] = await Promise.all([redis.zcard(keys.walkFrontier(runId, direction)), redis.hlen(keys.walkClaims(runId, direction))])
    return { frontier, claims }
  }

  /** Puts addresses claimed by jobs that will never finish (failed for good) back on the frontier. */
  async function reclaimOrphans(direction: Direction): Promise<number> {
    const claims = await redis.hgetall(keys.walkClaims(runId, direction))
    const hexes = Object.values(claims).flatMap((joined) => joined.split(','))
    const pipeline = redis.multi()
    if (hexes.length > 0) pipeline.zadd(keys.walkFrontier(runId, direction), ...hexes.flatMap((h) => [0, h]))
    pipeline.del(keys.walkClaims(runId, direction))
    await execOrThrow(pipeline)
    return hexes.length
  }

  async function labelsOf(direction: Direction, hexes: readonly string[]): Promise<HopLabel[][]> {
    if (hexes.length === 0) return []
    const texts = await redis.hmget(keys.walkLabels(runId, direction), ...hexes)
    return texts.map(parseLabels)
  }

  async function labelCount(direction: Direction): Promise<number> {
    return redis.hlen(keys.walkLabels(runId, direction))
  }

  return { runId, reset, copyLabelsFrom, claim, release, describe, adjacency, relax, pending, reclaimOrphans, labelsOf, labelCount, pipeline: () => redis.pipeline(), pipeScript }
}

export type WalkState = ReturnType<typeof createWalkState>
