/**
 * Writing a block range read from a node into the graph store, and the sync's bookkeeping: which
 * final block ranges the store holds (its coverage), the hash of every block written (so that a
 * later range, a follow step or a fork search can check that the chain still links up), and the
 * blocks written above the finality line (tentative, while following the head).
 *
 * Keys (under the store's prefix P, so inside its hash tag):
 *   P:sync:<source>:caps        string  JSON RpcCapabilities, detected at the last sync start
 *   P:sync:<source>:coverage    zset    "from-to" → from: the final block ranges the store holds, disjoint and
 *                                       merged (adjacent ranges are one member). A range is added only after its
 *                                       transfers were committed, and removed before a rollback takes them out:
 *                                       the coverage never claims a block the store does not hold
 *   P:sync:<source>:cursor      string  the end of the first coverage range ("final through"), kept with the
 *                                       coverage; absent when nothing is covered
 *   P:sync:<source>:bh:<bucket> string  block hashes as written (final and tentative), 32 bytes per block at offset
 *                                       (block mod 1024) × 32 of bucket block >> 10; zero bytes: not written
 *   P:sync:<source>:parents     hash    block → parent hash as read, for the first block of every range written
 *                                       (what links it to the block before, checked once that one is written too)
 *   P:sync:<source>:tentative   hash    block → hash of blocks written above the finality line (followed head)
 *   P:sync:<source>:taddr:<n>   set     addresses a tentative block touched (what a rollback of it must visit)
 *   P:sync:<source>:fork        hash    from, to: a rollback in progress (its coverage already removed); the next
 *                                       sync finishes it before anything else
 *   P:sync:<source>:done        zset    (older stores) the written ranges before coverage existed; read as coverage
 *   P:sync:<source>:hashes      hash    (older stores) block → hash; moved into the bucket strings by the next sync
 *   P:lock:sync                 string  held by the running sync coordinator (store/locks.ts)
 *   P:chain                     hash    chainId, genesis, recordedAt: the chain of the store's live data (chain.ts)
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { BaseError } from '../../errors.ts'
import type { GraphStore } from '../../store/graph-store.ts'
import { commitWhenFree } from '../../store/rollback.ts'
import { ETH, type Address, type Asset } from '../../types.ts'
import type { RpcCapabilities } from './capabilities.ts'
import { toHex, type RpcClient } from './client.ts'
import { LINK_BROKEN, readLinkedRange, transfersFromRange, type RawRange } from './read-range.ts'

/** A block range, both ends included. */
export interface BlockRange {
  from: number
  to: number
}

export interface SyncKeys {
  prefix: string
  caps: string
  coverage: string
  cursor: string
  /** The bucket string holding `block`'s hash. */
  hashBucket(block: number): string
  parents: string
  tentative: string
  tentativeAddresses(block: number): string
  fork: string
  /** Older stores only (read as coverage, then dropped). */
  done: string
  /** Older stores only: block → hash (moved into the bucket strings, then dropped). */
  legacyHashes: string
  lock: string
  chain: string
}

/** Blocks per hash bucket string. */
export const HASH_BUCKET = 1024
const HASH_BYTES = 32

export function syncKeys(prefix: string, source = 'rpc'): SyncKeys {
  const base = `${prefix}:sync:${source}`
  return {
    prefix,
    caps: `${base}:caps`,
    coverage: `${base}:coverage`,
    cursor: `${base}:cursor`,
    hashBucket: (block) => `${base}:bh:${Math.floor(block / HASH_BUCKET)}`,
    parents: `${base}:parents`,
    tentative: `${base}:tentative`,
    tentativeAddresses: (block) => `${base}:taddr:${block}`,
    fork: `${base}:fork`,
    done: `${base}:done`,
    legacyHashes: `${base}:hashes`,
    lock: `${prefix}:lock:sync`,
    chain: `${prefix}:chain`,
  }
}

export { LINK_BROKEN }

// ---------------------------------------------------------------------------------------------
// Coverage: a set of disjoint, merged block ranges in a sorted set, changed only by these scripts.

/** Sets KEYS[2] (cursor) to the end of the first range of KEYS[1] (coverage), or deletes it. */
const CURSOR_TAIL = `
local first = redis.call('ZRANGE', KEYS[1], 0, 0)
if #first == 0 then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], string.match(first[1], '%-(%d+)$')) end
`

/**
 * KEYS[1] coverage zset, KEYS[2] cursor. ARGV[1] from, ARGV[2] to.
 * Adds [from, to], merging every range it overlaps or touches.
 */
const ADD_COVERAGE = `
local from, to = tonumber(ARGV[1]), tonumber(ARGV[2])
while true do
  local members = redis.call('ZREVRANGEBYSCORE', KEYS[1], to + 1, '-inf', 'LIMIT', 0, 16)
  local merged = 0
  local stop = false
  for _, m in ipairs(members) do
    local a, b = string.match(m, '^(%d+)%-(%d+)$')
    a, b = tonumber(a), tonumber(b)
    if b < from - 1 then stop = true break end
    redis.call('ZREM', KEYS[1], m)
    merged = merged + 1
    if a < from then from = a end
    if b > to then to = b end
  end
  if stop or #members < 16 then break end
end
redis.call('ZADD', KEYS[1], from, string.format('%d-%d', from, to))
${CURSOR_TAIL}
return 1
`

/**
 * KEYS[1] coverage zset, KEYS[2] cursor. ARGV[1] from, ARGV[2] to.
 * Removes [from, to] from every range it overlaps (splitting a range that holds it).
 */
const SUBTRACT_COVERAGE = `
local from, to = tonumber(ARGV[1]), tonumber(ARGV[2])
local members = redis.call('ZREVRANGEBYSCORE', KEYS[1], to, '-inf')
for _, m in ipairs(members) do
  local a, b = string.match(m, '^(%d+)%-(%d+)$')
  a, b = tonumber(a), tonumber(b)
  if b < from then break end
  redis.call('ZREM', KEYS[1], m)
  if a < from then redis.call('ZADD', KEYS[1], a, string.format('%d-%d', a, from - 1)) end
  if b > to then redis.call('ZADD', KEYS[1], to + 1, string.format('%d-%d', to + 1, b)) end
end
${CURSOR_TAIL}
return 1
`

export function parseRange(member: string): BlockRange | null {
  const match = /^(\d+)-(\d+)$/.exec(member)
  return match ? { from: Number(match[1]), to: Number(match[2]) } : null
}

/** Sorted, disjoint, merged (adjacent ranges joined). */
export function mergeRanges(ranges: readonly BlockRange[]): BlockRange[] {
  const sorted = [...ranges].filter((r) => r.to >= r.from).sort((a, b) => a.from - b.from)
  const out: BlockRange[] = []
  for (const r of sorted) {
    const last = out[out.length - 1]
    if (last !== undefined && r.from <= last.to + 1) last.to = Math.max(last.to, r.to)
    else out.push({ ...r })
  }
  return out
}

/** The parts of `range` that `covered` (merged) does not hold. */
export function subtractRanges(range: BlockRange, covered: readonly BlockRange[]): BlockRange[] {
  const out: BlockRange[] = []
  let start = range.from
  for (const c of covered) {
    if (c.to < start) continue
    if (c.from > range.to) break
    if (c.from > start) out.push({ from: start, to: Math.min(range.to, c.from - 1) })
    start = Math.max(start, c.to + 1)
    if (start > range.to) break
  }
  if (start <= range.to) out.push({ from: start, to: range.to })
  return out
}

/** "0-9, 20-36" (or "none"). */
export function describeRanges(ranges: readonly BlockRange[], separator = ', '): string {
  return ranges.length === 0 ? 'none' : ranges.map((r) => `${r.from}-${r.to}`).join(separator)
}

/**
 * The final block ranges the store holds. Read-only: an older store's written ranges (P:…:done)
 * are merged in until the next sync converts them.
 */
export async function readCoverage(redis: Redis, keys: SyncKeys): Promise<BlockRange[]> {
  const [members, legacy] = await Promise.all([redis.zrange(keys.coverage, 0, -1), redis.zrange(keys.done, 0, -1)])
  const ranges = [...members, ...legacy].map(parseRange).filter((r): r is BlockRange => r !== null)
  return mergeRanges(ranges)
}

/**
 * "Final through": the last block of the first covered range. Every block from the first synced
 * block up to it is in the store. Null when nothing is covered.
 */
export function finalThrough(coverage: readonly BlockRange[]): number | null {
  return coverage[0]?.to ?? null
}

/** The cursor as stored (the end of the first covered range); null when nothing is covered. */
export async function readCursor(redis: Redis, keys: SyncKeys): Promise<number | null> {
  return finalThrough(await readCoverage(redis, keys))
}

export async function addCoverage(redis: Redis, keys: SyncKeys, range: BlockRange): Promise<void> {
  await redis.eval(ADD_COVERAGE, 2, keys.coverage, keys.cursor, range.from, range.to)
}

/** Queues a coverage change on a transaction (with the other writes of the same step). */
export function queueCoverageChange(pipeline: ReturnType<Redis['pipeline']>, keys: SyncKeys, change: 'add' | 'subtract', range: BlockRange): void {
  pipeline.eval(change === 'add' ? ADD_COVERAGE : SUBTRACT_COVERAGE, 2, keys.coverage, keys.cursor, range.from, range.to)
}

export async function subtractCoverage(redis: Redis, keys: SyncKeys, range: BlockRange): Promise<void> {
  await redis.eval(SUBTRACT_COVERAGE, 2, keys.coverage, keys.cursor, range.from, range.to)
}

/**
 * Converts an older store's bookkeeping (the caller holds the sync lock): its written ranges
 * (P:…:done) into coverage, its block hashes (a hash per block) into the bucket strings, and
 * drops a cursor that no covered range backs (older syncs wrote it before reading anything).
 */
export async function migrateLegacyCoverage(redis: Redis, keys: SyncKeys): Promise<void> {
  const legacy = (await redis.zrange(keys.done, 0, -1)).map(parseRange).filter((r): r is BlockRange => r !== null)
  for (const r of mergeRanges(legacy)) await addCoverage(redis, keys, r)
  if (legacy.length > 0) await redis.del(keys.done)
  else if ((await redis.zcard(keys.coverage)) === 0) await redis.del(keys.cursor)
  let cursor = '0'
  do {
    const [next, entries] = await redis.hscan(keys.legacyHashes, cursor, 'COUNT', 1000)
    cursor = next
    const hashes = new Map<number, string>()
    for (let i = 0; i + 1 < entries.length; i += 2) if (/^0x[0-9a-f]{64}$/.test(entries[i + 1]!)) hashes.set(Number(entries[i]), entries[i + 1]!)
    if (hashes.size > 0) {
      const write = redis.pipeline()
      queueHashWrites(write, keys, hashes)
      await write.exec()
    }
  } while (cursor !== '0')
  await redis.del(keys.legacyHashes)
}

// ---------------------------------------------------------------------------------------------
// Block hashes: 32 bytes per block in bucket strings.

type Pipeline = ReturnType<Redis['pipeline']>

/** Queues the writes of `hashes` (block → 0x-hash) on a pipeline or transaction. */
export function queueHashWrites(pipeline: Pipeline, keys: SyncKeys, hashes: ReadonlyMap<number, string>): void {
  for (const [block, hash] of hashes) pipeline.setrange(keys.hashBucket(block), (block % HASH_BUCKET) * HASH_BYTES, Buffer.from(hash.slice(2), 'hex'))
}

/** Queues zero bytes over blocks [from, to] (their hashes forgotten). */
export function queueHashClears(pipeline: Pipeline, keys: SyncKeys, from: number, to: number): void {
  for (let start = from; start <= to; ) {
    const end = Math.min(to, (Math.floor(start / HASH_BUCKET) + 1) * HASH_BUCKET - 1)
    pipeline.setrange(keys.hashBucket(start), (start % HASH_BUCKET) * HASH_BYTES, Buffer.alloc((end - start + 1) * HASH_BYTES))
    start = end + 1
  }
}

/** The stored hashes of `blocks` (null: not written). */
export async function readHashes(redis: Redis, keys: SyncKeys, blocks: readonly number[]): Promise<Map<number, string | null>> {
  const out = new Map<number, string | null>()
  const list = [...new Set(blocks)].filter((b) => b >= 0)
  for (let i = 0; i < list.length; i += 1_000) {
    const chunk = list.slice(i, i + 1_000)
    const pipeline = redis.pipeline()
    for (const b of chunk) pipeline.getrangeBuffer(keys.hashBucket(b), (b % HASH_BUCKET) * HASH_BYTES, (b % HASH_BUCKET) * HASH_BYTES + HASH_BYTES - 1)
    const replies = (await pipeline.exec()) ?? []
    chunk.forEach((b, k) => {
      const [error, value] = replies[k]!
      if (error) throw error
      const bytes = value as Buffer | null
      out.set(b, bytes === null || bytes.length < HASH_BYTES || bytes.every((x) => x === 0) ? null : `0x${bytes.toString('hex')}`)
    })
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// One range.

export interface IngestContext {
  store: GraphStore
  client: RpcClient
  caps: RpcCapabilities
  listedTokens: readonly Address[]
  keys: SyncKeys
}

export interface IngestResult {
  from: number
  to: number
  transfers: number
  added: number
  /** Block → hash as read. */
  hashes: Map<number, string>
}

/**
 * Checks that what was read fits what the store holds: the first block's parent is the stored
 * block before it, every block written before has the same hash, and the stored block after the
 * range (if any) names the last block as its parent. A mismatch is a fork (the store holds blocks
 * of another branch) or a node that answers inconsistently: thrown as RPC_ERROR naming the block,
 * so the coordinator looks for the fork point.
 */
async function checkLinks(ctx: IngestContext, raw: RawRange): Promise<void> {
  const { from, to, blocks } = raw
  const first = blocks[0]!
  const last = blocks[blocks.length - 1]!
  const stored = await readHashes(ctx.store.redis, ctx.keys, [from - 1, ...blocks.map((b) => b.number), to + 1])
  const before = stored.get(from - 1) ?? null
  if (before !== null && before !== first.parentHash) {
    throw linkError(from, `block ${from} names parent ${first.parentHash}, but the store holds ${before} as block ${from - 1}`)
  }
  for (const b of blocks) {
    const held = stored.get(b.number) ?? null
    if (held !== null && held !== b.hash) throw linkError(b.number, `the node's block ${b.number} is ${b.hash}, but the store holds ${held}`)
  }
  const after = stored.get(to + 1) ?? null
  if (after !== null) {
    const header = await ctx.client.call<{ hash?: string; parentHash?: string } | null>('eth_getBlockByNumber', [toHex(to + 1), false])
    if (header !== null && header !== undefined) {
      if (String(header.hash).toLowerCase() !== after) throw linkError(to + 1, `the node's block ${to + 1} is ${String(header.hash).toLowerCase()}, but the store holds ${after}`)
      if (String(header.parentHash).toLowerCase() !== last.hash) throw linkError(to + 1, `block ${to + 1} names parent ${String(header.parentHash).toLowerCase()}, but the node's block ${to} is ${last.hash}`)
    }
  }
}

function linkError(block: number, detail: string): BaseError {
  return new BaseError('RPC_ERROR', `${LINK_BROKEN} at block ${block}: ${detail} (a reorg, or a node that answers inconsistently)`, { field: 'block', value: String(block) })
}

/**
 * Reads blocks [from, to] and writes their transfers through the store's staging area (all of
 * the range or nothing). Idempotent: the commit de-duplicates records, so a retried or repeated
 * range adds nothing. The range must link to the blocks the store holds around it (checkLinks).
 * `final`: the range is at or below the finality line: after the commit it joins the coverage.
 * Otherwise its blocks are recorded as tentative, with the addresses a rollback must visit.
 */
export async function ingestRange(ctx: IngestContext, from: number, to: number, final: boolean): Promise<IngestResult> {
  const { store, keys } = ctx
  const raw = await readLinkedRange(ctx.client, ctx.caps, from, to, { logAddresses: ctx.listedTokens })
  await checkLinks(ctx, raw)
  const { transfers, blockTimes } = transfersFromRange(raw, ctx.listedTokens)
  const assetIds = await store.internAssets([ETH, ...ctx.listedTokens] as Asset[])
  const importId = `rpc${from}-${to}-${randomBytes(4).toString('hex')}`
  await store.beginImport(importId, 'rpc', `blocks ${from}-${to}${final ? '' : ' (tentative)'}`)
  try {
    await store.stage(importId, transfers, assetIds)
  } catch (error) {
    await store.abort(importId)
    throw error
  }
  const hashes = new Map(raw.blocks.map((b) => [b.number, b.hash]))
  if (!final) {
    // Before the commit: a crash after it must still leave the rollback its addresses.
    const pipeline = store.redis.pipeline()
    const byBlock = new Map<number, Set<string>>()
    for (const t of transfers) {
      const set = byBlock.get(t.blockNumber) ?? new Set<string>()
      set.add(t.from).add(t.to)
      byBlock.set(t.blockNumber, set)
    }
    for (const [block, addresses] of byBlock) pipeline.sadd(keys.tentativeAddresses(block), ...addresses)
    for (const [block, hash] of hashes) pipeline.hset(keys.tentative, String(block), hash)
    await pipeline.exec()
  }
  const committed = await commitWhenFree(() => store.commit(importId))
  if (blockTimes.size > 0) await store.putBlockTimes(blockTimes)
  // After the commit: the hashes, the first block's parent, and (final ranges) the coverage, at once.
  const write = store.redis.multi()
  queueHashWrites(write, keys, hashes)
  write.hset(keys.parents, String(from), raw.blocks[0]!.parentHash)
  if (final) write.eval(ADD_COVERAGE, 2, keys.coverage, keys.cursor, from, to)
  for (const [error] of (await write.exec()) ?? []) if (error) throw error
  return { from, to, transfers: transfers.length, added: committed.transfersAfter - committed.transfersBefore, hashes }
}
