/**
 * Block timestamps, kept per bucket of blocks under the partition tag of the bucket (keys.ts
 * B:bt:<bucket>, field: the block number), so that mainnet's blocks spread over a cluster's
 * masters. Reads and writes group the blocks by hash; on a cluster the pipeline runs per slot
 * (slot-pipeline.ts).
 */
import type { Redis } from 'ioredis'
import type { StoreKeys } from './keys.ts'

function byKey(keys: StoreKeys, blocks: Iterable<number>): Map<string, number[]> {
  const out = new Map<string, number[]>()
  for (const block of blocks) {
    const key = keys.blockTime(block)
    const list = out.get(key)
    if (list) list.push(block)
    else out.set(key, [block])
  }
  return out
}

/** The timestamps (unix seconds) the store holds for `blocks`; a block it does not know is absent. */
export async function readBlockTimes(redis: Redis, keys: StoreKeys, blocks: Iterable<number>): Promise<Map<number, number>> {
  const groups = [...byKey(keys, new Set(blocks))]
  const out = new Map<number, number>()
  if (groups.length === 0) return out
  const pipeline = redis.pipeline()
  for (const [key, list] of groups) pipeline.hmget(key, ...list.map(String))
  const replies = (await pipeline.exec()) ?? []
  groups.forEach(([, list], g) => {
    const [error, values] = replies[g] ?? [new Error('no reply')]
    if (error) throw error
    ;(values as (string | null)[]).forEach((v, i) => {
      if (v !== null) out.set(list[i]!, Number(v))
    })
  })
  return out
}

/** Writes block timestamps (a sync's blocks; imports write theirs through their commit's journal). */
export async function writeBlockTimes(redis: Redis, keys: StoreKeys, times: ReadonlyMap<number, number>): Promise<void> {
  const groups = [...byKey(keys, times.keys())]
  for (let i = 0; i < groups.length; i += 200) {
    const pipeline = redis.pipeline()
    for (const [key, list] of groups.slice(i, i + 200)) pipeline.hset(key, ...list.flatMap((b) => [String(b), String(times.get(b))]))
    for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error
  }
}
