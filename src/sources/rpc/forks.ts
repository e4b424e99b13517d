/**
 * Forks at any depth. The sync stores the hash of every block it writes (ingest.ts); blocks of one
 * stored stretch link up (each read checks its parents, and the coordinator checks the links
 * between the ranges its jobs wrote). So the stored block at the top of a stretch equals the
 * node's exactly when the whole stretch is on the node's chain, and hash equality along a stretch
 * is monotone: one call per stretch finds out whether it forked, and a binary search over the
 * stretch finds the fork point in log2(length) calls, however deep it lies.
 *
 * A rollback takes the fork's blocks out of the store in this order, so that an interruption
 * anywhere leaves nothing claimed that is not held: (1) in one step, the blocks are removed from
 * the coverage and the rollback is recorded (P:…:fork); (2) their transfers leave the store
 * through the journal (store/rollback.ts: all or nothing); (3) in one step, their hashes,
 * parents, tentative marks and the record go. The next sync finishes a recorded rollback first.
 */
import type { GraphStore } from '../../store/graph-store.ts'
import { mgetBuffers, scanKeyBatches } from '../../store/redis.ts'
import { rollbackBlocks } from '../../store/rollback.ts'
import { IN_SIZE, OUT_SIZE, splitNode } from '../../store/records.ts'
import type { Address } from '../../types.ts'
import { toHex, type RpcClient } from './client.ts'
import { mergeRanges, queueCoverageChange, queueHashClears, readCoverage, readHashes, subtractCoverage, type BlockRange, type SyncKeys } from './ingest.ts'

export interface ForkContext {
  store: GraphStore
  client: RpcClient
  keys: SyncKeys
}

/** A fork found and rolled back. */
export interface ForkReport {
  /** First block that differed from the node's (the fork point + 1). */
  from: number
  /** Last block rolled back (the top of the stored stretch). */
  to: number
  /** Transfers removed from the store. */
  transfersRemoved: number
  /** True when blocks that had been written as final were replaced (a reorg deeper than the finality line). */
  belowFinality: boolean
}

/** Blocks written above the finality line, sorted. */
export async function tentativeBlocks(ctx: Pick<ForkContext, 'store' | 'keys'>): Promise<number[]> {
  return (await ctx.store.redis.hkeys(ctx.keys.tentative)).map(Number).sort((a, b) => a - b)
}

/** Stretches of consecutive blocks the store holds (coverage and tentative blocks together). */
export async function storedStretches(ctx: Pick<ForkContext, 'store' | 'keys'>): Promise<BlockRange[]> {
  const coverage = await readCoverage(ctx.store.redis, ctx.keys)
  const tentative = (await tentativeBlocks(ctx)).map((b) => ({ from: b, to: b }))
  return mergeRanges([...coverage, ...tentative])
}

async function nodeHashes(client: RpcClient, blocks: readonly number[]): Promise<Map<number, string | null>> {
  const answers = await client.batch<{ hash?: string } | null>(blocks.map((b) => ({ method: 'eth_getBlockByNumber', params: [toHex(b), false] })))
  return new Map(blocks.map((b, i) => [b, typeof answers[i]?.hash === 'string' ? answers[i]!.hash!.toLowerCase() : null]))
}

/**
 * Compares every stored stretch with the node's chain and rolls back each fork found, from its
 * fork point to the top of its stretch. Blocks above the node's head are not compared (a node
 * behind the store is no evidence of a fork). Answers the forks rolled back.
 */
export async function resolveForks(ctx: ForkContext): Promise<ForkReport[]> {
  const stretches = await storedStretches(ctx)
  if (stretches.length === 0) return []
  const head = Number(BigInt(await ctx.client.call<string>('eth_blockNumber')))
  const probes = stretches.map((s) => ({ stretch: s, top: Math.min(s.to, head) })).filter((p) => p.top >= p.stretch.from)
  if (probes.length === 0) return []
  const stored = await readHashes(ctx.store.redis, ctx.keys, probes.map((p) => p.top))
  const node = await nodeHashes(ctx.client, probes.map((p) => p.top))
  const reports: ForkReport[] = []
  for (const { stretch, top } of probes) {
    // No stored hash (not expected: every written block has one) is no evidence either way.
    if (stored.get(top) === null || stored.get(top) === undefined || stored.get(top) === node.get(top)) continue
    const forkFrom = await firstDifference(ctx, stretch.from, top)
    reports.push(await rollBack(ctx, forkFrom, stretch.to))
  }
  return reports
}

/** The first block in [from, top] whose stored hash differs from the node's (`top` differs). */
async function firstDifference(ctx: ForkContext, from: number, top: number): Promise<number> {
  const same = async (block: number): Promise<boolean> => {
    const [stored, node] = [(await readHashes(ctx.store.redis, ctx.keys, [block])).get(block), (await nodeHashes(ctx.client, [block])).get(block)]
    return stored !== null && stored !== undefined && stored === node
  }
  if (!(await same(from))) return from
  let lo = from // same
  let hi = top // differs
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2)
    if (await same(mid)) lo = mid
    else hi = mid
  }
  return hi
}

/**
 * Rolls blocks [from, to] out of the store (the module comment's three steps) and answers what
 * it removed. The addresses to visit come from the tentative marks when every block is tentative,
 * else from a scan of the store.
 */
export async function rollBack(ctx: Pick<ForkContext, 'store' | 'keys'>, from: number, to: number): Promise<ForkReport> {
  const { redis } = ctx.store
  const coverage = await readCoverage(redis, ctx.keys)
  const belowFinality = coverage.some((r) => r.from <= to && r.to >= from)
  const begin = redis.multi()
  begin.hset(ctx.keys.fork, { from: String(from), to: String(to) })
  queueCoverageChange(begin, ctx.keys, 'subtract', { from, to })
  for (const [error] of (await begin.exec()) ?? []) if (error) throw error
  const removed = await finishRollback(ctx, from, to)
  return { from, to, transfersRemoved: removed, belowFinality }
}

/** Steps 2 and 3 of a rollback whose coverage is already gone; also what finishes a recorded one. */
async function finishRollback(ctx: Pick<ForkContext, 'store' | 'keys'>, from: number, to: number): Promise<number> {
  const { redis } = ctx.store
  const blocks = Array.from({ length: to - from + 1 }, (_, i) => from + i)
  const tentative = await redis.hmget(ctx.keys.tentative, ...blocks.map(String))
  let addresses: Address[]
  if (tentative.every((h) => h !== null)) {
    const sets = await Promise.all(blocks.map((n) => redis.smembers(ctx.keys.tentativeAddresses(n))))
    addresses = [...new Set(sets.flat())] as Address[]
  } else {
    addresses = await addressesWithBlocks(ctx.store, from, to)
  }
  const result = await rollbackBlocks(ctx.store, from, to, addresses)
  const end = redis.multi()
  queueHashClears(end, ctx.keys, from, to)
  for (let i = 0; i < blocks.length; i += 1_000) {
    const chunk = blocks.slice(i, i + 1_000).map(String)
    end.hdel(ctx.keys.parents, ...chunk)
    end.hdel(ctx.keys.tentative, ...chunk)
    end.del(...chunk.map((b) => ctx.keys.tentativeAddresses(Number(b))))
  }
  end.del(ctx.keys.fork)
  for (const [error] of (await end.exec()) ?? []) if (error) throw error
  return result.transfers
}

/** Finishes a rollback an earlier sync recorded but did not finish (the caller holds the sync lock). */
export async function finishRecordedRollback(ctx: Pick<ForkContext, 'store' | 'keys'>): Promise<BlockRange | null> {
  const record = await ctx.store.redis.hgetall(ctx.keys.fork)
  if (record.from === undefined || record.to === undefined) return null
  const range = { from: Number(record.from), to: Number(record.to) }
  await subtractCoverage(ctx.store.redis, ctx.keys, range)
  await finishRollback(ctx, range.from, range.to)
  return range
}

/** Every address holding a record (out or in) of a block in [from, to]: a scan of the store's nodes. */
export async function addressesWithBlocks(store: GraphStore, from: number, to: number): Promise<Address[]> {
  const found: Address[] = []
  for await (const keys of scanKeyBatches(store.redis, store.keys.nodePattern)) {
    const nodes = await mgetBuffers(store.redis, keys)
    keys.forEach((key, i) => {
      const { out, in: inn } = splitNode(nodes[i] ?? null)
      if (holdsBlock(out, OUT_SIZE, from, to) || holdsBlock(inn, IN_SIZE, from, to)) found.push(`0x${key.slice(key.lastIndexOf(':') + 1)}` as Address)
    })
  }
  return found
}

/** Records start with their block number (u32), sorted by position. */
function holdsBlock(records: Buffer, size: number, from: number, to: number): boolean {
  for (let o = 0; o < records.length; o += size) {
    const block = records.readUInt32BE(o)
    if (block > to) return false
    if (block >= from) return true
  }
  return false
}

/**
 * Checks the links between ranges written by different jobs: each of `firsts` (the first blocks
 * of the ranges, and the block after each) must name as parent the stored hash of the block
 * before it, where both are stored. Answers the first block whose link is broken, or null.
 */
export async function brokenLink(ctx: Pick<ForkContext, 'store' | 'keys'>, firsts: readonly number[]): Promise<{ block: number; parent: string; stored: string } | null> {
  const blocks = [...new Set(firsts)].filter((b) => b > 0).sort((a, b) => a - b)
  if (blocks.length === 0) return null
  const parents: (string | null)[] = []
  for (let i = 0; i < blocks.length; i += 1_000) parents.push(...(await ctx.store.redis.hmget(ctx.keys.parents, ...blocks.slice(i, i + 1_000).map(String))))
  const before = await readHashes(ctx.store.redis, ctx.keys, blocks.map((b) => b - 1))
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i]!
    const parent = parents[i] ?? null
    const stored = before.get(b - 1) ?? null
    if (parent !== null && stored !== null && stored !== parent) return { block: b, parent, stored }
  }
  return null
}
