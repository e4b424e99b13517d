import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.ts'
import { readEtlFile, type EtlKind, type EtlRowResult } from '../../src/sources/etl.ts'
import { TxIndexTable } from '../../src/sources/tx-index-table.ts'
import { MAX_SUB_INDEX } from '../../src/store/records.ts'

/**
 * Validation at the edge of the etl importer: every value outside its domain is refused with
 * file:line and field (or counted as invalid under skipInvalid), and line numbers are physical
 * lines of the file whatever its quoting, blank lines or line ends.
 */
const dir = mkdtempSync(join(tmpdir(), 'etl-validation-'))
let n = 0
function file(kind: EtlKind, text: string | Buffer, suffix = '.csv'): string {
  const path = join(dir, `${kind}-${++n}${suffix}`)
  writeFileSync(path, text)
  return path
}

const USDT = '0xdac17f958d2ee523a2206206994597c13d831ec7'
const A = `0x${'aa'.repeat(20)}`
const B = `0x${'bb'.repeat(20)}`
const hash = (i: number) => `0x${i.toString(16).padStart(64, '0')}`
const MAX_UINT256 = (1n << 256n) - 1n

const TX_HEADER = 'hash,block_number,transaction_index,from_address,to_address,value,input,block_timestamp,receipt_status'
const tx = (i: number, over: Partial<Record<'value' | 'input' | 'block_timestamp' | 'receipt_status', string>> = {}) =>
  [hash(i), '10', String(i % 100), A, B, over.value ?? '5', over.input ?? '0x', over.block_timestamp ?? '1600000000', over.receipt_status ?? '1'].map(cell).join(',')
const TRACE_HEADER = 'block_number,transaction_hash,transaction_index,from_address,to_address,value,trace_type,call_type,error,trace_address,status'
const trace = (i: number, over: Partial<Record<'value' | 'trace_address' | 'status', string>> = {}) =>
  ['10', hash(i), '0', A, B, over.value ?? '5', 'call', 'call', '', over.trace_address ?? '0', over.status ?? '1'].map(cell).join(',')
const TOKEN_HEADER = 'token_address,from_address,to_address,value,transaction_hash,log_index,block_number,transaction_index'
const token = (i: number, over: Partial<Record<'value' | 'log_index', string>> = {}) =>
  [USDT, A, B, over.value ?? '5', hash(i), over.log_index ?? '0', '10', '0'].map(cell).join(',')
const RECEIPT_HEADER = 'transaction_hash,status'

function cell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value
}

async function read(path: string, kind: EtlKind, skipInvalid = false): Promise<{ results: EtlRowResult[]; invalid: InputError[] }> {
  const results: EtlRowResult[] = []
  const invalid: InputError[] = []
  for await (const batch of readEtlFile(path, kind, { listedTokens: new Set([USDT]), txIndexByHash: new TxIndexTable(), skipInvalid, onInvalid: (e) => invalid.push(e) })) results.push(...batch)
  return { results, invalid }
}

async function refusal(path: string, kind: EtlKind): Promise<InputError> {
  try {
    await read(path, kind)
  } catch (error) {
    if (error instanceof InputError) return error
    throw error
  }
  throw new Error(`expected ${path} to be refused`)
}

const lines = (...rows: string[]) => `${rows.join('\n')}\n`

describe('etl values: uint256 amounts', () => {
  it('2^256-1 is read exactly in every table', async () => {
    const max = MAX_UINT256.toString()
    const txs = await read(file('transactions', lines(TX_HEADER, tx(1, { value: max }))), 'transactions')
    expect(txs.results[0]!.transfer!.amount).toBe(MAX_UINT256)
    const traces = await read(file('traces', lines(TRACE_HEADER, trace(1, { value: max }))), 'traces')
    expect(traces.results[0]!.transfer!.amount).toBe(MAX_UINT256)
    const tokens = await read(file('token_transfers', lines(TOKEN_HEADER, token(1, { value: max }))), 'token_transfers')
    expect(tokens.results[0]!.transfer!.amount).toBe(MAX_UINT256)
    // leading zeros do not make a value too large
    const padded = await read(file('transactions', lines(TX_HEADER, tx(1, { value: `000${max}` }))), 'transactions')
    expect(padded.results[0]!.transfer!.amount).toBe(MAX_UINT256)
  })

  for (const [kind, header, row] of [
    ['transactions', TX_HEADER, (v: string) => tx(2, { value: v })],
    ['traces', TRACE_HEADER, (v: string) => trace(2, { value: v })],
    ['token_transfers', TOKEN_HEADER, (v: string) => token(2, { value: v })],
  ] as const) {
    it(`${kind}: 2^256 and 2^256+1 are refused with file:line and field value`, async () => {
      for (const value of [MAX_UINT256 + 1n, MAX_UINT256 + 2n, 10n ** 100n]) {
        const path = file(kind, lines(header, row('7'), row(value.toString())))
        const error = await refusal(path, kind)
        expect(error.code).toBe('MALFORMED_FILE')
        expect(error.details).toMatchObject({ file: path, line: 3, field: 'value', value: value.toString() })
        expect(error.message).toContain(`${path}:3`)
        expect(error.message).toMatch(/2\^256/)
      }
    })
  }
})

describe('etl values: log index, trace address, statuses, timestamps', () => {
  it(`log_index up to 2^22-1 (${MAX_SUB_INDEX}) is read; 2^22 is refused at its line, and skipped under skipInvalid`, async () => {
    const ok = await read(file('token_transfers', lines(TOKEN_HEADER, token(1, { log_index: String(MAX_SUB_INDEX) }))), 'token_transfers')
    expect(ok.results[0]!.transfer!.subIndex).toBe(MAX_SUB_INDEX)
    const path = file('token_transfers', lines(TOKEN_HEADER, token(1), token(2, { log_index: String(MAX_SUB_INDEX + 1) }), token(3)))
    const error = await refusal(path, 'token_transfers')
    expect(error.details).toMatchObject({ file: path, line: 3, field: 'log_index', value: String(MAX_SUB_INDEX + 1) })
    const skipped = await read(path, 'token_transfers', true)
    expect(skipped.results.map((r) => r.skip ?? 'transfer')).toEqual(['transfer', 'invalid', 'transfer'])
    expect(skipped.invalid.map((e) => [e.details.line, e.details.field])).toEqual([[3, 'log_index']])
  })

  it('trace_address must be empty or comma-separated non-negative integers', async () => {
    const ok = await read(file('traces', lines(TRACE_HEADER, trace(1, { trace_address: '0,12,3' }))), 'traces')
    expect(ok.results[0]!.transfer!.subIndex).toBeGreaterThan(0)
    for (const bad of ['a', '0,,1', '-1', '1,', ' 1', '0;1', '1.5']) {
      const path = file('traces', lines(TRACE_HEADER, trace(1), trace(2, { trace_address: bad })))
      const error = await refusal(path, 'traces')
      expect(error.details, bad).toMatchObject({ file: path, line: 3, field: 'trace_address', value: bad })
    }
  })

  it('receipt_status (transactions), status (receipts) and status (traces) accept 0, 1 or empty only', async () => {
    const statuses = await read(file('transactions', lines(TX_HEADER, tx(1, { receipt_status: '0' }), tx(2, { receipt_status: '' }), tx(3))), 'transactions')
    expect(statuses.results.map((r) => r.skip ?? 'transfer')).toEqual(['failed', 'failed', 'transfer'])
    const txPath = file('transactions', lines(TX_HEADER, tx(1), tx(2, { receipt_status: '2' })))
    expect((await refusal(txPath, 'transactions')).details).toMatchObject({ file: txPath, line: 3, field: 'receipt_status', value: '2' })
    const receiptPath = file('receipts', lines(RECEIPT_HEADER, `${hash(1)},1`, `${hash(2)},2`))
    expect((await refusal(receiptPath, 'receipts')).details).toMatchObject({ file: receiptPath, line: 3, field: 'status', value: '2' })
    const tracePath = file('traces', lines(TRACE_HEADER, trace(1), trace(2, { status: '2' })))
    expect((await refusal(tracePath, 'traces')).details).toMatchObject({ file: tracePath, line: 3, field: 'status', value: '2' })
  })

  it('block_timestamp: unix seconds or BigQuery UTC text are read, empty is none, anything else is refused', async () => {
    const ok = await read(
      file('transactions', lines(TX_HEADER, tx(1, { block_timestamp: '1600000000' }), tx(2, { block_timestamp: '' }), tx(3, { block_timestamp: '2015-08-07 03:30:33 UTC' }), tx(4, { block_timestamp: '2022-03-23T12:00:01Z' }))),
      'transactions',
    )
    expect(ok.results.map((r) => r.txIndex!.timestamp)).toEqual([1600000000, undefined, 1438918233, 1648036801])
    for (const bad of ['yesterday', '-5', '1.5', '2015-13-07 03:30:33 UTC', '1e9']) {
      const path = file('transactions', lines(TX_HEADER, tx(1), tx(2, { block_timestamp: bad })))
      const error = await refusal(path, 'transactions')
      expect(error.details, bad).toMatchObject({ file: path, line: 3, field: 'block_timestamp', value: bad })
    }
  })
})

describe('etl files: shape and line numbers', () => {
  it('an empty file (or one of blank lines) says it is empty', async () => {
    for (const text of ['', '\n\n', '\r\n']) {
      const path = file('transactions', text)
      const error = await refusal(path, 'transactions')
      expect(error.code).toBe('MALFORMED_FILE')
      expect(error.message).toMatch(/is empty/)
      expect(error.message).not.toMatch(/delimit/)
    }
    const gz = file('transactions', gzipSync(Buffer.alloc(0)), '.csv.gz')
    expect((await refusal(gz, 'transactions')).message).toMatch(/is empty/)
  })

  it('a header naming a column twice is refused, naming the column', async () => {
    const path = file('token_transfers', lines(`${TOKEN_HEADER},value`, `${token(1)},5`))
    const error = await refusal(path, 'token_transfers')
    expect(error.details).toMatchObject({ file: path, line: 1, field: 'value' })
    expect(error.message).toMatch(/twice|duplicate/)
  })

  it('line numbers are physical lines after quoted multi-line fields, blank lines and CRLF line ends', async () => {
    const multi = tx(1, { input: 'first line\nsecond line\nthird line' })
    const path = file('transactions', lines(TX_HEADER, multi, tx(2), '', tx(3, { value: 'x' })))
    // header 1, the multi-line row 2-4, tx(2) 5, blank 6, the bad row 7
    expect((await refusal(path, 'transactions')).details).toMatchObject({ line: 7, field: 'value' })
    const crlf = file('transactions', [TX_HEADER, tx(1, { input: 'a\r\nb' }), tx(2), tx(3, { value: 'x' })].join('\r\n') + '\r\n')
    expect((await refusal(crlf, 'transactions')).details).toMatchObject({ line: 5, field: 'value' })
    const skipped = await read(path, 'transactions', true)
    expect(skipped.invalid.map((e) => e.details.line)).toEqual([7])
    expect(skipped.results.map((r) => r.skip ?? 'transfer')).toEqual(['transfer', 'transfer', 'invalid'])
  })

  it('line numbers stay physical across read chunks, with multi-line fields spanning chunk boundaries, plain and gzipped', async () => {
    const rows = [TX_HEADER]
    let physical = 1
    for (let i = 0; i < 3000; i++) {
      // every 7th row has a quoted field of i % 5 + 1 lines, long enough to cross 64 KiB chunk ends
      const input = i % 7 === 0 ? Array.from({ length: (i % 5) + 1 }, (_, k) => `${'ab'.repeat(40)}, line ${k}`).join('\n') : '0x'
      rows.push(tx(i, { input }))
      physical += input.split('\n').length
    }
    rows.push(tx(9999, { block_timestamp: 'yesterday' }))
    physical += 1
    const text = lines(...rows)
    expect(text.length).toBeGreaterThan(4 * 65536)
    for (const path of [file('transactions', text), file('transactions', gzipSync(text), '.csv.gz')]) {
      expect((await refusal(path, 'transactions')).details).toMatchObject({ line: physical, field: 'block_timestamp' })
    }
  })

  it('a row with too few fields names its physical line; an unclosed quote names the line where it opened', async () => {
    const path = file('transactions', lines(TX_HEADER, tx(1, { input: 'a\nb' }), `${hash(2)},10`))
    expect((await refusal(path, 'transactions')).details).toMatchObject({ line: 4 })
    const open = file('transactions', lines(TX_HEADER, tx(1), `${tx(2).replace(',0x,', ',"0x,')}`, tx(3)))
    const error = await refusal(open, 'transactions')
    expect(error.code).toBe('MALFORMED_FILE')
    expect(error.details.line).toBe(3)
  })
})
