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
import { callScript } from '../store/scripts.ts'
import { transfersOf } from '../store/transfers-of.ts'
import type { Address, Asset, Direction } from '../types.ts'
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

export interface PassabilityRule {
  stopCategories: readonly string[]
  counterpartyCap: number
}

/** Passability of addresses (a seed, or not a stop node), with their labels of a direction in run `runId`. */
export async function describeCounterparties(store: GraphStore, runId: string, wanted: readonly { direction: Direction; hex: string }[], rule: PassabilityRule): Promise<Map<string, Counterparty>[]> {
  const { redis, keys } = store
  const stop = new Set(rule.stopCategories)
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
            const service = serviceOf.get(`0x${w.hex}`) ?? null
            const category = service ? ((JSON.parse(service) as { category?: string }).category ?? null) : null
            const isSeed = seedOf.get(`0x${w.hex}`) === true
            found[index] = { labels: parseLabels(labels), passable: isSeed || ((category === null || !stop.has(category)) && count <= rule.counterpartyCap), isSeed }
          })
        })(),
      )
    }
  }
  await Promise.all(calls)
  wanted.forEach((w, index) => out[w.direction === 'downstream' ? 0 : 1]!.set(w.hex, found[index]!))
  return out
}

/**
 * Reads the inputs of the given directions from run `runId`; throws WALK_STOPPED when that run
 * stopped being published meanwhile.
 */
export async function readValueInputs(store: GraphStore, runId: string, address: Address, directions: readonly Direction[], rule: PassabilityRule, assets: readonly Asset[]): Promise<AddressValueInputs> {
  const result: AddressValueInputs = { downstream: null, upstream: null, lastSent: null }
  if (directions.length === 0) return result
  const { outgoing, incoming } = await transfersOf(store, address, assets, { outgoing: true, incoming: directions.includes('downstream') })
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
  const [down, up] = await describeCounterparties(store, runId, wanted, rule)
  if (result.downstream) result.downstream.counterparties = down!
  if (result.upstream) result.upstream.counterparties = up!
  if ((await store.redis.hget(store.keys.walkCurrent, 'runId')) !== runId) throw new BaseError('WALK_STOPPED', `walk ${runId} was replaced while its value was read`, { value: runId })
  return result
}
