import { describe, expect, it } from 'vitest'
import { provenancesOf } from '../../src/seeds/merge.ts'
import { familiesOf, fileScope, planImport, planRemove, sourceFamily } from '../../src/seeds/seed-set.ts'
import type { Address, Seed } from '../../src/types.ts'

const A = '0x098b716b8aaf21512996dc57eb0615e2383e2f96' as Address
const B = '0xa0e1c89ef1a489c9c7de96311ed5ce5d32c20e4b' as Address
const C = '0x3cffd56b47b7b41c56258d9c7731abadc360e073' as Address
const ofac = (address: Address, date: string): Seed => ({ address, label: 'Lazarus Group', source: `OFAC SDN sdn_advanced.xml ${date}, profile 27307`, extra: { listed: date, confidence: '60' } })
const fbi = (address: Address): Seed => ({ address, label: 'Bybit', source: 'FBI PSA I-022625-PSA (2025-02-26) https://www.ic3.gov/PSA/2025/PSA250226', extra: { confidence: '60' } })
const store = (seeds: Seed[]) => new Map(seeds.map((s) => [s.address, s]))

describe('sourceFamily', () => {
  it('groups OFAC publications and pinned repository files; other sources are themselves', () => {
    expect(sourceFamily('OFAC SDN sdn_advanced.xml 2025-11-19, profile 27307')).toBe('OFAC SDN sdn_advanced.xml')
    expect(sourceFamily('tayvano/lazarus-bluenoroff-research/hacks-and-thefts/bybit.md@10be18ec1fee3d463ffa2b801d3d308f512d62a3')).toBe('tayvano/lazarus-bluenoroff-research/hacks-and-thefts/bybit.md')
    expect(sourceFamily('watchlist')).toBe('watchlist')
    expect(familiesOf([ofac(A, '2025-11-19'), ofac(B, '2026-01-05'), fbi(B)])).toEqual(['FBI PSA I-022625-PSA (2025-02-26) https://www.ic3.gov/PSA/2025/PSA250226', 'OFAC SDN sdn_advanced.xml'])
  })
})

describe('planImport', () => {
  it('adds new addresses and merges provenance into stored seeds; the same file again changes nothing', () => {
    const current = store([fbi(A)])
    const plan = planImport(current, [ofac(A, '2025-11-19'), ofac(B, '2025-11-19')])
    expect(plan.added).toEqual([B])
    expect(plan.updated).toEqual([A])
    expect(provenancesOf(plan.put.find((s) => s.address === A)!).map((p) => p.source)).toEqual([fbi(A).source, ofac(A, '2025-11-19').source])
    const after = new Map(current)
    for (const s of plan.put) after.set(s.address, s)
    expect(planImport(after, [ofac(A, '2025-11-19'), ofac(B, '2025-11-19')])).toEqual({ put: [], remove: [], added: [], updated: [], unchanged: 2 })
  })

  it('with replace, a newer list of the same source drops delisted addresses and old provenances, not other sources', () => {
    const current = store([...planImport(new Map(), [ofac(A, '2025-11-19'), ofac(B, '2025-11-19'), fbi(B), ofac(C, '2025-11-19')]).put])
    const newer = [ofac(A, '2026-01-05')]
    const plan = planImport(current, newer, { replace: true, scope: fileScope(familiesOf(newer)) })
    expect(plan.remove).toEqual([C])
    expect(plan.updated.sort()).toEqual([A, B].sort())
    expect(provenancesOf(plan.put.find((s) => s.address === A)!).map((p) => p.extra?.listed)).toEqual(['2026-01-05'])
    expect(plan.put.find((s) => s.address === B)).toEqual({ ...fbi(B) })
    // without replace nothing is removed
    expect(planImport(current, newer).remove).toEqual([])
  })
})

describe('planRemove', () => {
  const current = store([...planImport(new Map(), [ofac(A, '2025-11-19'), fbi(A), fbi(B)]).put])
  it('by source prefix: drops matching provenances; seeds with another provenance stay', () => {
    const plan = planRemove(current, { source: 'FBI PSA' })
    expect(plan.remove).toEqual([B])
    expect(plan.updated).toEqual([A])
    expect(plan.put[0]).toEqual(ofac(A, '2025-11-19'))
  })
  it('by address: every provenance; unknown addresses are reported', () => {
    const plan = planRemove(current, { addresses: [A, C] })
    expect(plan.remove).toEqual([A])
    expect(plan.unknown).toEqual([C])
  })
})
