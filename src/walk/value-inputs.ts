/**
 * What exposed value (value.ts) reads from the store for one address and direction: the address's
 * in-list (downstream) or out-list (upstream) with exact amounts, and, for every counterparty, its
 * labels in the published run and whether it is passable.
 *
 * Consistent without a transaction: a published run's labels never change while it is published
 * (a new walk writes its own and replaces the run in one step), so the reads check that the run is
 * still the published one afterwards and start again if not.
 */
import { BaseError } from '../errors.ts'
import type { GraphStore } from '../store/graph-store.ts'
import { HEADER_SIZE, IN_SIZE, MAX_AMOUNT, OUT_SIZE, decodeRecord } from '../store/records.ts'
import { callScriptBuffer } from '../store/scripts.ts'
import type { Address, Direction } from '../types.ts'
import { parseLabels } from './labels.ts'
import type { Counterparty, ValueTransfer } from './value.ts'

const MAX_IN = (1n << 64n) - 1n
const CHUNK = 2_000

export interface ValueInputs {
  transfers: ValueTransfer[]
  counterparties: Map<string, Counterparty>
}

export interface AddressValueInputs {
  downstream: ValueInputs | null
  upstream: ValueInputs | null
  /** Position of the address's last outgoing transfer (null: it never sent anything). */
  lastSent: number | null
}

export interface PassabilityRule {
  stopCategories: readonly string[]
  counterpartyCap: number
}

/**
 * Reads the inputs of the given directions from run `runId` in a few round trips (the node once,
 * every counterparty's labels, seed flag, category and counterparty count in one pipeline); throws
 * WALK_STOPPED when that run stopped being published meanwhile.
 */
export async function readValueInputs(store: GraphStore, runId: string, address: Address, directions: readonly Direction[], rule: PassabilityRule): Promise<AddressValueInputs> {
  const { redis, keys } = store
  const nodeBytes = directions.length === 0 ? null : await redis.getBuffer(keys.node(address))
  const result: AddressValueInputs = { downstream: null, upstream: null, lastSent: null }
  if (nodeBytes === null || nodeBytes.length < HEADER_SIZE) {
    for (const d of directions) result[d] = { transfers: [], counterparties: new Map() }
    return result
  }
  const outCount = nodeBytes.readUInt32BE(4)
  const outList = nodeBytes.subarray(HEADER_SIZE, HEADER_SIZE + outCount * OUT_SIZE)
  const inList = nodeBytes.subarray(HEADER_SIZE + outCount * OUT_SIZE)
  if (outCount > 0) result.lastSent = decodeRecord(outList, (outCount - 1) * OUT_SIZE, OUT_SIZE).position
  const wanted: { direction: Direction; hex: string }[] = []
  for (const direction of directions) {
    const list = direction === 'downstream' ? inList : outList
    const size = direction === 'downstream' ? IN_SIZE : OUT_SIZE
    const transfers: ValueTransfer[] = []
    const saturated: number[] = []
    for (let o = 0; o + size <= list.length; o += size) {
      const r = decodeRecord(list, o, size)
      transfers.push({ counterparty: r.counterparty.slice(2), position: r.position, assetId: r.assetId, amount: r.amount })
      if (direction === 'downstream' ? r.amount === MAX_IN : r.amount === MAX_AMOUNT) saturated.push(transfers.length - 1)
    }
    if (direction === 'downstream') await exactIncoming(store, address, transfers, saturated)
    else for (const i of saturated) transfers[i]!.amount = await exactOutgoing(store, address, list, i)
    result[direction] = { transfers, counterparties: new Map() }
    for (const hex of new Set(transfers.map((t) => t.counterparty))) wanted.push({ direction, hex })
  }
  const stop = new Set(rule.stopCategories)
  for (let i = 0; i < wanted.length; i += CHUNK) {
    const chunk = wanted.slice(i, i + CHUNK)
    const pipeline = redis.pipeline()
    for (const w of chunk) pipeline.hget(keys.walkLabels(runId, w.direction), w.hex)
    pipeline.hmget(keys.seeds, ...chunk.map((w) => `0x${w.hex}`))
    pipeline.hmget(keys.labels, ...chunk.map((w) => `0x${w.hex}`))
    for (const w of chunk) pipeline.getrangeBuffer(keys.node(`0x${w.hex}` as Address), 0, 3)
    const replies = (await pipeline.exec()) ?? []
    for (const [error] of replies) if (error) throw error
    const seeds = replies[chunk.length]![1] as (string | null)[]
    const services = replies[chunk.length + 1]![1] as (string | null)[]
    chunk.forEach((w, j) => {
      const head = replies[chunk.length + 2 + j]![1] as Buffer
      const count = head.length === 4 ? head.readUInt32BE(0) : 0
      const service = services[j]
      const category = service ? ((JSON.parse(service) as { category?: string }).category ?? null) : null
      const isSeed = seeds[j] !== null && seeds[j] !== undefined
      result[w.direction]!.counterparties.set(w.hex, { labels: parseLabels(replies[j]![1] as string | null), passable: isSeed || ((category === null || !stop.has(category)) && count <= rule.counterpartyCap) })
    })
  }
  if ((await redis.hget(keys.walkCurrent, 'runId')) !== runId) throw new BaseError('WALK_STOPPED', `walk ${runId} was replaced while its value was read`, { value: runId })
  return result
}

/** Exact amounts of in-records saturated at 2^64−1, from the senders' out-records (one round trip). */
async function exactIncoming(store: GraphStore, address: Address, transfers: ValueTransfer[], saturated: readonly number[]): Promise<void> {
  if (saturated.length === 0) return
  // One query per (sender, position, asset): the group's saturated in-records are exactly the
  // sender's large out-records there.
  const groups = new Map<string, number[]>()
  for (const i of saturated) {
    const t = transfers[i]!
    const key = `${t.counterparty}/${t.position}/${t.assetId}`
    const list = groups.get(key)
    if (list) list.push(i)
    else groups.set(key, [i])
  }
  const entries = [...groups]
  const args: (string | number)[] = [store.keys.prefix, address.slice(2)]
  for (const [key] of entries) args.push(...key.split('/'))
  const replies = (await callScriptBuffer(store.redis, 'exact-amounts', [], args)) as Buffer[][]
  for (const [k, [, indices]] of entries.entries()) {
    const records = replies[k] ?? []
    if (records.length !== indices.length) {
      throw new BaseError('INTERNAL', `the sender's out-records of ${records.length} large transfers to ${address} do not match its ${indices.length} in-records (the store changed?)`, { value: address })
    }
    // The records are sorted by bytes, so by amount within a group: assign in order (the sum is what counts).
    for (const [j, i] of indices.entries()) {
      const record = decodeRecord(records[j]!, 0, OUT_SIZE)
      transfers[i]!.amount = record.amount === MAX_AMOUNT ? await store.exactAmount({ txHash: record.txHash!, kind: record.kind!, subIndex: record.subIndex!, from: `0x${transfers[i]!.counterparty}`, to: address, amount: record.amount }) : record.amount
    }
  }
}

/** The exact amount of an out-record holding the 96-bit maximum (P:amounts keeps larger ones). */
async function exactOutgoing(store: GraphStore, address: Address, list: Buffer, index: number): Promise<bigint> {
  const record = decodeRecord(list, index * OUT_SIZE, OUT_SIZE)
  return store.exactAmount({ txHash: record.txHash!, kind: record.kind!, subIndex: record.subIndex!, from: address, to: record.counterparty, amount: record.amount })
}
