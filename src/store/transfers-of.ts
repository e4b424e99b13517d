/**
 * An address's transfers, whole: every field (tx hash, kind, sub-index) and the exact amount.
 * Outgoing ones are its own out-records. Incoming ones come from the senders' out-records
 * (lua/incoming.lua), because an in-record keeps neither the tx hash nor the sub-index, saturates
 * its amount at 2^64−1, and two transfers that agree in everything it holds share one in-record.
 */
import type { Address, Asset, Transfer } from '../types.ts'
import type { GraphStore } from './graph-store.ts'
import { HEADER_SIZE, IN_SIZE, MAX_AMOUNT, OUT_SIZE, decodeRecord } from './records.ts'
import { callScriptBuffer } from './scripts.ts'

/** Queries per incoming.lua call: each is a binary search in a sender's node; a hub's list goes in batches. */
const BATCH = 1_000

export interface NodeTransfers {
  outgoing: Transfer[]
  incoming: Transfer[]
}

/** The address's node split into its transfers (an empty list for an unknown address). */
export async function transfersOf(store: GraphStore, address: Address, assets: readonly Asset[], which: { outgoing?: boolean; incoming?: boolean } = { outgoing: true, incoming: true }): Promise<NodeTransfers> {
  const node = await store.redis.getBuffer(store.keys.node(address))
  if (node === null || node.length < HEADER_SIZE) return { outgoing: [], incoming: [] }
  const outCount = node.readUInt32BE(4)
  const outList = node.subarray(HEADER_SIZE, HEADER_SIZE + outCount * OUT_SIZE)
  const inList = node.subarray(HEADER_SIZE + outCount * OUT_SIZE)
  return {
    outgoing: which.outgoing === false ? [] : await outgoingOf(store, address, outList, assets),
    incoming: which.incoming === false ? [] : await incomingOf(store, address, inList, assets),
  }
}

async function outgoingOf(store: GraphStore, address: Address, outList: Buffer, assets: readonly Asset[]): Promise<Transfer[]> {
  const out: Transfer[] = []
  for (let o = 0; o + OUT_SIZE <= outList.length; o += OUT_SIZE) out.push(await toTransfer(store, address, outList.subarray(o, o + OUT_SIZE), assets))
  return out
}

async function incomingOf(store: GraphStore, address: Address, inList: Buffer, assets: readonly Asset[]): Promise<Transfer[]> {
  // One query per distinct (sender, position, asset) of the in-list.
  const queries: string[] = []
  const seen = new Set<string>()
  for (let o = 0; o + IN_SIZE <= inList.length; o += IN_SIZE) {
    const r = decodeRecord(inList, o, IN_SIZE)
    const key = `${r.counterparty.slice(2)}/${r.position}/${r.assetId}`
    if (seen.has(key)) continue
    seen.add(key)
    queries.push(key)
  }
  const out: Transfer[] = []
  for (let i = 0; i < queries.length; i += BATCH) {
    const batch = queries.slice(i, i + BATCH)
    const args: (string | number)[] = [store.keys.prefix, address.slice(2)]
    for (const q of batch) args.push(...q.split('/'))
    const replies = (await callScriptBuffer(store.redis, 'incoming', [], args)) as Buffer[][]
    for (const [k, q] of batch.entries()) {
      const sender = `0x${q.split('/')[0]}` as Address
      for (const record of replies[k] ?? []) out.push(await toTransfer(store, sender, record, assets))
    }
  }
  return out
}

/** An out-record of `from` as a transfer, with its exact amount (P:amounts beyond 96 bits). */
async function toTransfer(store: GraphStore, from: Address, record: Buffer, assets: readonly Asset[]): Promise<Transfer> {
  const r = decodeRecord(record, 0, OUT_SIZE)
  const transfer: Transfer = { from, to: r.counterparty, amount: r.amount, asset: assets[r.assetId] ?? 'ETH', blockNumber: r.blockNumber, transactionIndex: r.transactionIndex, txHash: r.txHash!, kind: r.kind!, subIndex: r.subIndex! }
  if (r.amount === MAX_AMOUNT) transfer.amount = await store.exactAmount(transfer)
  return transfer
}
