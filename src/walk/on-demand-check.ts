/**
 * `exposure check --source rpc|etherscan`: screening with a live per-address source.
 *
 * Per address and direction, the answer is the last walk's label when that walk is exact for the
 * source's chain: it completed that direction, it read the same source lazily (walk meta `source`),
 * and over the same block range. Such a walk fetched the history of every address it expanded, and
 * an expansion reads nothing else, so its labels (and its "none" for an address it never reached)
 * are what a walk over the whole chain gives: searching again could only confirm them.
 * Otherwise (no walk, a walk over the store, a walk that skipped the direction or did not finish)
 * the address is searched on demand (walk/on-demand.ts), fetching histories through the same
 * lazy-history machinery as the walk, so each lands in the store once. Parameters (hops, stop
 * categories, counterparty cap, dust) are the last walk's, or the configuration's without one.
 */
import { checksumAddress } from './checksum.ts'
import type { Options } from '../config.ts'
import { BaseError } from '../errors.ts'
import type { GraphStore } from '../store/graph-store.ts'
import { readBlockTimes } from '../store/block-times.ts'
import { mgetBufferByPartition } from '../store/partitions.ts'
import { HEADER_SIZE, OUT_SIZE, decodeRecord, lowerBound, outMatchesIn, splitNode } from '../store/records.ts'
import type { LazyHistory } from '../sources/lazy-history.ts'
import { resolveWalkSource, type WalkSourceConfig, type WalkSourceName } from '../sources/walk-source.ts'
import type { Address, Asset, Direction, PathStep, Seed } from '../types.ts'
import { createChecker, type CheckResult, type ExposureWithSeed } from './check.ts'
import { assessRisk, type DirectionEvidence, type RiskPolicy } from './risk.ts'
import { searchExposure, type SearchAnswer } from './on-demand.ts'
import { readPublished } from './walk-runs.ts'

export interface OnDemandParams {
  maxHops: number
  stopCategories: readonly string[]
  counterpartyCap: number
  /** asset ('ETH' or token address) → minimum amount (decimal string) */
  dust: Readonly<Record<string, string>>
}

export interface OnDemandConfig {
  /** The source's name as the walk meta records it ('rpc', 'etherscan', …). */
  source: string
  /** Fetches histories through `throughBlock`; null reads the store as it is. */
  lazy: LazyHistory | null
  /** The block range's last block (answers' finalBlock). */
  throughBlock: number | null
  /** Parameters when the store holds no walk. */
  defaults: OnDemandParams
  /**
   * Most histories one address's screening may fetch (both directions together); default no
   * limit. When it runs out, the search stops and `exact` says which directions are not exact.
   */
  maxHistories?: number
}

export type AnsweredBy = 'walk' | 'search'

export interface OnDemandResult extends CheckResult {
  answeredBy: Record<Direction, AnsweredBy>
  /**
   * Per direction: true when the answer is exact (the walk's, or a search that finished); false
   * when the fetch budget (`maxHistories`) ran out first. Then the direction's hops are an upper
   * bound (a real witness path, possibly longer than the shortest) and null means "none found
   * within the budget", not "none".
   */
  exact: Record<Direction, boolean>
  /** Histories fetched for this address. */
  fetched: number
}

/** Reads the last walk's state: which directions its labels answer exactly for this source and range, and its parameters. */
export async function onDemandPlan(store: GraphStore, config: Pick<OnDemandConfig, 'source' | 'throughBlock' | 'defaults'>): Promise<{ exact: Direction[]; params: OnDemandParams }> {
  const published = await readPublished(store.redis, store.keys)
  const params: OnDemandParams = published
    ? { maxHops: published.params.maxHops, stopCategories: published.params.stopCategories, counterpartyCap: published.params.counterpartyCap, dust: published.params.dust }
    : config.defaults
  const sameRange = published !== null && published.source === config.source && published.sourceThrough === config.throughBlock
  return { exact: sameRange ? published.directions : [], params }
}

export function createOnDemandChecker(store: GraphStore, riskPolicy: RiskPolicy, config: OnDemandConfig) {
  const { redis, keys } = store
  const labelled = createChecker(store, riskPolicy)
  let seeds: Set<string> | null = null
  let expandedTotal = 0

  async function check(addresses: readonly Address[]): Promise<OnDemandResult[]> {
    const { exact, params } = await onDemandPlan(store, config)
    seeds = new Set((await redis.hkeys(keys.seeds)).map((a) => a.slice(2).toLowerCase()))
    // The asset table grows when a fetch interns the listed tokens (append-only: ids stay): re-read after every fetch.
    const assets: Asset[] = []
    const dust: (bigint | undefined)[] = []
    const refresh = async () => {
      assets.splice(0, assets.length, ...(await store.loadAssets()))
      dust.splice(0, dust.length, ...assets.map((asset) => (params.dust[asset] === undefined ? undefined : BigInt(params.dust[asset]!))))
    }
    await refresh()
    const fromWalk = exact.length > 0 ? await labelled.check(addresses) : null
    const results: OnDemandResult[] = []
    // One address at a time: the searches of a batch share the fetched histories through the store.
    for (const [i, address] of addresses.entries()) {
      const answers = {} as Record<Direction, ExposureWithSeed | null>
      const answeredBy = {} as Record<Direction, AnsweredBy>
      const complete = {} as Record<Direction, boolean>
      // One budget per address, both directions together (downstream first).
      const budget = { left: config.maxHistories ?? Number.POSITIVE_INFINITY, fetched: 0 }
      for (const direction of ['downstream', 'upstream'] as const) {
        if (exact.includes(direction)) {
          answers[direction] = fromWalk![i]![direction]
          answeredBy[direction] = 'walk'
          complete[direction] = true
        } else {
          const found = await search(direction, address, params, dust, assets, refresh, budget)
          answers[direction] = found.answer
          answeredBy[direction] = 'search'
          complete[direction] = found.complete
        }
      }
      const walked = fromWalk?.[i]
      // Value needs the walk's labels: a direction answered by a search has hops and a path, not value.
      const value = walked?.value ? { downstream: answeredBy.downstream === 'walk' ? walked.value.downstream : null, upstream: answeredBy.upstream === 'walk' ? walked.value.upstream : null } : null
      const both = answeredBy.downstream === 'walk' && answeredBy.upstream === 'walk' && walked !== undefined
      const assessment = both
        ? { risk: walked.risk, reason: walked.reason }
        : assessRisk(riskPolicy, hopsEvidence(answers.downstream), hopsEvidence(answers.upstream), null)
      results.push({
        address: checksumAddress(address),
        risk: assessment.risk,
        reason: assessment.reason,
        value,
        downstream: answers.downstream,
        upstream: answers.upstream,
        finalBlock: config.throughBlock,
        answeredBy,
        exact: complete,
        fetched: budget.fetched,
        // The published walk where it answered a direction; a search answers from the store as it is now.
        walk: fromWalk?.[i]?.walk ?? null,
        stale: fromWalk?.[i]?.stale ?? false,
        staleReasons: fromWalk?.[i]?.staleReasons ?? [],
      })
    }
    return results
  }

  async function search(direction: Direction, address: Address, params: OnDemandParams, dust: (bigint | undefined)[], assets: readonly Asset[], refresh: () => Promise<void>, budget: { left: number; fetched: number }): Promise<{ answer: ExposureWithSeed | null; complete: boolean }> {
    const stop = new Set(params.stopCategories)
    const { answer, expanded, complete } = await searchExposure(direction, address.slice(2), params.maxHops, dust, {
      isSeed: (hex) => seeds!.has(hex),
      load: async (hexes) => {
        if (config.lazy) {
          const { fetched, unfetched } = await config.lazy.ensure(hexes.map((h) => `0x${h}` as Address), budget.left)
          budget.left -= fetched
          budget.fetched += fetched
          if (fetched > 0) await refresh()
          // The budget ran out before every address of this ring was fetched: stop here.
          if (unfetched.length > 0) return null
        }
        const [nodes, services] = await Promise.all([mgetBufferByPartition(redis, (h) => keys.node(`0x${h}`), hexes), redis.hmget(keys.labels, ...hexes.map((h) => `0x${h}`))])
        return hexes.map((hex, i) => {
          const node = nodes[i] ?? null
          const service = services[i]
          const category = service ? ((JSON.parse(service) as { category?: string }).category ?? null) : null
          const counterparties = node !== null && node.length >= HEADER_SIZE ? node.readUInt32BE(0) : 0
          return { hex, node, passable: seeds!.has(hex) || ((category === null || !stop.has(category)) && counterparties <= params.counterpartyCap) }
        })
      },
    })
    expandedTotal += expanded
    return { answer: answer === null ? null : await describe(answer, assets), complete }
  }

  /** The answer as check.ts gives it: steps with tx hashes and block times, the seed's provenance. */
  async function describe(answer: SearchAnswer, assets: readonly Asset[]): Promise<ExposureWithSeed> {
    const senders = [...new Set(answer.steps.map((s) => s.fromHex))]
    const nodes = senders.length === 0 ? [] : await mgetBufferByPartition(redis, (h) => keys.node(`0x${h}`), senders)
    const outs = new Map(senders.map((h, i) => [h, splitNode(nodes[i] ?? null).out]))
    const path: PathStep[] = answer.steps.map((s) => {
      const raw = s.record.length === OUT_SIZE ? s.record : findOut(outs.get(s.fromHex)!, s.record, s.toHex)
      if (raw === null) throw new BaseError('INTERNAL', `on-demand witness: transfer 0x${s.fromHex} → 0x${s.toHex} not in the sender's out-records`, { value: `0x${s.fromHex}` })
      const r = decodeRecord(raw, 0, OUT_SIZE)
      if (r.counterparty !== `0x${s.toHex}`) throw new BaseError('INTERNAL', `on-demand witness: record of 0x${s.fromHex} names ${r.counterparty}, not 0x${s.toHex}`)
      const asset = assets[r.assetId] ?? 'ETH'
      return { from: checksumAddress(`0x${s.fromHex}`), to: checksumAddress(`0x${s.toHex}`), txHash: r.txHash ?? '', blockNumber: r.blockNumber, transactionIndex: r.transactionIndex, asset: asset === 'ETH' ? 'ETH' : checksumAddress(asset), amount: r.amount.toString() }
    })
    if (path.length > 0) {
      const times = await readBlockTimes(redis, keys, path.map((s) => s.blockNumber))
      for (const s of path) {
        const time = times.get(s.blockNumber)
        if (time !== undefined) s.timestamp = time
      }
    }
    const seedJson = await redis.hget(keys.seeds, `0x${answer.seedHex}`)
    return { hops: answer.hops, seed: checksumAddress(`0x${answer.seedHex}`), path, seedInfo: seedJson ? (JSON.parse(seedJson) as Seed) : null }
  }

  return { check, expanded: () => expandedTotal }
}

/** The sender's out-record of an in-record of `toHex` (same position, asset, amount; the recipient where the in-record has the sender). */
function findOut(out: Buffer, inRecord: Buffer, toHex: string): Buffer | null {
  const recipient = Buffer.from(toHex, 'hex')
  const position = inRecord.readUInt32BE(0) * 65536 + inRecord.readUInt16BE(4)
  const n = out.length / OUT_SIZE
  for (let i = lowerBound(out, OUT_SIZE, position); i < n; i++) {
    const record = out.subarray(i * OUT_SIZE, (i + 1) * OUT_SIZE)
    if (outMatchesIn(record, 0, inRecord, recipient)) return record
    if (record.readUInt32BE(0) * 65536 + record.readUInt16BE(4) !== position) return null
  }
  return null
}

function hopsEvidence(e: ExposureWithSeed | null): DirectionEvidence | null {
  return e === null ? null : { hops: e.hops, seedLabel: e.seedInfo?.label ?? e.seed, seedSource: e.seedInfo?.source ?? '' }
}

/** The published walk's fields that keepWalkFresh compares, read before on-demand fetches. */
export interface WalkSnapshot {
  runId: string | null
  source: string | null
  throughBlock: string | null
  assets: string | null
  method: string | null
  walkStoreVersion: string | null
  storeVersion: string
}

export async function snapshotWalk(store: GraphStore): Promise<WalkSnapshot> {
  const { redis, keys } = store
  const [[, current], [, version]] = (await redis.multi().hmget(keys.walkCurrent, 'runId', 'source', 'sourceThrough', 'sourceAssets', 'sourceMethod', 'storeVersion').hget(keys.meta, 'version').exec()) as [[unknown, (string | null)[]], [unknown, string | null]]
  const [runId, source, throughBlock, assets, method, walkStoreVersion] = current
  return { runId: runId ?? null, source: source ?? null, throughBlock: throughBlock ?? null, assets: assets ?? null, method: method ?? null, walkStoreVersion: walkStoreVersion ?? null, storeVersion: version ?? '0' }
}

/** Where on-demand checks with a live source read: its block range, listed tokens and lookup method, and the walk they may keep fresh. */
export interface LiveRange {
  throughBlock: number
  assets: readonly Address[]
  method: string
  /** The published walk as it was when the range was chosen (keepWalkFresh compares it). */
  before: WalkSnapshot
}

/**
 * The range of on-demand checks with `source`: the published walk's when it read that source
 * lazily (its histories stay consistent with its labels), else the source's final block now.
 */
export async function liveRange(store: GraphStore, source: Exclude<WalkSourceName, 'store'>, config: WalkSourceConfig, options: { resolve?: boolean } = {}): Promise<LiveRange> {
  const before = await snapshotWalk(store)
  // `resolve` asks for the source's own range now even when the walk used another (check --confirmations).
  if (!options.resolve && before.source === source && before.throughBlock !== null && before.throughBlock !== '') {
    return { throughBlock: Number(before.throughBlock), assets: (before.assets ?? '').split(',').filter((a) => a.length > 0) as Address[], method: before.method ?? '', before }
  }
  const resolved = await resolveWalkSource(store, source, config)
  return { throughBlock: resolved.coverage.throughBlock!, assets: config.listedTokens, method: resolved.method, before }
}

/**
 * Histories fetched for a walk's own source and range are more of that walk's input, not a
 * change of its chain: keeps its answers from being reported stale (as trace --source does),
 * when the walk was current before the fetches and is still the published one.
 */
export async function keepWalkFresh(store: GraphStore, source: string, range: Pick<LiveRange, 'throughBlock' | 'before'>): Promise<void> {
  const { redis, keys } = store
  const b = range.before
  if (b.source !== source || Number(b.throughBlock) !== range.throughBlock || b.walkStoreVersion !== b.storeVersion) return
  if ((await redis.hget(keys.walkCurrent, 'runId')) === b.runId) await redis.hset(keys.walkCurrent, 'storeVersion', (await redis.hget(keys.meta, 'version')) ?? '0')
}

/** The configuration's walk parameters as on-demand defaults (used when the store holds no walk). */
export function onDemandDefaults(options: Pick<Options, 'maxHops' | 'stopCategories' | 'counterpartyCap' | 'dust'>): OnDemandParams {
  return { maxHops: options.maxHops, stopCategories: options.stopCategories, counterpartyCap: options.counterpartyCap, dust: Object.fromEntries(Object.entries(options.dust).map(([asset, min]) => [asset, min.toString()])) }
}
