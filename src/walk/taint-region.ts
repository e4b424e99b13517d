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
import { transfersOf } from '../store/transfers-of.ts'
import type { Address, Asset, Transfer } from '../types.ts'
import { replayTaint, type AssetTaint, type TaintTransfer } from './taint.ts'
import { describeCounterparties } from './value-inputs.ts'
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
  const basis = await readPublished(store.redis, store.keys)
  if (basis === null) throw new BaseError('NO_WALK', `no complete walk in store ${store.keys.prefix}: the taint replay needs the walk's region; run 'exposure trace' first`, { field: 'walk' })
  if (!basis.directions.includes('downstream')) throw new BaseError('NO_WALK', `the published walk ${basis.runId} has no downstream labels: run 'exposure trace --direction downstream' (or both)`, { field: 'walk' })
  const assets = await store.loadAssets()
  const dust = Object.fromEntries(Object.entries(basis.params.dust).map(([asset, min]) => [asset, BigInt(min)]))
  const { region, transfers, seeds } = await gatherRegion(store, basis, address.slice(2), assets, dust)
  if ((await store.redis.hget(store.keys.walkCurrent, 'runId')) !== basis.runId) return taintOf(store, address)
  const replayed = replayTaint({ transfers, seeds, region, target: address.slice(2), dust })
  return { address, walk: { runId: basis.runId, finishedAt: basis.finishedAt }, regionSize: region.size, transfersReplayed: transfers.length, assets: [...replayed.values()] }
}

async function gatherRegion(store: GraphStore, basis: WalkBasis, target: string, assets: readonly Asset[], dust: Readonly<Record<string, bigint>>) {
  const region = new Map<string, number>([[target, Number.POSITIVE_INFINITY]])
  const seeds = new Set<string>()
  const transfers: TaintTransfer[] = []
  // Worklist to a fixpoint: an address is (re)read when it joins the region or its bound grows.
  const read = new Set<string>()
  const pending = [target]
  while (pending.length > 0) {
    const hex = pending.pop()!
    const bound = region.get(hex)!
    const { incoming, outgoing } = await transfersOf(store, `0x${hex}` as Address, assets, { outgoing: !read.has(hex), incoming: true })
    if (!read.has(hex)) {
      for (const t of outgoing) transfers.push(toTaint(t))
      for (const t of incoming) transfers.push(toTaint(t))
      read.add(hex)
    }
    const arriving = incoming.map(toTaint).filter((t) => t.position <= bound && !(dust[t.asset] !== undefined && t.amount < dust[t.asset]!))
    const senders = [...new Set(arriving.map((t) => t.from))]
    if (senders.length === 0) continue
    const [info] = await describeCounterparties(store, basis.runId, senders.map((s) => ({ direction: 'downstream' as const, hex: s })), basis.params)
    const seedFlags = await store.redis.hmget(store.keys.seeds, ...senders.map((s) => `0x${s}`))
    senders.forEach((s, i) => {
      if (seedFlags[i] !== null && seedFlags[i] !== undefined) seeds.add(s)
    })
    for (const t of arriving) {
      const sender = info!.get(t.from)
      if (sender === undefined || !sender.passable) continue
      // Funds from a seed had reached the sender by this transfer (within the walk's hops).
      if (!sender.labels.some((l) => l.hops < basis.params.maxHops && l.cost <= t.position)) continue
      if ((region.get(t.from) ?? Number.NEGATIVE_INFINITY) < t.position) {
        region.set(t.from, t.position)
        if (!seeds.has(t.from)) pending.push(t.from)
      }
    }
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
