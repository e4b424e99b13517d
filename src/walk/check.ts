import { getAddress } from 'ethers'
import { checksumAddress } from './checksum.ts'
import { BaseError, isExposureError } from '../errors.ts'
import type { GraphStore } from '../store/graph-store.ts'
import { callScriptBuffer } from '../store/scripts.ts'
import { BLOCK_BUCKET_BITS } from '../store/partitions.ts'
import { isCluster } from '../store/redis.ts'
import { answerStepwise } from './answer-stepwise.ts'
import { MAX_AMOUNT, OUT_SIZE, decodeRecord } from '../store/records.ts'
import type { Address, Asset, Direction, DirectionalExposure, ExposureResult, PathStep, Seed } from '../types.ts'
import type { WalkParams } from './params.ts'
import { assessRisk, type DirectionEvidence, type RiskPolicy } from './risk.ts'
import { exposedValue, share, type AssetValue } from './value.ts'
import { readValueInputs } from './value-inputs.ts'
import { staleReasons, type StaleReason, type StoreVersions } from './staleness.ts'
import { parseBasis, readAttempt, readPublished, type WalkAttempt, type WalkBasis } from './walk-runs.ts'

/** Which walk an answer comes from. */
export interface WalkRef {
  runId: string
  finishedAt: string
  directions: Direction[]
}

export interface ExposureWithSeed extends DirectionalExposure {
  seedInfo: Seed | null
}

/** Exposed value of one asset in one direction (walk/value.ts), amounts as decimal strings of base units. */
export interface AssetExposure {
  /** 'ETH' or the token's EIP-55 address. */
  asset: string
  /** Everything the address received (downstream) or sent (upstream) in this asset, dust floors applied. */
  total: string
  exposed: string
  /** exposed / total, 0..1. */
  share: number
  /** Exposed value by level: "1" direct from (or straight to) a seed, "2" one address between, … */
  byHops: Record<string, string>
}

export interface CheckResult extends ExposureResult {
  downstream: ExposureWithSeed | null
  upstream: ExposureWithSeed | null
  /** One sentence: the deciding direction, its seed, its share and value (walk/risk.ts). */
  reason: string
  /** Exposed value per asset and direction; null for a direction without exposure (or not computed). */
  value: { downstream: AssetExposure[] | null; upstream: AssetExposure[] | null } | null
  /**
   * The last block the answers are final up to: the block range the walk read (its lazy source's
   * finality line, or the RPC sync's coverage when it walked the store); null when the store came
   * from etl imports only (no finality line is known).
   */
  finalBlock: number | null
  /** The published walk the answer comes from (null: no walk was used, an on-demand search answered). */
  walk: WalkRef | null
  /** True when the seeds, labels, transfers or configured parameters changed after that walk. */
  stale: boolean
  staleReasons: StaleReason[]
  /** The seed set's version read with the answer (its basis, with the walk and finalBlock); not in the public JSON. */
  seedVersion?: number
  /** The store's versions read with the answer (what its staleness was judged on); not in the public JSON. */
  versions?: StoreVersions
}

/** The store's walks, for `status` and for messages. */
export interface WalkInfo {
  published: WalkBasis | null
  latest: WalkAttempt | null
  /** Why answers from the published walk are stale now (empty: they are current). */
  staleReasons: StaleReason[]
}

export interface CheckerOptions {
  /** Parameters the asking process sets explicitly: answers from a walk with others are stale. */
  explicitParams?: Partial<WalkParams>
  /** Compute exposed value (and let it weigh in the risk). Default true. */
  value?: boolean
}

/**
 * Answers for known addresses from the published walk (walk-runs.ts): hops, the seed, one witness
 * path rebuilt from the labels, which walk answered and whether it is stale, all from one atomic
 * script call per address (store/lua/answer.lua): a walk published meanwhile is seen wholly or
 * not at all.
 */
export function createChecker(store: GraphStore, riskPolicy: RiskPolicy, checkerOptions: CheckerOptions = {}) {
  const { redis, keys } = store
  let assets: Asset[] | null = null

  async function walkInfo(): Promise<WalkInfo> {
    const [published, latest, meta, seedVersion] = await Promise.all([readPublished(redis, keys), readAttempt(redis, keys), redis.hmget(keys.meta, 'storeId', 'version', 'labelsVersion'), redis.get(keys.seedVersion)])
    const now: StoreVersions = { storeId: meta[0] ?? '', storeVersion: Number(meta[1] ?? 0), labelsVersion: Number(meta[2] ?? 0), seedVersion: Number(seedVersion ?? 0) }
    return { published, latest, staleReasons: published === null ? [] : staleReasons(published, now, checkerOptions.explicitParams) }
  }

  /** One answer per address, in order. Throws NO_WALK when no walk is published. */
  async function check(addresses: readonly Address[], signal?: AbortSignal): Promise<CheckResult[]> {
    assets ??= await store.loadAssets()
    const results: CheckResult[] = []
    // Bounded concurrency: one script call per address, a few in flight.
    for (let i = 0; i < addresses.length; i += 64) {
      if (signal?.aborted) throw new BaseError('INTERRUPTED', `interrupted after ${i} of ${addresses.length} addresses`)
      results.push(...(await Promise.all(addresses.slice(i, i + 64).map((a) => answer(a)))))
    }
    return results
  }

  async function answer(address: Address): Promise<CheckResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await answerOnce(address)
      } catch (error) {
        // The published walk was replaced between the answer and its value: answer again from the new one.
        if (!isExposureError(error, 'WALK_STOPPED') || attempt >= 3) throw error
      }
    }
  }

  async function answerOnce(address: Address): Promise<CheckResult> {
    let reply: unknown[]
    try {
      // On a cluster the witness path's keys lie on many masters: walked step by step instead.
      reply = isCluster(redis)
        ? await answerStepwise(redis, keys, address.slice(2))
        : ((await callScriptBuffer(redis, 'answer', [keys.walkCurrent, keys.seeds, keys.meta, keys.seedVersion], [address.slice(2), keys.partitionName, 2 ** BLOCK_BUCKET_BITS])) as unknown[])
    } catch (error) {
      if (isExposureError(error, 'WALK_STOPPED')) throw error
      throw new BaseError('INTERNAL', `cannot answer for ${address}: ${(error as Error).message}`, { value: address }, { cause: error })
    }
    const [currentFlat, versionsRaw, downRaw, upRaw] = reply as [Buffer[], Buffer[], unknown, unknown]
    const current: Record<string, string> = {}
    for (let i = 0; i < currentFlat.length; i += 2) current[String(currentFlat[i])] = String(currentFlat[i + 1])
    const basis = parseBasis(current)
    if (basis === null) throw new BaseError('NO_WALK', `no complete walk in store ${keys.prefix}: answers would be unknown, not 'none'; run 'exposure trace' first`, { field: 'walk' })
    // The asset table only grows: re-read it when a record names an id we do not know yet.
    const now: StoreVersions = { storeVersion: Number(String(versionsRaw[0])), labelsVersion: Number(String(versionsRaw[1])), storeId: String(versionsRaw[2]), seedVersion: Number(String(versionsRaw[3])) }
    const reasons = staleReasons(basis, now, checkerOptions.explicitParams)
    const downstream = await exposure('downstream', address, downRaw, reasons.length > 0)
    const upstream = await exposure('upstream', address, upRaw, reasons.length > 0)
    const valued = checkerOptions.value === false ? null : await valueOf(address, basis, downstream, upstream)
    const assessment = assessRisk(
      riskPolicy,
      downstream === null ? null : evidence(downstream, valued?.downstream),
      upstream === null ? null : evidence(upstream, valued?.upstream),
      valued?.lastSent ?? null,
    )
    return {
      address: checksumAddress(address),
      risk: assessment.risk,
      reason: assessment.reason,
      downstream,
      upstream,
      value: valued === null ? null : { downstream: valued.downstream === undefined ? null : publicValue(valued.downstream), upstream: valued.upstream === undefined ? null : publicValue(valued.upstream) },
      finalBlock: basis.sourceThrough,
      walk: { runId: basis.runId, finishedAt: basis.finishedAt, directions: basis.directions },
      stale: reasons.length > 0,
      staleReasons: reasons,
      seedVersion: now.seedVersion,
      versions: now,
    }
  }

  /** Exposed value of the directions with exposure, from the published run the answer came from. */
  async function valueOf(address: Address, basis: WalkBasis, downstream: ExposureWithSeed | null, upstream: ExposureWithSeed | null) {
    const directions = (['downstream', 'upstream'] as const).filter((d) => (d === 'downstream' ? downstream : upstream) !== null)
    const table = { known: assets!, reload: async () => (assets = await store.loadAssets()) }
    const inputs = await readValueInputs(store, basis.runId, address, directions, { stopCategories: basis.params.stopCategories, counterpartyCap: basis.params.counterpartyCap }, table)
    const dust = Object.fromEntries(Object.entries(basis.params.dust).map(([asset, min]) => [asset, BigInt(min)]))
    const out: { downstream?: Map<string, AssetValue>; upstream?: Map<string, AssetValue>; lastSent: number | null } = { lastSent: inputs.lastSent }
    for (const d of directions) {
      const input = inputs[d]!
      out[d] = exposedValue(d, input.transfers, input.counterparties, dust, basis.params.maxHops)
    }
    return out
  }

  function evidence(exposureOf: ExposureWithSeed, value: Map<string, AssetValue> | undefined): DirectionEvidence {
    return { hops: exposureOf.hops, seedLabel: exposureOf.seedInfo?.label ?? exposureOf.seed, seedSource: exposureOf.seedInfo?.source ?? '', ...(value === undefined ? {} : { value }) }
  }

  /** A direction's reply of answer.lua → the exposure with its witness path. */
  async function exposure(direction: Direction, address: Address, raw: unknown, stale: boolean): Promise<ExposureWithSeed | null> {
    if (Buffer.isBuffer(raw) || typeof raw === 'string') {
      throw new BaseError('INTERNAL', `cannot rebuild the ${direction} path of ${address}: ${String(raw)}${stale ? ' (the store changed after the walk: run exposure trace again)' : ''}`, { value: address })
    }
    const reply = raw as (Buffer | number | null)[]
    if (reply.length === 0) return null
    const seedJson = reply[0]
    const steps: PathStep[] = []
    let hops = 0
    let seedHex = ''
    for (let i = 1; i < reply.length; i += 6) {
      const hex = String(reply[i])
      const stepHops = Number(String(reply[i + 1]))
      const cost = Number(String(reply[i + 2]))
      const neighbour = String(reply[i + 3])
      const record = reply[i + 4]
      const time = reply[i + 5]
      if (i === 1) hops = stepHops
      if (stepHops === 0) {
        seedHex = hex
        break
      }
      verify(Buffer.isBuffer(record) && record.length === OUT_SIZE, hex, stale)
      const decoded = decodeRecord(record as Buffer, 0, OUT_SIZE)
      const [from, to] = direction === 'downstream' ? [`0x${neighbour}`, `0x${hex}`] : [`0x${hex}`, `0x${neighbour}`]
      verify(decoded.counterparty === to && decoded.position === (direction === 'downstream' ? cost : -cost), hex, stale)
      const s = await step(from as Address, to as Address, decoded)
      if (Buffer.isBuffer(time) || typeof time === 'number') s.timestamp = Number(String(time))
      steps.push(s)
    }
    return {
      hops,
      seed: checksumAddress(`0x${seedHex}`),
      path: direction === 'downstream' ? steps.reverse() : steps,
      seedInfo: Buffer.isBuffer(seedJson) ? (JSON.parse(seedJson.toString('utf8')) as Seed) : null,
    }
  }

  async function step(from: Address, to: Address, record: ReturnType<typeof decodeRecord>): Promise<PathStep> {
    if (assets![record.assetId] === undefined) assets = await store.loadAssets()
    const asset = assets![record.assetId] ?? 'ETH'
    // Records hold 96 bits of amount; the store keeps larger ones exactly on the side.
    const amount = record.amount === MAX_AMOUNT ? await store.exactAmount({ txHash: record.txHash!, kind: record.kind!, subIndex: record.subIndex!, from, to, amount: record.amount }) : record.amount
    return {
      from: checksumAddress(from),
      to: checksumAddress(to),
      txHash: record.txHash ?? '',
      blockNumber: record.blockNumber,
      transactionIndex: record.transactionIndex,
      asset: asset === 'ETH' ? 'ETH' : checksumAddress(asset),
      amount: amount.toString(),
    }
  }

  return { check, walkInfo }
}

/** Exposed value in the answer's JSON form: assets by exposed value, amounts as decimal strings. */
export function publicValue(values: ReadonlyMap<string, AssetValue>): AssetExposure[] {
  return [...values]
    .filter(([, v]) => v.total > 0n)
    .sort(([, a], [, b]) => (b.exposed > a.exposed ? 1 : b.exposed < a.exposed ? -1 : 0))
    .map(([asset, v]) => ({
      asset: asset === 'ETH' ? 'ETH' : getAddress(asset),
      total: v.total.toString(),
      exposed: v.exposed.toString(),
      share: share(v.exposed, v.total),
      byHops: Object.fromEntries([...v.byLevel].sort(([a], [b]) => a - b).map(([level, amount]) => [String(level), amount.toString()])),
    }))
}

function verify(ok: boolean, hex: string, stale: boolean): asserts ok {
  if (!ok) throw new BaseError('INTERNAL', `the witness path through 0x${hex} does not match the store${stale ? ' (it changed after the walk): run exposure trace again' : ''}`, { value: `0x${hex}` })
}
