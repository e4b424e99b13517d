/**
 * Raw ethereum-etl rows (the column layout of `ethereumetl export_all` and of BigQuery's public
 * Ethereum dataset exports), as plain string-keyed objects: every value is the CSV text of the
 * field (decimal strings for numbers, `''` for null).
 *
 * Test support only: independent of src/, used by the reference walk and the random generator.
 */
import { parse } from 'csv-parse/sync'

export const TX_COLUMNS = [
  'hash',
  'nonce',
  'block_hash',
  'block_number',
  'transaction_index',
  'from_address',
  'to_address',
  'value',
  'gas',
  'gas_price',
  'input',
  'block_timestamp',
  'receipt_status',
] as const

export const TRACE_COLUMNS = [
  'block_number',
  'transaction_hash',
  'transaction_index',
  'from_address',
  'to_address',
  'value',
  'trace_type',
  'call_type',
  'error',
  'subtraces',
  'trace_address',
  'status',
] as const

/** No `transaction_index`: a token row's index comes from the transactions row with its hash. */
export const TOKEN_COLUMNS = [
  'token_address',
  'from_address',
  'to_address',
  'value',
  'transaction_hash',
  'log_index',
  'block_number',
] as const

export type TxColumn = (typeof TX_COLUMNS)[number]
export type TraceColumn = (typeof TRACE_COLUMNS)[number]
export type TokenColumn = (typeof TOKEN_COLUMNS)[number]

/** One row of `transactions.csv`. */
export type TxRow = { [K in TxColumn]: string }
/** One row of `traces.csv` (`trace_address` is comma-separated integers, `''` at the top level). */
export type TraceRow = { [K in TraceColumn]: string }
/** One row of `token_transfers.csv`. */
export type TokenRow = { [K in TokenColumn]: string }

/** The three tables of one export. */
export interface EtlRows {
  transactions: TxRow[]
  traces: TraceRow[]
  tokenTransfers: TokenRow[]
}

function csvField(value: string): string {
  if (/[",\r\n]/.test(value)) return `"${value.replace(/"/g, '""')}"`
  return value
}

/**
 * CSV text with a header line, fields in `columns` order, `\n` line ends and a final newline.
 * A field containing a comma, quote or line break is quoted (quotes doubled).
 */
export function toCsv<C extends string>(
  rows: readonly { readonly [K in C]: string }[],
  columns: readonly C[],
): string {
  const lines = [columns.map(csvField).join(',')]
  for (const row of rows) {
    lines.push(
      columns
        .map((c) => {
          const v = row[c]
          if (typeof v !== 'string') throw new Error(`toCsv: column ${c} is not a string`)
          return csvField(v)
        })
        .join(','),
    )
  }
  return lines.join('\n') + '\n'
}

/**
 * Parses CSV text with a header into rows with exactly `columns` (extra columns are an error, as
 * are missing ones), every value a string.
 */
export function parseCsv<C extends string>(
  text: string,
  columns: readonly C[],
): { [K in C]: string }[] {
  const records = parse(text, { columns: true, skip_empty_lines: true }) as Record<string, string>[]
  const rows: { [K in C]: string }[] = []
  records.forEach((rec, i) => {
    const keys = Object.keys(rec)
    const missing = columns.filter((c) => !(c in rec))
    const extra = keys.filter((k) => !(columns as readonly string[]).includes(k))
    if (missing.length > 0 || extra.length > 0) {
      throw new Error(
        `parseCsv: record ${i + 1}: missing columns [${missing.join(',')}], extra [${extra.join(',')}]`,
      )
    }
    const row = {} as { [K in C]: string }
    for (const c of columns) row[c] = rec[c] ?? ''
    rows.push(row)
  })
  return rows
}
