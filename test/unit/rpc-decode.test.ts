/**
 * The JSON-RPC decoders on real mainnet payloads (ethereum-etl's own test resources, copied to
 * fixtures/rpc/, see its PROVENANCE.txt): each decoder must give exactly the transfers that
 * ethereum-etl's expected output implies once DESIGN.md's counting rules are applied to it.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'csv-parse/sync'
import { getAddress } from 'ethers'
import { describe, expect, it } from 'vitest'
import {
  ERC20_TRANSFER_TOPIC,
  RpcDecodeError,
  decodeGethCallTraces,
  decodeParityTraces,
  traceSubIndex,
  transfersFromBlock,
  transfersFromGethCallTraces,
  transfersFromLogs,
  transfersFromParityTraces,
  type DecodedTrace,
  type GethTraceResult,
  type ParityTrace,
  type RpcBlock,
  type RpcBlockContext,
  type RpcLog,
  type RpcReceipt,
} from '../../src/sources/rpc/decode.ts'
import { DEFAULT_LISTED_TOKENS, LISTED_TOKEN_SYMBOLS } from '../../src/sources/assets.ts'
import { ETH, type Address, type Transfer } from '../../src/types.ts'

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'rpc')
const ZERO = '0x0000000000000000000000000000000000000000'

function text(path: string): string {
  return readFileSync(join(FIXTURES, path), 'utf8')
}

/** The `result` of a recorded web3 response, deep-copied (tests mutate copies). */
function rpcResult<T>(path: string): T {
  const body = JSON.parse(text(path)) as { result: T }
  return body.result
}

type CsvRow = Record<string, string>
function csvRows(path: string): CsvRow[] {
  const content = text(path)
  if (content.trim() === '') return []
  return parse(content, { columns: true, skip_empty_lines: true }) as CsvRow[]
}

/**
 * JSON lines whose integers may exceed 2^53 (ethereum-etl writes wei values as JSON numbers):
 * long bare integers are quoted before parsing so that no digit is lost.
 */
function jsonLines(path: string): Record<string, unknown>[] {
  return text(path)
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line.replace(/(:\s*)(\d{16,})(?=\s*[,}])/g, '$1"$2"')) as Record<string, unknown>)
}

const str = (value: unknown): string => (value === null || value === undefined ? '' : String(value))
const hex = (n: number | bigint | string): string => `0x${BigInt(n).toString(16)}`

// ---------------------------------------------------------------------------------------------
// The counting rules applied to ethereum-etl's expected rows (independently of src/).

/** A counted trace as the expected CSV describes it. */
interface TraceKey {
  blockNumber: number
  txHash: string
  transactionIndex: number
  from: string
  to: string
  amount: bigint
  subIndex: number
}

/** DESIGN rule 1 on a `traces.csv` row: call/call, value > 0, no error, status 1, not top-level. */
function countedTraceRows(rows: readonly CsvRow[]): TraceKey[] {
  return rows
    .filter((r) => r['trace_type'] === 'call' && r['call_type'] === 'call' && BigInt(r['value'] || '0') > 0n && r['error'] === '' && r['status'] === '1' && r['trace_address'] !== '')
    .map((r) => ({
      blockNumber: Number(r['block_number']),
      txHash: r['transaction_hash']!,
      transactionIndex: Number(r['transaction_index']),
      from: r['from_address']!,
      to: r['to_address']!,
      amount: BigInt(r['value']!),
      subIndex: traceSubIndex(r['trace_address']!.split(',').map(Number)),
    }))
}

function traceKeys(transfers: readonly Transfer[]): TraceKey[] {
  return transfers.map((t) => {
    expect(t.kind).toBe('trace')
    expect(t.asset).toBe(ETH)
    return { blockNumber: t.blockNumber, txHash: t.txHash, transactionIndex: t.transactionIndex, from: t.from, to: t.to, amount: t.amount, subIndex: t.subIndex }
  })
}

/** A decoded trace in the columns of ethereum-etl's `traces.csv`. */
function asCsvColumns(t: DecodedTrace, withTxHashAndStatus: boolean): CsvRow {
  const row: CsvRow = {
    block_number: String(t.blockNumber),
    transaction_index: str(t.transactionIndex),
    from_address: str(t.from),
    to_address: str(t.to),
    value: String(t.value),
    trace_type: t.type,
    call_type: str(t.callType),
    trace_address: t.traceAddress.join(','),
    error: str(t.error),
  }
  if (withTxHashAndStatus) {
    row['transaction_hash'] = str(t.transactionHash)
    row['status'] = String(t.status)
  }
  return row
}

function pick(row: CsvRow, columns: readonly string[]): CsvRow {
  return Object.fromEntries(columns.map((c) => [c, row[c] ?? '']))
}

const PARITY_COLUMNS = ['block_number', 'transaction_hash', 'transaction_index', 'from_address', 'to_address', 'value', 'trace_type', 'call_type', 'trace_address', 'error', 'status'] as const
const GETH_COLUMNS = ['block_number', 'transaction_index', 'from_address', 'to_address', 'value', 'trace_type', 'call_type', 'trace_address', 'error'] as const

// ---------------------------------------------------------------------------------------------
// Trace fixtures: the same mainnet blocks traced by trace_block and by geth's callTracer.

interface TraceCase {
  name: string
  parityFile: string
  gethFile: string
}

const TRACE_CASES: TraceCase[] = [
  { name: 'block_with_error', parityFile: 'web3_response.trace_block_0xf45bf.json', gethFile: 'web3_response.debug_traceBlockByNumber_0xf45bf_tracer_calltracer.json' },
  { name: 'block_with_subtraces', parityFile: 'web3_response.trace_block_0xf4240.json', gethFile: 'web3_response.debug_traceBlockByNumber_0xf4240_tracer_calltracer.json' },
  { name: 'block_with_create', parityFile: 'web3_response.trace_block_0xf44f2.json', gethFile: 'web3_response.debug_traceBlockByNumber_0xf44f2_tracer_calltracer.json' },
  { name: 'block_with_suicide', parityFile: 'web3_response.trace_block_0xf7105.json', gethFile: 'web3_response.debug_traceBlockByNumber_0xf7105_tracer_calltracer.json' },
  { name: 'block_without_transactions', parityFile: 'web3_response.trace_block_0x0.json', gethFile: 'web3_response.debug_traceBlockByNumber_0x1_tracer_calltracer.json' },
]

const parityTraces = (c: TraceCase): ParityTrace[] => rpcResult<ParityTrace[]>(`test_export_traces_job/${c.name}/${c.parityFile}`)
const gethResults = (c: TraceCase): GethTraceResult[] => rpcResult<GethTraceResult[]>(`test_extract_geth_traces_job/${c.name}/${c.gethFile}`)
const parityExpected = (c: TraceCase): CsvRow[] => csvRows(`test_export_traces_job/${c.name}/expected_traces.csv`)
const gethExpected = (c: TraceCase): CsvRow[] => csvRows(`test_extract_geth_traces_job/${c.name}/expected_traces.csv`)

/**
 * The block a geth result belongs to. These old-geth responses carry no `txHash` and the fixtures
 * hold no eth_getBlockByNumber of these blocks, so the block's transaction list is rebuilt from
 * the trace_block response of the same block (transactionHash by transactionPosition).
 */
function blockContextFor(c: TraceCase): RpcBlockContext {
  const number = Number.parseInt(/_0x([0-9a-f]+)_tracer/.exec(c.gethFile)![1]!, 16)
  const hashes: string[] = []
  for (const t of parityTraces(c)) {
    if (t.transactionHash != null && t.transactionPosition != null) hashes[Number(t.transactionPosition)] = t.transactionHash
  }
  return { number: hex(number), transactions: hashes }
}

describe('transfersFromParityTraces on trace_block of mainnet blocks (ethereum-etl test_export_traces_job)', () => {
  for (const c of TRACE_CASES) {
    it(`${c.name}: every trace decodes to ethereum-etl's row, status included`, () => {
      const decoded = decodeParityTraces(parityTraces(c)).map((t) => pick(asCsvColumns(t, true), PARITY_COLUMNS))
      expect(decoded).toEqual(parityExpected(c).map((r) => pick(r, PARITY_COLUMNS)))
    })

    it(`${c.name}: the counted transfers are exactly the expected rows that pass the counting rules`, () => {
      expect(traceKeys(transfersFromParityTraces(parityTraces(c)))).toEqual(countedTraceRows(parityExpected(c)))
    })
  }

  it('block_with_error: the failed 1 ETH call (Out of gas, status 0) and the rewards do not count', () => {
    const rows = parityExpected(TRACE_CASES[0]!)
    expect(rows.find((r) => r['error'] === 'Out of gas')).toMatchObject({ value: '1000000000000000000', status: '0' })
    expect(transfersFromParityTraces(parityTraces(TRACE_CASES[0]!))).toEqual([])
  })

  it('block_with_subtraces: a 100 ETH callcode subtrace does not count (no value moves between addresses)', () => {
    const decoded = decodeParityTraces(parityTraces(TRACE_CASES[1]!))
    const sub = decoded.find((t) => t.traceAddress.length === 1)
    expect(sub).toMatchObject({ type: 'call', callType: 'callcode', value: 100n * 10n ** 18n, status: 1 })
    expect(transfersFromParityTraces(parityTraces(TRACE_CASES[1]!))).toEqual([])
  })

  it('block_with_suicide: the selfdestruct balance sweep (0.05 ETH) is not a call and does not count', () => {
    const decoded = decodeParityTraces(parityTraces(TRACE_CASES[3]!))
    expect(decoded.find((t) => t.type === 'suicide')).toMatchObject({
      from: '0x474faa5018639791952fae334e2911700ac7fe9b',
      to: '0x83973747eec131bf9a08ac64fb1a518e891bdf4b',
      value: 50_000_000_000_000_000n,
      traceAddress: [0],
      status: 1,
    })
    expect(transfersFromParityTraces(parityTraces(TRACE_CASES[3]!))).toEqual([])
  })

  it('block 508110 (test_stream): create, call, block and uncle rewards decode like ethereum-etl; none counts', () => {
    const traces = rpcResult<ParityTrace[]>('test_stream/blocks_508110_508110/web3_response.trace_block_0x7c0ce.json')
    const expected = jsonLines('test_stream/blocks_508110_508110/expected_traces.json').map((r) =>
      pick(
        Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'trace_address' ? (v as number[] | null ?? []).join(',') : str(v)])),
        PARITY_COLUMNS,
      ),
    )
    expect(decodeParityTraces(traces).map((t) => pick(asCsvColumns(t, true), PARITY_COLUMNS))).toEqual(expected)
    expect(transfersFromParityTraces(traces)).toEqual([])
  })
})

describe('transfersFromGethCallTraces on debug_traceBlockByNumber(callTracer) of the same blocks', () => {
  for (const c of TRACE_CASES) {
    it(`${c.name}: every frame decodes to ethereum-etl's geth row`, () => {
      const decoded = decodeGethCallTraces(gethResults(c), blockContextFor(c)).map((t) => pick(asCsvColumns(t, false), GETH_COLUMNS))
      // ethereum-etl leaves value empty where the frame has none (old geth's bare SELFDESTRUCT): 0 here.
      const expected = gethExpected(c).map((r) => pick({ ...r, value: r['value'] === '' ? '0' : r['value']! }, GETH_COLUMNS))
      expect(decoded).toEqual(expected)
    })

    it(`${c.name}: counts exactly what trace_block counts, and what the expected CSV implies`, () => {
      const geth = transfersFromGethCallTraces(gethResults(c), blockContextFor(c))
      expect(geth).toEqual(transfersFromParityTraces(parityTraces(c)))
      // ethereum-etl's geth rows have no status: the rules without it (no ancestor has an error here).
      expect(traceKeys(geth)).toEqual(countedTraceRows(gethExpected(c).map((r) => ({ ...r, status: '1' }))))
    })

    it(`${c.name}: statuses and trace addresses agree with trace_block`, () => {
      const key = (t: DecodedTrace): string => `${t.transactionIndex}/${t.traceAddress.join(',')}`
      const parity = new Map(decodeParityTraces(parityTraces(c)).filter((t) => t.transactionHash !== null).map((t) => [key(t), t]))
      for (const g of decodeGethCallTraces(gethResults(c), blockContextFor(c))) {
        const p = parity.get(key(g))
        expect(p, key(g)).toBeDefined()
        expect([g.type, g.callType, g.status, g.transactionHash]).toEqual([p!.type, p!.callType, p!.status, p!.transactionHash])
        // Old geth's SELFDESTRUCT frames carry no addresses; every other frame has trace_block's sender.
        if (g.from !== null) expect(g.from).toBe(p!.from)
      }
    })
  }

  it('the known differences between the two formats in these blocks', () => {
    // callcode: geth names the code address as `to`, trace_block the caller itself.
    const geth = decodeGethCallTraces(gethResults(TRACE_CASES[1]!), blockContextFor(TRACE_CASES[1]!))
    const parity = decodeParityTraces(parityTraces(TRACE_CASES[1]!))
    expect(geth[1]).toMatchObject({ callType: 'callcode', to: '0x273930d21e01ee25e4c219b63259d214872220a2' })
    expect(parity[1]).toMatchObject({ callType: 'callcode', to: '0xc083e9947cf02b8ffc7d3090ae9aea72df98fd47' })
    // error strings: geth "out of gas", trace_block "Out of gas".
    expect(decodeGethCallTraces(gethResults(TRACE_CASES[0]!), blockContextFor(TRACE_CASES[0]!))[0]?.error).toBe('out of gas')
    expect(decodeParityTraces(parityTraces(TRACE_CASES[0]!))[0]?.error).toBe('Out of gas')
  })
})

describe('trace counting rules on real payloads with one field changed', () => {
  const subtraces = TRACE_CASES[1]!
  const TX = '0xea1093d492a1dcb1bef708f771a99a96ff05dcab81ca76c31940300177fcf49f'
  const HUNDRED_ETH = 100n * 10n ** 18n

  it('a nested call with value counts (trace address → subIndex), with the block timestamp when given', () => {
    const traces = parityTraces(subtraces)
    traces[1]!.action['callType'] = 'call'
    const expected: Transfer = {
      from: '0xc083e9947cf02b8ffc7d3090ae9aea72df98fd47',
      to: '0xc083e9947cf02b8ffc7d3090ae9aea72df98fd47',
      amount: HUNDRED_ETH,
      asset: ETH,
      blockNumber: 1_000_000,
      transactionIndex: 0,
      txHash: TX,
      kind: 'trace',
      subIndex: traceSubIndex([0]),
    }
    expect(transfersFromParityTraces(traces)).toEqual([expected])
    expect(transfersFromParityTraces(traces, { number: '0xf4240', timestamp: '0x55ba4224' })).toEqual([{ ...expected, timestamp: 0x55ba4224 }])
    expect(() => transfersFromParityTraces(traces, { number: '0xf4241' })).toThrow(/another block/)

    const results = gethResults(subtraces)
    results[0]!.result!.calls![0]!.type = 'CALL'
    expect(transfersFromGethCallTraces(results, blockContextFor(subtraces))).toEqual([{ ...expected, to: '0x273930d21e01ee25e4c219b63259d214872220a2' }])
  })

  it('…but not when it or an ancestor has an error (a reverted frame rolls back its children)', () => {
    const traces = parityTraces(subtraces)
    traces[1]!.action['callType'] = 'call'
    traces[0]!.error = 'Reverted'
    expect(transfersFromParityTraces(traces)).toEqual([])
    expect(decodeParityTraces(traces)[1]).toMatchObject({ error: null, status: 0 })

    const results = gethResults(subtraces)
    const top = results[0]!.result!
    top.calls![0]!.type = 'CALL'
    top.error = 'execution reverted'
    expect(transfersFromGethCallTraces(results, blockContextFor(subtraces))).toEqual([])
    delete top.error
    top.calls![0]!.error = 'out of gas'
    expect(transfersFromGethCallTraces(results, blockContextFor(subtraces))).toEqual([])
  })

  it('delegatecall and staticcall with value, and zero-value calls, do not count', () => {
    for (const callType of ['delegatecall', 'staticcall']) {
      const traces = parityTraces(subtraces)
      traces[1]!.action['callType'] = callType
      expect(transfersFromParityTraces(traces)).toEqual([])
    }
    const traces = parityTraces(subtraces)
    traces[1]!.action['callType'] = 'call'
    traces[1]!.action['value'] = '0x0'
    expect(transfersFromParityTraces(traces)).toEqual([])
  })

  it('malformed payloads throw, naming the field and the value', () => {
    const bad = parityTraces(subtraces)
    bad[1]!.action['value'] = '1000'
    expect(() => decodeParityTraces(bad)).toThrow(RpcDecodeError)
    expect(() => decodeParityTraces(bad)).toThrow(/expected a hex quantity.*field="traces\[1\]\.action\.value".*value="1000"/)

    const orphan = parityTraces(subtraces)
    orphan[1]!.traceAddress = [3, 0]
    expect(() => decodeParityTraces(orphan)).toThrow(/parent of this trace is missing.*tx="0xea1093d4/)

    const noCalls = gethResults(subtraces)
    expect(() => decodeGethCallTraces(noCalls, { number: '0xf4240', transactions: [] })).toThrow(/one trace result per transaction/)
    const wrongTx = gethResults(subtraces).map((r, i) => ({ ...r, txHash: i === 0 ? `0x${'ab'.repeat(32)}` : undefined }))
    expect(() => decodeGethCallTraces(wrongTx as GethTraceResult[], blockContextFor(subtraces))).toThrow(/not of the block's transaction 0/)
    const badAddress = gethResults(subtraces)
    badAddress[1]!.result!.to = '0x1234'
    expect(() => decodeGethCallTraces(badAddress, blockContextFor(subtraces))).toThrow(/field="results\[1\]\.result\.to".*value="0x1234"/)
  })
})

describe('traceSubIndex', () => {
  it('codes a trace address in depth-first order: a 1 per level, then the index in an order-preserving prefix code, padded to 21 bits', () => {
    // Worked by hand: [0] → "10", [0,0] → "1010", [1] → "1100", [6] → "111011", [12,3] → "11110101" + "11100".
    expect(traceSubIndex([0])).toBe(0b10 * 2 ** 19)
    expect(traceSubIndex([0, 0])).toBe(0b1010 * 2 ** 17)
    expect(traceSubIndex([1])).toBe(0b1100 * 2 ** 17)
    expect(traceSubIndex([6])).toBe(0b111011 * 2 ** 15)
    expect(traceSubIndex([12, 3])).toBe(0b1111010111100 * 2 ** 8)
    expect(traceSubIndex('12,3')).toBe(traceSubIndex([12, 3]))
    // Depth first: a call before its children, its children before its next sibling.
    const order = [[0], [0, 0], [0, 0, 0], [0, 1], [0, 2, 5], [1], [1, 0], [2], [9], [10], [30]]
    const codes = order.map((a) => traceSubIndex(a))
    expect([...codes].sort((a, b) => a - b)).toEqual(codes)
  })

  it('falls back to FNV-1a (32-bit) in 2^21…2^22−1 for an address too long to code, after every coded call', () => {
    const long = Array.from({ length: 11 }, () => 0)
    const fnv = (text: string) => {
      let hash = 0x811c9dc5
      for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
      return hash >>> 0
    }
    expect(traceSubIndex(long)).toBe(2 ** 21 + (fnv(long.join(',')) % (2 ** 21 - 1)))
    expect(traceSubIndex(long)).toBeGreaterThan(traceSubIndex([200]))
  })

  it('is ≥ 1 and fits the 22 bits of a record, and separates every trace address of up to 3 levels of 10 calls', () => {
    const seen = new Map<number, string>()
    const paths: number[][] = []
    for (let a = 0; a < 10; a++) {
      paths.push([a])
      for (let b = 0; b < 10; b++) {
        paths.push([a, b])
        for (let c = 0; c < 10; c++) paths.push([a, b, c])
      }
    }
    for (const path of paths) {
      const s = traceSubIndex(path)
      expect(Number.isInteger(s) && s >= 1 && s <= 0x3fffff).toBe(true)
      expect(seen.get(s), `${path} collides`).toBeUndefined()
      seen.set(s, path.join(','))
    }
  })
})

// ---------------------------------------------------------------------------------------------
// External transactions

describe('transfersFromBlock on eth_getBlockByNumber(true) + receipts', () => {
  const block483920 = (): RpcBlock => rpcResult<RpcBlock>('test_export_blocks_job/block_with_logs/web3_response.eth_getBlockByNumber_0x76250_true.json')
  const receipts483920 = (): RpcReceipt[] =>
    [
      '0x04cbcb236043d8fb7839e07bbc7f5eed692fb2ca55d897f1101eac3e3ad4fab8',
      '0xcea6f89720cc1d2f46cc7a935463ae0b99dd5fad9c91bb7357de5421511cee49',
      '0x463d53f0ad57677a3b430a007c1c31d15d62c37fab5eee598551697c297c235c',
      '0x05287a561f218418892ab053adfb3d919860988b19458c570c5c30f51c146f02',
    ].map((h) => rpcResult<RpcReceipt>(`test_export_receipts_job/receipts_with_logs/web3_response.eth_getTransactionReceipt_${h}.json`))

  /** ethereum-etl transaction rows → counted transfers (status per the given rule). */
  function expectedTxTransfers(rows: readonly CsvRow[], succeeded: (row: CsvRow) => boolean): Transfer[] {
    return rows
      .filter((r) => succeeded(r) && BigInt(r['value']!) > 0n && r['to_address'] !== '')
      .map((r) => ({
        from: r['from_address'] as Address,
        to: r['to_address'] as Address,
        amount: BigInt(r['value']!),
        asset: ETH,
        blockNumber: Number(r['block_number']),
        transactionIndex: Number(r['transaction_index']),
        txHash: r['hash'] as `0x${string}`,
        kind: 'tx' as const,
        subIndex: 0,
        timestamp: Number(r['block_timestamp']),
      }))
  }

  it('block 483920 (pre-Byzantium): receipts have no status, so by default nothing counts', () => {
    const receipts = receipts483920()
    expect(receipts.every((r) => r.status === null && typeof r['root'] === 'string')).toBe(true)
    expect(csvRows('test_export_receipts_job/receipts_with_logs/expected_receipts.csv').every((r) => r['status'] === '')).toBe(true)
    expect(transfersFromBlock(block483920(), receipts)).toEqual([])
  })

  it("block 483920 with missingStatus 'count': the value transfers of ethereum-etl's expected transactions", () => {
    const rows = csvRows('test_export_blocks_job/block_with_logs/expected_transactions.csv')
    const expected = expectedTxTransfers(rows, () => true)
    expect(expected).toHaveLength(2) // two token calls carry no ether
    expect(transfersFromBlock(block483920(), receipts483920(), { missingStatus: 'count' })).toEqual(expected)
  })

  it('block 1755635 (test_stream) with its receipts, both ways', () => {
    const block = rpcResult<RpcBlock>('test_stream/blocks_1755634_1755635/web3_response.eth_getBlockByNumber_0x1ac9f3_true.json')
    const receipts = ['0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d', '0x9a5437ec71b74ecf5930b406908ac6999966d38a86d1534b7190ece7599095eb'].map((h) =>
      rpcResult<RpcReceipt>(`test_stream/blocks_1755634_1755635/web3_response.eth_getTransactionReceipt_${h}.json`),
    )
    const rows = jsonLines('test_stream/blocks_1755634_1755635/expected_transactions.json').map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, str(v)])))
    expect(transfersFromBlock(block, receipts)).toEqual([])
    const counted = transfersFromBlock(block, receipts, { missingStatus: 'count' })
    expect(counted).toEqual(expectedTxTransfers(rows, () => true))
    expect(counted).toHaveLength(1)
  })

  it('blocks 17173049-17173050 (May 2023): status 1, value > 0 and a recipient; failed and creations drop out', () => {
    const rows = jsonLines('test_stream/blocks_17173049_17173050/expected_transactions.json').map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, str(v)])))
    let total = 0
    for (const number of [17173049, 17173050]) {
      const mine = rows.filter((r) => Number(r['block_number']) === number).sort((a, b) => Number(a['transaction_index']) - Number(b['transaction_index']))
      // The fixture keeps ethereum-etl's rows; rebuild the RPC payloads they were exported from.
      const block: RpcBlock = {
        number: hex(number),
        hash: mine[0]!['block_hash']!,
        timestamp: hex(mine[0]!['block_timestamp']!),
        transactions: mine.map((r) => ({
          hash: r['hash']!,
          from: r['from_address']!,
          to: r['to_address'] === '' ? null : r['to_address']!,
          value: hex(r['value']!),
          transactionIndex: hex(r['transaction_index']!),
          blockNumber: hex(number),
          blockHash: r['block_hash']!,
        })),
      }
      const receipts: RpcReceipt[] = [...mine].reverse().map((r) => ({
        transactionHash: r['hash']!,
        status: hex(r['receipt_status']!),
        blockNumber: hex(number),
        blockHash: r['block_hash']!,
        contractAddress: r['receipt_contract_address'] === '' ? null : r['receipt_contract_address']!,
      }))
      const expected = expectedTxTransfers(mine, (r) => r['receipt_status'] === '1')
      expect(transfersFromBlock(block, receipts)).toEqual(expected)
      total += expected.length
    }
    expect(rows.filter((r) => r['receipt_status'] === '0' && r['value'] !== '0')).toHaveLength(8)
    expect(rows.filter((r) => r['to_address'] === '')).toHaveLength(1)
    expect(total).toBe(127)
  })

  it('malformed or mismatched payloads throw, naming the field, the value and the transaction', () => {
    const block = block483920()
    ;(block.transactions[2] as Record<string, unknown>)['value'] = '12345'
    expect(() => transfersFromBlock(block, receipts483920())).toThrow(/expected a hex quantity.*field="block\.transactions\[2\]\.value".*value="12345".*block=483920.*tx="0x463d53f0/)

    expect(() => transfersFromBlock(block483920(), receipts483920().slice(1))).toThrow(/no receipt for this transaction.*tx="0x04cbcb23/)
    const reorged = receipts483920()
    reorged[0]!.blockHash = `0x${'11'.repeat(32)}`
    expect(() => transfersFromBlock(block483920(), reorged)).toThrow(/another block with this number/)
    const hashesOnly = { ...block483920(), transactions: block483920().transactions.map((t) => (typeof t === 'string' ? t : t.hash)) }
    expect(() => transfersFromBlock(hashesOnly, receipts483920())).toThrow(/transaction hashes only/)
    const badStatus = receipts483920().map((r) => ({ ...r, status: '0x2' }))
    expect(() => transfersFromBlock(block483920(), badStatus)).toThrow(/status 0x0 or 0x1.*value="0x2"/)
  })
})

// ---------------------------------------------------------------------------------------------
// Token logs

describe('transfersFromLogs', () => {
  function expectedTokenTransfers(rows: readonly CsvRow[], txIndex: (row: CsvRow) => number, listed: ReadonlySet<string>): Transfer[] {
    return rows
      .filter((r) => listed.has(r['token_address']!) && BigInt(r['value']!) > 0n && r['from_address'] !== ZERO)
      .map((r) => ({
        from: r['from_address'] as Address,
        to: r['to_address'] as Address,
        amount: BigInt(r['value']!),
        asset: r['token_address'] as Address,
        blockNumber: Number(r['block_number']),
        transactionIndex: txIndex(r),
        txHash: r['transaction_hash'] as `0x${string}`,
        kind: 'log' as const,
        subIndex: Number(r['log_index']),
      }))
  }

  const TOKEN_483920 = '0xf4eced2f682ce333f96f2d8966c613ded8fc95dd'

  it('eth_getFilterLogs of block 483920: the expected token transfers when the token is listed, none by default', () => {
    const logs = rpcResult<RpcLog[]>('test_export_token_transfers_job/block_with_transfers/web3_response.eth_getFilterLogs_0x0.json')
    const rows = csvRows('test_export_token_transfers_job/block_with_transfers/expected_token_transfers.csv')
    const indexByHash = new Map(logs.map((l) => [l.transactionHash!, Number(l.transactionIndex)]))
    const expected = expectedTokenTransfers(rows, (r) => indexByHash.get(r['transaction_hash']!)!, new Set([TOKEN_483920]))
    expect(expected).toHaveLength(2)
    expect(transfersFromLogs(logs, new Set([TOKEN_483920]))).toEqual(expected)
    expect(transfersFromLogs(logs, new Set(DEFAULT_LISTED_TOKENS))).toEqual([])
  })

  it("the same transfers from the receipts' logs, with txIndexByHash", () => {
    const logs = [
      '0x04cbcb236043d8fb7839e07bbc7f5eed692fb2ca55d897f1101eac3e3ad4fab8',
      '0xcea6f89720cc1d2f46cc7a935463ae0b99dd5fad9c91bb7357de5421511cee49',
    ].flatMap((h) => rpcResult<{ logs: RpcLog[] }>(`test_export_receipts_job/receipts_with_logs/web3_response.eth_getTransactionReceipt_${h}.json`).logs)
    const filterLogs = rpcResult<RpcLog[]>('test_export_token_transfers_job/block_with_transfers/web3_response.eth_getFilterLogs_0x0.json')
    const listed = new Set([TOKEN_483920])
    expect(transfersFromLogs(logs, listed)).toEqual(transfersFromLogs(filterLogs, listed))
    const indexByHash = new Map(filterLogs.map((l) => [l.transactionHash!, Number(l.transactionIndex)]))
    const withoutIndex = logs.map(({ transactionIndex: _i, ...rest }) => rest as RpcLog)
    expect(transfersFromLogs(withoutIndex, listed, indexByHash)).toEqual(transfersFromLogs(filterLogs, listed))
    expect(() => transfersFromLogs(withoutIndex, listed)).toThrow(/no transactionIndex/)
    expect(() => transfersFromLogs(logs, listed, new Map([[logs[0]!.transactionHash!, 7]]))).toThrow(/differs from txIndexByHash/)
  })

  it('block 1755635: receipt logs give the expected token transfer of an unlisted token only when listed', () => {
    const logs = rpcResult<{ logs: RpcLog[] }>(
      'test_stream/blocks_1755634_1755635/web3_response.eth_getTransactionReceipt_0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d.json',
    ).logs
    const rows = jsonLines('test_stream/blocks_1755634_1755635/expected_token_transfers.json').map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, str(v)])))
    const listed = new Set(['0xbb9bc244d798123fde783fcc1c72d3bb8c189413'])
    expect(transfersFromLogs(logs, listed)).toEqual(expectedTokenTransfers(rows, () => 0, listed))
    expect(transfersFromLogs(logs, new Set(DEFAULT_LISTED_TOKENS))).toEqual([])
  })

  describe('blocks 17173049-17173050 (May 2023)', () => {
    const logRows = (): Record<string, unknown>[] => jsonLines('test_stream/blocks_17173049_17173050/expected_logs.json')
    /** ethereum-etl's log rows back into eth_getLogs objects. */
    const rpcLogs = (): RpcLog[] =>
      logRows().map((r) => ({
        address: r['address'] as string,
        topics: r['topics'] as string[],
        data: r['data'] as string,
        blockNumber: hex(r['block_number'] as number),
        blockHash: r['block_hash'] as string,
        transactionHash: r['transaction_hash'] as string,
        transactionIndex: hex(r['transaction_index'] as number),
        logIndex: hex(r['log_index'] as number),
        removed: false,
      }))
    const tokenRows = (): CsvRow[] =>
      jsonLines('test_stream/blocks_17173049_17173050/expected_token_transfers.json').map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, str(v)])))
    const txIndexOf = (): ((row: CsvRow) => number) => {
      const byHash = new Map(logRows().map((r) => [r['transaction_hash'] as string, r['transaction_index'] as number]))
      return (row) => byHash.get(row['transaction_hash']!)!
    }

    it('the default asset list: the expected transfers of USDT, USDC, DAI, WETH and WBTC', () => {
      const listed = new Set<string>(DEFAULT_LISTED_TOKENS)
      const expected = expectedTokenTransfers(tokenRows(), txIndexOf(), listed)
      const counted = transfersFromLogs(rpcLogs(), listed)
      expect(counted).toEqual(expected)
      expect(counted).toHaveLength(142)
      expect(new Set(counted.map((t) => LISTED_TOKEN_SYMBOLS[t.asset as Address]))).toEqual(new Set(['USDT', 'USDC', 'DAI', 'WETH', 'WBTC']))
    })

    it('every token listed: ethereum-etl also reports ERC-721 transfers (4 topics, value = token id); they do not count', () => {
      const rows = tokenRows()
      const everything = new Set(rows.map((r) => r['token_address']!))
      const erc721 = new Set(logRows().filter((r) => (r['topics'] as string[]).length === 4 && (r['topics'] as string[])[0] === ERC20_TRANSFER_TOPIC).map((r) => `${r['transaction_hash']}/${r['log_index']}`))
      expect(erc721.size).toBe(9)
      const fungible = rows.filter((r) => !erc721.has(`${r['transaction_hash']}/${r['log_index']}`))
      const counted = transfersFromLogs(rpcLogs(), everything)
      expect(counted).toEqual(expectedTokenTransfers(fungible, txIndexOf(), everything))
      // Mints (from the zero address) and zero amounts were dropped too.
      expect(rows.filter((r) => r['from_address'] === ZERO).length).toBeGreaterThan(0)
      expect(counted.some((t) => t.from === ZERO || t.amount === 0n)).toBe(false)
    })

    it('removed logs, and listed-token logs whose data is not one word, are handled', () => {
      const logs = rpcLogs()
      const listed = new Set<string>(DEFAULT_LISTED_TOKENS)
      const first = logs.findIndex((l) => listed.has(l.address))
      const removed = logs.map((l, i) => (i === first ? { ...l, removed: true } : l))
      expect(transfersFromLogs(removed, listed)).toHaveLength(141)
      const broken = logs.map((l, i) => (i === first ? { ...l, data: '0x05' } : l))
      expect(() => transfersFromLogs(broken, listed)).toThrow(/one 32-byte data word.*value="0x05"/)
      const erc721 = logs.map((l, i) => (i === first ? { ...l, topics: [...l.topics, `0x${'00'.repeat(31)}01`] } : l))
      expect(transfersFromLogs(erc721, listed)).toHaveLength(141)
    })
  })
})

describe('DEFAULT_LISTED_TOKENS', () => {
  it('holds the six mainnet assets of DESIGN.md, lowercase, with valid EIP-55 forms', () => {
    expect(Object.values(LISTED_TOKEN_SYMBOLS).sort()).toEqual(['DAI', 'USDC', 'USDT', 'WBTC', 'WETH', 'stETH'])
    for (const address of DEFAULT_LISTED_TOKENS) {
      expect(address).toMatch(/^0x[0-9a-f]{40}$/)
      expect(getAddress(address).toLowerCase()).toBe(address)
    }
    expect(DEFAULT_LISTED_TOKENS).toHaveLength(6)
  })
})
