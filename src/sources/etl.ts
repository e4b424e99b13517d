import { createReadStream } from 'node:fs'
import { basename } from 'node:path'
import { createGunzip } from 'node:zlib'
import Papa from 'papaparse'
import { InputError } from '../errors.ts'
import { ETH, type Address, type Transfer } from '../types.ts'
import { ZERO_ADDRESS, traceSubIndex } from './trace-index.ts'
import type { TxIndexTable } from './tx-index-table.ts'

/**
 * ethereum-etl exports (the format of BigQuery's public Ethereum dataset): transactions.csv,
 * traces.csv, token_transfers.csv, optionally gzipped. Columns are found by header name; extra
 * columns are ignored. Rows become transfers under DESIGN.md's counting rules; every other row is
 * counted under the rule that skipped it.
 */
export type EtlKind = 'receipts' | 'transactions' | 'traces' | 'token_transfers'

export const REQUIRED_COLUMNS: Record<EtlKind, readonly string[]> = {
  // ethereum-etl's own export_receipts_and_logs: the statuses its export_blocks_and_transactions lacks.
  receipts: ['transaction_hash', 'status'],
  // receipt_status is in BigQuery's table; etl's own transactions.csv has none (receipts.csv then).
  transactions: ['hash', 'block_number', 'transaction_index', 'from_address', 'to_address', 'value'],
  traces: ['block_number', 'transaction_hash', 'transaction_index', 'from_address', 'to_address', 'value', 'trace_type', 'call_type', 'error', 'trace_address', 'status'],
  token_transfers: ['token_address', 'from_address', 'to_address', 'value', 'transaction_hash', 'log_index', 'block_number'],
}

/** Why a row did not become a transfer. */
export type SkipReason =
  | 'failed'
  | 'zero-value'
  | 'no-recipient'
  | 'no-sender'
  | 'not-a-call'
  | 'delegate-or-static-call'
  | 'top-level-trace'
  | 'errored-call'
  | 'unlisted-token'
  | 'unknown-transaction'
  | 'no-receipt'
  | 'invalid'

export interface EtlRowResult {
  transfer?: Transfer
  skip?: SkipReason
  /** transactions rows also yield their index and block time (for the token join and paths). */
  txIndex?: { hash: string; index: number; block: number; timestamp?: number }
  /** receipts rows yield the status of their transaction. */
  receipt?: { hash: string; status: string }
  /**
   * A token transfer of a listed token whose transaction index is not known to this command: it
   * waits in the store until its transaction arrives (store/tx-index.ts).
   */
  pendingToken?: Omit<Transfer, 'transactionIndex' | 'kind' | 'subIndex' | 'timestamp'> & { logIndex: number }
}

export function etlKindOf(file: string): EtlKind | null {
  const name = basename(file).toLowerCase()
  for (const kind of ['token_transfers', 'transactions', 'traces', 'receipts'] as const) {
    if (name.startsWith(kind)) return kind
  }
  return null
}

interface RowContext {
  file: string
  line: number
  get(column: string): string
  has(column: string): boolean
}

/** A view of the current CSV record by column name (reused for every row of a file). */
class Row implements RowContext {
  line = 0
  record: string[] = []
  constructor(
    readonly file: string,
    private readonly columns: ReadonlyMap<string, number>,
  ) {}
  get(column: string): string {
    const i = this.columns.get(column)
    return i === undefined ? '' : (this.record[i] ?? '')
  }
  has(column: string): boolean {
    return this.columns.has(column)
  }
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/
const HASH = /^0x[0-9a-fA-F]{64}$/
const UINT = /^\d+$/

function address(ctx: RowContext, column: string, optional: boolean): Address | null {
  const value = ctx.get(column)
  if (value === '' && optional) return null
  if (!ADDRESS.test(value)) throw new InputError('INVALID_ADDRESS', `invalid address in column ${column}: ${JSON.stringify(value)}`, { file: ctx.file, line: ctx.line, field: column, value })
  return value.toLowerCase() as Address
}

function uint(ctx: RowContext, column: string): bigint {
  const value = ctx.get(column)
  if (!UINT.test(value)) throw new InputError('MALFORMED_FILE', `expected a non-negative integer in column ${column}: ${JSON.stringify(value)}`, { file: ctx.file, line: ctx.line, field: column, value })
  return BigInt(value)
}

function smallUint(ctx: RowContext, column: string, max: number): number {
  const value = ctx.get(column)
  if (!UINT.test(value) || Number(value) > max) throw new InputError('MALFORMED_FILE', `expected an integer from 0 to ${max} in column ${column}: ${JSON.stringify(value)}`, { file: ctx.file, line: ctx.line, field: column, value })
  return Number(value)
}

function hash(ctx: RowContext, column: string): `0x${string}` {
  const value = ctx.get(column)
  if (!HASH.test(value)) throw new InputError('MALFORMED_FILE', `invalid transaction hash in column ${column}: ${JSON.stringify(value)}`, { file: ctx.file, line: ctx.line, field: column, value })
  return value.toLowerCase() as `0x${string}`
}

const MAX_BLOCK = 0xffffffff
const MAX_TX_INDEX = 0xffff

/** An external transaction counts when it succeeded (receipt status 1), moved value and has a recipient. */
export function receiptRow(ctx: RowContext): EtlRowResult {
  const status = ctx.get('status')
  if (status !== '' && status !== '0' && status !== '1') throw new InputError('MALFORMED_FILE', `receipt status must be 0, 1 or empty: ${JSON.stringify(status)}`, { file: ctx.file, line: ctx.line, field: 'status', value: status })
  return { receipt: { hash: hash(ctx, 'transaction_hash'), status } }
}

export function transactionRow(ctx: RowContext, receiptStatus?: ReadonlyMap<string, string>): EtlRowResult {
  const txHash = hash(ctx, 'hash')
  const blockNumber = smallUint(ctx, 'block_number', MAX_BLOCK)
  const transactionIndex = smallUint(ctx, 'transaction_index', MAX_TX_INDEX)
  const from = address(ctx, 'from_address', false)!
  const to = address(ctx, 'to_address', true)
  const amount = uint(ctx, 'value')
  const status = ctx.has('receipt_status') ? ctx.get('receipt_status') : receiptStatus?.get(txHash)
  const ts = ctx.get('block_timestamp')
  const timestamp = UINT.test(ts) ? Number(ts) : undefined
  const txIndex = { hash: txHash, index: transactionIndex, block: blockNumber, ...(timestamp === undefined ? {} : { timestamp }) }
  if (status === undefined) return { skip: 'no-receipt', txIndex }
  // Pre-Byzantium receipts have no status: DESIGN.md counts only status 1, so they are skipped as failed.
  if (status !== '1') return { skip: 'failed', txIndex }
  if (amount === 0n) return { skip: 'zero-value', txIndex }
  if (to === null) return { skip: 'no-recipient', txIndex }
  return { transfer: { from, to, amount, asset: ETH, blockNumber, transactionIndex, txHash, kind: 'tx', subIndex: 0, ...(timestamp === undefined ? {} : { timestamp }) }, txIndex }
}

/**
 * An internal call counts when it is a plain `call` (not delegatecall/staticcall, not create,
 * suicide or reward), below the top level (the top-level trace repeats the transaction), moved
 * value, and neither it nor its transaction failed (etl's status is 0 when any ancestor failed).
 */
export function traceRow(ctx: RowContext): EtlRowResult {
  // Every field is checked before the rules: a malformed row is bad input even if it would not count.
  const from = address(ctx, 'from_address', true)
  const to = address(ctx, 'to_address', true)
  const amount = ctx.get('value') === '' ? 0n : uint(ctx, 'value')
  const blockNumber = smallUint(ctx, 'block_number', MAX_BLOCK)
  const hasTx = ctx.get('transaction_hash') !== ''
  const txHash = hasTx ? hash(ctx, 'transaction_hash') : null
  const transactionIndex = ctx.get('transaction_index') === '' ? null : smallUint(ctx, 'transaction_index', MAX_TX_INDEX)
  const traceAddress = ctx.get('trace_address')
  if (ctx.get('trace_type') !== 'call') return { skip: 'not-a-call' }
  if (ctx.get('call_type') !== 'call') return { skip: 'delegate-or-static-call' }
  if (traceAddress === '') return { skip: 'top-level-trace' }
  if (ctx.get('error') !== '' || ctx.get('status') !== '1') return { skip: 'errored-call' }
  if (amount === 0n) return { skip: 'zero-value' }
  if (from === null || txHash === null || transactionIndex === null) return { skip: 'no-sender' }
  if (to === null) return { skip: 'no-recipient' }
  return { transfer: { from, to, amount, asset: ETH, blockNumber, transactionIndex, txHash, kind: 'trace', subIndex: traceSubIndex(traceAddress) } }
}

/**
 * A token `Transfer` counts when its token is on the asset list and it moved value. Any contract can
 * emit a Transfer naming any sender, so unlisted tokens never count. The transaction index comes
 * from the row itself if the export has it, else from the transactions joined on the hash.
 */
export function tokenRow(ctx: RowContext, listed: ReadonlySet<string>, txIndexByHash: { get(hash: string): number | undefined }): EtlRowResult {
  const token = address(ctx, 'token_address', false)!
  const from = address(ctx, 'from_address', true)
  const to = address(ctx, 'to_address', true)
  const amount = uint(ctx, 'value')
  const txHash = hash(ctx, 'transaction_hash')
  const blockNumber = smallUint(ctx, 'block_number', MAX_BLOCK)
  const logIndex = smallUint(ctx, 'log_index', 0xffffffff)
  const own = ctx.get('transaction_index')
  const ownIndex = own === '' ? undefined : smallUint(ctx, 'transaction_index', MAX_TX_INDEX)
  if (!listed.has(token)) return { skip: 'unlisted-token' }
  if (amount === 0n) return { skip: 'zero-value' }
  // A mint names the zero address as sender: no sender, so it does not count (as in the RPC source).
  if (from === null || from === ZERO_ADDRESS) return { skip: 'no-sender' }
  if (to === null) return { skip: 'no-recipient' }
  const transactionIndex = ownIndex ?? txIndexByHash.get(txHash)
  if (transactionIndex === undefined) return { skip: 'unknown-transaction', pendingToken: { from, to, amount, asset: token, blockNumber, txHash, logIndex } }
  return { transfer: { from, to, amount, asset: token, blockNumber, transactionIndex, txHash, kind: 'log', subIndex: logIndex } }
}

export interface ReadOptions {
  listedTokens: ReadonlySet<string>
  txIndexByHash: TxIndexTable
  /** Receipt statuses by transaction hash, from receipts files read earlier in the import. */
  receiptStatus?: Map<string, string>
  /** Count malformed rows under 'invalid' instead of failing the file. */
  skipInvalid: boolean
  onInvalid?: (error: InputError) => void
  /** Bytes of the (compressed) file read so far, for progress bars. */
  onBytes?: (bytes: number) => void
}

/**
 * Streams one etl file and yields results in batches (the file is never loaded whole). Throws
 * InputError naming file:line for a malformed row unless `skipInvalid`. Line numbers count one
 * record per line, as etl writes them (its fields never hold line breaks).
 *
 * papaparse does the CSV work: streaming, with pause/resume so a slow consumer (Redis) holds
 * the file back instead of buffering it; it parses about seven times faster than csv-parse here.
 */
export async function* readEtlFile(file: string, kind: EtlKind, options: ReadOptions): AsyncGenerator<EtlRowResult[]> {
  const input = createReadStream(file)
  const source: NodeJS.ReadableStream = file.endsWith('.gz') ? input.pipe(createGunzip()) : input
  let bytes = 0
  if (options.onBytes) input.on('data', (chunk: Buffer | string) => options.onBytes!((bytes += chunk.length)))

  // A tiny channel between papaparse's callbacks and this generator.
  const queue: string[][][] = []
  let wake: (() => void) | null = null
  let done = false
  let failure: unknown = null
  let parser: Papa.Parser | null = null
  const notify = () => {
    const w = wake
    wake = null
    w?.()
  }
  const fail = (error: unknown) => {
    failure ??= error
    notify()
  }
  input.on('error', fail)
  source.on('error', fail)
  Papa.parse<string[]>(source as unknown as Papa.LocalFile, {
    skipEmptyLines: true,
    chunk: (results, p) => {
      parser = p
      if (results.errors.length > 0) {
        const e = results.errors[0]!
        fail(new InputError('MALFORMED_FILE', `malformed CSV: ${e.message}`, { file, line: lineBase + (e.row ?? 0) + 1 }))
        p.abort()
        return
      }
      queue.push(results.data)
      p.pause()
      notify()
    },
    complete: () => {
      done = true
      notify()
    },
    error: (error: Error) => fail(error),
  })

  let columns: Map<string, number> | null = null
  let ctx: Row | null = null // one reusable row view per file: no closures per row
  let lineBase = 0 // lines consumed before the current chunk
  let batch: EtlRowResult[] = []
  try {
    for (;;) {
      if (failure) throw failure
      const rows = queue.shift()
      if (rows === undefined) {
        if (done) break
        await new Promise<void>((resolve) => (wake = resolve))
        continue
      }
      for (let r = 0; r < rows.length; r++) {
        const record = rows[r]!
        const line = lineBase + r + 1
        if (columns === null) {
          columns = new Map(record.map((name, index) => [name.trim().toLowerCase().replace(/^\ufeff/, ''), index]))
          const missing = REQUIRED_COLUMNS[kind].filter((c) => !columns!.has(c))
          if (missing.length > 0) throw new InputError('MALFORMED_FILE', `${kind} file lacks column(s) ${missing.join(', ')}`, { file, line, field: missing.join(',') })
          continue
        }
        try {
          if (record.length !== columns.size) throw new InputError('MALFORMED_FILE', `expected ${columns.size} fields as in the header, found ${record.length}`, { file, line })
          ctx ??= new Row(file, columns)
          ctx.line = line
          ctx.record = record
          batch.push(
            kind === 'transactions' ? transactionRow(ctx, options.receiptStatus)
            : kind === 'traces' ? traceRow(ctx)
            : kind === 'receipts' ? receiptRow(ctx)
            : tokenRow(ctx, options.listedTokens, options.txIndexByHash),
          )
        } catch (error) {
          if (!(error instanceof InputError) || !options.skipInvalid) throw error
          options.onInvalid?.(error)
          batch.push({ skip: 'invalid' })
        }
      }
      lineBase += rows.length
      if (batch.length >= 50_000) {
        yield batch
        batch = []
      }
      ;(parser as Papa.Parser | null)?.resume()
    }
  } catch (error) {
    ;(parser as Papa.Parser | null)?.abort()
    input.destroy()
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new InputError('FILE_NOT_FOUND', `no such file: ${file}`, { file })
    if (error instanceof InputError) throw error
    throw new InputError('MALFORMED_FILE', `cannot read ${kind} file: ${(error as Error).message}`, { file }, { cause: error })
  }
  if (columns === null) throw new InputError('MALFORMED_FILE', `${kind} file is empty (no header row)`, { file })
  if (batch.length > 0) yield batch
}
