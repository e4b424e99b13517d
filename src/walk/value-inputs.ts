/**
 * What exposed value (value.ts) reads from the store for one address: its transfers of the wanted
 * directions, whole and exact (store/transfers-of.ts), and for every counterparty its labels in
 * the published run and whether it is passable.
 *
 * Consistent without a transaction: a published run's labels never change while it is published
 * (a new walk writes its own and replaces the run in one step), so the reads check that the run is
 * still the published one afterwards and start again if not.
 */
import { BaseError } from '../errors.ts'
import type { GraphStore } from '../store/graph-store.ts'
import { partitionOfHex } from '../store/partitions.ts'
import { isCluster } from '../store/redis.ts'
import { ASSET_OFFSET, HEADER_SIZE, OUT_SIZE } from '../store/records.ts'
import { callScript, callScriptBuffer } from '../store/scripts.ts'
import { exactAmounts, outgoingOf, toTransfer, transfersOf } from '../store/transfers-of.ts'
import type { Address, Asset, Direction, Transfer } from '../types.ts'
import { parseLabels } from './labels.ts'
import type { Counterparty, ValueTransfer } from './value.ts'

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

/** The store's asset table as a caller holds it, and how to read it again (it only grows). */
export interface AssetTable {
  known: readonly Asset[]
  reload: () => Promise<readonly Asset[]>
}

export interface PassabilityRule {
  stopCategories: readonly string[]
  counterpartyCap: number
}

/** Passability of addresses (a seed, or not a stop node), with their labels of a direction in run `runId`. */
export async function describeCounterparties(store: GraphStore, runId: string, wanted: readonly { direction: Direction; hex: string }[], rule: PassabilityRule): Promise<Map<string, Counterparty>[]> {
  const { redis, keys } = store
  const out: Map<string, Counterparty>[] = [new Map(), new Map()]
  // Seeds and service labels (global, the prefix's tag): one MULTI of two HMGETs.
  const addresses = [...new Set(wanted.map((w) => `0x${w.hex}`))]
  const seedOf = new Map<string, boolean>()
  const serviceOf = new Map<string, string | null>()
  for (let i = 0; i < addresses.length; i += CHUNK) {
    const chunk = addresses.slice(i, i + CHUNK)
    const replies = (await redis.multi().hmget(keys.seeds, ...chunk).hmget(keys.labels, ...chunk).exec()) ?? []
    for (const [error] of replies) if (error) throw error
    const [seeds, services] = [replies[0]![1] as (string | null)[], replies[1]![1] as (string | null)[]]
    chunk.forEach((a, k) => {
      seedOf.set(a, seeds[k] !== null)
      serviceOf.set(a, services[k] ?? null)
    })
  }
  // Labels and counts live under the counterparties' partitions: on a Redis Cluster one script
  // call per partition (each in one slot); one server takes them all in one call per chunk.
  const cluster = isCluster(redis)
  const byPartition = new Map<number, number[]>()
  wanted.forEach((w, index) => {
    const p = cluster ? partitionOfHex(w.hex) : -1
    const group = byPartition.get(p)
    if (group) group.push(index)
    else byPartition.set(p, [index])
  })
  const found = new Array<Counterparty>(wanted.length)
  const calls: Promise<void>[] = []
  for (const [p, group] of byPartition) {
    for (let i = 0; i < group.length; i += CHUNK) {
      const chunk = group.slice(i, i + CHUNK)
      const args: string[] = [keys.partitionName, runId]
      for (const index of chunk) args.push(wanted[index]!.direction === 'downstream' ? 'd' : 'u', wanted[index]!.hex)
      calls.push(
        (async () => {
          const reply = (await callScript(redis, 'counterparties', [p < 0 ? keys.meta : keys.partition(p)], args)) as (string | number | null)[]
          chunk.forEach((index, j) => {
            const w = wanted[index]!
            const [labels, count] = reply.slice(2 * j, 2 * j + 2) as [string | null, number]
            found[index] = counterpartyOf(rule, labels, count, seedOf.get(`0x${w.hex}`) === true, serviceOf.get(`0x${w.hex}`) ?? null)
          })
        })(),
      )
    }
  }
  await Promise.all(calls)
  wanted.forEach((w, index) => out[w.direction === 'downstream' ? 0 : 1]!.set(w.hex, found[index]!))
  return out
}

/** A counterparty as value sees it: passable when a seed, or not a stop node (no stop category, at most the cap of counterparties). */
function counterpartyOf(rule: PassabilityRule, labels: string | null, count: number, isSeed: boolean, service: string | null): Counterparty {
  const category = service ? ((JSON.parse(service) as { category?: string }).category ?? null) : null
  return { labels: parseLabels(labels), passable: isSeed || ((category === null || !rule.stopCategories.includes(category)) && count <= rule.counterpartyCap), isSeed }
}

/**
 * Reads the inputs of the given directions from run `runId`; throws WALK_STOPPED when that run
 * stopped being published meanwhile. One server: one script call (lua/value-inputs.lua); a Redis
 * Cluster: the transfers, then the counterparties, partition by partition.
 */
export async function readValueInputs(store: GraphStore, runId: string, address: Address, directions: readonly Direction[], rule: PassabilityRule, assets: AssetTable): Promise<AddressValueInputs> {
  if (directions.length === 0) return { downstream: null, upstream: null, lastSent: null }
  if (!isCluster(store.redis)) return readInOneCall(store, runId, address, directions, rule, assets)
  const { outgoing, incoming } = await transfersOf(store, address, await assets.reload(), { outgoing: true, incoming: directions.includes('downstream') })
  const { result, wanted } = inputsOf(directions, outgoing, incoming)
  const [down, up] = await describeCounterparties(store, runId, wanted, rule)
  if (result.downstream) result.downstream.counterparties = down!
  if (result.upstream) result.upstream.counterparties = up!
  if ((await store.redis.hget(store.keys.walkCurrent, 'runId')) !== runId) throw new BaseError('WALK_STOPPED', `walk ${runId} was replaced while its value was read`, { value: runId })
  return result
}

/** The transfers of each wanted direction as value takes them, and the counterparties to describe. */
function inputsOf(directions: readonly Direction[], outgoing: readonly Transfer[], incoming: readonly Transfer[]) {
  const result: AddressValueInputs = { downstream: null, upstream: null, lastSent: null }
  for (const t of outgoing) {
    const position = t.blockNumber * 65536 + t.transactionIndex
    if (result.lastSent === null || position > result.lastSent) result.lastSent = position
  }
  const wanted: { direction: Direction; hex: string }[] = []
  for (const direction of directions) {
    const transfers: ValueTransfer[] = (direction === 'downstream' ? incoming : outgoing).map((t) => ({
      counterparty: (direction === 'downstream' ? t.from : t.to).slice(2),
      position: t.blockNumber * 65536 + t.transactionIndex,
      asset: t.asset,
      amount: t.amount,
    }))
    result[direction] = { transfers, counterparties: new Map() }
    for (const hex of new Set(transfers.map((t) => t.counterparty))) wanted.push({ direction, hex })
  }
  return { result, wanted }
}

/**
 * One server: the node, the incoming transfers and every counterparty's description in one script
 * call, which also checks that `runId` is the published walk (so nothing read can be of another).
 * Each part is decoded as transfersOf and describeCounterparties decode theirs.
 */
async function readInOneCall(store: GraphStore, runId: string, address: Address, directions: readonly Direction[], rule: PassabilityRule, table: AssetTable): Promise<AddressValueInputs> {
  const { redis, keys } = store
  const wantDown = directions.includes('downstream')
  const wanted = directions.map((d) => (d === 'downstream' ? 'd' : 'u')).join('')
  const reply = (await callScriptBuffer(redis, 'value-inputs', [keys.walkCurrent, keys.seeds, keys.labels, keys.node(address)], [keys.partitionName, runId, wanted, wantDown ? '1' : '0', address.slice(2)])) as number | [Buffer, [Buffer, ...Buffer[]][], (Buffer | number | null)[]]
  if (reply === -1) throw new BaseError('WALK_STOPPED', `walk ${runId} was replaced while its value was read`, { value: runId })
  const [node, found, described] = reply as [Buffer, [Buffer, ...Buffer[]][], (Buffer | number | null)[]]
  // The asset table only grows: read it again only when a record names an id it does not hold yet.
  let assets = table.known
  const outEnd = node.length >= HEADER_SIZE ? HEADER_SIZE + node.readUInt32BE(4) * OUT_SIZE : 0
  let largest = -1
  for (let o = HEADER_SIZE; o < outEnd; o += OUT_SIZE) largest = Math.max(largest, node[o + ASSET_OFFSET]!)
  for (const [, ...records] of found) for (const record of records) largest = Math.max(largest, record[ASSET_OFFSET]!)
  if (largest >= assets.length) assets = await table.reload()
  const outgoing = node.length >= HEADER_SIZE ? outgoingOf(address, node, assets) : []
  const incoming = found.flatMap(([sender, ...records]) => records.map((record) => toTransfer(`0x${String(sender)}`, record, 0, assets)))
  await exactAmounts(store, [...outgoing, ...incoming])
  const { result } = inputsOf(directions, outgoing, incoming)
  for (let i = 0; i < described.length; i += 6) {
    const direction = String(described[i]) === 'd' ? 'downstream' : 'upstream'
    const labels = described[i + 2] === null ? null : String(described[i + 2])
    const service = described[i + 5] === null ? null : String(described[i + 5])
    result[direction]?.counterparties.set(String(described[i + 1]), counterpartyOf(rule, labels, Number(described[i + 3]), Number(described[i + 4]) === 1, service))
  }
  return result
}
