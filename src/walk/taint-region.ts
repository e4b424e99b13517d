/**
 * The haircut taint of an address from the store (`exposure taint`, and a library function the
 * API and the view call): finds the region between the seeds and the address in the published
 * walk, reads every transfer touching it, and replays them (taint.ts).
 *
 * The region: the address W, and, going back from it over incoming transfers, every passable
 * sender S (a seed, or not a stop node) whose funds from a seed had arrived by the time it sent
 * (a downstream label of the published walk with cost ≤ the transfer's position, within the
 * walk's hops) — the addresses through which seed funds can have reached W in time, found to a
 * fixpoint (an address's bound is the latest position at which it sent on the way to W; its
 * transfers received after that bound cannot reach W). Every transfer of every address of the
 * region is replayed: clean deposits dilute the taint as much as tainted ones add to it.
 */
import { BaseError } from '../errors.ts'
import type { GraphStore } from '../store/graph-store.ts'
import { transfersOfMany } from '../store/transfers-of.ts'
import type { Address, Asset, Transfer } from '../types.ts'
import { replayTaint, type AssetTaint, type TaintTransfer } from './taint.ts'
import { describeCounterparties } from './value-inputs.ts'
import type { Counterparty } from './value.ts'
import { readPublished, type WalkBasis } from './walk-runs.ts'

export interface TaintAnswer {
  address: Address
  walk: { runId: string; finishedAt: string }
  /** Addresses whose balances were replayed (the region, W included). */
  regionSize: number
  transfersReplayed: number
  assets: AssetTaint[]
}

function toTaint(t: Transfer): TaintTransfer {
  return { from: t.from.slice(2), to: t.to.slice(2), asset: t.asset, amount: t.amount, position: t.blockNumber * 65536 + t.transactionIndex, kind: t.kind, subIndex: t.subIndex, txHash: t.txHash }
}

/** The taint of `address` per asset, from the published walk's region. Throws NO_WALK without one. */
export async function taintOf(store: GraphStore, address: Address): Promise<TaintAnswer> {
  return createTaintReplayer(store).taintOf(address)
}

/** Transfers read for the region, kept between replays of one session (they share most of their regions). */
const CACHE_TRANSFERS = 2_000_000

/**
 * A replayer that keeps what it read (addresses' transfers, counterparties' labels) for as long
 * as the published walk and the store's version stay the same: the regions of many addresses
 * overlap, and a service or a benchmark replaying many of them reads each address once.
 */
export function createTaintReplayer(store: GraphStore) {
  let cache: RegionCache | null = null

  async function taintOf(address: Address): Promise<TaintAnswer> {
    const basis = await readPublished(store.redis, store.keys)
    if (basis === null) throw new BaseError('NO_WALK', `no complete walk in store ${store.keys.prefix}: the taint replay needs the walk's region; run 'exposure trace' first`, { field: 'walk' })
    if (!basis.directions.includes('downstream')) throw new BaseError('NO_WALK', `the published walk ${basis.runId} has no downstream labels: run 'exposure trace --direction downstream' (or both)`, { field: 'walk' })
    const version = (await store.redis.hget(store.keys.meta, 'version')) ?? '0'
    if (cache === null || cache.runId !== basis.runId || cache.version !== version || cache.size > CACHE_TRANSFERS) cache = { runId: basis.runId, version, transfers: new Map(), counterparties: new Map(), size: 0 }
    const assets = await store.loadAssets()
    const dust = Object.fromEntries(Object.entries(basis.params.dust).map(([asset, min]) => [asset, BigInt(min)]))
    const { region, transfers, seeds } = await gatherRegion(store, basis, address.slice(2), assets, dust, cache)
    if ((await store.redis.hget(store.keys.walkCurrent, 'runId')) !== basis.runId) return taintOf(address)
    const replayed = replayTaint({ transfers, seeds, region, target: address.slice(2), dust, distinct: true })
    return { address, walk: { runId: basis.runId, finishedAt: basis.finishedAt }, regionSize: region.size, transfersReplayed: transfers.length, assets: [...replayed.values()] }
  }

  return { taintOf }
}

interface RegionCache {
  runId: string
  version: string
  /** hex40 → its incoming and outgoing transfers */
  transfers: Map<string, { incoming: TaintTransfer[]; outgoing: TaintTransfer[] }>
  /** hex40 → its downstream labels and passability */
  counterparties: Map<string, Counterparty>
  size: number
}

async function gatherRegion(store: GraphStore, basis: WalkBasis, target: string, assets: readonly Asset[], dust: Readonly<Record<string, bigint>>, cache: RegionCache) {
  const region = new Map<string, number>([[target, Number.POSITIVE_INFINITY]])
  const seeds = new Set<string>()
  const transfers: TaintTransfer[] = []
  const incomingOf = new Map<string, TaintTransfer[]>()
  // Waves to a fixpoint: every address that joined the region, or whose bound grew, is looked at in
  // the next wave; each wave reads all its addresses in a few round trips.
  let wave = [target]
  while (wave.length > 0) {
    const unread = wave.filter((hex) => !incomingOf.has(hex))
    const missing = unread.filter((hex) => !cache.transfers.has(hex))
    for (const [address, { incoming, outgoing }] of await transfersOfMany(store, missing.map((hex) => `0x${hex}` as Address), assets)) {
      cache.transfers.set(address.slice(2), { incoming: incoming.map(toTaint), outgoing: outgoing.map(toTaint) })
      cache.size += incoming.length + outgoing.length
    }
    for (const hex of unread) incomingOf.set(hex, cache.transfers.get(hex)!.incoming)
    const arriving: TaintTransfer[] = []
    for (const hex of wave) {
      const bound = region.get(hex)!
      for (const t of incomingOf.get(hex)!) if (t.position <= bound && !(dust[t.asset] !== undefined && t.amount < dust[t.asset]!)) arriving.push(t)
    }
    const senders = [...new Set(arriving.map((t) => t.from))].filter((s) => !cache.counterparties.has(s))
    const [info] = await describeCounterparties(store, basis.runId, senders.map((s) => ({ direction: 'downstream' as const, hex: s })), basis.params)
    for (const [hex, c] of info!) cache.counterparties.set(hex, c)
    const next = new Set<string>()
    for (const t of arriving) {
      const sender = cache.counterparties.get(t.from)
      if (sender === undefined || !sender.passable) continue
      if (sender.isSeed) seeds.add(t.from)
      // Funds from a seed had reached the sender by this transfer (within the walk's hops).
      if (!sender.labels.some((l) => l.hops < basis.params.maxHops && l.cost <= t.position)) continue
      if ((region.get(t.from) ?? Number.NEGATIVE_INFINITY) < t.position) {
        region.set(t.from, t.position)
        // A seed sends fully tainted value whatever it received: the region does not go back through one.
        if (!sender.isSeed) next.add(t.from)
      }
    }
    wave = [...next]
  }
  // Every transfer touching the region once: each read address's incoming transfers, and its
  // outgoing ones to addresses that were not read (those are someone's incoming already).
  for (const [hex, incoming] of incomingOf) {
    transfers.push(...incoming)
    for (const t of cache.transfers.get(hex)!.outgoing) if (!incomingOf.has(t.to)) transfers.push(t)
  }
  // Seeds send fully tainted value wherever they appear, also outside the region's bounds.
  const everyone = [...new Set(transfers.flatMap((t) => [t.from, t.to]))]
  for (let i = 0; i < everyone.length; i += 2_000) {
    const chunk = everyone.slice(i, i + 2_000)
    const flags = await store.redis.hmget(store.keys.seeds, ...chunk.map((h) => `0x${h}`))
    chunk.forEach((hex, j) => {
      if (flags[j] !== null && flags[j] !== undefined) seeds.add(hex)
    })
  }
  return { region, transfers, seeds }
}
