/**
 * Block timestamps, kept per bucket of blocks under the partition tag of the bucket (keys.ts
 * B:bt:<bucket>, field: the block number), so that mainnet's blocks spread over a cluster's
 * masters. Reads and writes group the blocks by hash; on a cluster the pipeline runs per slot
 * (slot-pipeline.ts).
 */
import type { Redis } from 'ioredis'
import type { StoreKeys } from './keys.ts'

function byKey(keyOf: (block: number) => string, blocks: Iterable<number>): Map<string, number[]> {
  const out = new Map<string, number[]>()
  for (const block of blocks) {
    const key = keyOf(block)
    const list = out.get(key)
    if (list) list.push(block)
    else out.set(key, [block])
  }
  return out
}

/**
 * One per-block field (tx map, waiting tokens, block time) of each of `blocks`, from the bucket
 * hashes `keyOf` names: one HMGET per hash, 200 hashes per pipeline (per slot on a cluster).
 * A block without the field, or with it empty, is absent.
 */
export async function readBlockFields(redis: Redis, keyOf: (block: number) => string, blocks: Iterable<number>): Promise<Map<number, Buffer>> {
  const groups = [...byKey(keyOf, new Set(blocks))]
  const out = new Map<number, Buffer>()
  for (let i = 0; i < groups.length; i += 200) {
    const chunk = groups.slice(i, i + 200)
    const pipeline = redis.pipeline()
    for (const [key, list] of chunk) pipeline.hmgetBuffer(key, ...list.map(String))
    const replies = (await pipeline.exec()) ?? []
    chunk.forEach(([, list], k) => {
      const [error, values] = replies[k] ?? [new Error('no reply')]
      if (error) throw error
      ;(values as (Buffer | null)[]).forEach((v, j) => {
        if (v !== null && v.length > 0) out.set(list[j]!, v)
      })
    })
  }
  return out
}

/** The timestamps (unix seconds) the store holds for `blocks`; a block it does not know is absent. */
export async function readBlockTimes(redis: Redis, keys: StoreKeys, blocks: Iterable<number>): Promise<Map<number, number>> {
  const found = await readBlockFields(redis, keys.blockTime, blocks)
  return new Map([...found].map(([block, value]) => [block, Number(value.toString())]))
}

/** Writes block timestamps (a sync's blocks; imports write theirs through their commit's journal). */
export async function writeBlockTimes(redis: Redis, keys: StoreKeys, times: ReadonlyMap<number, number>): Promise<void> {
  const groups = [...byKey(keys.blockTime, times.keys())]
  for (let i = 0; i < groups.length; i += 200) {
    const pipeline = redis.pipeline()
    for (const [key, list] of groups.slice(i, i + 200)) pipeline.hset(key, ...list.flatMap((b) => [String(b), String(times.get(b))]))
    for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error
  }
}
