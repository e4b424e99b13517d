/**
 * Tests of the independent reference walk (test/support/reference-walk.ts), the random
 * ethereum-etl generator (test/support/random-etl.ts) and the CSV row helpers: the judges the real
 * walk is compared against must themselves be right.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  TOKEN_COLUMNS,
  TRACE_COLUMNS,
  TX_COLUMNS,
  parseCsv,
  toCsv,
  type EtlRows,
  type TokenRow,
  type TraceRow,
  type TxRow,
} from '../support/etl-rows.ts'
import { DUST_FLOORS, USDT, generateEtl, type GeneratedEtl } from '../support/random-etl.ts'
import {
  DEFAULT_STOP_CATEGORIES,
  applyDust,
  checkWitness,
  countingTransfers,
  positionKey,
  prepareWitnessChecker,
  referenceExposure,
  referenceHopsFromTransfers,
  stopNodes,
  type HopsPair,
  type RefLabel,
  type RefTransfer,
  type ReferenceOptions,
  type WitnessStep,
} from '../support/reference-walk.ts'

const FIXTURE_DIR = fileURLToPath(new URL('../../fixtures/etl-sample/', import.meta.url))
const fixture = (name: string): string => readFileSync(FIXTURE_DIR + name, 'utf8')

// ---------------------------------------------------------------------------------------------
// Tiny hand-made exports

const a = (n: number): string => '0x' + n.toString(16).padStart(40, '0')
const S = a(0x5eed) // seed
const S2 = a(0x5eee) // second seed
const A = a(0xa)
const B = a(0xb)
const C = a(0xc) // a contract
const D = a(0xd)
const E = a(0xe) // exchange
const F = a(0xf)
const G = a(0x10)
const X = a(0x11)
const Y = a(0x12)
const SPAM = a(0x5ba4) // unlisted token

class Rows implements EtlRows {
  transactions: TxRow[] = []
  traces: TraceRow[] = []
  tokenTransfers: TokenRow[] = []
  private n = 0

  /** An external transaction; returns its hash. */
  tx(
    from: string,
    to: string,
    value: bigint | number,
    block: number,
    index: number,
    opts: { status?: string } = {},
  ): string {
    const hash = '0x' + (++this.n).toString(16).padStart(64, '0')
    this.transactions.push({
      hash,
      nonce: '0',
      block_hash: '0x' + block.toString(16).padStart(64, '0'),
      block_number: String(block),
      transaction_index: String(index),
      from_address: from,
      to_address: to,
      value: String(value),
      gas: '21000',
      gas_price: '1000000000',
      input: '0x',
      block_timestamp: String(1_600_000_000 + 12 * block),
      receipt_status: opts.status ?? '1',
    })
    return hash
  }

  private txOf(hash: string): TxRow {
    const t = this.transactions.find((r) => r.hash === hash)
    if (!t) throw new Error(`no tx ${hash}`)
    return t
  }

  /** An internal call in transaction `hash`. */
  trace(
    hash: string,
    from: string,
    to: string,
    value: bigint | number,
    traceAddress: string,
    opts: { callType?: string; traceType?: string; error?: string; status?: string } = {},
  ): void {
    const t = this.txOf(hash)
    this.traces.push({
      block_number: t.block_number,
      transaction_hash: hash,
      transaction_index: t.transaction_index,
      from_address: from,
      to_address: to,
      value: String(value),
      trace_type: opts.traceType ?? 'call',
      call_type: opts.callType ?? 'call',
      error: opts.error ?? '',
      subtraces: '0',
      trace_address: traceAddress,
      status: opts.status ?? '1',
    })
  }

  /** A token Transfer log in transaction `hash` (block taken from the tx unless given). */
  token(hash: string, token: string, from: string, to: string, value: bigint | number, block?: number): void {
    const t = this.transactions.find((r) => r.hash === hash)
    this.tokenTransfers.push({
      token_address: token,
      from_address: from,
      to_address: to,
      value: String(value),
      transaction_hash: hash,
      log_index: String(this.tokenTransfers.length),
      block_number: block !== undefined ? String(block) : (t?.block_number ?? '0'),
    })
  }

  /** A token transfer carried by a zero-value transaction from `from` to the token contract. */
  tokenTx(token: string, from: string, to: string, value: bigint | number, block: number, index: number): string {
    const hash = this.tx(from, token, 0, block, index)
    this.token(hash, token, from, to, value)
    return hash
  }

  reward(to: string, block: number): void {
    this.traces.push({
      block_number: String(block),
      transaction_hash: '',
      transaction_index: '',
      from_address: '',
      to_address: to,
      value: '2000000000000000000',
      trace_type: 'reward',
      call_type: '',
      error: '',
      subtraces: '0',
      trace_address: '',
      status: '1',
    })
  }
}

type Expect = Record<string, [number | null, number | null]>

function run(
  rows: EtlRows,
  seeds: string[] = [S],
  labels: RefLabel[] = [],
  options: Partial<ReferenceOptions> = {},
): Map<string, HopsPair> {
  return referenceExposure(rows, seeds, labels, { maxHops: 5, listedTokens: [USDT], ...options })
}

function expectHops(result: Map<string, HopsPair>, expected: Expect): void {
  const got: Expect = {}
  const want: Expect = {}
  for (const [addr, [down, up]] of Object.entries(expected)) {
    const r = result.get(addr)
    got[addr] = r ? [r.downstream, r.upstream] : [NaN, NaN]
    want[addr] = [down, up]
  }
  expect(got).toEqual(want)
}

// ---------------------------------------------------------------------------------------------

describe('etl-rows CSV', () => {
  it('quotes trace addresses and round-trips', () => {
    const r = new Rows()
    const h = r.tx(S, C, 5, 1, 0)
    r.trace(h, C, A, 5, '0,1')
    r.trace(h, C, B, 5, '')
    const csv = toCsv(r.traces, TRACE_COLUMNS)
    expect(csv.split('\n')[0]).toBe(TRACE_COLUMNS.join(','))
    expect(csv).toContain(',"0,1",')
    expect(parseCsv(csv, TRACE_COLUMNS)).toEqual(r.traces)
    const withQuote = [{ x: 'a"b', y: 'c' }]
    expect(toCsv(withQuote, ['x', 'y'] as const)).toBe('x,y\n"a""b",c\n')
  })

  it('parses the sample fixture with exactly the ethereum-etl columns', () => {
    expect(() => parseCsv(fixture('transactions.csv'), TX_COLUMNS)).not.toThrow()
    expect(() => parseCsv(fixture('traces.csv'), TRACE_COLUMNS)).not.toThrow()
    expect(() => parseCsv(fixture('token_transfers.csv'), TOKEN_COLUMNS)).not.toThrow()
    expect(() => parseCsv(fixture('token_transfers.csv'), TX_COLUMNS)).toThrow(/missing columns/)
  })
})

describe('reference walk: shared etl-sample', () => {
  it('reproduces expected.json exactly', () => {
    const rows: EtlRows = {
      transactions: parseCsv(fixture('transactions.csv'), TX_COLUMNS),
      traces: parseCsv(fixture('traces.csv'), TRACE_COLUMNS),
      tokenTransfers: parseCsv(fixture('token_transfers.csv'), TOKEN_COLUMNS),
    }
    const seeds = parseCsv(fixture('seeds.csv'), ['address', 'label', 'source'] as const).map((s) => s.address)
    const labels = parseCsv(fixture('labels.csv'), ['address', 'label', 'category'] as const)
    const expected = JSON.parse(fixture('expected.json')) as {
      maxHops: number
      expected: Record<string, { downstream: number | null; upstream: number | null }>
    }
    const result = referenceExposure(rows, seeds, labels, { maxHops: expected.maxHops, listedTokens: [USDT] })
    const got: Record<string, HopsPair | undefined> = {}
    for (const addr of Object.keys(expected.expected)) got[addr] = result.get(addr)
    expect(Object.keys(expected.expected).length).toBeGreaterThan(200)
    expect(got).toEqual(expected.expected)
  })
})

describe('reference walk: hand-made traps', () => {
  it('follows a simple chain both ways, seeds are 0, unrelated addresses none', () => {
    const r = new Rows()
    r.tx(S, A, 10, 1, 0)
    r.tx(A, B, 10, 2, 0)
    r.tx(X, Y, 10, 3, 0)
    r.tx(Y, S, 10, 4, 0)
    r.tx(F, G, 10, 1, 1)
    expectHops(run(r), {
      [S]: [0, 0],
      [A]: [1, null],
      [B]: [2, null],
      [Y]: [null, 1],
      [X]: [null, 2],
      [F]: [null, null],
      [G]: [null, null],
    })
  })

  it('rejects a path whose positions decrease (funds leave before they arrive)', () => {
    const r = new Rows()
    r.tx(A, B, 10, 3, 0) // A -> B at block 3
    r.tx(S, A, 10, 5, 0) // S -> A later, at block 5
    r.tx(X, Y, 10, 5, 0) // X -> Y at block 5
    r.tx(Y, S, 10, 3, 1) // Y -> S earlier, at block 3
    const res = run(r)
    // The paths S->A->B and X->Y->S would exist if positions could decrease.
    expectHops(res, { [A]: [1, null], [B]: [null, null], [Y]: [null, 1], [X]: [null, null] })
    // Same block: the transaction index decides.
    const q = new Rows()
    q.tx(S, A, 10, 7, 5)
    q.tx(A, B, 10, 7, 4) // earlier in block 7
    q.tx(A, C, 10, 7, 6) // later in block 7
    expectHops(run(q), { [A]: [1, null], [B]: [null, null], [C]: [2, null] })
  })

  it('chains transfers of one transaction (equal positions)', () => {
    const r = new Rows()
    const h = r.tx(S, C, 100, 5, 2) // S -> contract C with value
    r.trace(h, S, C, 100, '') // top-level trace repeats the transaction
    r.trace(h, C, D, 100, '0') // C -> D in the same transaction
    r.trace(h, D, F, 50, '0,0') // D -> F, nested, same transaction
    const up = r.tx(X, C, 7, 9, 0) // upstream: X -> C -> S in one transaction
    r.trace(up, C, S, 7, '0')
    expectHops(run(r), { [C]: [1, 1], [D]: [2, null], [F]: [3, null], [X]: [null, 2] })
  })

  it('prefers an earlier arrival over fewer hops when only it can continue', () => {
    const r = new Rows()
    r.tx(S, A, 10, 10, 0) // 1 hop, arrives at block 10
    r.tx(S, X, 10, 1, 0)
    r.tx(X, A, 10, 2, 0) // 2 hops, arrives at block 2
    r.tx(A, B, 10, 5, 0) // leaves A at block 5
    expectHops(run(r), { [A]: [1, null], [X]: [1, null], [B]: [3, null] })
    // Upstream mirror: the 1-hop departure is too early to be preceded by an inbound transfer.
    const q = new Rows()
    q.tx(A, S, 10, 1, 0) // 1 hop to the seed, leaves at block 1
    q.tx(A, Y, 10, 8, 0)
    q.tx(Y, S, 10, 9, 0) // 2 hops, leaves at block 8
    q.tx(B, A, 10, 5, 0) // B -> A at block 5: only the later departure continues
    expectHops(run(q), { [A]: [null, 1], [Y]: [null, 1], [B]: [null, 3] })
  })

  it('counts listed tokens only, joins token rows to their transaction for the index', () => {
    const r = new Rows()
    r.tokenTx(USDT, S, A, 1000, 5, 7) // USDT S -> A at (5, 7)
    r.tx(A, B, 10, 5, 3) // before it, same block
    r.tx(A, C, 10, 5, 9) // after it
    r.tokenTx(SPAM, S, D, 1000, 1, 0) // unlisted token "from" the seed: framing
    r.tokenTx(SPAM, X, S, 1000, 1, 1) // unlisted token "to" the seed
    r.token('0x' + 'ff'.repeat(32), USDT, S, F, 1000, 2) // listed, but no transaction row to join
    r.tokenTx(USDT.toUpperCase().replace('0X', '0x'), S, G, 1000, 2, 0) // listed token in upper case
    r.tokenTx(USDT, S, Y, 0, 2, 1) // zero-value token transfer
    expectHops(run(r), {
      [A]: [1, null],
      [B]: [null, null],
      [C]: [2, null],
      [D]: [null, null],
      [X]: [null, null],
      [F]: [null, null],
      [G]: [1, null],
      [Y]: [null, null],
    })
    // With the spam token listed, the framing works: proves the rows are otherwise well-formed.
    expectHops(run(r, [S], [], { listedTokens: [USDT, SPAM] }), { [D]: [1, null], [X]: [null, 1] })
  })

  it('ignores failed and zero-value transactions and transactions without recipient', () => {
    const r = new Rows()
    r.tx(S, A, 10, 1, 0, { status: '0' })
    r.tx(S, B, 0, 1, 1)
    r.tx(S, '', 10, 1, 2) // contract creation
    r.tx(X, S, 10, 2, 0, { status: '0' })
    r.tx(Y, S, 0, 2, 1)
    expectHops(run(r), { [A]: [null, null], [B]: [null, null], [X]: [null, null], [Y]: [null, null] })
  })

  it('ignores failed internal calls, delegatecall/staticcall, non-call traces and rewards', () => {
    const r = new Rows()
    r.tx(S, A, 10, 1, 0) // A is reached (1 hop) before it makes the failed call below
    const h = r.tx(S, C, 100, 3, 0)
    r.trace(h, S, C, 100, '')
    r.trace(h, C, A, 10, '0', { error: 'Reverted', status: '0' })
    r.trace(h, A, B, 10, '0,0', { status: '0' }) // descendant of a failed call: no error, status 0
    r.trace(h, C, D, 10, '1', { error: 'Out of gas', status: '1' }) // error set
    r.trace(h, C, F, 10, '2', { callType: 'delegatecall' })
    r.trace(h, C, G, 10, '3', { callType: 'staticcall' })
    r.trace(h, C, X, 10, '4', { traceType: 'create', callType: '' })
    r.trace(h, C, Y, 0, '5') // no value
    r.reward(A, 1)
    r.reward(S, 1)
    // A top-level trace whose transaction failed does not count either.
    const failed = r.tx(S, E, 100, 4, 0, { status: '0' })
    r.trace(failed, S, E, 100, '')
    expectHops(run(r), {
      [C]: [1, null],
      [A]: [1, null],
      [B]: [null, null],
      [D]: [null, null],
      [F]: [null, null],
      [G]: [null, null],
      [X]: [null, null],
      [Y]: [null, null],
      [E]: [null, null],
    })
  })

  it('does not double count the top-level trace, which repeats the transaction', () => {
    const r = new Rows()
    const h = r.tx(S, A, 100, 3, 0)
    r.trace(h, S, A, 100, '')
    const transfers = countingTransfers(r, [USDT])
    expect(transfers).toHaveLength(1)
    expect(transfers[0]?.kind).toBe('tx')
  })

  it('stops at exchanges (and other stop categories) but reaches them; seeds always pass', () => {
    const r = new Rows()
    r.tx(S, E, 10, 1, 0) // seed -> exchange
    r.tx(E, A, 10, 2, 0) // exchange -> A: exposure does not pass through E
    r.tx(B, E, 10, 3, 0)
    r.tx(E, S, 10, 4, 0) // upstream through E does not pass either
    r.tx(S2, F, 10, 1, 1) // a seed labelled exchange still spreads
    r.tx(S, G, 10, 1, 2)
    r.tx(G, X, 10, 2, 1) // G has a non-stop label
    const labels: RefLabel[] = [
      { address: E, label: 'Exchange 0', category: 'exchange' },
      { address: S2, label: 'Exchange 1', category: 'exchange' },
      { address: G, label: 'Someone', category: 'individual' },
    ]
    expectHops(run(r, [S, S2], labels), {
      [E]: [1, 1],
      [A]: [null, null],
      [B]: [null, null],
      [F]: [1, null],
      [G]: [1, null],
      [X]: [2, null],
    })
    // Other categories: E is passable when only mixers stop.
    expectHops(run(r, [S, S2], labels, { stopCategories: ['mixer'] }), { [A]: [2, null], [B]: [null, 2] })
    expect(DEFAULT_STOP_CATEGORIES).toEqual(['exchange', 'dex', 'bridge', 'mixer', 'service'])
  })

  it('makes a hub with more distinct counterparties than the cap a stop node', () => {
    const r = new Rows()
    const H = a(0x40b)
    r.tx(S, H, 10, 1, 0)
    r.tx(H, A, 10, 2, 0)
    r.tx(H, A, 10, 2, 1) // repeated counterparty: still one
    r.tx(H, H, 10, 2, 2) // self: not a counterparty
    r.tx(B, H, 1, 3, 0) // dust-sized, but counterparties ignore dust
    // H's counterparties: S, A, B = 3.
    expectHops(run(r, [S], [], { counterpartyCap: 3 }), { [H]: [1, null], [A]: [2, null] })
    expectHops(run(r, [S], [], { counterpartyCap: 2 }), { [H]: [1, null], [A]: [null, null] })
    expectHops(run(r, [S], [], { counterpartyCap: 2, dust: { ETH: 5n } }), { [H]: [1, null], [A]: [null, null] })
    // A non-counting transfer does not make a counterparty.
    r.tx(X, H, 10, 3, 1, { status: '0' })
    expectHops(run(r, [S], [], { counterpartyCap: 3 }), { [A]: [2, null] })
    // A seed over the cap still spreads.
    expectHops(run(r, [S, H], [], { counterpartyCap: 1 }), { [H]: [0, 0], [A]: [1, null] })
    const stop = stopNodes(countingTransfers(r, [USDT]), [], DEFAULT_STOP_CATEGORIES, 2)
    expect([...stop]).toEqual([H])
  })

  it('drops dust per asset', () => {
    const r = new Rows()
    r.tx(S, A, 5, 1, 0)
    r.tx(S, B, 50, 1, 1)
    r.tokenTx(USDT, S, C, 5, 1, 2)
    r.tokenTx(USDT, S, D, 500, 1, 3)
    expectHops(run(r, [S], [], { dust: { ETH: 10n, [USDT.toUpperCase().replace('0X', '0x')]: 100n } }), {
      [A]: [null, null],
      [B]: [1, null],
      [C]: [null, null],
      [D]: [1, null],
    })
    expectHops(run(r), { [A]: [1, null], [C]: [1, null] })
    expect(applyDust(countingTransfers(r, [USDT]), { ETH: 10n })).toHaveLength(3)
  })

  it('handles self transfers, cycles, several seeds and the hop limit', () => {
    const r = new Rows()
    r.tx(S, S, 10, 1, 0)
    r.tx(A, A, 10, 1, 1)
    r.tx(S, A, 10, 2, 0)
    r.tx(A, B, 10, 3, 0)
    r.tx(B, C, 10, 4, 0)
    r.tx(C, A, 10, 5, 0) // cycle A -> B -> C -> A
    r.tx(C, D, 10, 6, 0)
    r.tx(D, F, 10, 7, 0)
    r.tx(F, G, 10, 8, 0) // G is 6 hops from S
    r.tx(S2, F, 10, 1, 2) // a second seed, 1 hop from F
    r.tx(F, S2, 10, 9, 0) // and F -> S2
    expectHops(run(r, [S]), {
      [S]: [0, 0],
      [A]: [1, null],
      [B]: [2, null],
      [C]: [3, null],
      [D]: [4, null],
      [F]: [5, null],
      [G]: [null, null],
    })
    expectHops(run(r, [S], [], { maxHops: 6 }), { [G]: [6, null] })
    expectHops(run(r, [S, S2]), {
      [F]: [1, 1],
      [G]: [2, null],
      [D]: [4, 2],
      [C]: [3, 3],
      [A]: [1, 5],
      [S]: [0, 0],
    })
    expectHops(run(r, [S], [], { maxHops: 0 }), { [S]: [0, 0], [A]: [null, null] })
  })

  it('compares addresses case-insensitively (EIP-55 input)', () => {
    const r = new Rows()
    const upper = (x: string): string => '0x' + x.slice(2).toUpperCase()
    const A2 = '0x' + 'ab'.repeat(20)
    r.tx(upper(S), upper(A2), 10, 1, 0)
    r.tx(A2, B, 10, 2, 0)
    const res = run(r, [upper(S)])
    expectHops(res, { [S]: [0, 0], [A2]: [1, null], [B]: [2, null] })
    expect([...res.keys()].every((k) => k === k.toLowerCase())).toBe(true)
  })

  it('answers for every address named in any row, counting or not, and every seed', () => {
    const r = new Rows()
    r.tx(A, B, 0, 1, 0)
    r.tokenTx(SPAM, C, D, 5, 1, 1)
    r.reward(F, 1)
    const res = run(r, [S])
    expect(new Set(res.keys())).toEqual(new Set([S, A, B, C, D, F, SPAM]))
    expect(res.get(S)).toEqual({ downstream: 0, upstream: 0 })
  })

  it('referenceHopsFromTransfers works on pre-filtered transfers with a stop set', () => {
    const res = referenceHopsFromTransfers(
      [
        { from: S, to: A, block: 1, txIndex: 0 },
        { from: A, to: B, block: 1, txIndex: 0 },
        { from: B, to: C, block: 1, txIndex: 0 },
        { from: C, to: D, block: 0, txIndex: 5 },
      ],
      [S],
      new Set([B]),
      5,
    )
    expect(Object.fromEntries(res)).toEqual({
      [S]: { downstream: 0, upstream: 0 },
      [A]: { downstream: 1, upstream: null },
      [B]: { downstream: 2, upstream: null },
      [C]: { downstream: null, upstream: null },
      [D]: { downstream: null, upstream: null },
    })
  })

  it('orders positions lexicographically', () => {
    expect(positionKey(1, 0)).toBeGreaterThan(positionKey(0, 2 ** 24 - 1))
    expect(positionKey(5, 3)).toBeLessThan(positionKey(5, 4))
    expect(() => positionKey(1, 2 ** 24)).toThrow()
  })
})

describe('checkWitness', () => {
  const r = new Rows()
  const h1 = r.tx(S, C, 100, 5, 2)
  r.trace(h1, C, D, 60, '0')
  const h2 = r.tokenTx(USDT, D, E, 7, 6, 0)
  const h3 = r.tx(E, F, 3, 7, 0)
  const h4 = r.tx(D, S, 1, 4, 0) // earlier than the arrival at D
  const h5 = r.tx(F, S, 1, 8, 0)
  const labels: RefLabel[] = [{ address: E, label: 'Exchange', category: 'exchange' }]
  const opts: ReferenceOptions = { maxHops: 5, listedTokens: [USDT] }
  const step = (txHash: string, from: string, to: string, block: number, index: number, asset: string, amount: string): WitnessStep => ({
    from,
    to,
    txHash,
    blockNumber: block,
    transactionIndex: index,
    asset,
    amount,
  })
  const s1 = step(h1, S, C, 5, 2, 'ETH', '100')
  const s2 = step(h1, C, D, 5, 2, 'ETH', '60')
  const s3 = step(h2, D, E, 6, 0, USDT, '7')
  const s4 = step(h3, E, F, 7, 0, 'ETH', '3')

  it('accepts valid witnesses, including EIP-55 case and an exchange at the end', () => {
    expect(checkWitness([s1, s2, s3], 'downstream', E, 3, r, [S], labels, opts)).toBeNull()
    const mixed = { ...s3, from: '0x' + D.slice(2).toUpperCase(), asset: USDT.toUpperCase().replace('0X', '0x'), txHash: h2.toUpperCase().replace('0X', '0x') }
    expect(checkWitness([s1, s2, mixed], 'downstream', E.toUpperCase().replace('0X', '0x'), 3, r, [S], labels, opts)).toBeNull()
    expect(checkWitness([], 'downstream', S, 0, r, [S], labels, opts)).toBeNull()
    const up = step(h5, F, S, 8, 0, 'ETH', '1')
    expect(checkWitness([up], 'upstream', F, 1, r, [S], labels, opts)).toBeNull()
  })

  it('rejects broken witnesses with a reason', () => {
    const check = prepareWitnessChecker(r, [S], labels, opts)
    expect(check([s1, s2, s3], 'downstream', E, 2)).toMatch(/hops is 2/)
    expect(check([s2, s3], 'downstream', E, 2)).toMatch(/not a seed/)
    expect(check([s1, s2], 'downstream', E, 2)).toMatch(/not the target/)
    expect(check([s1, s3], 'downstream', E, 2)).toMatch(/starts at/)
    expect(check([s1, s2, s3, s4], 'downstream', F, 4)).toMatch(/stop node/)
    expect(check([s1, s2, { ...s3, amount: '8' }], 'downstream', E, 3)).toMatch(/no counting transfer/)
    expect(check([s1, s2, { ...s3, transactionIndex: 1 }], 'downstream', E, 3)).toMatch(/no counting transfer/)
    expect(check([s1, s2, { ...s3, asset: 'ETH' }], 'downstream', E, 3)).toMatch(/no counting transfer/)
    expect(check([s1, s2, { ...s3, amount: '7e0' }], 'downstream', E, 3)).toMatch(/decimal/)
    const back = step(h4, D, S, 4, 0, 'ETH', '1')
    expect(check([s1, s2, back], 'downstream', S, 3)).toMatch(/before step/)
    expect(check([back], 'upstream', D, 1)).toBeNull()
    expect(check([], 'downstream', D, 0)).toMatch(/not a seed/)
    expect(checkWitness([s1, s2, s3], 'downstream', E, 3, r, [S], labels, { ...opts, dust: { [USDT]: 10n } })).toMatch(/dust/)
    // An unlisted-token transfer is not a step.
    const q = new Rows()
    const hs = q.tokenTx(SPAM, S, A, 10, 1, 0)
    expect(checkWitness([step(hs, S, A, 1, 0, SPAM, '10')], 'downstream', A, 1, q, [S], [], opts)).toMatch(/no counting transfer/)
  })
})

// ---------------------------------------------------------------------------------------------
// Generated graphs

interface Traps {
  unlistedFromSeed: number
  failedTxWithValue: number
  zeroValueTx: number
  failedInternalCalls: number
  failedCallDescendants: number
  delegatecallWithValue: number
  staticcallWithValue: number
  topLevelTraces: number
  rewards: number
  outBeforeIn: number
  sameTxChains: number
  sameTxFanIn: number
  sameTxFanOut: number
  cycles: number
  exchangeInMiddle: number
  hubCounterparties: number
  selfTransfers: number
  listedTokenRows: number
  dustSized: number
  quotedTraceAddresses: number
}

/** Counts each trap in a generated export, from the rows themselves (not from the generator). */
function countTraps(g: GeneratedEtl): Traps {
  const seeds = new Set(g.seeds)
  const exchanges = new Set(g.labels.filter((l) => l.category === 'exchange').map((l) => l.address))
  const counted = countingTransfers(g, [g.listedToken])
  const pos = (t: RefTransfer): number => positionKey(t.block, t.txIndex)
  const txByHash = new Map(g.transactions.map((t) => [t.hash, t]))

  let outBeforeIn = 0
  for (const inbound of counted) {
    if (!seeds.has(inbound.from) || seeds.has(inbound.to)) continue
    for (const out of counted) if (out.from === inbound.to && out.to !== out.from && pos(out) < pos(inbound)) outBeforeIn++
  }
  let sameTxChains = 0
  for (const x of counted) for (const y of counted) if (x.txHash === y.txHash && x.to === y.from && x.from !== x.to && y.from !== y.to) sameTxChains++
  // Cycles: some node reaches itself over (time-ignoring) counting transfers between distinct nodes.
  const succ = new Map<string, Set<string>>()
  for (const t of counted) if (t.from !== t.to) (succ.get(t.from) ?? succ.set(t.from, new Set()).get(t.from))?.add(t.to)
  let cycles = 0
  for (const start of succ.keys()) {
    const seen = new Set<string>()
    const stack = [...(succ.get(start) ?? [])]
    while (stack.length > 0) {
      const v = stack.pop() as string
      if (v === start) {
        cycles++
        break
      }
      if (seen.has(v)) continue
      seen.add(v)
      stack.push(...(succ.get(v) ?? []))
    }
  }
  // One transaction moving funds into one wallet from different senders, or out of one to different recipients.
  const fan = (end: (t: RefTransfer) => string, other: (t: RefTransfer) => string): number => {
    const groups = new Map<string, Set<string>>()
    for (const t of counted) if (t.from !== t.to) (groups.get(`${t.txHash}|${end(t)}`) ?? groups.set(`${t.txHash}|${end(t)}`, new Set()).get(`${t.txHash}|${end(t)}`))?.add(other(t))
    return [...groups.values()].filter((others) => others.size >= 2).length
  }
  let exchangeInMiddle = 0
  for (const x of counted) for (const y of counted) if (exchanges.has(x.to) && y.from === x.to && x.from !== y.to && pos(x) <= pos(y)) exchangeInMiddle++
  const partners = new Map<string, Set<string>>()
  for (const t of counted) {
    if (t.from === t.to) continue
    ;(partners.get(t.from) ?? partners.set(t.from, new Set()).get(t.from))?.add(t.to)
    ;(partners.get(t.to) ?? partners.set(t.to, new Set()).get(t.to))?.add(t.from)
  }
  const topLevel = g.traces.filter((t) => {
    if (t.trace_type !== 'call' || t.trace_address !== '') return false
    const tx = txByHash.get(t.transaction_hash)
    return tx !== undefined && tx.from_address === t.from_address && tx.to_address === t.to_address && tx.value === t.value
  })
  return {
    unlistedFromSeed: g.tokenTransfers.filter((t) => t.token_address !== g.listedToken && seeds.has(t.from_address)).length,
    failedTxWithValue: g.transactions.filter((t) => t.receipt_status === '0' && BigInt(t.value) > 0n).length,
    zeroValueTx: g.transactions.filter((t) => t.receipt_status === '1' && t.value === '0').length,
    failedInternalCalls: g.traces.filter((t) => t.trace_address !== '' && t.error !== '' && t.status === '0' && BigInt(t.value || '0') > 0n).length,
    failedCallDescendants: g.traces.filter((t) => t.trace_address !== '' && t.error === '' && t.status === '0' && t.call_type === 'call').length,
    delegatecallWithValue: g.traces.filter((t) => t.call_type === 'delegatecall' && BigInt(t.value) > 0n).length,
    staticcallWithValue: g.traces.filter((t) => t.call_type === 'staticcall' && BigInt(t.value) > 0n).length,
    topLevelTraces: topLevel.length,
    rewards: g.traces.filter((t) => t.trace_type === 'reward' && t.from_address === '' && t.transaction_hash === '').length,
    outBeforeIn,
    sameTxChains,
    sameTxFanIn: fan((t) => t.to, (t) => t.from),
    sameTxFanOut: fan((t) => t.from, (t) => t.to),
    cycles,
    exchangeInMiddle,
    hubCounterparties: Math.max(...[...partners.values()].map((s) => s.size)),
    selfTransfers: counted.filter((t) => t.from === t.to).length,
    listedTokenRows: g.tokenTransfers.filter((t) => t.token_address === g.listedToken).length,
    dustSized: counted.filter((t) => t.amount < 1000n).length,
    quotedTraceAddresses: g.traces.filter((t) => t.trace_address.includes(',')).length,
  }
}

/**
 * Brute force over walks: every time-respecting walk of at most maxHops counting transfers from a
 * seed (downstream) or, backwards, into a seed (upstream), with passable interior nodes. Returns
 * the least length per address and one witness of that length.
 */
function bruteForce(
  transfers: RefTransfer[],
  seeds: string[],
  stop: Set<string>,
  maxHops: number,
  direction: 'downstream' | 'upstream',
): Map<string, RefTransfer[]> {
  const best = new Map<string, RefTransfer[]>()
  const passable = (x: string): boolean => seeds.includes(x) || !stop.has(x)
  const byEnd = new Map<string, RefTransfer[]>()
  for (const t of transfers) {
    const k = direction === 'downstream' ? t.from : t.to
    ;(byEnd.get(k) ?? byEnd.set(k, []).get(k))?.push(t)
  }
  const visit = (at: string, path: RefTransfer[], bound: number): void => {
    const prev = best.get(at)
    if (!prev || prev.length > path.length) best.set(at, [...path])
    if (path.length === maxHops) return
    if (path.length > 0 && !passable(at)) return
    for (const t of byEnd.get(at) ?? []) {
      const p = positionKey(t.block, t.txIndex)
      if (direction === 'downstream' ? p < bound : p > bound) continue
      path.push(t)
      visit(direction === 'downstream' ? t.to : t.from, path, p)
      path.pop()
    }
  }
  for (const s of seeds) visit(s, [], direction === 'downstream' ? -Infinity : Infinity)
  if (direction === 'upstream') for (const [k, v] of best) best.set(k, [...v].reverse())
  return best
}

describe('generateEtl', () => {
  it('is deterministic', () => {
    expect(generateEtl(42)).toEqual(generateEtl(42))
    expect(generateEtl(7, { addresses: 30, transactions: 50, blocks: 20 })).toEqual(
      generateEtl(7, { addresses: 30, transactions: 50, blocks: 20 }),
    )
    expect(generateEtl(42).transactions).not.toEqual(generateEtl(43).transactions)
  })

  it('produces well-formed rows that round-trip through CSV', () => {
    const g = generateEtl(3)
    expect(parseCsv(toCsv(g.transactions, TX_COLUMNS), TX_COLUMNS)).toEqual(g.transactions)
    expect(parseCsv(toCsv(g.traces, TRACE_COLUMNS), TRACE_COLUMNS)).toEqual(g.traces)
    expect(parseCsv(toCsv(g.tokenTransfers, TOKEN_COLUMNS), TOKEN_COLUMNS)).toEqual(g.tokenTransfers)
    expect(g.listedToken).toBe('0xdac17f958d2ee523a2206206994597c13d831ec7')
  })

  it.each(Array.from({ length: 20 }, (_, i) => i))('graph %i contains every trap', (seed) => {
    const g = generateEtl(seed)
    const addressRe = /^0x[0-9a-f]{40}$/
    const hashes = new Set(g.transactions.map((t) => t.hash))
    expect(hashes.size).toBe(g.transactions.length)
    expect(g.seeds.length).toBeGreaterThanOrEqual(1)
    expect(g.seeds.length).toBeLessThanOrEqual(3)
    for (const t of g.transactions) {
      expect(t.from_address).toMatch(addressRe)
      expect(t.to_address).toMatch(addressRe)
      expect(t.hash).toMatch(/^0x[0-9a-f]{64}$/)
    }
    for (const t of g.tokenTransfers) {
      for (const x of [t.token_address, t.from_address, t.to_address]) expect(x).toMatch(addressRe)
      if (t.token_address === g.listedToken) {
        const tx = g.transactions.find((r) => r.hash === t.transaction_hash)
        expect(tx?.block_number).toBe(t.block_number)
      }
    }
    for (const t of g.traces) if (t.trace_type === 'call') expect(txByHashHas(g, t)).toBe(true)
    const wallets = new Set([...g.transactions.map((t) => t.from_address)])
    expect(wallets.size).toBeGreaterThanOrEqual(10)

    const traps = countTraps(g)
    for (const [name, count] of Object.entries(traps)) expect({ name, count: count > 0 }).toEqual({ name, count: true })
    expect(traps.hubCounterparties).toBeGreaterThanOrEqual(8)
    // Counting transfers at, one below and one above a configured dust floor, for ETH and the token.
    const counted = countingTransfers(g, [g.listedToken])
    for (const [kind, floors] of [['ETH', DUST_FLOORS.eth], [g.listedToken, DUST_FLOORS.token]] as const) {
      for (const offset of [-1n, 0n, 1n]) {
        const found = counted.some((t) => t.asset === kind && floors.some((f) => t.amount === f + offset))
        expect({ kind, offset, found }).toEqual({ kind, offset, found: true })
      }
    }
  })

  it('has paths of 4 and 5 hops in a fair share of graphs', () => {
    let long = 0
    for (let seed = 0; seed < 20; seed++) {
      const g = generateEtl(seed)
      const res = referenceExposure(g, g.seeds, g.labels, { maxHops: 5, listedTokens: [g.listedToken] })
      if ([...res.values()].some((v) => (v.downstream ?? 0) >= 4 || (v.upstream ?? 0) >= 4)) long++
    }
    expect(long).toBeGreaterThanOrEqual(10)
  })
})

function txByHashHas(g: GeneratedEtl, t: TraceRow): boolean {
  return g.transactions.some((r) => r.hash === t.transaction_hash && r.block_number === t.block_number && r.transaction_index === t.transaction_index)
}

describe('reference walk agrees with brute force on generated graphs', () => {
  it('same hops and valid witnesses, with and without caps and dust', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.constantFrom(Infinity, 4, 8),
        fc.constantFrom<Record<string, bigint> | undefined>(
          undefined,
          ...DUST_FLOORS.eth.map((f) => ({ ETH: f })),
          ...DUST_FLOORS.token.map((f) => ({ [USDT]: f })),
          { ETH: DUST_FLOORS.eth.at(-1)!, [USDT]: DUST_FLOORS.token.at(-1)! },
        ),
        fc.integer({ min: 1, max: 4 }),
        (seed, cap, dust, maxHops) => {
          const g = generateEtl(seed, { addresses: 10 + (seed % 21) })
          const options: ReferenceOptions = { maxHops, listedTokens: [g.listedToken], counterpartyCap: cap, ...(dust ? { dust } : {}) }
          const result = referenceExposure(g, g.seeds, g.labels, options)
          const counted = countingTransfers(g, [g.listedToken])
          const stop = stopNodes(counted, g.labels, DEFAULT_STOP_CATEGORIES, cap)
          const kept = applyDust(counted, dust)
          const check = prepareWitnessChecker(g, g.seeds, g.labels, options)
          for (const direction of ['downstream', 'upstream'] as const) {
            const brute = bruteForce(kept, g.seeds, stop, maxHops, direction)
            for (const [addr, hops] of result) {
              const path = brute.get(addr)
              expect({ addr, direction, hops: hops[direction] }).toEqual({ addr, direction, hops: path ? path.length : null })
              if (path) {
                const witness: WitnessStep[] = path.map((t) => ({
                  from: t.from,
                  to: t.to,
                  txHash: t.txHash,
                  blockNumber: t.block,
                  transactionIndex: t.txIndex,
                  asset: t.asset,
                  amount: t.amount.toString(),
                }))
                expect(check(witness, direction, addr, path.length)).toBeNull()
              }
            }
          }
        },
      ),
      { numRuns: 40, seed: 20240601 },
    )
  })
})
