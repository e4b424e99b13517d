/**
 * Removes the transfers of a block range from the graph store (a reorg replaced those blocks).
 * Uses the key layout of keys.ts and the record layout of records.ts; kept apart from
 * graph-store.ts because only the live sources need it.
 *
 * The caller names the addresses the range touched (the sync records them for every block it
 * writes before the block is final); for each, the records whose block lies in the range are
 * dropped from its out- and in-list, the counterparty header is recomputed and the store's
 * counters are corrected. Holds the store's import lock, so it never interleaves with a commit.
 */
import type { Redis } from 'ioredis'
import { BaseError, isExposureError } from '../errors.ts'
import type { Address } from '../types.ts'
import { execOrThrow, type GraphStore } from './graph-store.ts'
import { IN_SIZE, OUT_SIZE, joinNode, splitNode } from './records.ts'

const CHUNK = 500

export interface RollbackResult {
  /** Out-records (transfers) removed. */
  transfers: number
  addresses: number
}

export async function rollbackBlocks(store: GraphStore, fromBlock: number, toBlock: number, addresses: readonly Address[]): Promise<RollbackResult> {
  const { redis, keys } = store
  const lockValue = `rollback-${fromBlock}-${toBlock}-${Math.random().toString(36).slice(2, 8)}`
  await acquire(redis, keys.importLock, lockValue)
  try {
    let removedTransfers = 0
    const unique = [...new Set(addresses)]
    for (let i = 0; i < unique.length; i += CHUNK) {
      const chunk = unique.slice(i, i + CHUNK)
      const replies = await redis.mgetBuffer(...chunk.map((a) => keys.node(a)))
      const write = redis.pipeline()
      let transferDelta = 0
      let addressDelta = 0
      chunk.forEach((a, index) => {
        const old = replies[index] ?? null
        const before = splitNode(old)
        const out = keep(before.out, OUT_SIZE, fromBlock, toBlock)
        const inn = keep(before.in, IN_SIZE, fromBlock, toBlock)
        const node = joinNode(a, out, inn)
        if (node !== null) write.set(keys.node(a), node)
        else write.del(keys.node(a))
        transferDelta += (out.length - before.out.length) / OUT_SIZE
        if (old !== null && node === null) addressDelta--
      })
      write.hincrby(keys.meta, 'transfers', transferDelta)
      write.hincrby(keys.meta, 'addresses', addressDelta)
      await execOrThrow(write)
      removedTransfers -= transferDelta
    }
    const blocks = Array.from({ length: Math.max(0, toBlock - fromBlock + 1) }, (_, i) => String(fromBlock + i))
    for (let i = 0; i < blocks.length; i += 10_000) await redis.hdel(keys.blockTimes, ...blocks.slice(i, i + 10_000))
    await redis.hset(keys.meta, 'lastImport', new Date().toISOString())
    return { transfers: removedTransfers, addresses: unique.length }
  } finally {
    if ((await redis.get(keys.importLock)) === lockValue) await redis.del(keys.importLock)
  }
}

/** The records whose block is outside [from, to]. */
function keep(records: Buffer, size: number, from: number, to: number): Buffer {
  const parts: Buffer[] = []
  for (let o = 0; o < records.length; o += size) {
    const block = records.readUInt32BE(o)
    if (block < from || block > to) parts.push(records.subarray(o, o + size))
  }
  return Buffer.concat(parts)
}

async function acquire(redis: Redis, key: string, value: string): Promise<void> {
  const deadline = Date.now() + 120_000
  for (;;) {
    if ((await redis.set(key, value, 'PX', 600_000, 'NX')) === 'OK') return
    if (Date.now() > deadline) throw new BaseError('WALK_BUSY', 'another import held the store lock for two minutes; rollback not done', { value: key })
    await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 50))
  }
}

/** Runs `commit` again while another import holds the store's lock (several ingest jobs finish at once). */
export async function commitWhenFree<T>(commit: () => Promise<T>, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await commit()
    } catch (error) {
      if (!isExposureError(error, 'WALK_BUSY') || Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80))
    }
  }
}
