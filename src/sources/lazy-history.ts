/**
 * Lazy per-address history for the walk: before a walk job expands an address, its transfers are
 * fetched from a per-address source (the Etherscan API, or the node's trace_filter / getLogs) and
 * written into the store, once per address; later calls fetch only blocks after the ones covered.
 *
 * Why this keeps the walk's answer: expanding X reads only X's own out-list (downstream) or
 * in-list (upstream) and X's counterparty count, and X's history holds all of them; a neighbour's
 * list is read only when that neighbour is expanded, and then it is fetched first.
 *
 * Keys (under the store's prefix P):
 *   P:lazy:<source>:through   hash  hex40 → last block of that address's history in the store
 */
import type { GraphStore } from '../store/graph-store.ts'
import { commitWhenFree } from '../store/rollback.ts'
import { ETH, type Address, type Asset, type Transfer } from '../types.ts'

/** A source of one address's transfers (already filtered by the counting rules). */
export interface AddressHistorySource {
  name: string
  /** Every transfer into or out of `address` in blocks [fromBlock, toBlock], and none outside them. */
  fetch(address: Address, fromBlock: number, toBlock: number): Promise<Transfer[]>
  /** Requests made so far (for the benchmark's requests per expanded address). */
  requests(): number
}

export interface LazyHistoryOptions {
  /** History is covered up to this block; a function is asked on every call (the head or the finality line). */
  throughBlock: number | (() => Promise<number>)
  listedTokens: readonly Address[]
  /** Addresses fetched at once. Default 4. */
  concurrency?: number
}

export interface LazyHistory {
  /**
   * Fetches (once) the history of every address not yet covered through the current block. With
   * `budget`, fetches at most that many (the first uncovered ones, in order) and answers the
   * addresses left uncovered in `unfetched` (a fetched-address budget, e.g. a check job's).
   */
  ensure(addresses: readonly Address[], budget?: number): Promise<{ fetched: number; unfetched: Address[] }>
  /** Addresses fetched so far by this process. */
  fetched(): number
}

export function createLazyHistory(store: GraphStore, source: AddressHistorySource, options: LazyHistoryOptions): LazyHistory {
  const throughKey = `${store.keys.prefix}:lazy:${source.name}:through`
  let assetIds: Map<Asset, number> | null = null
  let count = 0

  async function ensure(addresses: readonly Address[], budget = Number.POSITIVE_INFINITY): Promise<{ fetched: number; unfetched: Address[] }> {
    if (addresses.length === 0) return { fetched: 0, unfetched: [] }
    const through = typeof options.throughBlock === 'number' ? options.throughBlock : await options.throughBlock()
    const covered = await store.redis.hmget(throughKey, ...addresses.map((a) => a.slice(2)))
    const uncovered = addresses.filter((_, i) => covered[i] === null || Number(covered[i]) < through)
    const toFetch = uncovered.slice(0, Math.max(0, budget))
    const left = uncovered.slice(toFetch.length)
    if (toFetch.length === 0) return { fetched: 0, unfetched: left }
    assetIds ??= await store.internAssets([ETH, ...options.listedTokens] as Asset[])
    const transfers: Transfer[] = []
    const limit = options.concurrency ?? 4
    for (let i = 0; i < toFetch.length; i += limit) {
      const batch = toFetch.slice(i, i + limit)
      const results = await Promise.all(
        batch.map(async (a) => {
          const known = covered[addresses.indexOf(a)]
          const from = known === null || known === undefined ? 0 : Number(known) + 1
          // A walk must not use transfers beyond its own final block, whatever a source sent.
          return withinBlocks(await source.fetch(a, from, through), from, through)
        }),
      )
      for (const list of results) transfers.push(...list)
    }
    const importId = `lazy${source.name}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
    try {
      await store.stage(importId, transfers, assetIds)
    } catch (error) {
      await store.abort(importId)
      throw error
    }
    await commitWhenFree(() => store.commit(importId))
    await store.redis.hset(throughKey, Object.fromEntries(toFetch.map((a) => [a.slice(2), String(through)])))
    count += toFetch.length
    return { fetched: toFetch.length, unfetched: left }
  }

  return { ensure, fetched: () => count }
}

/** The transfers in blocks [fromBlock, toBlock] (a source's answer may reach past what was asked). */
export function withinBlocks<T extends { blockNumber: number }>(transfers: readonly T[], fromBlock: number, toBlock: number): T[] {
  return transfers.filter((t) => t.blockNumber >= fromBlock && t.blockNumber <= toBlock)
}
