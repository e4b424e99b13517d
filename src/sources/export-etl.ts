/**
 * `exposure export-etl`: writes a node's blocks as ethereum-etl CSVs, so investigators can hand the
 * data on and so the etl importer and the RPC sync can be checked against each other.
 *
 *   transactions.csv     ethereum-etl's transaction columns plus the receipt columns BigQuery's
 *                        `transactions` table joins in (`receipt_status` is what the importer needs)
 *   traces.csv           ethereum-etl's trace columns (status computed by etl's ancestor rule)
 *   token_transfers.csv  ethereum-etl's columns, for ERC-20 `Transfer` logs of every contract.
 *                        Unlike etl, ERC-721 transfers (token id in a fourth topic) are left out:
 *                        they move no amount and DESIGN never counts them.
 *
 * Numbers are decimal, addresses and hashes lowercase, empty fields for nulls, as etl writes them.
 *
 * It reads the node, not the store: the store keeps the transfers that count (a few fixed-size
 * records per transfer), not every etl row (failed transactions, zero-value calls, gas, inputs,
 * unlisted tokens), so exporting the store could not give etl's files. The three files are
 * written under temporary names in the folder and renamed only when the whole range was read: a
 * failed or interrupted export leaves the folder as it was.
 */
import { once } from 'node:events'
import { createWriteStream, type WriteStream } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createRpcClient, type RpcClientOptions } from './rpc/client.ts'
import { detectCapabilities } from './rpc/capabilities.ts'
import { ERC20_TRANSFER_TOPIC, decodeGethCallTraces, decodeParityTraces, type DecodedTrace } from './rpc/decode.ts'
import { readLinkedRange, type RawBlock, type RawRange } from './rpc/read-range.ts'
import { BaseError } from '../errors.ts'

export const EXPORT_TX_COLUMNS = [
  'hash', 'nonce', 'block_hash', 'block_number', 'transaction_index', 'from_address', 'to_address', 'value', 'gas', 'gas_price', 'input',
  'block_timestamp', 'max_fee_per_gas', 'max_priority_fee_per_gas', 'transaction_type',
  'receipt_cumulative_gas_used', 'receipt_gas_used', 'receipt_contract_address', 'receipt_root', 'receipt_status', 'receipt_effective_gas_price',
] as const
export const EXPORT_TRACE_COLUMNS = [
  'block_number', 'transaction_hash', 'transaction_index', 'from_address', 'to_address', 'value', 'input', 'output', 'trace_type', 'call_type',
  'reward_type', 'gas', 'gas_used', 'subtraces', 'trace_address', 'error', 'status', 'trace_id',
] as const
export const EXPORT_TOKEN_COLUMNS = ['token_address', 'from_address', 'to_address', 'value', 'transaction_hash', 'log_index', 'block_number'] as const

export interface ExportOptions {
  rpcUrl: string
  fromBlock: number
  toBlock: number
  dir: string
  /** Blocks read per round. Default 100. */
  chunk?: number
  rpc?: Omit<RpcClientOptions, 'url'>
  onProgress?: (done: number, total: number) => void
  /** Stops the export (INTERRUPTED); the folder stays as it was. */
  signal?: AbortSignal
}

export interface ExportSummary {
  dir: string
  blocks: number
  transactions: number
  traces: number
  tokenTransfers: number
  seconds: number
}

export async function exportEtl(options: ExportOptions): Promise<ExportSummary> {
  const startedAt = Date.now()
  const client = createRpcClient({ url: options.rpcUrl, ...options.rpc })
  const caps = await detectCapabilities(client, options.rpcUrl)
  await mkdir(options.dir, { recursive: true })
  const names = { tx: 'transactions.csv', trace: 'traces.csv', token: 'token_transfers.csv' } as const
  const partial = (name: string) => join(options.dir, `.${name}.partial-${process.pid}`)
  const files = {
    tx: createWriteStream(partial(names.tx)),
    trace: createWriteStream(partial(names.trace)),
    token: createWriteStream(partial(names.token)),
  }
  const counts = { transactions: 0, traces: 0, tokenTransfers: 0 }
  let complete = false
  try {
    await write(files.tx, EXPORT_TX_COLUMNS.join(','))
    await write(files.trace, EXPORT_TRACE_COLUMNS.join(','))
    await write(files.token, EXPORT_TOKEN_COLUMNS.join(','))
    const chunk = options.chunk ?? 100
    const total = options.toBlock - options.fromBlock + 1
    for (let from = options.fromBlock; from <= options.toBlock; from += chunk) {
      if (options.signal?.aborted) throw new BaseError('INTERRUPTED', `export interrupted at block ${from}: ${options.dir} is as it was`, { value: String(from) })
      const to = Math.min(options.toBlock, from + chunk - 1)
      const range = await readLinkedRange(client, caps, from, to, { logAddresses: null })
      const rows = etlRows(range)
      counts.transactions += rows.transactions.length
      counts.traces += rows.traces.length
      counts.tokenTransfers += rows.tokenTransfers.length
      if (rows.transactions.length > 0) await write(files.tx, rows.transactions.join('\n'))
      if (rows.traces.length > 0) await write(files.trace, rows.traces.join('\n'))
      if (rows.tokenTransfers.length > 0) await write(files.token, rows.tokenTransfers.join('\n'))
      options.onProgress?.(to - options.fromBlock + 1, total)
    }
    complete = true
  } finally {
    await Promise.all(Object.values(files).map((f) => new Promise<void>((resolve) => f.end(resolve))))
    if (!complete) await Promise.all(Object.values(names).map((name) => rm(partial(name), { force: true })))
  }
  try {
    for (const name of Object.values(names)) await rename(partial(name), join(options.dir, name))
  } catch (error) {
    await Promise.all(Object.values(names).map((name) => rm(partial(name), { force: true })))
    throw error
  }
  return { dir: options.dir, blocks: options.toBlock - options.fromBlock + 1, ...counts, seconds: (Date.now() - startedAt) / 1000 }
}

async function write(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(`${text}\n`)) await once(stream, 'drain')
}

/** CSV lines (no header) of the three tables for one raw range. */
export function etlRows(range: RawRange): { transactions: string[]; traces: string[]; tokenTransfers: string[] } {
  const transactions: string[] = []
  const traces: string[] = []
  const tokenTransfers: string[] = []
  for (const b of range.blocks) {
    transactions.push(...transactionLines(b))
    traces.push(...traceLines(b))
  }
  for (const log of range.logs) {
    const topics = (log.topics as string[]).map((t) => t.toLowerCase())
    if (topics[0] !== ERC20_TRANSFER_TOPIC || topics.length !== 3 || !/^0x[0-9a-fA-F]{64}$/.test(String(log.data))) continue
    if (log.removed === true) continue
    tokenTransfers.push(
      line([
        String(log.address).toLowerCase(),
        `0x${topics[1]!.slice(26)}`,
        `0x${topics[2]!.slice(26)}`,
        dec(log.data),
        String(log.transactionHash).toLowerCase(),
        dec(log.logIndex),
        dec(log.blockNumber),
      ]),
    )
  }
  return { transactions, traces, tokenTransfers }
}

function transactionLines(b: RawBlock): string[] {
  const receipts = new Map(b.receipts.map((r) => [String(r.transactionHash).toLowerCase(), r as Record<string, unknown>]))
  return b.block.transactions.map((raw) => {
    const tx = raw as Record<string, unknown>
    const hash = String(tx['hash']).toLowerCase()
    const r = receipts.get(hash) ?? {}
    return line([
      hash,
      dec(tx['nonce']),
      b.hash,
      String(b.number),
      dec(tx['transactionIndex']),
      lower(tx['from']),
      lower(tx['to']),
      dec(tx['value']),
      dec(tx['gas']),
      dec(tx['gasPrice']),
      String(tx['input'] ?? '').toLowerCase(),
      String(b.timestamp),
      dec(tx['maxFeePerGas']),
      dec(tx['maxPriorityFeePerGas']),
      dec(tx['type']),
      dec(r['cumulativeGasUsed']),
      dec(r['gasUsed']),
      lower(r['contractAddress']),
      String(r['root'] ?? ''),
      dec(r['status']),
      dec(r['effectiveGasPrice']),
    ])
  })
}

function traceLines(b: RawBlock): string[] {
  let decoded: DecodedTrace[]
  let extra: (Record<string, unknown> | null)[]
  if (b.parity !== null) {
    decoded = decodeParityTraces(b.parity)
    extra = b.parity.map((t) => t as unknown as Record<string, unknown>)
  } else if (b.geth !== null) {
    decoded = decodeGethCallTraces(b.geth, b.block)
    extra = decoded.map(() => null)
  } else {
    return []
  }
  // Children per trace (geth frames do not carry `subtraces`).
  const children = new Map<string, number>()
  for (const t of decoded) {
    if (t.traceAddress.length === 0) continue
    const parent = `${t.transactionHash}/${t.traceAddress.slice(0, -1).join(',')}`
    children.set(parent, (children.get(parent) ?? 0) + 1)
  }
  return decoded.map((t, i) => {
    const raw = extra[i]
    const action = (raw?.['action'] ?? {}) as Record<string, unknown>
    const result = (raw?.['result'] ?? {}) as Record<string, unknown>
    const address = t.traceAddress.join(',')
    return line([
      String(t.blockNumber),
      t.transactionHash ?? '',
      t.transactionIndex === null ? '' : String(t.transactionIndex),
      t.from ?? '',
      t.to ?? '',
      t.value.toString(),
      String(action['input'] ?? action['init'] ?? ''),
      String(result['output'] ?? result['code'] ?? ''),
      t.type,
      t.callType ?? '',
      String(action['rewardType'] ?? ''),
      dec(action['gas']),
      dec(result['gasUsed']),
      String(children.get(`${t.transactionHash}/${address}`) ?? 0),
      address,
      t.error ?? '',
      String(t.status),
      `${t.type}_${t.blockNumber}_${t.transactionHash ?? 'block'}_${t.traceAddress.join('_')}`,
    ])
  })
}

/** A hex quantity (or JSON number) as a decimal string; '' for absent. */
function dec(value: unknown): string {
  if (value === undefined || value === null || value === '') return ''
  if (typeof value === 'number') return String(value)
  return BigInt(String(value)).toString()
}

function lower(value: unknown): string {
  return value === undefined || value === null ? '' : String(value).toLowerCase()
}

function line(fields: readonly string[]): string {
  return fields.map((f) => (/[",\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',')
}
