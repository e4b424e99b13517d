/**
 * Writing a block range read from a node into the graph store, and the sync's bookkeeping.
 *
 * Keys (under the store's prefix P, so inside its hash tag):
 *   P:sync:<source>:caps        string  JSON RpcCapabilities, detected at the last sync start
 *   P:sync:<source>:cursor      string  highest block B such that every block from the sync's start to B is written as final
 *   P:sync:<source>:done        zset    "from-to" → from: final ranges written (idempotent: a range written twice is the same member)
 *   P:sync:<source>:hashes      hash    block → block hash as written (final and tentative)
 *   P:sync:<source>:tentative   hash    block → hash of blocks written above the finality line (followed head)
 *   P:sync:<source>:taddr:<n>   set     addresses a tentative block touched (what a rollback must visit)
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { GraphStore } from '../../store/graph-store.ts'
import { commitWhenFree } from '../../store/rollback.ts'
import { ETH, type Address, type Asset } from '../../types.ts'
import type { RpcCapabilities } from './capabilities.ts'
import type { RpcClient } from './client.ts'
import { readRange, transfersFromRange } from './read-range.ts'

export interface SyncKeys {
  caps: string
  cursor: string
  done: string
  hashes: string
  tentative: string
  tentativeAddresses(block: number): string
}

export function syncKeys(prefix: string, source = 'rpc'): SyncKeys {
  const base = `${prefix}:sync:${source}`
  return {
    caps: `${base}:caps`,
    cursor: `${base}:cursor`,
    done: `${base}:done`,
    hashes: `${base}:hashes`,
    tentative: `${base}:tentative`,
    tentativeAddresses: (block) => `${base}:taddr:${block}`,
  }
}

/**
 * KEYS[1] cursor, KEYS[2] done zset. ARGV: none.
 * Moves the cursor forward over every written range that starts right after it; returns it.
 */
const ADVANCE_CURSOR = `
local c = tonumber(redis.call('GET', KEYS[1]) or '-1')
while true do
  local members = redis.call('ZRANGEBYSCORE', KEYS[2], c + 1, c + 1)
  local best = c
  for _, m in ipairs(members) do
    local e = tonumber(string.match(m, '%-(%d+)$'))
    if e ~= nil and e > best then best = e end
  end
  if best == c then break end
  c = best
end
redis.call('SET', KEYS[1], c)
return c
`

export async function advanceCursor(redis: Redis, keys: SyncKeys): Promise<number> {
  return Number(await redis.eval(ADVANCE_CURSOR, 2, keys.cursor, keys.done))
}

export async function readCursor(redis: Redis, keys: SyncKeys): Promise<number | null> {
  const value = await redis.get(keys.cursor)
  return value === null ? null : Number(value)
}

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
 * Reads blocks [from, to] and writes their transfers through the store's staging area (all of
 * the range or nothing). Idempotent: the commit de-duplicates records, so a retried or repeated
 * range adds nothing. `final`: the range is at or below the finality line (it advances the
 * cursor); otherwise its blocks are recorded as tentative, with the addresses a rollback must visit.
 */
export async function ingestRange(ctx: IngestContext, from: number, to: number, final: boolean): Promise<IngestResult> {
  const { store, keys } = ctx
  const raw = await readRange(ctx.client, ctx.caps, from, to, { logAddresses: ctx.listedTokens })
  const { transfers, blockTimes } = transfersFromRange(raw, ctx.listedTokens)
  const assetIds = await store.internAssets([ETH, ...ctx.listedTokens] as Asset[])
  const importId = `rpc${from}-${to}-${randomBytes(4).toString('hex')}`
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
  const pipeline = store.redis.pipeline()
  for (const [block, hash] of hashes) pipeline.hset(keys.hashes, String(block), hash)
  if (final) pipeline.zadd(keys.done, from, `${from}-${to}`)
  await pipeline.exec()
  if (final) await advanceCursor(store.redis, keys)
  return { from, to, transfers: transfers.length, added: committed.transfersAfter - committed.transfersBefore, hashes }
}
