import { getAddress } from 'ethers'
import { BaseError } from '../errors.ts'
import type { GraphStore } from '../store/graph-store.ts'
import { pipeScript } from '../store/scripts.ts'
import { HEADER_SIZE, IN_SIZE, OUT_SIZE, decodeRecord } from '../store/records.ts'
import { createWalkState } from '../store/walk-state.ts'
import type { Address, Asset, Direction, DirectionalExposure, ExposureResult, PathStep, Seed } from '../types.ts'
import { splitKey, type HopLabel } from './labels.ts'
import { riskOf, type RiskPolicy } from './risk.ts'

export interface WalkInfo {
  runId: string | null
  status: string | null
  directions: Direction[]
  maxHops: number | null
  finishedAt: string | null
  /** True when an import landed after the walk started: answers may be stale. */
  storeChanged: boolean
}

export interface ExposureWithSeed extends DirectionalExposure {
  seedInfo: Seed | null
}

export interface CheckResult extends ExposureResult {
  downstream: ExposureWithSeed | null
  upstream: ExposureWithSeed | null
}

/**
 * Answers for known addresses from the last walk's labels: hops, the seed, and one witness path
 * rebuilt from the labels (a few round trips, independent of the graph's size).
 */
export function createChecker(store: GraphStore, riskPolicy: RiskPolicy) {
  const { redis, keys } = store
  const state = createWalkState(redis, keys)
  let assets: Asset[] | null = null

  async function walkInfo(): Promise<WalkInfo> {
    const [meta, lastImport] = await Promise.all([redis.hgetall(keys.walkMeta), redis.hget(keys.meta, 'lastImport')])
    const params = meta.params ? (JSON.parse(meta.params) as { maxHops?: number }) : {}
    return {
      runId: meta.runId ?? null,
      status: meta.status ?? null,
      directions: meta.directions ? (meta.directions.split(',') as Direction[]) : [],
      maxHops: params.maxHops ?? null,
      finishedAt: meta.finishedAt ?? null,
      storeChanged: meta.storeVersion !== undefined && (lastImport ?? '') !== meta.storeVersion,
    }
  }

  async function check(addresses: readonly Address[]): Promise<CheckResult[]> {
    assets ??= await store.loadAssets()
    const info = await walkInfo()
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
        }
      }),
    )
  }

  async function exposure(direction: Direction, address: Address): Promise<ExposureWithSeed | null> {
    const chain = await state.witness(direction, address.slice(2)).catch((error: Error) => {
      throw new BaseError('INTERNAL', `cannot rebuild the ${direction} path of ${address}: ${error.message}; the store changed since the walk? run 'exposure trace' again`, { value: address }, { cause: error })
    })
    if (chain.length === 0) return null
    const seedHex = chain[chain.length - 1]!.hex
    const steps = direction === 'downstream' ? await downstreamSteps(chain) : await upstreamSteps(chain)
    const times = await blockTimes(steps.map((s) => s.blockNumber))
    const seedJson = await redis.hget(keys.seeds, `0x${seedHex}`)
    return {
      hops: chain[0]!.label.hops,
      seed: getAddress(`0x${seedHex}`),
      path: steps.map((s) => (times.get(s.blockNumber) === undefined ? s : { ...s, timestamp: times.get(s.blockNumber)! })),
      seedInfo: seedJson ? (JSON.parse(seedJson) as Seed) : null,
    }
  }

  /** chain: W … seed; each label's key names the predecessor and its out-record index. Path: seed → W. */
  async function downstreamSteps(chain: { hex: string; label: HopLabel }[]): Promise<PathStep[]> {
    const links = chain.slice(0, -1)
    const pipeline = redis.pipeline()
    for (const { label } of links) {
      const { predecessorHex, recordIndex } = splitKey(label.key)
      const offset = HEADER_SIZE + recordIndex * OUT_SIZE
      pipeline.getrangeBuffer(keys.out(`0x${predecessorHex}`), offset, offset + OUT_SIZE - 1)
    }
    const records = await exec(pipeline)
    const steps = links.map(({ hex, label }, i) => {
      const record = decodeRecord(records[i] as Buffer, 0, OUT_SIZE)
      verify(record.counterparty === `0x${hex}` && record.position === label.cost, hex)
      return step(`0x${splitKey(label.key).predecessorHex}`, `0x${hex}`, record)
    })
    return steps.reverse()
  }

  /** chain: W … seed; each label's key names the successor and its in-record index. Path: W → seed. */
  async function upstreamSteps(chain: { hex: string; label: HopLabel }[]): Promise<PathStep[]> {
    const links = chain.slice(0, -1)
    const read = redis.pipeline()
    for (const { label } of links) {
      const { predecessorHex: successorHex, recordIndex } = splitKey(label.key)
      const offset = HEADER_SIZE + recordIndex * IN_SIZE
      read.getrangeBuffer(keys.in(`0x${successorHex}`), offset, offset + IN_SIZE - 1)
    }
    const inRecords = (await exec(read)) as Buffer[]
    const find = redis.pipeline()
    links.forEach(({ hex, label }, i) => {
      const inRecord = inRecords[i]!
      verify(inRecord.length === IN_SIZE && inRecord.toString('hex', 6, 26) === hex, hex)
      // The out-record starts with the same 43 bytes, with the recipient where the sender was.
      const prefix = Buffer.from(inRecord)
      prefix.write(splitKey(label.key).predecessorHex, 6, 20, 'hex')
      pipeScript(find, 'find-out-record', [keys.out(`0x${hex}`)], [prefix], { binary: true })
    })
    const outRecords = await exec(find)
    return links.map(({ hex, label }, i) => {
      const raw = outRecords[i] as Buffer | null
      verify(raw !== null && raw !== undefined, hex)
      const record = decodeRecord(Buffer.from(raw as Buffer), 0, OUT_SIZE)
      verify(-record.position === label.cost, hex)
      return step(`0x${hex}`, record.counterparty, record)
    })
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

  async function blockTimes(blocks: readonly number[]): Promise<Map<number, number>> {
    if (blocks.length === 0) return new Map()
    const values = await redis.hmget(keys.blockTimes, ...blocks.map(String))
    const times = new Map<number, number>()
    blocks.forEach((b, i) => {
      const v = values[i]
      if (v) times.set(b, Number(v))
    })
    return times
  }

  async function exec(pipeline: ReturnType<typeof redis.pipeline>): Promise<unknown[]> {
    const replies = (await pipeline.exec()) ?? []
    return replies.map(([error, value]) => {
      if (error) throw error
      return value
    })
  }

  return { check, walkInfo }
}

function verify(ok: boolean, hex: string): asserts ok {
  if (!ok) throw new BaseError('INTERNAL', `the witness path through 0x${hex} no longer matches the store (an import after the walk?); run 'exposure trace' again`, { value: `0x${hex}` })
}

