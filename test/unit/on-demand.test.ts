/**
 * The on-demand search (walk/on-demand.ts) on small hand-built graphs: the cases DESIGN.md's rules
 * make subtle, checked with exact hops and witnesses. The random graphs are in
 * test/integration/check-on-demand-property.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { IN_SIZE, OUT_SIZE, countCounterparties, decodeRecord, joinNode, sortUnique, writeInRecord, writeOutRecord } from '../../src/store/records.ts'
import { searchExposure, type SearchIo } from '../../src/walk/on-demand.ts'
import type { Address, Direction } from '../../src/types.ts'

interface T {
  from: string
  to: string
  block: number
  amount?: bigint
}

const hex = (name: string) => name.padStart(40, '0')

/** A graph as the store holds it: node strings per address; stop = labelled services; cap on counterparties. */
function graph(transfers: readonly T[], seeds: readonly string[], stop: readonly string[] = [], cap = 1000) {
  const outs = new Map<string, Buffer[]>()
  const ins = new Map<string, Buffer[]>()
  transfers.forEach((t, i) => {
    const fields = { counterparty: `0x${hex(t.to)}` as Address, blockNumber: t.block, transactionIndex: 0, assetId: 0, amount: t.amount ?? 10n, txHash: `0x${i.toString(16).padStart(64, '0')}` as const, kind: 'tx' as const, subIndex: i }
    const o = Buffer.alloc(OUT_SIZE)
    writeOutRecord(o, 0, fields)
    const n = Buffer.alloc(IN_SIZE)
    writeInRecord(n, 0, { ...fields, counterparty: `0x${hex(t.from)}` as Address })
    outs.set(hex(t.from), [...(outs.get(hex(t.from)) ?? []), o])
    ins.set(hex(t.to), [...(ins.get(hex(t.to)) ?? []), n])
  })
  const loaded: string[] = []
  const io: SearchIo = {
    isSeed: (h) => seeds.map(hex).includes(h),
    load: async (hexes) => {
      loaded.push(...hexes)
      return hexes.map((h) => {
        const out = sortUnique(Buffer.concat(outs.get(h) ?? []), OUT_SIZE)
        const inn = sortUnique(Buffer.concat(ins.get(h) ?? []), IN_SIZE)
        const node = joinNode(`0x${h}`, out, inn)
        const isSeed = seeds.map(hex).includes(h)
        return { hex: h, node, passable: isSeed || (!stop.map(hex).includes(h) && countCounterparties(`0x${h}`, out, inn) <= cap) }
      })
    },
  }
  return { io, loaded }
}

async function hops(direction: Direction, target: string, g: ReturnType<typeof graph>, maxHops = 4, dust: (bigint | undefined)[] = []) {
  const { answer } = await searchExposure(direction, hex(target), maxHops, dust, g.io)
  if (answer === null) return null
  const path = answer.steps.map((s) => `${s.fromHex.replace(/^0+/, '')}>${s.toHex.replace(/^0+/, '')}@${decodeRecord(s.record, 0, s.record.length).blockNumber}`)
  return { hops: answer.hops, seed: answer.seedHex.replace(/^0+/, ''), path }
}

describe('on-demand search', () => {
  it('downstream: the time-respecting path, not the shorter one that leaves before funds arrived', async () => {
    // s→a at 5, a→w at 3 (too early); s→b at 1, b→c at 2, c→w at 4
    const g = graph([{ from: 'a1', to: 'a2', block: 5 }, { from: 'a2', to: 'ff', block: 3 }, { from: 'a1', to: 'b1', block: 1 }, { from: 'b1', to: 'c1', block: 2 }, { from: 'c1', to: 'ff', block: 4 }], ['a1'])
    expect(await hops('downstream', 'ff', g)).toEqual({ hops: 3, seed: 'a1', path: ['a1>b1@1', 'b1>c1@2', 'c1>ff@4'] })
    expect(await hops('downstream', 'ff', g, 2)).toBeNull()
  })

  it('equal positions chain; a stop node inside the path blocks, at the end it is exposed', async () => {
    const g = graph([{ from: 'a1', to: 'e1', block: 2 }, { from: 'e1', to: 'ff', block: 2 }, { from: 'a1', to: 'b1', block: 2 }, { from: 'b1', to: 'c1', block: 2 }, { from: 'c1', to: 'ff', block: 2 }], ['a1'], ['e1'])
    expect(await hops('downstream', 'ff', g)).toEqual({ hops: 3, seed: 'a1', path: ['a1>b1@2', 'b1>c1@2', 'c1>ff@2'] })
    expect((await hops('downstream', 'e1', g))?.hops).toBe(1)
  })

  it('upstream: funds of the address reach a seed; the address itself may be a stop node', async () => {
    const g = graph([{ from: 'ff', to: 'b1', block: 3 }, { from: 'b1', to: 'a1', block: 2 }, { from: 'b1', to: 'c1', block: 4 }, { from: 'c1', to: 'a1', block: 6 }], ['a1'], ['ff'])
    expect(await hops('upstream', 'ff', g)).toEqual({ hops: 3, seed: 'a1', path: ['ff>b1@3', 'b1>c1@4', 'c1>a1@6'] })
  })

  it('a longer label with an earlier arrival opens the path a shorter one cannot (non-dominated labels)', async () => {
    // short: s→x at 9 (1 hop, late); long: s→p at 1, p→x at 2 (2 hops, early); x→w at 5
    const g = graph([{ from: 'a1', to: 'd1', block: 9 }, { from: 'a1', to: 'b1', block: 1 }, { from: 'b1', to: 'd1', block: 2 }, { from: 'd1', to: 'ff', block: 5 }], ['a1'])
    expect(await hops('downstream', 'ff', g)).toEqual({ hops: 3, seed: 'a1', path: ['a1>b1@1', 'b1>d1@2', 'd1>ff@5'] })
  })

  it('dust does not count; seeds are answered at 0 and not expanded; nothing beyond the nearest seed is fetched', async () => {
    const g = graph([{ from: 'a1', to: 'ff', block: 1, amount: 1n }, { from: 'a2', to: 'b1', block: 1 }, { from: 'b1', to: 'ff', block: 2 }, { from: 'c9', to: 'a2', block: 0 }], ['a1', 'a2'])
    expect((await hops('downstream', 'ff', g, 4, [5n]))?.path).toEqual(['a2>b1@1', 'b1>ff@2'])
    expect(g.loaded).not.toContain(hex('a2'))
    expect(g.loaded).not.toContain(hex('c9'))
    expect(await hops('downstream', 'a2', g)).toEqual({ hops: 0, seed: 'a2', path: [] })
  })

  it('counterparty cap: a hub inside the path blocks', async () => {
    const g = graph([{ from: 'a1', to: 'b1', block: 1 }, { from: 'b1', to: 'ff', block: 2 }, { from: 'b1', to: 'c1', block: 3 }, { from: 'b1', to: 'c2', block: 3 }], ['a1'], [], 2)
    expect(await hops('downstream', 'ff', g)).toBeNull()
  })

  it('a fetch budget: the search stops where load answers null, says it is incomplete, and keeps a valid witness of what it found', async () => {
    // w ← c1 ← b1 ← a1 (seed, 3 hops); w ← d1 ← a1 at 2 hops only through a late transfer that does not chain
    const transfers = [{ from: 'a1', to: 'b1', block: 1 }, { from: 'b1', to: 'c1', block: 2 }, { from: 'c1', to: 'ff', block: 3 }, { from: 'a1', to: 'd1', block: 9 }, { from: 'd1', to: 'ff', block: 4 }, { from: 'e1', to: 'ff', block: 1 }]
    const full = graph(transfers, ['a1'])
    const unlimited = await searchExposure('downstream', hex('ff'), 4, [], full.io)
    expect(unlimited.complete).toBe(true)
    expect(unlimited.answer?.hops).toBe(3)
    // A budget of n addresses: load answers null once it would exceed it.
    const budgeted = (n: number) => {
      const g = graph(transfers, ['a1'])
      let left = n
      const io: SearchIo = { isSeed: g.io.isSeed, load: async (hexes) => (hexes.length > left ? null : ((left -= hexes.length), g.io.load(hexes))) }
      return searchExposure('downstream', hex('ff'), 4, [], io)
    }
    // ff, then its senders c1, d1, e1: the budget of 2 stops after ff.
    const stopped = await budgeted(2)
    expect(stopped).toMatchObject({ complete: false, answer: null })
    expect(stopped.expanded).toBe(1)
    // Enough for every ring: the same answer as without a budget.
    const enough = await budgeted(100)
    expect(enough.complete).toBe(true)
    expect(enough.answer?.hops).toBe(3)
    expect(enough.answer?.steps.map((s) => s.fromHex.replace(/^0+/, ''))).toEqual(['a1', 'b1', 'c1'])
  })
})
