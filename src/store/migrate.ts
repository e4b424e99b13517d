/**
 * Brings a store of format 3 to format 4 in place (keys.ts STORE_FORMAT): format 4 keeps the
 * per-block state (tx index, waiting token transfers, block times) under the partition tag of the
 * block's bucket instead of the prefix's tag, so that a cluster's masters share it. Nodes, labels
 * and everything else are where format 3 had them, so a re-import (hours at mainnet scale) is not
 * needed: each old hash is copied field by field to its new keys, then deleted.
 *
 * Under the writer lock, with no unfinished import (their staging and journals are in the old
 * layout). Interrupted anywhere, it is run again: a copy is idempotent, an old key is deleted only
 * after its fields are written, and the format is set to 4 only when no old key is left. Until then
 * every other command refuses the store as format 3 (graph-store.ts assertFormat), so nothing
 * reads a half-moved store.
 */
import { BaseError, InputError } from '../errors.ts'
import type { GraphStore } from './graph-store.ts'
import { STORE_FORMAT } from './keys.ts'
import { scanKeyBatches } from './redis.ts'

export interface MigrationResult {
  from: number
  to: number
  /** Blocks moved per family (0 when the store was already at format 4). */
  txIndexBlocks: number
  pendingTokenBlocks: number
  blockTimes: number
}

/** Fields per HSCAN step and per write. */
const STEP = 2_000

export async function migrateStore(store: GraphStore, options: { onProgress?: (message: string) => void; signal?: AbortSignal } = {}): Promise<MigrationResult> {
  const { redis, keys } = store
  const { onProgress, signal } = options
  const formatOf = async () => {
    const [format, transfers] = await redis.hmget(keys.meta, 'format', 'transfers')
    return format === null ? (Number(transfers ?? 0) > 0 ? 1 : STORE_FORMAT) : Number(format)
  }
  const found = await formatOf()
  const done: MigrationResult = { from: found, to: STORE_FORMAT, txIndexBlocks: 0, pendingTokenBlocks: 0, blockTimes: 0 }
  if (found === STORE_FORMAT) return done
  if (found !== 3) {
    throw new InputError('INVALID_CONFIG', `store ${keys.prefix} is of format ${found}; only format 3 can be migrated to ${STORE_FORMAT} in place (older stores keep their nodes under other key names): re-import into a new store (--prefix)`, { field: 'prefix', value: keys.prefix })
  }
  const lock = await store.imports.lockWriter(signal ? { signal } : {})
  // Between the steps: still ours, and not interrupted (what is moved stays moved; run it again).
  const step = () => {
    lock.assertHeld()
    if (signal?.aborted) throw new BaseError('INTERRUPTED', `interrupted: store ${keys.prefix} is still format 3, part of its per-block state moved; 'exposure migrate' again finishes it`, { value: keys.prefix })
  }
  try {
    // Another migrate may have finished while this one waited for the lock.
    if ((await formatOf()) === STORE_FORMAT) return { ...done, from: STORE_FORMAT }
    const unfinished = await redis.zrange(keys.imports, 0, -1)
    if (unfinished.length > 0) {
      throw new BaseError('STORE_BUSY', `store ${keys.prefix} has unfinished imports (${unfinished.join(', ')}), staged in format 3's layout: finish them ('exposure import --resume <id>') or drop them ('--abort <id>') with the version that staged them, then migrate`, { field: 'imports', value: unfinished.join(',') })
    }
    const old = (family: string) => `${keys.prefix}:${family}`
    for (const [family, newKey, count] of [
      ['txi', keys.txIndex, 'txIndexBlocks'],
      ['ptok', keys.pendingTokens, 'pendingTokenBlocks'],
    ] as const) {
      for await (const batch of scanKeyBatches(redis, `${old(family).replace(/[*?[\]\\]/g, '\\$&')}:*`)) {
        for (const key of batch) {
          done[count] += await moveHash(store, key, newKey, step)
        }
      }
      onProgress?.(`${family}: ${done[count]} blocks moved`)
    }
    done.blockTimes = await moveHash(store, old('blocktime'), keys.blockTime, step)
    onProgress?.(`block times: ${done.blockTimes} blocks moved`)
    step()
    await redis.hset(keys.meta, 'format', String(STORE_FORMAT))
    return done
  } finally {
    await lock.release()
  }
}

/**
 * Copies every field (a block number) of hash `from` to the hash `to(block)` names, then deletes
 * what it copied: step by step (HSCAN), so a large hash (format 3's block times: one field per
 * block of the chain) is moved in bounded memory and an interrupted move resumes where it was.
 */
async function moveHash(store: GraphStore, from: string, to: (block: number) => string, between?: () => void): Promise<number> {
  const { redis } = store
  let moved = 0
  // HSCAN returns every field present for the whole scan, deleted ones or not; a field it missed
  // (a rehash while deleting) is caught by the next round. Done when the hash is gone.
  while ((await redis.exists(from)) === 1) {
    let cursor = '0'
    do {
      const [next, flat] = await redis.hscanBuffer(from, cursor, 'COUNT', STEP)
      cursor = String(next)
      if (flat.length > 0) moved += await copyAndDelete(store, from, flat, to)
      between?.()
    } while (cursor !== '0')
  }
  return moved
}

/** Writes fields (block → value) of `from` to their new hashes, then deletes them from `from`; answers how many it deleted. */
async function copyAndDelete(store: GraphStore, from: string, flat: readonly Buffer[], to: (block: number) => string): Promise<number> {
  const { redis } = store
  const byKey = new Map<string, (string | Buffer)[]>()
  const fields: Buffer[] = []
  for (let i = 0; i < flat.length; i += 2) {
    const field = flat[i]!
    const block = Number(field.toString())
    if (!Number.isInteger(block) || block < 0) throw new BaseError('INTERNAL', `field ${field.toString()} of ${from} is not a block number`, { value: from })
    const key = to(block)
    const list = byKey.get(key)
    if (list) list.push(field, flat[i + 1]!)
    else byKey.set(key, [field, flat[i + 1]!])
    fields.push(field)
  }
  const write = redis.pipeline()
  for (const [key, list] of byKey) write.hset(key, ...list)
  for (const [error] of (await write.exec()) ?? []) if (error) throw error
  return redis.hdel(from, ...fields)
}
