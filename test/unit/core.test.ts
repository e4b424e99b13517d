import { describe, expect, it } from 'vitest'
import { buildOptions, parseDust } from '../../src/config.ts'
import { isExposureError } from '../../src/errors.ts'
import { IN_SIZE, OUT_SIZE, decodeRecord, joinNode, lowerBound, sortUnique, splitNode, upperBound, writeInRecord, writeOutRecord } from '../../src/store/records.ts'
import { expandNodes } from '../../src/walk/expand.ts'
import { formatLabels, parseLabels, SEED_COST } from '../../src/walk/labels.ts'
import { DEFAULT_RISK_POLICY, parseRiskPolicy, riskOf } from '../../src/walk/risk.ts'
import type { Address } from '../../src/types.ts'

const A = '0x00000000000000000000000000000000000000aa' as Address
const B = '0x00000000000000000000000000000000000000bb' as Address
const C = '0x00000000000000000000000000000000000000cc' as Address
const HASH = `0x${'11'.repeat(32)}` as const

function out(to: Address, block: number, txIndex: number, amount = 5n, assetId = 0): Buffer {
  const b = Buffer.alloc(OUT_SIZE)
  writeOutRecord(b, 0, { counterparty: to, blockNumber: block, transactionIndex: txIndex, assetId, amount, txHash: HASH, kind: 'tx', subIndex: 0 })
  return b
}

function inn(from: Address, block: number, txIndex: number, amount = 5n): Buffer {
  const b = Buffer.alloc(IN_SIZE)
  writeInRecord(b, 0, { counterparty: from, blockNumber: block, transactionIndex: txIndex, assetId: 0, amount, txHash: HASH, kind: 'tx', subIndex: 0 })
  return b
}

describe('records', () => {
  it('round-trip, saturate amounts above 2^96, sort by position and drop duplicates', () => {
    const huge = out(B, 7, 3, 1n << 100n)
    expect(decodeRecord(huge, 0, OUT_SIZE)).toMatchObject({ counterparty: B, blockNumber: 7, transactionIndex: 3, amount: (1n << 96n) - 1n, txHash: HASH, kind: 'tx' })
    const sorted = sortUnique(Buffer.concat([out(B, 9, 0), out(C, 2, 5), out(B, 9, 0), out(C, 2, 1)]), OUT_SIZE)
    expect(sorted.length / OUT_SIZE).toBe(3)
    expect([0, 1, 2].map((i) => decodeRecord(sorted, i * OUT_SIZE, OUT_SIZE).position)).toEqual([2 * 65536 + 1, 2 * 65536 + 5, 9 * 65536])
    expect(lowerBound(sorted, OUT_SIZE, 2 * 65536 + 2)).toBe(1)
    expect(upperBound(sorted, OUT_SIZE, 2 * 65536 + 5)).toBe(2)
  })

  it('a node string holds both lists and the distinct counterparties (self excluded)', () => {
    const node = joinNode(A, Buffer.concat([out(B, 1, 0), out(A, 1, 1)]), Buffer.concat([inn(B, 0, 0), inn(C, 3, 0)]))!
    const split = splitNode(node)
    expect(split.counterparties).toBe(2)
    expect(split.out.length / OUT_SIZE).toBe(2)
    expect(split.in.length / IN_SIZE).toBe(2)
    expect(joinNode(A, Buffer.alloc(0), Buffer.alloc(0))).toBeNull()
  })
})

describe('expansion', () => {
  it('downstream takes the earliest transfer at or after the arrival; upstream the latest at or before the departure', () => {
    const outs = sortUnique(Buffer.concat([out(B, 1, 0), out(B, 5, 0), out(C, 3, 0)]), OUT_SIZE)
    const arrived = [{ hops: 1, cost: 2 * 65536, key: 'x' }]
    const down = expandNodes('downstream', 4, [{ hex: 'aa'.padStart(40, '0'), labels: arrived, adjacency: outs }], [])
    expect(down.map((c) => [c.hex.slice(-2), c.hops, c.cost])).toEqual([['cc', 2, 3 * 65536], ['bb', 2, 5 * 65536]])
    const ins = sortUnique(Buffer.concat([inn(B, 1, 0), inn(B, 5, 0), inn(C, 6, 0)]), IN_SIZE)
    const leaves = [{ hops: 0, cost: -(5 * 65536), key: '' }]
    const up = expandNodes('upstream', 4, [{ hex: 'aa'.padStart(40, '0'), labels: leaves, adjacency: ins }], [])
    expect(up.map((c) => [c.hex.slice(-2), c.hops, c.cost])).toEqual([['bb', 1, -(5 * 65536)]])
  })

  it('dust floors skip small transfers; labels at maxHops are not extended', () => {
    const outs = sortUnique(Buffer.concat([out(B, 1, 0, 10n), out(C, 1, 1, 1000n)]), OUT_SIZE)
    const node = { hex: 'aa'.padStart(40, '0'), labels: [{ hops: 0, cost: SEED_COST.downstream, key: '' }], adjacency: outs }
    expect(expandNodes('downstream', 4, [node], [100n]).map((c) => c.hex.slice(-2))).toEqual(['cc'])
    expect(expandNodes('downstream', 0, [node], [])).toEqual([])
  })

  it('a later label with more hops adds a candidate only where it arrives strictly earlier', () => {
    const outs = sortUnique(Buffer.concat([out(B, 1, 0), out(C, 4, 0)]), OUT_SIZE)
    const labels = [
      { hops: 1, cost: 3 * 65536, key: 'k1' },
      { hops: 2, cost: 0, key: 'k2' },
    ]
    const candidates = expandNodes('downstream', 4, [{ hex: 'aa'.padStart(40, '0'), labels, adjacency: outs }], [])
    expect(candidates.map((c) => [c.hex.slice(-2), c.hops])).toEqual([['cc', 2], ['bb', 3]])
  })
})

describe('labels, risk, configuration', () => {
  it('labels survive a text round trip', () => {
    const labels = [{ hops: 0, cost: SEED_COST.upstream, key: '' }, { hops: 2, cost: 12345, key: 'ab'.repeat(24) }]
    expect(parseLabels(formatLabels(labels))).toEqual(labels)
  })

  it('risk takes the nearer exposure', () => {
    expect(riskOf(DEFAULT_RISK_POLICY, 0, null)).toBe('severe')
    expect(riskOf(DEFAULT_RISK_POLICY, 3, 1)).toBe('high')
    expect(riskOf(DEFAULT_RISK_POLICY, 2, null)).toBe('medium')
    expect(riskOf(DEFAULT_RISK_POLICY, null, 7)).toBe('low')
    expect(riskOf(DEFAULT_RISK_POLICY, null, null)).toBe('none')
    expect(riskOf(parseRiskPolicy('severe=0,high=2,low=inf'), 2, null)).toBe('high')
    expect(() => parseRiskPolicy('high=1,severe=0')).toThrow(/from severe to low/)
  })

  it('options: flags over environment over defaults; bad values name their key', () => {
    expect(buildOptions({}, {}).maxHops).toBe(4)
    expect(buildOptions({}, { EXPOSURE_MAX_HOPS: '3' }).maxHops).toBe(3)
    expect(buildOptions({ maxHops: '2' }, { EXPOSURE_MAX_HOPS: '3' }).maxHops).toBe(2)
    expect(buildOptions({ prefix: 'case-7' }, {}).prefix).toBe('{case-7}')
    expect(parseDust('ETH=5,0xDAC17F958D2EE523A2206206994597C13D831EC7=7')).toEqual({ ETH: 5n, '0xdac17f958d2ee523a2206206994597c13d831ec7': 7n })
    let error: unknown
    try {
      buildOptions({}, { REDIS_URL: 'http://x', EXPOSURE_COUNTERPARTY_CAP: '-1' })
    } catch (e) {
      error = e
    }
    expect(isExposureError(error, 'INVALID_CONFIG')).toBe(true)
    expect((error as Error).message).toMatch(/REDIS_URL/)
    expect((error as Error).message).toMatch(/EXPOSURE_COUNTERPARTY_CAP/)
  })
})

describe('TxIndexTable', () => {
  it('maps hashes to indices exactly through growth, including hashes that share their first bytes', async () => {
    const { TxIndexTable } = await import('../../src/sources/tx-index-table.ts')
    const table = new TxIndexTable(16)
    const hashes = Array.from({ length: 5000 }, (_, i) => `0x${(i % 7).toString(16).padStart(8, '0')}${i.toString(16).padStart(56, '0')}`)
    hashes.forEach((h, i) => table.set(h, i))
    expect(table.count).toBe(5000)
    hashes.forEach((h, i) => expect(table.get(h.toUpperCase().replace('0X', '0x'))).toBe(i))
    expect(table.get(`0x${'ff'.repeat(32)}`)).toBeUndefined()
    table.set(hashes[3]!, 77)
    expect(table.get(hashes[3]!)).toBe(77)
    expect(table.count).toBe(5000)
  })
})

describe('compact records', () => {
  it('keeps kind and a 22-bit sub-index in 3 bytes, and refuses a larger sub-index', () => {
    const b = Buffer.alloc(OUT_SIZE)
    writeOutRecord(b, 0, { counterparty: B, blockNumber: 1, transactionIndex: 2, assetId: 3, amount: 4n, txHash: HASH, kind: 'log', subIndex: 0x3fffff })
    expect(decodeRecord(b, 0, OUT_SIZE)).toMatchObject({ kind: 'log', subIndex: 0x3fffff, assetId: 3, amount: 4n })
    expect(() => writeOutRecord(b, 0, { counterparty: B, blockNumber: 1, transactionIndex: 2, assetId: 3, amount: 4n, txHash: HASH, kind: 'trace', subIndex: 0x400000 })).toThrow(RangeError)
  })

  it('in-records saturate amounts at 2^64-1 and still match their out-record; dust floors ≥ 2^64 are refused', async () => {
    const { outMatchesIn } = await import('../../src/store/records.ts')
    const big = 1n << 70n
    const o = out(A, 5, 1, big)
    const i = inn(B, 5, 1, big)
    expect(decodeRecord(i, 0, IN_SIZE).amount).toBe((1n << 64n) - 1n)
    expect(decodeRecord(o, 0, OUT_SIZE).amount).toBe(big)
    expect(outMatchesIn(o, 0, i, Buffer.from(A.slice(2), 'hex'))).toBe(true)
    expect(outMatchesIn(out(A, 5, 1, 7n), 0, i, Buffer.from(A.slice(2), 'hex'))).toBe(false)
    expect(outMatchesIn(o, 0, i, Buffer.from(C.slice(2), 'hex'))).toBe(false)
    expect(() => parseDust('ETH=18446744073709551616')).toThrow(/below 2\^64/)
    expect(parseDust('ETH=18446744073709551615').ETH).toBe((1n << 64n) - 1n)
  })
})
