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
import { HEADER_SIZE, IN_SIZE, OUT_SIZE } from './records.ts'

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
      const read = redis.pipeline()
      for (const a of chunk) {
        read.getBuffer(keys.out(a))
        read.getBuffer(keys.in(a))
      }
      const replies = await execOrThrow(read)
      const write = redis.pipeline()
      let transferDelta = 0
      let addressDelta = 0
      chunk.forEach((a, index) => {
        const oldOut = (replies[index * 2] as Buffer | null) ?? null
        const oldIn = (replies[index * 2 + 1] as Buffer | null) ?? null
        const out = keep(oldOut, OUT_SIZE, fromBlock, toBlock)
        const inn = keep(oldIn, IN_SIZE, fromBlock, toBlock)
        const header = Buffer.alloc(HEADER_SIZE)
        header.writeUInt32BE(countCounterparties(a, out, inn))
        if (out.length > 0) write.set(keys.out(a), Buffer.concat([header, out]))
        else write.del(keys.out(a))
        if (inn.length > 0) write.set(keys.in(a), Buffer.concat([header, inn]))
        else write.del(keys.in(a))
        const before = oldOut === null ? 0 : (oldOut.length - HEADER_SIZE) / OUT_SIZE
        transferDelta += out.length / OUT_SIZE - before
        if ((oldOut !== null || oldIn !== null) && out.length === 0 && inn.length === 0) addressDelta--
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

/** The records (header stripped) whose block is outside [from, to]. */
function keep(list: Buffer | null, size: number, from: number, to: number): Buffer {
  if (list === null) return Buffer.alloc(0)
  const parts: Buffer[] = []
  for (let o = HEADER_SIZE; o < list.length; o += size) {
    const block = list.readUInt32BE(o)
    if (block < from || block > to) parts.push(list.subarray(o, o + size))
  }
  return Buffer.concat(parts)
}

/** Distinct counterparties over both lists, self excluded (the same rule as the commit's). */
function countCounterparties(self: Address, out: Buffer, inn: Buffer): number {
  const selfKey = Buffer.from(self.slice(2), 'hex').toString('latin1')
  const seen = new Set<string>()
  for (let o = 0; o < out.length; o += OUT_SIZE) seen.add(out.toString('latin1', o + 6, o + 26))
  for (let o = 0; o < inn.length; o += IN_SIZE) seen.add(inn.toString('latin1', o + 6, o + 26))
  seen.delete(selfKey)
  return seen.size
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
