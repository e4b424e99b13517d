import type { Redis } from 'ioredis'
import { BaseError } from '../errors.ts'
import type { Address, Direction } from '../types.ts'
import { parseLabels, seedLabel, type Candidate, type HopLabel } from './labels-format.ts'
import { execOrThrow } from './graph-store.ts'
import type { StoreKeys } from './keys.ts'
import { HEADER_SIZE, OUT_SIZE } from './records.ts'
import { groupByPartition, hmgetByPartition, PARTITIONS, partitionOfHex } from './partitions.ts'
import { callScript, defineScripts, pipeScript } from './scripts.ts'
import { queueUnlink } from './redis.ts'

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

/** One partition's share of a job's claim. */
export interface PartitionClaim {
  partition: number
  hexes: string[]
}

/** Active partitions a claim looks at per round trip. */
const ACTIVE_PEEK = 64

/**
 * One walk run's state in Redis: its hop labels, frontiers and claims, each per partition
 * (keys.ts: Q:walk:r:<run>:…), and the active set (P:walk:r:<run>:<dir>:active) that tells jobs
 * which partitions have work. The relax and claim scripts touch one partition each and write only
 * while the partition's guard (Q:walk:running) names this run, so a job of an interrupted or
 * replaced run can never write into a published walk or leave keys behind.
 */
export function createWalkState(redis: Redis, keys: StoreKeys, runId: string) {
  defineScripts(redis)
  const all = Array.from({ length: PARTITIONS }, (_, p) => p)

  /** Every per-partition key of this run in a direction (labels too when `labels`). */
  function runKeys(direction: Direction, { labels = true } = {}): string[] {
    return all.flatMap((p) => [...(labels ? [keys.walkLabels(runId, direction, p)] : []), keys.walkFrontier(runId, direction, p), keys.walkClaims(runId, direction, p)])
  }

  /** Clears one direction's labels, frontiers and claims, and puts the seeds at hop 0. */
  async function reset(direction: Direction, seeds: readonly Address[]): Promise<void> {
    // On a cluster this MULTI runs per slot (slot-pipeline.ts): it only starts a direction before
    // any job of it runs, and a run interrupted halfway is dropped whole (walk-runs.ts dropRun).
    const pipeline = redis.multi()
    queueUnlink(redis, pipeline, [...runKeys(direction), keys.walkActive(runId, direction)])
    if (seeds.length > 0) {
      const label = seedLabel(direction)
      const hexes = seeds.map((s) => s.slice(2))
      for (const [p, indices] of groupByPartition(hexes)) {
        const group = indices.map((i) => hexes[i]!)
        pipeline.hset(keys.walkLabels(runId, direction, p), Object.fromEntries(group.map((h) => [h, label])))
        pipeline.zadd(keys.walkFrontier(runId, direction, p), ...group.flatMap((h) => [0, h]))
        pipeline.zadd(keys.walkActive(runId, direction), 0, p)
      }
    }
    await execOrThrow(pipeline)
  }

  /**
   * Starts this run's direction from another run's labels (an incremental walk from the published
   * walk): the labels are copied, partition by partition; the published ones stay as they are
   * until this run is published.
   */
  async function copyLabelsFrom(sourceRunId: string, direction: Direction): Promise<void> {
    const pipeline = redis.multi()
    // Per slot on a cluster (each COPY stays in its partition), as in reset().
    queueUnlink(redis, pipeline, [...runKeys(direction), keys.walkActive(runId, direction)])
    for (const p of all) pipeline.copy(keys.walkLabels(sourceRunId, direction, p), keys.walkLabels(runId, direction, p))
    await execOrThrow(pipeline)
  }

  function claimKeys(direction: Direction, p: number): string[] {
    return [keys.walkFrontier(runId, direction, p), keys.walkClaims(runId, direction, p), keys.walkRunning(p)]
  }

  /**
   * Claims up to `count` frontier addresses for a job, from the active partitions with the fewest
   * hops first, one partition per script call; null when this run is no longer the running walk.
   * `recover` (a job run again after a crash): first takes back what the same job id had claimed.
   */
  async function claim(direction: Direction, jobId: string, count: number, { recover = false } = {}): Promise<PartitionClaim[] | null> {
    const out: PartitionClaim[] = []
    let got = 0
    if (recover) {
      const probe = redis.pipeline()
      for (const p of all) probe.hexists(keys.walkClaims(runId, direction, p), jobId)
      const held = ((await execOrThrow(probe)) as number[]).flatMap((found, p) => (found === 1 ? [p] : []))
      for (const p of held) {
        const reply = (await callScript(redis, 'claim', claimKeys(direction, p), [jobId, count, runId])) as [string, number] | number
        if (reply === -1) return null
        const hexes = parseClaim(reply as [string, number])
        if (hexes.length > 0) out.push({ partition: p, hexes })
        got += hexes.length
      }
      if (got > 0) return out
    }
    // Round trips per round, not per partition: the sizes of the next active partitions, the
    // claims planned from them, then the active set's updates.
    const tried = new Set<number>()
    const active = keys.walkActive(runId, direction)
    while (got < count) {
      const fresh = (await redis.zrange(active, 0, ACTIVE_PEEK - 1)).map(Number).filter((p) => !tried.has(p))
      if (fresh.length === 0) break
      const sizing = redis.pipeline()
      for (const p of fresh) sizing.zcard(keys.walkFrontier(runId, direction, p))
      const sizes = (await execOrThrow(sizing)) as number[]
      const plan: [partition: number, take: number][] = []
      const empty: number[] = []
      let want = count - got
      fresh.forEach((p, i) => {
        if (want <= 0) return
        tried.add(p)
        if (sizes[i] === 0) return void empty.push(p)
        const take = Math.min(sizes[i]!, want)
        plan.push([p, take])
        want -= take
      })
      const claiming = redis.pipeline()
      for (const [p, take] of plan) pipeScript(claiming, 'claim', claimKeys(direction, p), [jobId, take, runId])
      const replies = plan.length === 0 ? [] : ((await execOrThrow(claiming)) as ([string, number] | number)[])
      const ranks: (string | number)[] = []
      for (const [i, reply] of replies.entries()) {
        if (reply === -1) return null
        const [joined, least] = reply as [string, number]
        const p = plan[i]![0]
        const hexes = joined === '' ? [] : joined.split(',')
        if (hexes.length > 0) out.push({ partition: p, hexes })
        got += hexes.length
        if (least >= 0) ranks.push(least, p)
        else empty.push(p)
      }
      if (ranks.length === 0 && empty.length === 0) continue
      // Re-rank partitions by what is left on them (a hint: a relax meanwhile may lower it
      // again). Empty ones leave the active set and are then looked at again, in this order,
      // so that a relax that queued into one between its claim and the ZREM is never lost.
      const update = redis.pipeline()
      if (ranks.length > 0) update.zadd(active, 'XX', ...ranks)
      for (const p of empty) update.zrem(active, p).zrange(keys.walkFrontier(runId, direction, p), 0, 0, 'WITHSCORES')
      const updated = await execOrThrow(update)
      const back: (string | number)[] = []
      empty.forEach((p, i) => {
        const first = updated[(ranks.length > 0 ? 1 : 0) + 2 * i + 1] as string[]
        if (first.length > 0) back.push(Number(first[1]), p)
      })
      if (back.length > 0) await redis.zadd(active, 'LT', ...back)
    }
    return out
  }

  async function release(direction: Direction, jobId: string, claims: readonly PartitionClaim[]): Promise<void> {
    if (claims.length === 0) return
    const pipeline = redis.pipeline()
    for (const { partition } of claims) pipeline.hdel(keys.walkClaims(runId, direction, partition), jobId)
    await execOrThrow(pipeline)
  }

  /** Labels, seed flag, service category and counterparty count of each address, in one round trip. */
  async function describe(direction: Direction, hexes: readonly string[]): Promise<ClaimedNode[]> {
    const pipeline = redis.pipeline()
    pipeline.hmget(keys.seeds, ...hexes.map((h) => `0x${h}`))
    pipeline.hmget(keys.labels, ...hexes.map((h) => `0x${h}`))
    for (const hex of hexes) pipeline.getrangeBuffer(keys.node(`0x${hex}`), 0, HEADER_SIZE - 1)
    const [labels, replies] = await Promise.all([labelTexts(direction, hexes), execOrThrow(pipeline)])
    const seeds = replies[0] as (string | null)[]
    const services = replies[1] as (string | null)[]
    return hexes.map((hex, i) => {
      const header = replies[2 + i] as Buffer
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

  /**
   * Offers candidates, grouped by their partition (one script call per partition and chunk, all in
   * one pipeline); then marks the partitions that got work active. Returns how many labels changed
   * and how many addresses were queued. A crash between the two steps loses no work: the
   * coordinator repairs the active set from the frontiers (repairActive).
   */
  async function relax(direction: Direction, maxHops: number, candidates: readonly Candidate[]): Promise<{ changed: number; queued: number }> {
    let changed = 0
    let queued = 0
    if (candidates.length === 0) return { changed, queued }
    const byPartition = new Map<number, Candidate[]>()
    for (const c of candidates) {
      const p = partitionOfHex(c.hex)
      const list = byPartition.get(p)
      if (list) list.push(c)
      else byPartition.set(p, [c])
    }
    const pipeline = redis.pipeline()
    const calls: number[] = []
    for (const [p, list] of byPartition) {
      for (let start = 0; start < list.length; start += RELAX_CHUNK) {
        // One argument per call, not four per candidate: building and writing thousands of
        // arguments was most of a walk job's own CPU time.
        const chunk = list.slice(start, start + RELAX_CHUNK)
        let packed = ''
        for (const c of chunk) packed += `${c.hex},${c.hops},${c.cost},${c.key};`
        pipeScript(pipeline, 'relax', [keys.walkLabels(runId, direction, p), keys.walkFrontier(runId, direction, p), keys.walkRunning(p)], [runId, maxHops, packed, chunk.length])
        calls.push(p)
      }
    }
    const least = new Map<number, number>()
    ;(await execOrThrow(pipeline)).forEach((reply, i) => {
      const [c, q, h] = reply as [number, number, number]
      if (c < 0) throw new BaseError('WALK_STOPPED', `walk ${runId} is no longer running`, { value: runId })
      changed += c
      queued += q
      const p = calls[i]!
      if (h >= 0 && (least.get(p) ?? Infinity) > h) least.set(p, h)
    })
    if (least.size > 0) await redis.zadd(keys.walkActive(runId, direction), 'LT', ...[...least].flatMap(([p, h]) => [h, p]))
    return { changed, queued }
  }

  /** Sizes of each partition's frontier, claims and labels in a direction (one pipeline). */
  async function partitionCounts(direction: Direction): Promise<{ frontier: number[]; claims: number[]; labelled: number }> {
    const pipeline = redis.pipeline()
    for (const p of all) pipeline.zcard(keys.walkFrontier(runId, direction, p)).hlen(keys.walkClaims(runId, direction, p)).hlen(keys.walkLabels(runId, direction, p))
    const replies = (await execOrThrow(pipeline)) as number[]
    return { frontier: all.map((p) => replies[3 * p]!), claims: all.map((p) => replies[3 * p + 1]!), labelled: sum(all.map((p) => replies[3 * p + 2]!)) }
  }

  /**
   * A cheap lower bound of the frontier for follow-up tokens: the sizes of the first few active
   * partitions' frontiers, at least 1 while any partition is active.
   */
  async function frontierHint(direction: Direction, peek: number): Promise<number> {
    const active = await redis.zrange(keys.walkActive(runId, direction), 0, peek - 1)
    if (active.length === 0) return 0
    const pipeline = redis.pipeline()
    for (const p of active) pipeline.zcard(keys.walkFrontier(runId, direction, Number(p)))
    return Math.max(1, sum((await execOrThrow(pipeline)) as number[]))
  }

  async function pending(direction: Direction): Promise<{ frontier: number; claims: number }> {
    const counts = await partitionCounts(direction)
    return { frontier: sum(counts.frontier), claims: sum(counts.claims) }
  }

  /**
   * Puts every partition with frontier work back into the active set (those already there keep
   * their rank): a job that crashed between its relax and its ZADD, or a frontier written without
   * the active set (incremental walks' requeue), must not leave work nobody looks for.
   */
  async function repairActive(direction: Direction, frontier: readonly number[]): Promise<void> {
    const missing = all.filter((p) => frontier[p]! > 0)
    if (missing.length > 0) await redis.zadd(keys.walkActive(runId, direction), 'NX', ...missing.flatMap((p) => [0, p]))
  }

  /** Puts addresses claimed by jobs that will never finish (failed for good) back on the frontier. */
  async function reclaimOrphans(direction: Direction): Promise<number> {
    const read = redis.pipeline()
    for (const p of all) read.hgetall(keys.walkClaims(runId, direction, p))
    const claims = (await execOrThrow(read)) as Record<string, string>[]
    let total = 0
    const pipeline = redis.multi()
    for (const p of all) {
      const hexes = Object.values(claims[p]!).flatMap((joined) => joined.split(','))
      if (hexes.length === 0) continue
      total += hexes.length
      pipeline.zadd(keys.walkFrontier(runId, direction, p), ...hexes.flatMap((h) => [0, h]))
      pipeline.del(keys.walkClaims(runId, direction, p))
      pipeline.zadd(keys.walkActive(runId, direction), 'LT', 0, p)
    }
    if (total > 0) await execOrThrow(pipeline)
    else pipeline.discard()
    return total
  }

  function labelTexts(direction: Direction, hexes: readonly string[]): Promise<(string | null)[]> {
    return hmgetByPartition(redis, (p) => keys.walkLabels(runId, direction, p), hexes)
  }

  async function labelsOf(direction: Direction, hexes: readonly string[]): Promise<HopLabel[][]> {
    if (hexes.length === 0) return []
    return (await labelTexts(direction, hexes)).map(parseLabels)
  }

  async function labelCount(direction: Direction): Promise<number> {
    const pipeline = redis.pipeline()
    for (const p of all) pipeline.hlen(keys.walkLabels(runId, direction, p))
    return sum((await execOrThrow(pipeline)) as number[])
  }

  /**
   * Puts addresses on the frontier at the given hops (ZADD as given, per partition) and their
   * partitions into the active set.
   */
  async function enqueue(direction: Direction, entries: readonly (readonly [hex: string, hops: number])[]): Promise<void> {
    if (entries.length === 0) return
    const pipeline = redis.pipeline()
    const least = new Map<number, number>()
    const byPartition = new Map<number, (string | number)[]>()
    for (const [hex, hops] of entries) {
      const p = partitionOfHex(hex)
      const list = byPartition.get(p)
      if (list) list.push(hops, hex)
      else byPartition.set(p, [hops, hex])
      least.set(p, Math.min(hops, least.get(p) ?? hops))
    }
    for (const [p, list] of byPartition) pipeline.zadd(keys.walkFrontier(runId, direction, p), ...list)
    pipeline.zadd(keys.walkActive(runId, direction), 'LT', ...[...least].flatMap(([p, h]) => [h, p]))
    await execOrThrow(pipeline)
  }

  /** Every label of this run in a direction, one HSCAN batch at a time (partition by partition). */
  async function* scanLabels(direction: Direction): AsyncGenerator<[hex: string, text: string][]> {
    for (const p of all) {
      let cursor = '0'
      do {
        const [next, flat] = await redis.hscan(keys.walkLabels(runId, direction, p), cursor, 'COUNT', 10_000)
        cursor = next
        const batch: [string, string][] = []
        for (let i = 0; i < flat.length; i += 2) batch.push([flat[i]!, flat[i + 1]!])
        if (batch.length > 0) yield batch
      } while (cursor !== '0')
    }
  }

  return { runId, reset, copyLabelsFrom, claim, release, describe, adjacency, relax, pending, partitionCounts, frontierHint, repairActive, reclaimOrphans, labelsOf, labelCount, enqueue, scanLabels, pipeline: () => redis.pipeline(), pipeScript }
}

function parseClaim([joined]: [string, number]): string[] {
  return joined === '' ? [] : joined.split(',')
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0)
}

export type WalkState = ReturnType<typeof createWalkState>
