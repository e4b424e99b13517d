/**
 * Reads a block range from a node: blocks with transactions, receipts (eth_getBlockReceipts or one
 * eth_getTransactionReceipt per transaction), traces (trace_block or debug_traceBlockByNumber with
 * callTracer) and ERC-20 `Transfer` logs (eth_getLogs with adaptive ranges). The calls of many
 * blocks go out as JSON-RPC batches. The raw payloads serve both the sync (→ transfers, through the
 * pure decoders) and export-etl (→ CSV rows).
 */
import { BaseError } from '../../errors.ts'
import type { Address, Transfer } from '../../types.ts'
import { toHex, type RpcCall, type RpcClient } from './client.ts'
import type { RpcCapabilities } from './capabilities.ts'
import {
  ERC20_TRANSFER_TOPIC,
  transfersFromBlock,
  transfersFromGethCallTraces,
  transfersFromLogs,
  transfersFromParityTraces,
  type GethTraceResult,
  type ParityTrace,
  type RpcBlock,
  type RpcLog,
  type RpcReceipt,
} from './decode.ts'

export interface RawBlock {
  number: number
  hash: string
  parentHash: string
  timestamp: number
  block: RpcBlock
  receipts: RpcReceipt[]
  parity: ParityTrace[] | null
  geth: GethTraceResult[] | null
}

export interface RawRange {
  from: number
  to: number
  blocks: RawBlock[]
  /** ERC-20 Transfer logs of the range (of `logAddresses` when given, else of every contract). */
  logs: RpcLog[]
}

export interface ReadRangeOptions {
  /** Only logs of these contracts (the listed tokens); null: every contract's Transfer logs (export). */
  logAddresses: readonly Address[] | null
  /** Skip traces even if the node has them. Default false. */
  noTraces?: boolean
}

/** Errors in an eth_getLogs answer that mean "ask for a smaller range". */
const RANGE_TOO_LARGE = /too many|range|limit|exceed|10000|response size|query returned more than|block range|timeout/i

/** Adaptive eth_getLogs span per client: halves on "too many results", grows back on success. */
const spans = new WeakMap<RpcClient, { span: number }>()
const MAX_LOG_SPAN = 5_000

export async function readRange(client: RpcClient, caps: RpcCapabilities, from: number, to: number, options: ReadRangeOptions): Promise<RawRange> {
  if (to < from) return { from, to, blocks: [], logs: [] }
  const numbers = Array.from({ length: to - from + 1 }, (_, i) => from + i)
  const traces = options.noTraces ? 'none' : caps.traceBlock ? 'parity' : caps.debugCallTracer ? 'geth' : 'none'
  const calls: RpcCall[] = []
  for (const n of numbers) {
    calls.push({ method: 'eth_getBlockByNumber', params: [toHex(n), true] })
    if (caps.blockReceipts) calls.push({ method: 'eth_getBlockReceipts', params: [toHex(n)] })
    if (traces === 'parity') calls.push({ method: 'trace_block', params: [toHex(n)] })
    if (traces === 'geth') calls.push({ method: 'debug_traceBlockByNumber', params: [toHex(n), { tracer: 'callTracer' }] })
  }
  const perBlock = 1 + (caps.blockReceipts ? 1 : 0) + (traces === 'none' ? 0 : 1)
  const [answers, logs] = await Promise.all([client.batch(calls), fetchLogs(client, from, to, options.logAddresses)])
  const blocks: RawBlock[] = numbers.map((n, i) => {
    const block = answers[i * perBlock] as RpcBlock | null
    if (block === null || block === undefined) {
      throw new BaseError('RPC_ERROR', `the node has no block ${n} (beyond its head, or pruned)`, { field: 'block', value: String(n) })
    }
    let k = i * perBlock + 1
    const receipts = caps.blockReceipts ? (answers[k++] as RpcReceipt[]) : []
    const parity = traces === 'parity' ? (answers[k++] as ParityTrace[]) : null
    const geth = traces === 'geth' ? (answers[k++] as GethTraceResult[]) : null
    return {
      number: n,
      hash: String(block.hash).toLowerCase(),
      parentHash: String(block['parentHash']).toLowerCase(),
      timestamp: Number(BigInt(String(block.timestamp ?? '0x0'))),
      block,
      receipts,
      parity,
      geth,
    }
  })
  if (!caps.blockReceipts) {
    const hashes = blocks.flatMap((b) => b.block.transactions.map((tx) => (typeof tx === 'string' ? tx : tx.hash)))
    const receipts = await client.batch<RpcReceipt>(hashes.map((h) => ({ method: 'eth_getTransactionReceipt', params: [h] })))
    let k = 0
    for (const b of blocks) b.receipts = receipts.slice(k, (k += b.block.transactions.length))
  }
  // One chain: parents link up, and every log is of a block we read (else a reorg happened mid-read;
  // the job is retried and reads again).
  const hashOf = new Map(blocks.map((b) => [b.number, b.hash]))
  for (let i = 1; i < blocks.length; i++) {
    const b = blocks[i]!
    const before = blocks[i - 1]!
    if (b.parentHash !== before.hash) throw new ChainBreak(b.number, `block ${b.number} names parent ${b.parentHash}, but block ${before.number} is ${before.hash}`)
  }
  for (const log of logs) {
    const n = Number(BigInt(String(log.blockNumber)))
    const h = String(log['blockHash'] ?? '').toLowerCase()
    if (h !== '' && hashOf.get(n) !== h) throw new ChainBreak(n, `a log of block ${n} names block hash ${h}, but block ${n} is ${hashOf.get(n) ?? 'not in the range'}`)
  }
  return { from, to, blocks, logs }
}

/** Phrase of every error about hashes that do not link up (a fork, or a node that answers inconsistently). */
export const LINK_BROKEN = 'chain link broken'

/** Reads of one range whose blocks do not link up before the node is called inconsistent. */
const READS_ON_BREAK = 3

/**
 * readRange, read again when the blocks do not link up (a reorg while they were read); a node
 * that keeps answering blocks that do not link up is refused: RPC_ERROR (not retried) naming the
 * block.
 */
export async function readLinkedRange(client: RpcClient, caps: RpcCapabilities, from: number, to: number, options: ReadRangeOptions): Promise<RawRange> {
  let last: ChainBreak | null = null
  for (let attempt = 1; attempt <= READS_ON_BREAK; attempt++) {
    try {
      return await readRange(client, caps, from, to, options)
    } catch (error) {
      if (!(error instanceof ChainBreak)) throw error
      last = error
      if (attempt < READS_ON_BREAK) await new Promise((resolve) => setTimeout(resolve, 200 * attempt))
    }
  }
  throw new BaseError('RPC_ERROR', `${LINK_BROKEN} at block ${last!.block}: ${last!.shortMessage}, in ${READS_ON_BREAK} reads of blocks ${from}-${to}: the node at ${client.url} answers inconsistently`, { field: 'block', value: String(last!.block) })
}

/**
 * The blocks of one read do not link up: the chain changed while they were read (a reorg; read
 * again), or the node answers inconsistently. Retryable as such; ingest.ts reads again a few times
 * and then refuses the node.
 */
export class ChainBreak extends BaseError {
  constructor(readonly block: number, detail: string) {
    super('RPC_UNAVAILABLE', detail, { field: 'block', value: String(block) })
  }
}

/** eth_getLogs over [from, to] in adaptive spans. */
async function fetchLogs(client: RpcClient, from: number, to: number, addresses: readonly Address[] | null): Promise<RpcLog[]> {
  if (addresses !== null && addresses.length === 0) return []
  const state = spans.get(client) ?? { span: MAX_LOG_SPAN }
  spans.set(client, state)
  const out: RpcLog[] = []
  let start = from
  while (start <= to) {
    const end = Math.min(to, start + state.span - 1)
    const filter: Record<string, unknown> = { fromBlock: toHex(start), toBlock: toHex(end), topics: [ERC20_TRANSFER_TOPIC] }
    if (addresses !== null) filter['address'] = addresses
    try {
      out.push(...(await client.call<RpcLog[]>('eth_getLogs', [filter])))
      start = end + 1
      state.span = Math.min(MAX_LOG_SPAN, state.span * 2)
    } catch (error) {
      if (error instanceof BaseError && error.code === 'RPC_ERROR' && RANGE_TOO_LARGE.test(error.shortMessage) && end > start) {
        state.span = Math.max(1, Math.floor((end - start + 1) / 2))
        continue
      }
      throw error
    }
  }
  return out
}

/** The transfers of a raw range that count (through the pure decoders), and the block times. */
export function transfersFromRange(range: RawRange, listedTokens: readonly Address[]): { transfers: Transfer[]; blockTimes: Map<number, number> } {
  const transfers: Transfer[] = []
  const blockTimes = new Map<number, number>()
  for (const b of range.blocks) {
    blockTimes.set(b.number, b.timestamp)
    transfers.push(...transfersFromBlock(b.block, b.receipts))
    if (b.parity !== null) transfers.push(...transfersFromParityTraces(b.parity, b.block))
    else if (b.geth !== null) transfers.push(...transfersFromGethCallTraces(b.geth, b.block))
  }
  transfers.push(...transfersFromLogs(range.logs, new Set(listedTokens)))
  return { transfers, blockTimes }
}
