/**
 * Pure decoders from raw Ethereum JSON-RPC payloads to the transfers that count under DESIGN.md
 * ("Exposure semantics", rule 1). No I/O: the RPC source fetches, these functions decide.
 *
 *   eth_getBlockByNumber(n, true) + eth_getBlockReceipts(n)  → transfersFromBlock        (kind 'tx')
 *   trace_block(n)                         (OpenEthereum/Erigon/Nethermind/reth/anvil)
 *                                                             → transfersFromParityTraces (kind 'trace')
 *   debug_traceBlockByNumber(n, {tracer: 'callTracer'})      → transfersFromGethCallTraces (kind 'trace')
 *   eth_getLogs / receipt logs                               → transfersFromLogs         (kind 'log')
 *
 * Trace status follows ethereum-etl (`ethereumetl/service/trace_status_calculator.py`): a trace's
 * status is 0 when it has an error OR any ancestor (same transaction, trace address a prefix of
 * its own) has one; otherwise 1. Both node formats report a call that succeeded inside a frame
 * that later reverted *without* an error of its own, although its effects were rolled back, so
 * the ancestor rule is what keeps such calls out. ethereum-etl only computes this for `trace_block`
 * exports (its geth export leaves `status` empty); here both formats get it.
 *
 * Every malformed field throws an {@link RpcDecodeError} naming the field (a path such as
 * `block.transactions[3].value`), the offending value, and the block / transaction it was in.
 */
import { ZERO_ADDRESS, traceSubIndex } from '../trace-index.ts'
import { BaseError, type ErrorDetails } from '../../errors.ts'
import { ETH, type Address, type Transfer } from '../../types.ts'

// ---------------------------------------------------------------------------------------------
// Payload shapes (what nodes send; every field is validated at run time, these only document).

/** A hex quantity as JSON-RPC encodes it (`0x0`, `0x1b`). */
export type HexQuantity = string

/** One transaction object of `eth_getBlockByNumber(n, true)`. */
export interface RpcTransaction {
  hash: string
  from: string
  /** `null` for a contract creation. */
  to?: string | null
  value: HexQuantity
  transactionIndex: HexQuantity
  blockNumber?: HexQuantity | null
  blockHash?: string | null
  [key: string]: unknown
}

/** `eth_getBlockByNumber(n, true)` result (the fields used here). */
export interface RpcBlock {
  number: HexQuantity
  hash?: string | null
  timestamp?: HexQuantity
  transactions: readonly (RpcTransaction | string)[]
  [key: string]: unknown
}

/** One `eth_getTransactionReceipt` / `eth_getBlockReceipts` item (the fields used here). */
export interface RpcReceipt {
  transactionHash: string
  /** `0x1` success, `0x0` failure; absent or `null` before Byzantium (block 4,370,000), which has `root` instead. */
  status?: HexQuantity | null
  blockNumber?: HexQuantity
  blockHash?: string
  transactionIndex?: HexQuantity
  [key: string]: unknown
}

/** One item of `trace_block` (Parity/OpenEthereum format). */
export interface ParityTrace {
  type: string
  action: Record<string, unknown>
  result?: Record<string, unknown> | null
  error?: string
  traceAddress: readonly number[]
  subtraces?: number
  /** A JSON number in most nodes; a hex quantity is accepted too. */
  blockNumber: number | string
  blockHash?: string
  /** `null` for block and uncle rewards. */
  transactionHash?: string | null
  transactionPosition?: number | string | null
  [key: string]: unknown
}

/** One frame of geth's `callTracer`. */
export interface GethCallFrame {
  /** CALL, CALLCODE, DELEGATECALL, STATICCALL, CREATE, CREATE2, SELFDESTRUCT. */
  type: string
  from?: string
  to?: string
  /** Absent for DELEGATECALL/STATICCALL (and SELFDESTRUCT in old geth). */
  value?: HexQuantity
  error?: string
  calls?: readonly GethCallFrame[]
  [key: string]: unknown
}

/**
 * One item of `debug_traceBlockByNumber(n, {tracer: 'callTracer'})`, in block transaction order.
 * Geth before 1.11 sends no `txHash`; it is then taken from the block.
 */
export interface GethTraceResult {
  txHash?: string
  result?: GethCallFrame
  error?: string
  [key: string]: unknown
}

/** The block a geth trace result belongs to: `eth_getBlockByNumber(n, false | true)`. */
export interface RpcBlockContext {
  number: HexQuantity
  hash?: string | null
  timestamp?: HexQuantity
  transactions: readonly (string | { hash: string; [key: string]: unknown })[]
  [key: string]: unknown
}

/** One log of `eth_getLogs` or of a receipt. */
export interface RpcLog {
  address: string
  topics: readonly string[]
  data: string
  blockNumber: HexQuantity | null
  transactionHash: string | null
  transactionIndex?: HexQuantity | null
  logIndex: HexQuantity | null
  /** `true` when a reorg removed the log (subscriptions / filters): it never counts. */
  removed?: boolean
  /** Sent by some nodes (geth ≥ 1.14.x, reth); used for `timestamp` when present. */
  blockTimestamp?: HexQuantity
  [key: string]: unknown
}

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * A JSON-RPC payload that does not have the shape these decoders rely on: a fault of the node
 * (RPC_ERROR, exit 1, not retried), never bad input; the user cannot fix a node's answer.
 */
export class RpcDecodeError extends BaseError {
  override name = 'RpcDecodeError'
  constructor(shortMessage: string, details: ErrorDetails) {
    super('RPC_ERROR', shortMessage, details)
  }
}

function show(value: unknown): string {
  let text: string
  if (typeof value === 'string') text = value
  else if (typeof value === 'bigint') text = `${value}n`
  else {
    try {
      text = JSON.stringify(value) ?? String(value)
    } catch {
      text = String(value)
    }
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text
}

/** Where in a payload a value was: a field path plus optional block / transaction context. */
interface Where {
  field: string
  block?: number | undefined
  tx?: string | undefined
}

function fail(message: string, where: Where, value: unknown): never {
  const details: ErrorDetails = { field: where.field, value: show(value) }
  if (where.block !== undefined) details['block'] = where.block
  if (where.tx !== undefined) details['tx'] = where.tx
  throw new RpcDecodeError(message, details)
}

// ---------------------------------------------------------------------------------------------
// Field parsers

const QUANTITY = /^0x[0-9a-fA-F]+$/
const ADDRESS = /^0x[0-9a-fA-F]{40}$/
const HASH = /^0x[0-9a-fA-F]{64}$/

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function record(value: unknown, where: Where): Record<string, unknown> {
  if (!isRecord(value)) fail('expected an object', where, value)
  return value
}

function array(value: unknown, where: Where): readonly unknown[] {
  if (!Array.isArray(value)) fail('expected an array', where, value)
  return value
}

/** A hex quantity as bigint (`0x0`, `0x1b`; leading zeros tolerated). */
function quantity(value: unknown, where: Where): bigint {
  if (typeof value !== 'string' || !QUANTITY.test(value)) fail('expected a hex quantity', where, value)
  return BigInt(value)
}

/** A non-negative safe integer given as a hex quantity or a JSON number (trace_block's blockNumber). */
function integer(value: unknown, where: Where): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) fail('expected a non-negative integer', where, value)
    return value
  }
  const big = quantity(value, where)
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) fail('integer out of range', where, value)
  return Number(big)
}

function address(value: unknown, where: Where): Address {
  if (typeof value !== 'string' || !ADDRESS.test(value)) fail('expected a 20-byte hex address', where, value)
  return value.toLowerCase() as Address
}

function optionalAddress(value: unknown, where: Where): Address | null {
  return value === undefined || value === null ? null : address(value, where)
}

function hash(value: unknown, where: Where): `0x${string}` {
  if (typeof value !== 'string' || !HASH.test(value)) fail('expected a 32-byte hex hash', where, value)
  return value.toLowerCase() as `0x${string}`
}

function errorText(value: unknown, where: Where): string | null {
  if (value === undefined || value === null || value === '') return null
  if (typeof value !== 'string') fail('expected an error string', where, value)
  return value
}

function traceAddress(value: unknown, where: Where): number[] {
  const items = array(value, where)
  return items.map((item, i) => {
    if (typeof item !== 'number' || !Number.isSafeInteger(item) || item < 0) {
      fail('expected a non-negative integer', { ...where, field: `${where.field}[${i}]` }, item)
    }
    return item
  })
}

// ---------------------------------------------------------------------------------------------
// Trace sub-index: traceSubIndex in ../trace-index.ts, shared with the etl source.

// ---------------------------------------------------------------------------------------------
// External transactions

export interface BlockDecodeOptions {
  /**
   * What to do with a receipt without `status` (every receipt before Byzantium, block 4,370,000:
   * those have a post-state `root` instead). DESIGN counts "receipt status 1" only, so the
   * default `'skip'` drops them, as ethereum-etl-based sources do with an empty `receipt_status`.
   * `'count'` treats them as successful (a failed pre-Byzantium transaction then counts unless the
   * caller removes it, e.g. by the error of its top-level trace).
   */
  missingStatus?: 'skip' | 'count'
}

/**
 * The external transactions of one block that count: receipt status 1, `value > 0`, a recipient
 * (`to` non-null: a contract creation has none). kind `'tx'`, subIndex 0.
 *
 * `receipts` must hold one receipt per transaction of the block (e.g. `eth_getBlockReceipts`),
 * matched by transaction hash; a missing receipt, a receipt of another block, or a block hash that
 * differs between the block and a receipt (a reorg between the two calls) throws.
 */
export function transfersFromBlock(
  block: RpcBlock,
  receipts: readonly RpcReceipt[],
  options: BlockDecodeOptions = {},
): Transfer[] {
  const missingStatus = options.missingStatus ?? 'skip'
  const b = record(block, { field: 'block' })
  const blockNumber = integer(b['number'], { field: 'block.number' })
  const blockHash = b['hash'] === undefined || b['hash'] === null ? null : hash(b['hash'], { field: 'block.hash', block: blockNumber })
  const timestamp = b['timestamp'] === undefined ? undefined : integer(b['timestamp'], { field: 'block.timestamp', block: blockNumber })
  const txs = array(b['transactions'], { field: 'block.transactions', block: blockNumber })

  const receiptsByHash = new Map<string, Record<string, unknown>>()
  array(receipts, { field: 'receipts', block: blockNumber }).forEach((raw, i) => {
    const where = { field: `receipts[${i}]`, block: blockNumber }
    const r = record(raw, where)
    const txHash = hash(r['transactionHash'], { ...where, field: `receipts[${i}].transactionHash` })
    if (receiptsByHash.has(txHash)) fail('duplicate receipt', { ...where, field: `receipts[${i}].transactionHash`, tx: txHash }, txHash)
    if (r['blockNumber'] !== undefined && r['blockNumber'] !== null) {
      const n = integer(r['blockNumber'], { ...where, field: `receipts[${i}].blockNumber`, tx: txHash })
      if (n !== blockNumber) fail('receipt belongs to another block', { ...where, field: `receipts[${i}].blockNumber`, tx: txHash }, r['blockNumber'])
    }
    if (blockHash !== null && r['blockHash'] !== undefined && r['blockHash'] !== null) {
      const h = hash(r['blockHash'], { ...where, field: `receipts[${i}].blockHash`, tx: txHash })
      if (h !== blockHash) {
        fail('receipt is of another block with this number (reorg between the block and the receipts?)', { ...where, field: `receipts[${i}].blockHash`, tx: txHash }, r['blockHash'])
      }
    }
    receiptsByHash.set(txHash, r)
  })

  const out: Transfer[] = []
  const seen = new Set<string>()
  txs.forEach((raw, i) => {
    const field = `block.transactions[${i}]`
    if (typeof raw === 'string') {
      fail('block has transaction hashes only; fetch it with eth_getBlockByNumber(n, true)', { field, block: blockNumber }, raw)
    }
    const tx = record(raw, { field, block: blockNumber })
    const txHash = hash(tx['hash'], { field: `${field}.hash`, block: blockNumber })
    const where = (name: string): Where => ({ field: `${field}.${name}`, block: blockNumber, tx: txHash })
    seen.add(txHash)
    if (tx['blockNumber'] !== undefined && tx['blockNumber'] !== null) {
      if (integer(tx['blockNumber'], where('blockNumber')) !== blockNumber) fail('transaction belongs to another block', where('blockNumber'), tx['blockNumber'])
    }
    const from = address(tx['from'], where('from'))
    const to = optionalAddress(tx['to'], where('to'))
    const value = quantity(tx['value'], where('value'))
    const transactionIndex = integer(tx['transactionIndex'], where('transactionIndex'))
    if (transactionIndex !== i) fail(`transaction index differs from its place in the block (${i})`, where('transactionIndex'), tx['transactionIndex'])

    const receipt = receiptsByHash.get(txHash)
    if (receipt === undefined) fail('no receipt for this transaction', { field: 'receipts', block: blockNumber, tx: txHash }, txHash)
    const statusRaw = receipt['status']
    let succeeded: boolean
    if (statusRaw === undefined || statusRaw === null) {
      succeeded = missingStatus === 'count'
    } else {
      const status = quantity(statusRaw, { field: 'receipt.status', block: blockNumber, tx: txHash })
      if (status !== 0n && status !== 1n) fail('expected receipt status 0x0 or 0x1', { field: 'receipt.status', block: blockNumber, tx: txHash }, statusRaw)
      succeeded = status === 1n
    }
    if (!succeeded || value <= 0n || to === null) return
    const transfer: Transfer = { from, to, amount: value, asset: ETH, blockNumber, transactionIndex, txHash, kind: 'tx', subIndex: 0 }
    if (timestamp !== undefined) transfer.timestamp = timestamp
    out.push(transfer)
  })
  for (const txHash of receiptsByHash.keys()) {
    if (!seen.has(txHash)) fail('receipt of a transaction that is not in the block', { field: 'receipts', block: blockNumber, tx: txHash }, txHash)
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Traces

/**
 * One trace of either node format, normalised like ethereum-etl's `traces` table: `type` is
 * `call | create | create2 | suicide | reward | …` and `callType` is
 * `call | callcode | delegatecall | staticcall` for calls (geth's frame types are mapped the way
 * ethereum-etl's `geth_trace_mapper` maps them: SELFDESTRUCT → `suicide`).
 */
export interface DecodedTrace {
  blockNumber: number
  /** `null` for rewards, and for geth traces when neither the result nor the block names it. */
  transactionHash: `0x${string}` | null
  transactionIndex: number | null
  traceAddress: number[]
  type: string
  callType: string | null
  from: Address | null
  to: Address | null
  value: bigint
  error: string | null
  /** 0 when this trace or an ancestor in its transaction has an error (ethereum-etl's rule), else 1. */
  status: 0 | 1
}

function key(traceAddress: readonly number[]): string {
  return traceAddress.join(',')
}

/**
 * Decodes every trace of a `trace_block` result (including those that do not count) and computes
 * each one's status. A trace whose parent (trace address minus its last element) is missing from
 * its transaction throws: the status of its subtree could not be known.
 */
export function decodeParityTraces(traces: readonly ParityTrace[]): DecodedTrace[] {
  const items = array(traces, { field: 'traces' })
  const decoded: DecodedTrace[] = items.map((raw, i) => {
    const field = `traces[${i}]`
    const t = record(raw, { field })
    const blockNumber = integer(t['blockNumber'], { field: `${field}.blockNumber` })
    const txHashRaw = t['transactionHash']
    const transactionHash = txHashRaw === undefined || txHashRaw === null ? null : hash(txHashRaw, { field: `${field}.transactionHash`, block: blockNumber })
    const where = (name: string): Where => ({ field: `${field}.${name}`, block: blockNumber, tx: transactionHash ?? undefined })
    const positionRaw = t['transactionPosition']
    const transactionIndex = positionRaw === undefined || positionRaw === null ? null : integer(positionRaw, where('transactionPosition'))
    if ((transactionHash === null) !== (transactionIndex === null)) {
      fail('transactionHash and transactionPosition must both be set or both be null', where('transactionPosition'), positionRaw)
    }
    const type = t['type']
    if (typeof type !== 'string' || type === '') fail('expected a trace type', where('type'), type)
    const action = record(t['action'], where('action'))
    const result = t['result'] === undefined || t['result'] === null ? null : record(t['result'], where('result'))
    const trace: DecodedTrace = {
      blockNumber,
      transactionHash,
      transactionIndex,
      traceAddress: traceAddress(t['traceAddress'], where('traceAddress')),
      type,
      callType: null,
      from: null,
      to: null,
      value: 0n,
      error: errorText(t['error'], where('error')),
      status: 1,
    }
    switch (type) {
      case 'call': {
        const callType = action['callType']
        if (typeof callType !== 'string' || callType === '') fail('expected a call type', where('action.callType'), callType)
        trace.callType = callType
        trace.from = address(action['from'], where('action.from'))
        trace.to = address(action['to'], where('action.to'))
        trace.value = quantity(action['value'], where('action.value'))
        break
      }
      case 'create':
        // Not a transfer under DESIGN (not a call): the new contract's endowment does not count.
        trace.from = address(action['from'], where('action.from'))
        trace.to = result === null ? null : optionalAddress(result['address'], where('result.address'))
        trace.value = quantity(action['value'], where('action.value'))
        break
      case 'suicide':
        // SELFDESTRUCT: moves the contract's whole balance to `refundAddress`, but DESIGN counts only
        // traces of type `call`, so it does not count (see transfersFromDecodedTraces).
        trace.from = address(action['address'], where('action.address'))
        trace.to = address(action['refundAddress'], where('action.refundAddress'))
        trace.value = quantity(action['balance'], where('action.balance'))
        break
      case 'reward':
        // Block / uncle reward: newly issued ether without a sender; never counts.
        trace.to = address(action['author'], where('action.author'))
        trace.value = quantity(action['value'], where('action.value'))
        break
      default:
        // Other types (e.g. Erigon's/Nethermind's `genesis`, or future ones) never count; kept
        // only so the caller sees them.
        break
    }
    return trace
  })
  computeStatuses(decoded)
  return decoded
}

/** ethereum-etl's status rule: error on the trace or on any ancestor in the same transaction → 0. */
function computeStatuses(traces: DecodedTrace[]): void {
  const byTx = new Map<string, Map<string, DecodedTrace>>()
  for (const trace of traces) {
    if (trace.error !== null) trace.status = 0
    if (trace.transactionHash === null) continue
    let tree = byTx.get(trace.transactionHash)
    if (tree === undefined) byTx.set(trace.transactionHash, (tree = new Map()))
    const k = key(trace.traceAddress)
    if (tree.has(k)) {
      fail('two traces with the same trace address in one transaction', { field: 'traceAddress', block: trace.blockNumber, tx: trace.transactionHash }, trace.traceAddress)
    }
    tree.set(k, trace)
  }
  for (const tree of byTx.values()) {
    // Parents before children: sort by depth.
    const ordered = [...tree.values()].sort((a, b) => a.traceAddress.length - b.traceAddress.length)
    for (const trace of ordered) {
      if (trace.traceAddress.length === 0) continue
      const parent = tree.get(key(trace.traceAddress.slice(0, -1)))
      if (parent === undefined) {
        fail('the parent of this trace is missing from its transaction', { field: 'traceAddress', block: trace.blockNumber, tx: trace.transactionHash ?? undefined }, trace.traceAddress)
      }
      if (parent.status === 0) trace.status = 0
    }
  }
}

/**
 * The decoded traces that count (DESIGN rule 1): type `call` with call type `call` (a
 * `delegatecall`/`callcode` runs another contract's code in the caller's context and moves no value
 * between addresses; a `staticcall` cannot carry value), `value > 0`, no error, status 1 (no
 * ancestor reverted), and a non-empty trace address (the top-level trace repeats the external
 * transaction, which transfersFromBlock counts). Rewards, `create` (endowments of new contracts)
 * and `suicide` (selfdestruct balance sweeps) are not calls and do not count.
 */
export function transfersFromDecodedTraces(traces: readonly DecodedTrace[], timestamp?: number): Transfer[] {
  const out: Transfer[] = []
  for (const trace of traces) {
    if (trace.type !== 'call' || trace.callType !== 'call') continue
    if (trace.value <= 0n || trace.error !== null || trace.status !== 1 || trace.traceAddress.length === 0) continue
    const where: Where = { field: 'trace', block: trace.blockNumber, tx: trace.transactionHash ?? undefined }
    if (trace.transactionHash === null || trace.transactionIndex === null) fail('a counted call trace has no transaction', where, trace.traceAddress)
    if (trace.from === null || trace.to === null) fail('a counted call trace has no sender or recipient', where, trace.traceAddress)
    const transfer: Transfer = {
      from: trace.from,
      to: trace.to,
      amount: trace.value,
      asset: ETH,
      blockNumber: trace.blockNumber,
      transactionIndex: trace.transactionIndex,
      txHash: trace.transactionHash,
      kind: 'trace',
      subIndex: traceSubIndex(trace.traceAddress),
    }
    if (timestamp !== undefined) transfer.timestamp = timestamp
    out.push(transfer)
  }
  return out
}

/**
 * The internal calls of a `trace_block` result that count (see transfersFromDecodedTraces).
 * `block` is optional: when given (any `eth_getBlockByNumber` result), its timestamp is copied into
 * the transfers and its number / hash must match the traces'.
 */
export function transfersFromParityTraces(traces: readonly ParityTrace[], block?: Pick<RpcBlockContext, 'number' | 'hash' | 'timestamp'>): Transfer[] {
  const decoded = decodeParityTraces(traces)
  let timestamp: number | undefined
  if (block !== undefined) {
    const b = record(block, { field: 'block' })
    const blockNumber = integer(b['number'], { field: 'block.number' })
    if (b['timestamp'] !== undefined) timestamp = integer(b['timestamp'], { field: 'block.timestamp', block: blockNumber })
    const blockHash = b['hash'] === undefined || b['hash'] === null ? null : hash(b['hash'], { field: 'block.hash', block: blockNumber })
    decoded.forEach((trace, i) => {
      if (trace.blockNumber !== blockNumber) fail('trace belongs to another block', { field: `traces[${i}].blockNumber`, block: blockNumber }, trace.blockNumber)
      const raw = traces[i]?.blockHash
      if (blockHash !== null && raw !== undefined && raw !== null && hash(raw, { field: `traces[${i}].blockHash`, block: blockNumber }) !== blockHash) {
        fail('trace is of another block with this number (reorg between calls?)', { field: `traces[${i}].blockHash`, block: blockNumber }, raw)
      }
    })
  }
  return transfersFromDecodedTraces(decoded, timestamp)
}

/**
 * Decodes every frame of a `debug_traceBlockByNumber(n, {tracer: 'callTracer'})` result into
 * trace-table rows (depth first, like `trace_block`): the trace address of a frame is its index
 * path in the `calls` arrays, which is the same as Parity's `traceAddress`. The i-th result
 * belongs to the block's i-th transaction; its `txHash`, when present, must match.
 */
export function decodeGethCallTraces(results: readonly GethTraceResult[], block: RpcBlockContext): DecodedTrace[] {
  const b = record(block, { field: 'block' })
  const blockNumber = integer(b['number'], { field: 'block.number' })
  const txs = array(b['transactions'], { field: 'block.transactions', block: blockNumber })
  const items = array(results, { field: 'results', block: blockNumber })
  if (items.length !== txs.length) {
    fail(`expected one trace result per transaction of the block (${txs.length})`, { field: 'results', block: blockNumber }, `${items.length} results`)
  }
  const out: DecodedTrace[] = []
  items.forEach((raw, i) => {
    const field = `results[${i}]`
    const item = record(raw, { field, block: blockNumber })
    const tx = txs[i]
    let txHash: `0x${string}`
    if (typeof tx === 'string') {
      txHash = hash(tx, { field: `block.transactions[${i}]`, block: blockNumber })
    } else {
      const t = record(tx, { field: `block.transactions[${i}]`, block: blockNumber })
      txHash = hash(t['hash'], { field: `block.transactions[${i}].hash`, block: blockNumber })
      if (t['transactionIndex'] !== undefined && t['transactionIndex'] !== null) {
        const index = integer(t['transactionIndex'], { field: `block.transactions[${i}].transactionIndex`, block: blockNumber, tx: txHash })
        if (index !== i) fail(`transaction index differs from its place in the block (${i})`, { field: `block.transactions[${i}].transactionIndex`, block: blockNumber, tx: txHash }, t['transactionIndex'])
      }
    }
    if (item['txHash'] !== undefined && item['txHash'] !== null) {
      const named = hash(item['txHash'], { field: `${field}.txHash`, block: blockNumber })
      if (named !== txHash) fail(`trace result is not of the block's transaction ${i} (${txHash})`, { field: `${field}.txHash`, block: blockNumber, tx: named }, item['txHash'])
    }
    if (item['error'] !== undefined && item['error'] !== null) fail('the node could not trace this transaction', { field: `${field}.error`, block: blockNumber, tx: txHash }, item['error'])
    walkFrame(item['result'], [], false, `${field}.result`, { blockNumber, txHash, transactionIndex: i }, out)
  })
  return out
}

interface FrameContext {
  blockNumber: number
  txHash: `0x${string}`
  transactionIndex: number
}

function walkFrame(raw: unknown, path: number[], ancestorFailed: boolean, field: string, ctx: FrameContext, out: DecodedTrace[]): void {
  const where = (name: string): Where => ({ field: `${field}.${name}`, block: ctx.blockNumber, tx: ctx.txHash })
  const frame = record(raw, { field, block: ctx.blockNumber, tx: ctx.txHash })
  const rawType = frame['type']
  if (typeof rawType !== 'string' || rawType === '') fail('expected a frame type', where('type'), rawType)
  let type = rawType.toLowerCase()
  let callType: string | null = null
  if (type === 'selfdestruct') type = 'suicide'
  else if (type === 'call' || type === 'callcode' || type === 'delegatecall' || type === 'staticcall') {
    callType = type
    type = 'call'
  }
  const error = errorText(frame['error'], where('error'))
  const failed = ancestorFailed || error !== null
  out.push({
    blockNumber: ctx.blockNumber,
    transactionHash: ctx.txHash,
    transactionIndex: ctx.transactionIndex,
    traceAddress: path,
    type,
    callType,
    from: optionalAddress(frame['from'], where('from')),
    to: optionalAddress(frame['to'], where('to')),
    // Absent on DELEGATECALL/STATICCALL frames (and on SELFDESTRUCT in old geth): no value moved.
    value: frame['value'] === undefined || frame['value'] === null ? 0n : quantity(frame['value'], where('value')),
    error,
    status: failed ? 0 : 1,
  })
  const calls = frame['calls']
  if (calls === undefined || calls === null) return
  array(calls, where('calls')).forEach((child, i) => {
    walkFrame(child, [...path, i], failed, `${field}.calls[${i}]`, ctx, out)
  })
}

/**
 * The internal calls of a geth `callTracer` block trace that count: the same rule as for
 * `trace_block` (see transfersFromDecodedTraces). The top frame repeats the transaction and does
 * not count; a CALL frame with value counts unless it or any enclosing frame has an error.
 */
export function transfersFromGethCallTraces(results: readonly GethTraceResult[], block: RpcBlockContext): Transfer[] {
  const decoded = decodeGethCallTraces(results, block)
  const b = record(block, { field: 'block' })
  const timestamp = b['timestamp'] === undefined ? undefined : integer(b['timestamp'], { field: 'block.timestamp' })
  return transfersFromDecodedTraces(decoded, timestamp)
}

// ---------------------------------------------------------------------------------------------
// Token logs

/** topic0 of `Transfer(address,address,uint256)` (ERC-20 and ERC-721 share it). */
export const ERC20_TRANSFER_TOPIC = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'

const WORD = /^0x[0-9a-fA-F]{64}$/

/**
 * Token transfers that count (DESIGN rule 1): an ERC-20 `Transfer(address indexed from, address
 * indexed to, uint256 value)` log (topic0 {@link ERC20_TRANSFER_TOPIC}, exactly 3 topics, one data
 * word) of a token in `listedTokens` (lowercase addresses) with `value > 0`.
 *
 * Not counted: logs of unlisted contracts (anyone can emit a `Transfer`), ERC-721 transfers (4
 * topics: the token id is indexed, no amount moves), logs flagged `removed` by a reorg, and mints
 * (`from` = the zero address: tokens created without a sender, DESIGN's "transfers without a
 * sender"). Burns (to the zero address) are kept: they have a sender.
 *
 * kind `'log'`, subIndex = logIndex, transactionIndex from the log itself; `txIndexByHash` fills it
 * in for nodes that leave it out (and must agree when both are present). A listed token's log whose
 * data is not one 32-byte word throws (it is not an ERC-20 Transfer of that token).
 */
export function transfersFromLogs(
  logs: readonly RpcLog[],
  listedTokens: ReadonlySet<string>,
  txIndexByHash?: ReadonlyMap<string, number>,
): Transfer[] {
  const listed = new Set([...listedTokens].map((a) => a.toLowerCase()))
  const indexByHash = txIndexByHash === undefined ? undefined : new Map([...txIndexByHash].map(([h, i]) => [h.toLowerCase(), i] as const))
  const out: Transfer[] = []
  array(logs, { field: 'logs' }).forEach((raw, i) => {
    const field = `logs[${i}]`
    const log = record(raw, { field })
    const topics = array(log['topics'], { field: `${field}.topics` })
    const topic0 = topics[0]
    if (typeof topic0 !== 'string' || topic0.toLowerCase() !== ERC20_TRANSFER_TOPIC) return
    if (topics.length !== 3) return // ERC-721 (4 topics) or a non-standard event sharing the signature
    const token = address(log['address'], { field: `${field}.address` })
    if (!listed.has(token)) return
    if (log['removed'] === true) return

    const blockNumber = integer(log['blockNumber'], { field: `${field}.blockNumber` })
    const txHash = hash(log['transactionHash'], { field: `${field}.transactionHash`, block: blockNumber })
    const where = (name: string): Where => ({ field: `${field}.${name}`, block: blockNumber, tx: txHash })
    const logIndex = integer(log['logIndex'], where('logIndex'))
    let transactionIndex: number | undefined
    const indexRaw = log['transactionIndex']
    if (indexRaw !== undefined && indexRaw !== null) transactionIndex = integer(indexRaw, where('transactionIndex'))
    const known = indexByHash?.get(txHash)
    if (known !== undefined) {
      if (transactionIndex !== undefined && transactionIndex !== known) fail(`log's transaction index differs from txIndexByHash (${known})`, where('transactionIndex'), indexRaw)
      transactionIndex = known
    }
    if (transactionIndex === undefined) fail('log has no transactionIndex and txIndexByHash does not know its transaction', where('transactionIndex'), indexRaw)

    const words = topics.map((topic, j) => {
      if (typeof topic !== 'string' || !WORD.test(topic)) fail('expected a 32-byte topic', where(`topics[${j}]`), topic)
      return topic.toLowerCase()
    })
    const data = log['data']
    if (typeof data !== 'string' || !WORD.test(data)) fail('a Transfer log of a listed token must carry the amount as one 32-byte data word', where('data'), data)
    // Indexed address parameters are left-padded 32-byte words: the address is the last 20 bytes.
    const from = `0x${words[1]!.slice(26)}` as Address
    const to = `0x${words[2]!.slice(26)}` as Address
    const amount = BigInt(data)
    if (amount <= 0n || from === ZERO_ADDRESS) return

    const transfer: Transfer = { from, to, amount, asset: token, blockNumber, transactionIndex, txHash, kind: 'log', subIndex: logIndex }
    if (log['blockTimestamp'] !== undefined && log['blockTimestamp'] !== null) transfer.timestamp = integer(log['blockTimestamp'], where('blockTimestamp'))
    out.push(transfer)
  })
  return out
}

export { traceSubIndex }
