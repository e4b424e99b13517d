import { getAddress } from 'ethers'
import { BaseError } from '../errors.ts'
import type { GraphStore } from '../store/graph-store.ts'
import { callScriptBuffer } from '../store/scripts.ts'
import { OUT_SIZE, decodeRecord } from '../store/records.ts'
import type { Address, Asset, Direction, DirectionalExposure, ExposureResult, PathStep, Seed } from '../types.ts'
import { riskOf, type RiskPolicy } from './risk.ts'
import { syncKeys } from '../sources/rpc/ingest.ts'

export interface WalkInfo {
  runId: string | null
  status: string | null
  directions: Direction[]
  maxHops: number | null
  finishedAt: string | null
  /** True when an import landed after the walk started: answers may be stale. */
  storeChanged: boolean
  /**
   * The last block the answers are final up to: the block range the walk read (its lazy source's
   * finality line, or the RPC sync's cursor when it walked the store); null when the store came
   * from etl imports only (no finality line is known).
   */
  finalBlock: number | null
}

export interface ExposureWithSeed extends DirectionalExposure {
  seedInfo: Seed | null
}

export interface CheckResult extends ExposureResult {
  downstream: ExposureWithSeed | null
  upstream: ExposureWithSeed | null
  /** See WalkInfo.finalBlock. */
  finalBlock: number | null
}

/**
 * Answers for known addresses from the last walk's labels: hops, the seed, and one witness path
 * rebuilt from the labels (a few round trips, independent of the graph's size).
 */
export function createChecker(store: GraphStore, riskPolicy: RiskPolicy) {
  const { redis, keys } = store
  let assets: Asset[] | null = null

  async function walkInfo(): Promise<WalkInfo> {
    const [meta, lastImport, cursor] = await Promise.all([redis.hgetall(keys.walkMeta), redis.hget(keys.meta, 'lastImport'), redis.get(syncKeys(keys.prefix).cursor)])
    const params = meta.params ? (JSON.parse(meta.params) as { maxHops?: number }) : {}
    return {
      runId: meta.runId ?? null,
      status: meta.status ?? null,
      directions: meta.directions ? (meta.directions.split(',') as Direction[]) : [],
      maxHops: params.maxHops ?? null,
      finishedAt: meta.finishedAt ?? null,
      storeChanged: meta.storeVersion !== undefined && (lastImport ?? '') !== meta.storeVersion,
      // Walks record their block range (sources/walk-source.ts); older walks: the sync cursor now.
      finalBlock: meta.source !== undefined ? (meta.sourceThrough ? Number(meta.sourceThrough) : null) : cursor === null || Number(cursor) < 0 ? null : Number(cursor),
    }
  }

  // Which directions the last walk computed: read once a second at most (a screening service asks
  // thousands of times a minute; a walk takes longer than a second to finish anyway).
  let cachedInfo: { at: number; info: Promise<WalkInfo> } | null = null
  function currentWalk(): Promise<WalkInfo> {
    if (cachedInfo === null || Date.now() - cachedInfo.at > 1_000) cachedInfo = { at: Date.now(), info: walkInfo() }
    return cachedInfo.info
  }

  async function check(addresses: readonly Address[]): Promise<CheckResult[]> {
    assets ??= await store.loadAssets()
    const info = await currentWalk()
    return Promise.all(
      addresses.map(async (address) => {
        const [downstream, upstream] = await Promise.all(
          (['downstream', 'upstream'] as const).map((d) => (info.directions.includes(d) ? exposure(d, address) : Promise.resolve(null))),
        )
        return {
          address: getAddress(address),
          risk: riskOf(riskPolicy, downstream?.hops ?? null, upstream?.hops ?? null),
          downstream: downstream ?? null,
          upstream: upstream ?? null,
          finalBlock: info.finalBlock,
        }
      }),
    )
  }

  /**
   * One round trip per direction: the witness script follows the labels and returns every step's
   * out-record and block time and the seed's provenance (store/lua/witness.lua).
   */
  async function exposure(direction: Direction, address: Address): Promise<ExposureWithSeed | null> {
    let reply: (Buffer | number | null)[]
    try {
      reply = (await callScriptBuffer(redis, 'witness', [keys.walkLabels(direction), keys.seeds, keys.blockTimes], [address.slice(2), direction === 'downstream' ? 'down' : 'up', keys.prefix])) as (Buffer | number | null)[]
    } catch (error) {
      throw new BaseError('INTERNAL', `cannot rebuild the ${direction} path of ${address}: ${(error as Error).message}; the store changed since the walk? run 'exposure trace' again`, { value: address }, { cause: error })
    }
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
      const raw = reply[i + 4]
      const time = reply[i + 5]
      if (i === 1) hops = stepHops
      if (stepHops === 0) {
        seedHex = hex
        break
      }
      verify(Buffer.isBuffer(raw) && raw.length === OUT_SIZE, hex)
      const record = decodeRecord(raw as Buffer, 0, OUT_SIZE)
      const [from, to] = direction === 'downstream' ? [`0x${neighbour}`, `0x${hex}`] : [`0x${hex}`, `0x${neighbour}`]
      verify(record.counterparty === to && record.position === (direction === 'downstream' ? cost : -cost), hex)
      const s = step(from as Address, to as Address, record)
      if (Buffer.isBuffer(time) || typeof time === 'number') s.timestamp = Number(String(time))
      steps.push(s)
    }
    return {
      hops,
      seed: getAddress(`0x${seedHex}`),
      path: direction === 'downstream' ? steps.reverse() : steps,
      seedInfo: Buffer.isBuffer(seedJson) ? (JSON.parse(seedJson.toString('utf8')) as Seed) : null,
    }
  }

  function step(from: Address, to: Address, record: ReturnType<typeof decodeRecord>): PathStep {
    const asset = assets![record.assetId] ?? 'ETH'
    return {
      from: getAddress(from),
      to: getAddress(to),
      txHash: record.txHash ?? '',
      blockNumber: record.blockNumber,
      transactionIndex: record.transactionIndex,
      asset: asset === 'ETH' ? 'ETH' : getAddress(asset),
      amount: record.amount.toString(),
    }
  }

  return { check, walkInfo }
}

function verify(ok: boolean, hex: string): asserts ok {
  if (!ok) throw new BaseError('INTERNAL', `the witness path through 0x${hex} no longer matches the store (an import after the walk?); run 'exposure trace' again`, { value: `0x${hex}` })
}

