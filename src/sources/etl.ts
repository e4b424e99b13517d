import { createReadStream } from 'node:fs'
import { basename } from 'node:path'
import { pipeline } from 'node:stream'
import { createGunzip } from 'node:zlib'
import Papa from 'papaparse'
import { InputError } from '../errors.ts'
import { MAX_SUB_INDEX } from '../store/records.ts'
import { ETH, type Address, type Transfer } from '../types.ts'
import type { ByteRange } from './etl-ranges.ts'
import { isTraceAddress, traceSubIndex, ZERO_ADDRESS } from './trace-index.ts'
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
/** BigQuery's TIMESTAMP text (`2015-08-07 03:30:33 UTC`) or ISO 8601 in UTC (`2015-08-07T03:30:33Z`). */
const UTC_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?: UTC|Z|\+00:00| \+0000)?$/

const MAX_UINT256 = (1n << 256n) - 1n
/** Digits of 2^256-1: a longer value (leading zeros aside) is out of range without parsing it. */
const UINT256_DIGITS = 78

/** A value as error details show it: very long values are cut (a 1 MB field must not become a 1 MB message). */
function shown(value: string): string {
  return value.length <= 200 ? value : `${value.slice(0, 200)}… (${value.length} characters)`
}

function bad(ctx: RowContext, column: string, message: string, value: string): InputError {
  return new InputError('MALFORMED_FILE', message, { file: ctx.file, line: ctx.line, field: column, value: shown(value) })
}

function address(ctx: RowContext, column: string, optional: boolean): Address | null {
  const value = ctx.get(column)
  if (value === '' && optional) return null
  if (!ADDRESS.test(value)) throw new InputError('INVALID_ADDRESS', `invalid address in column ${column}: ${JSON.stringify(shown(value))}`, { file: ctx.file, line: ctx.line, field: column, value: shown(value) })
  return value.toLowerCase() as Address
}

/** An amount: a decimal integer from 0 to 2^256-1 (the EVM's uint256). */
function uint256(ctx: RowContext, column: string): bigint {
  const value = ctx.get(column)
  if (!UINT.test(value)) throw bad(ctx, column, `expected a non-negative integer in column ${column}: ${JSON.stringify(shown(value))}`, value)
  if (value.length >= UINT256_DIGITS) {
    let zeros = 0
    while (zeros < value.length - 1 && value.charCodeAt(zeros) === 48) zeros++
    if (value.length - zeros > UINT256_DIGITS || BigInt(value) > MAX_UINT256) {
      throw bad(ctx, column, `amount in column ${column} is larger than 2^256-1, the largest uint256`, value)
    }
  }
  return BigInt(value)
}

function smallUint(ctx: RowContext, column: string, max: number): number {
  const value = ctx.get(column)
  if (!UINT.test(value) || Number(value) > max) throw bad(ctx, column, `expected an integer from 0 to ${max} in column ${column}: ${JSON.stringify(shown(value))}`, value)
  return Number(value)
}

function hash(ctx: RowContext, column: string): `0x${string}` {
  const value = ctx.get(column)
  if (!HASH.test(value)) throw bad(ctx, column, `invalid transaction hash in column ${column}: ${JSON.stringify(shown(value))}`, value)
  return value.toLowerCase() as `0x${string}`
}

/** A status column: `1` success, `0` failure, empty unknown (pre-Byzantium receipts). */
function status(ctx: RowContext, column: string): '' | '0' | '1' {
  const value = ctx.get(column)
  if (value !== '' && value !== '0' && value !== '1') throw bad(ctx, column, `${column} must be 0, 1 or empty: ${JSON.stringify(shown(value))}`, value)
  return value
}

const MAX_BLOCK = 0xffffffff
const MAX_TX_INDEX = 0xffff
/** Unix seconds fit 32 bits until 2106; a larger value is most likely milliseconds. */
const MAX_TIMESTAMP = 0xffffffff

// Rows of one block share their timestamp text: parse BigQuery's text once per block.
let lastTimeText = ''
let lastTime = 0

/** block_timestamp: unix seconds or BigQuery's UTC text; empty or absent is none. */
function blockTimestamp(ctx: RowContext): number | undefined {
  const value = ctx.get('block_timestamp')
  if (value === '') return undefined
  if (UINT.test(value)) {
    if (value.length > 10 || Number(value) > MAX_TIMESTAMP) throw bad(ctx, 'block_timestamp', `block_timestamp must be unix seconds (at most ${MAX_TIMESTAMP}): ${JSON.stringify(shown(value))}`, value)
    return Number(value)
  }
  if (value === lastTimeText) return lastTime
  const m = UTC_TIME.exec(value)
  if (m !== null) {
    const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number]
    const ms = Date.UTC(year, month - 1, day, hour, minute, second)
    const back = new Date(ms)
    if (ms >= 0 && back.getUTCMonth() === month - 1 && back.getUTCDate() === day && back.getUTCHours() === hour && back.getUTCMinutes() === minute && back.getUTCSeconds() === second) {
      lastTimeText = value
      lastTime = ms / 1000
      return lastTime
    }
  }
  throw bad(ctx, 'block_timestamp', `block_timestamp must be unix seconds or a UTC time like "2015-08-07 03:30:33 UTC": ${JSON.stringify(shown(value))}`, value)
}

/** An external transaction counts when it succeeded (receipt status 1), moved value and has a recipient. */
export function receiptRow(ctx: RowContext): EtlRowResult {
  return { receipt: { hash: hash(ctx, 'transaction_hash'), status: status(ctx, 'status') } }
}

export function transactionRow(ctx: RowContext, receiptStatus?: ReadonlyMap<string, string>): EtlRowResult {
  const txHash = hash(ctx, 'hash')
  const blockNumber = smallUint(ctx, 'block_number', MAX_BLOCK)
  const transactionIndex = smallUint(ctx, 'transaction_index', MAX_TX_INDEX)
  const from = address(ctx, 'from_address', false)!
  const to = address(ctx, 'to_address', true)
  const amount = uint256(ctx, 'value')
  const receipt = ctx.has('receipt_status') ? status(ctx, 'receipt_status') : receiptStatus?.get(txHash)
  const timestamp = blockTimestamp(ctx)
  const txIndex = { hash: txHash, index: transactionIndex, block: blockNumber, ...(timestamp === undefined ? {} : { timestamp }) }
  if (receipt === undefined) return { skip: 'no-receipt', txIndex }
  // Pre-Byzantium receipts have no status: DESIGN.md counts only status 1, so they are skipped as failed.
  if (receipt !== '1') return { skip: 'failed', txIndex }
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
  const amount = ctx.get('value') === '' ? 0n : uint256(ctx, 'value')
  const blockNumber = smallUint(ctx, 'block_number', MAX_BLOCK)
  const hasTx = ctx.get('transaction_hash') !== ''
  const txHash = hasTx ? hash(ctx, 'transaction_hash') : null
  const transactionIndex = ctx.get('transaction_index') === '' ? null : smallUint(ctx, 'transaction_index', MAX_TX_INDEX)
  const traceAddress = ctx.get('trace_address')
  // traceSubIndex hashes any text; only a well-formed address may reach it, so a bad one is named here.
  if (traceAddress !== '' && !isTraceAddress(traceAddress)) throw bad(ctx, 'trace_address', `trace_address must be empty or comma-separated call indices like 0,1,3: ${JSON.stringify(shown(traceAddress))}`, traceAddress)
  const callStatus = status(ctx, 'status')
  if (ctx.get('trace_type') !== 'call') return { skip: 'not-a-call' }
  if (ctx.get('call_type') !== 'call') return { skip: 'delegate-or-static-call' }
  if (traceAddress === '') return { skip: 'top-level-trace' }
  if (ctx.get('error') !== '' || callStatus !== '1') return { skip: 'errored-call' }
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
  const amount = uint256(ctx, 'value')
  const txHash = hash(ctx, 'transaction_hash')
  const blockNumber = smallUint(ctx, 'block_number', MAX_BLOCK)
  // The log index is the transfer's sub-index, which a record keeps in 22 bits (store/records.ts).
  const logIndex = smallUint(ctx, 'log_index', MAX_SUB_INDEX)
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
  /** Read only this byte range of the file (etl-ranges.ts): its header and line numbers are the file's. */
  range?: ByteRange | undefined
}

/** Bytes read from the file at a time (larger chunks measured slower: longer strings to concatenate and scan). */
const CHUNK_BYTES = 64 * 1024
/** A record longer than this is a stray quote swallowing the file, not data: refused before it exhausts memory. */
const MAX_RECORD_CHARS = 16 * 1024 * 1024

interface ParsedChunk {
  data: string[][]
  errors: { row?: number; message: string }[]
  meta: { cursor: number }
}

/**
 * Streams one etl file and yields results in batches (the file is never loaded whole). Throws
 * InputError naming file:line for a malformed row unless `skipInvalid`. Lines are physical lines
 * of the file: a quoted field that holds line breaks, a blank line or CRLF line ends do not shift
 * the numbers of the rows after them.
 *
 * papaparse's core parser does the CSV work (about seven times faster than csv-parse here), fed
 * chunk by chunk from this generator, so a slow consumer (Redis) holds the file back and the
 * text of each chunk is at hand for counting lines. A chunk without a quote character parses
 * one record per line (papaparse's own fast path); only chunks with quotes are counted per
 * record, so the common case adds no work per row.
 */
export async function* readEtlFile(file: string, kind: EtlKind, options: ReadOptions): AsyncGenerator<EtlRowResult[]> {
  const range = options.range
  const input = createReadStream(file, { highWaterMark: CHUNK_BYTES, ...(range ? { start: range.start, end: range.end - 1 } : {}) })
  const source: AsyncIterable<Buffer> = file.endsWith('.gz') ? pipeline(input, createGunzip(), () => {}) : input
  const decoder = new TextDecoder('utf-8') // drops a byte-order mark; bad bytes become U+FFFD (they can only sit in columns we do not read: the ones we read are checked)

  let parser: Papa.Parser | null = null
  let linebreak = '\n' // counted per record in chunks with quotes: '\r' for old Mac files, '\n' otherwise (also in CRLF)
  let lines = 0 // physical lines before the unparsed rest
  let columns: Map<string, number> | null = null
  let width = 0 // fields in the header
  let ctx: Row | null = null // one reusable row view per file: no closures per row
  let batch: EtlRowResult[] = []

  const header = (record: string[], line: number): void => {
    columns = new Map()
    width = record.length
    for (let i = 0; i < record.length; i++) {
      const name = record[i]!.trim().toLowerCase().replace(/^\ufeff/, '')
      if (name !== '' && columns.has(name)) throw new InputError('MALFORMED_FILE', `${kind} file names column ${name} twice in its header`, { file, line, field: name })
      columns.set(name, i)
    }
    const missing = REQUIRED_COLUMNS[kind].filter((c) => !columns!.has(c))
    if (missing.length > 0) throw new InputError('MALFORMED_FILE', `${kind} file lacks column(s) ${missing.join(', ')}`, { file, line, field: missing.join(',') })
  }

  const row = (record: string[], line: number): void => {
    try {
      if (record.length !== width) throw new InputError('MALFORMED_FILE', `expected ${width} fields as in the header, found ${record.length}`, { file, line })
      ctx ??= new Row(file, columns!)
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

  /** Parses the complete records of `text` (all of it when `last`) and answers the unparsed rest. */
  const consume = (text: string, last: boolean): string => {
    if (parser === null) {
      // The line break is fixed by the first one seen (the header's); etl and BigQuery write \n.
      const lf = text.indexOf('\n')
      const newline = lf > 0 && text[lf - 1] === '\r' ? '\r\n' : lf === -1 && text.includes('\r') ? '\r' : '\n'
      if (lf === -1 && newline === '\n' && !last) {
        if (text.length > MAX_RECORD_CHARS) throw new InputError('MALFORMED_FILE', `no line break in the first ${MAX_RECORD_CHARS / 1024 / 1024} MiB: not a CSV file`, { file, line: 1 })
        return text // no complete line yet
      }
      parser = new Papa.Parser({ delimiter: ',', newline })
      if (newline === '\r') linebreak = '\r'
    }
    const parsed = parser.parse(text, 0, !last) as ParsedChunk
    const records = parsed.data
    const failure = parsed.errors[0]
    const failedRow = failure?.row ?? -1
    // Without a quote papaparse splits the text at line breaks: one record per physical line.
    const quoted = text.indexOf('"') !== -1
    for (let r = 0; r < records.length; r++) {
      const record = records[r]!
      const line = lines + 1
      if (r === failedRow) throw new InputError('MALFORMED_FILE', `malformed CSV: ${failure!.message}`, { file, line })
      lines += 1
      if (quoted) for (let f = 0; f < record.length; f++) lines += count(record[f]!, linebreak)
      if (record.length === 1 && record[0] === '') continue // a blank line
      if (columns === null) {
        header(record, line)
        // A range is read after the file's header line: its lines are numbered from the range's first.
        if (range) lines = range.firstLine - 1
      } else row(record, line)
    }
    if (failure !== undefined) throw new InputError('MALFORMED_FILE', `malformed CSV: ${failure.message}`, { file, line: lines + 1 })
    const rest = last ? '' : text.slice(parsed.meta.cursor)
    if (rest.length > MAX_RECORD_CHARS) throw new InputError('MALFORMED_FILE', `a record longer than ${MAX_RECORD_CHARS / 1024 / 1024} MiB: a quote opened in it is probably never closed`, { file, line: lines + 1 })
    return rest
  }

  let rest = range ? range.header : ''
  try {
    for await (const chunk of source) {
      options.onBytes?.(input.bytesRead)
      rest = consume(rest + decoder.decode(chunk, { stream: true }), false)
      if (batch.length >= 50_000) {
        yield batch
        batch = []
      }
    }
    consume(rest + decoder.decode(), true)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new InputError('FILE_NOT_FOUND', `no such file: ${file}`, { file })
    if (error instanceof InputError) throw error
    throw new InputError('MALFORMED_FILE', `cannot read ${kind} file: ${(error as Error).message}`, { file }, { cause: error })
  } finally {
    input.destroy()
  }
  if (columns === null) throw new InputError('MALFORMED_FILE', `${kind} file is empty: it has no header row (${REQUIRED_COLUMNS[kind].join(', ')}, …)`, { file })
  if (batch.length > 0) yield batch
}

/** Occurrences of one character in `text`. */
function count(text: string, char: string): number {
  let n = 0
  for (let i = text.indexOf(char); i !== -1; i = text.indexOf(char, i + 1)) n++
  return n
}
