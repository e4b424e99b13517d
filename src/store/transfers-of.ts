/**
 * Addresses' transfers, whole: every field (tx hash, kind, sub-index) and the exact amount.
 * Outgoing ones are an address's own out-records. Incoming ones come from the senders'
 * out-records (lua/incoming.lua), because an in-record keeps neither the tx hash nor the
 * sub-index, saturates its amount at 2^64−1, and two transfers that agree in everything it holds
 * share one in-record. Many addresses are read together: one MGET per partition, then one script
 * call per thousand queries (on a Redis Cluster, per partition of the senders too).
 */
import type { Address, Asset, Transfer } from '../types.ts'
import type { GraphStore } from './graph-store.ts'
import { mgetBufferByPartition, partitionOfHex } from './partitions.ts'
import { HEADER_SIZE, IN_SIZE, MAX_AMOUNT, OUT_SIZE, decodeRecord } from './records.ts'
import { isCluster } from './redis.ts'
import { callScriptBuffer } from './scripts.ts'

/** Queries per incoming.lua call: each is a binary search in a sender's node. */
const BATCH = 1_000
/** Node strings per MGET. */
const NODES = 500

export interface NodeTransfers {
  outgoing: Transfer[]
  incoming: Transfer[]
}

export interface Which {
  outgoing?: boolean
  incoming?: boolean
}

/** One address's transfers (empty lists for an unknown address). */
export async function transfersOf(store: GraphStore, address: Address, assets: readonly Asset[], which: Which = { outgoing: true, incoming: true }): Promise<NodeTransfers> {
  return (await transfersOfMany(store, [address], assets, which)).get(address)!
}

/** Many addresses' transfers, in a few round trips. */
export async function transfersOfMany(store: GraphStore, addresses: readonly Address[], assets: readonly Asset[], which: Which = { outgoing: true, incoming: true }): Promise<Map<Address, NodeTransfers>> {
  const out = new Map<Address, NodeTransfers>()
  const queries: { sender: string; recipient: Address; position: number; assetId: number }[] = []
  for (let i = 0; i < addresses.length; i += NODES) {
    const chunk = addresses.slice(i, i + NODES)
    const nodes = await mgetBufferByPartition(store.redis, (h) => store.keys.node(`0x${h}`), chunk.map((a) => a.slice(2)))
    chunk.forEach((address, k) => {
      const result: NodeTransfers = { outgoing: [], incoming: [] }
      out.set(address, result)
      const node = nodes[k]
      if (!node || node.length < HEADER_SIZE) return
      const outCount = node.readUInt32BE(4)
      if (which.outgoing !== false) result.outgoing = outgoingOf(address, node, assets)
      if (which.incoming !== false) {
        // One query per distinct (sender, position, asset) of the in-list.
        const seen = new Set<string>()
        for (let o = HEADER_SIZE + outCount * OUT_SIZE; o + IN_SIZE <= node.length; o += IN_SIZE) {
          const r = decodeRecord(node, o, IN_SIZE)
          const key = `${r.counterparty}/${r.position}/${r.assetId}`
          if (seen.has(key)) continue
          seen.add(key)
          queries.push({ sender: r.counterparty.slice(2), recipient: address, position: r.position, assetId: r.assetId })
        }
      }
    })
  }
  // On a Redis Cluster one call per partition of the senders (every node key a call reads under
  // the tag of its KEYS[1]), so each call stays in one slot; calls run concurrently. One server
  // takes every partition in one call per batch (a script may read any key there).
  const cluster = isCluster(store.redis)
  const bySender = new Map<number, number[]>()
  queries.forEach((q, index) => {
    const p = cluster ? partitionOfHex(q.sender) : -1
    const group = bySender.get(p)
    if (group) group.push(index)
    else bySender.set(p, [index])
  })
  const found = new Array<Buffer[]>(queries.length)
  const calls: Promise<void>[] = []
  for (const [p, group] of bySender) {
    for (let i = 0; i < group.length; i += BATCH) {
      const batch = group.slice(i, i + BATCH)
      const args: (string | number)[] = [store.keys.partitionName]
      for (const index of batch) {
        const q = queries[index]!
        args.push(q.sender, q.recipient.slice(2), q.position, q.assetId)
      }
      calls.push(
        (async () => {
          const replies = (await callScriptBuffer(store.redis, 'incoming', [p < 0 ? store.keys.meta : store.keys.partition(p)], args)) as Buffer[][]
          batch.forEach((index, k) => (found[index] = replies[k] ?? []))
        })(),
      )
    }
  }
  await Promise.all(calls)
  // In the order of the queries (the in-records'), as one call per batch answered them.
  queries.forEach((q, index) => {
    const list = out.get(q.recipient)!.incoming
    for (const record of found[index]!) list.push(toTransfer(`0x${q.sender}`, record, 0, assets))
  })
  for (const result of out.values()) await exactAmounts(store, [...result.outgoing, ...result.incoming])
  return out
}

/** An address's outgoing transfers: the out-records of its node string (header first). */
export function outgoingOf(address: Address, node: Buffer, assets: readonly Asset[]): Transfer[] {
  const outgoing: Transfer[] = []
  const outEnd = HEADER_SIZE + node.readUInt32BE(4) * OUT_SIZE
  for (let o = HEADER_SIZE; o < outEnd; o += OUT_SIZE) outgoing.push(toTransfer(address, node, o, assets))
  return outgoing
}

/** Amounts beyond 96 bits (never ETH; only absurd token amounts) are kept exactly on the side. */
export async function exactAmounts(store: GraphStore, transfers: readonly Transfer[]): Promise<void> {
  for (const t of transfers) if (t.amount === MAX_AMOUNT) t.amount = await store.exactAmount(t)
}

/** The transfer an out-record at `offset` of `buf` stands for, sent by `from`. */
export function toTransfer(from: Address, buf: Buffer, offset: number, assets: readonly Asset[]): Transfer {
  const r = decodeRecord(buf, offset, OUT_SIZE)
  return { from, to: r.counterparty, amount: r.amount, asset: assets[r.assetId] ?? 'ETH', blockNumber: r.blockNumber, transactionIndex: r.transactionIndex, txHash: r.txHash!, kind: r.kind!, subIndex: r.subIndex! }
}
