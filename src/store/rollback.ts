/**
 * Removes the transfers of a block range from the graph store (a reorg replaced those blocks).
 * Uses the key layout of keys.ts and the record layout of records.ts; kept apart from
 * graph-store.ts because only the live sources need it.
 *
 * The caller names the addresses the range touched (the sync records them for every block it
 * writes before the block is final); for each, the records whose block lies in the range are
 * dropped from its out- and in-list and the counterparty header is recomputed. The rollback is a
 * commit like an import's (commit.ts): under the writer lock, into a journal, then one commit
 * point, so an interruption leaves the range either wholly in the store or wholly out of it.
 */
import { isExposureError } from '../errors.ts'
import type { Address } from '../types.ts'
import type { GraphStore } from './graph-store.ts'
import { mgetBufferByPartition, partitionOfBlock, partitionOfHex } from './partitions.ts'
import { IN_SIZE, OUT_SIZE, joinNode, splitNode } from './records.ts'

const CHUNK = 500

export interface RollbackResult {
  /** Out-records (transfers) removed. */
  transfers: number
  addresses: number
}

export async function rollbackBlocks(store: GraphStore, fromBlock: number, toBlock: number, addresses: readonly Address[]): Promise<RollbackResult> {
  const { redis, keys, imports } = store
  const id = `rollback${fromBlock}-${toBlock}-${Math.random().toString(36).slice(2, 8)}`
  await store.beginImport(id, 'rollback', `rollback of blocks ${fromBlock}-${toBlock}`)
  const lock = await imports.lockWriter({})
  try {
    await imports.finishDeadCommits(id)
    let transferDelta = 0
    let addressDelta = 0
    let changed = 0
    const touchedHexes: string[] = []
    const unique = [...new Set(addresses)]
    for (let i = 0; i < unique.length; i += CHUNK) {
      const chunk = unique.slice(i, i + CHUNK)
      const replies = await mgetBufferByPartition(redis, (h) => keys.node(`0x${h}`), chunk.map((a) => a.slice(2)))
      // Node strings are journaled per partition (parts `<partition>.r<i>`, under its tag: keys.ts).
      const fields = new Map<number, (string | Buffer)[]>()
      chunk.forEach((a, index) => {
        const old = replies[index] ?? null
        if (old === null) return
        const before = splitNode(old)
        const out = keep(before.out, OUT_SIZE, fromBlock, toBlock)
        const inn = keep(before.in, IN_SIZE, fromBlock, toBlock)
        if (out.length === before.out.length && inn.length === before.in.length) return
        const node = joinNode(a, out, inn)
        const p = partitionOfHex(a.slice(2))
        if (!fields.has(p)) fields.set(p, [])
        fields.get(p)!.push(`n${a.slice(2)}`, node ?? '')
        touchedHexes.push(a.slice(2))
        changed++
        transferDelta += (out.length - before.out.length) / OUT_SIZE
        if (node === null) addressDelta--
      })
      for (const [p, list] of fields) await imports.writeJournalPart(id, `${p}.r${i}`, list)
    }
    const blocks = Array.from({ length: Math.max(0, toBlock - fromBlock + 1) }, (_, i) => fromBlock + i)
    // Block times are journaled per block partition (parts `<partition>.b<i>`, under its tag).
    const byPartition = new Map<number, number[]>()
    for (const b of blocks) {
      const p = partitionOfBlock(b)
      const list = byPartition.get(p)
      if (list) list.push(b)
      else byPartition.set(p, [b])
    }
    for (const [p, list] of byPartition) {
      for (let i = 0; i < list.length; i += 2_000) await imports.writeJournalPart(id, `${p}.b${i}`, list.slice(i, i + 2_000).flatMap((b) => [`b${b}`, '']))
    }
    lock.assertHeld()
    await imports.commitPoint(id, { transferDelta, addressDelta, changed: changed > 0, touched: touchedHexes, shrinks: true })
    return { transfers: -transferDelta, addresses: unique.length }
  } catch (error) {
    if ((await redis.hget(keys.importRecord(id), 'state').catch(() => null)) !== 'committing') await imports.drop(id).catch(() => undefined)
    throw error
  } finally {
    await lock.release()
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

/**
 * Runs `commit` again while another process holds the store's writer lock. Commits wait for the
 * lock themselves now; this stays for callers that want a bound on the wait.
 */
export async function commitWhenFree<T>(commit: () => Promise<T>, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await commit()
    } catch (error) {
      if (!(isExposureError(error, 'WALK_BUSY') || isExposureError(error, 'STORE_BUSY')) || Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80))
    }
  }
}
