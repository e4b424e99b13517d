/**
 * The typed-array reference (test/support/reference-typed.ts) must answer exactly as the plain
 * reference (test/support/reference-walk.ts): the benchmark's "practical limit of one core" is only
 * a limit of the same problem.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DUST_FLOORS, USDT, generateEtl } from '../support/random-etl.ts'
import {
  DEFAULT_STOP_CATEGORIES,
  applyDust,
  countingTransfers,
  referenceHopsFromTransfers,
  stopNodes,
  type HopTransfer,
  type HopsPair,
} from '../support/reference-walk.ts'
import { buildTypedGraph, internTransfers, typedCounterparties, typedHops, typedHopsFromTransfers } from '../support/reference-typed.ts'

const a = (n: number): string => '0x' + n.toString(16).padStart(40, '0')

function expectSameHops(got: Map<string, HopsPair>, want: Map<string, HopsPair>, context: unknown): void {
  expect({ context, addresses: [...got.keys()].sort() }).toEqual({ context, addresses: [...want.keys()].sort() })
  for (const [address, hops] of want) expect({ context, address, hops: got.get(address) }).toEqual({ context, address, hops })
}

describe('typed-array reference walk', () => {
  it('answers a hand-made graph: order in time, equal positions, stop nodes, seeds that are stops', () => {
    const [S, A, B, C, E, D] = [1, 2, 3, 4, 5, 6].map(a) as [string, string, string, string, string, string]
    const t = (from: string, to: string, block: number, txIndex = 0): HopTransfer => ({ from, to, block, txIndex })
    const transfers = [
      t(A, B, 1), // out of A before funds arrived: does not extend S→A
      t(S, A, 2),
      t(A, C, 2), // same position: chains
      t(C, E, 3),
      t(E, D, 4), // E is a stop node: D not reached through it
      t(B, S, 5), // upstream: B → S
    ]
    const stop = new Set([E])
    const got = typedHopsFromTransfers(transfers, [S], stop, 4)
    expect(Object.fromEntries(got)).toEqual({
      [S]: { downstream: 0, upstream: 0 },
      [A]: { downstream: 1, upstream: 2 }, // A → B at 1, B → S at 5
      [B]: { downstream: null, upstream: 1 },
      [C]: { downstream: 2, upstream: null },
      [E]: { downstream: 3, upstream: null },
      [D]: { downstream: null, upstream: null },
    })
    expectSameHops(got, referenceHopsFromTransfers(transfers, [S], stop, 4), 'hand-made')
    // A seed that is a stop node still spreads.
    expectSameHops(typedHopsFromTransfers(transfers, [S, E], stop, 4), referenceHopsFromTransfers(transfers, [S, E], stop, 4), 'seed in stop set')
  })

  it('labels with more hops but an earlier arrival open paths the shorter label cannot', () => {
    const [S, A, B, C, D] = [1, 2, 3, 4, 5].map(a) as [string, string, string, string, string]
    const t = (from: string, to: string, block: number): HopTransfer => ({ from, to, block, txIndex: 0 })
    // S→C at 9 (1 hop, late); S→A→B→C by 3 (3 hops, early); C→D at 5 needs the early label.
    const transfers = [t(S, C, 9), t(S, A, 1), t(A, B, 2), t(B, C, 3), t(C, D, 5)]
    const got = typedHopsFromTransfers(transfers, [S], new Set(), 5)
    expect(got.get(C)).toEqual({ downstream: 1, upstream: null })
    expect(got.get(D)).toEqual({ downstream: 4, upstream: null })
    expectSameHops(got, referenceHopsFromTransfers(transfers, [S], new Set(), 5), 'early label')
    expect(typedHopsFromTransfers(transfers, [S], new Set(), 3).get(D)).toEqual({ downstream: null, upstream: null })
  })

  it('equals reference-walk.ts on generated etl exports: every trap, caps, dust, both directions', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.constantFrom(Infinity, 3, 4, 8),
        fc.constantFrom<Record<string, bigint> | undefined>(
          undefined,
          ...DUST_FLOORS.eth.map((f) => ({ ETH: f })),
          ...DUST_FLOORS.token.map((f) => ({ [USDT]: f })),
          { ETH: DUST_FLOORS.eth.at(-1)!, [USDT]: DUST_FLOORS.token.at(-1)! },
        ),
        fc.integer({ min: 0, max: 6 }),
        (seed, cap, dust, maxHops) => {
          const g = generateEtl(seed)
          const counted = countingTransfers(g, [g.listedToken])
          const stop = stopNodes(counted, g.labels, DEFAULT_STOP_CATEGORIES, cap)
          const kept = applyDust(counted, dust)
          expectSameHops(typedHopsFromTransfers(kept, g.seeds, stop, maxHops), referenceHopsFromTransfers(kept, g.seeds, stop, maxHops), { seed, cap, dust, maxHops })
        },
      ),
      { numRuns: 300, seed: 11 },
    )
  })

  it('equals reference-walk.ts on random multigraphs out of chain order, with hubs above the cap', () => {
    const graphArb = fc
      .record({ nodes: fc.integer({ min: 2, max: 40 }), edges: fc.integer({ min: 0, max: 250 }), blocks: fc.integer({ min: 1, max: 12 }) })
      .chain(({ nodes, edges, blocks }) =>
        fc.record({
          nodes: fc.constant(nodes),
          // Node 0 is a hub: a third of the transfers touch it.
          transfers: fc.array(
            fc.record({ from: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: nodes - 1 }), fc.integer({ min: 0, max: nodes - 1 })), to: fc.integer({ min: 0, max: nodes - 1 }), block: fc.integer({ min: 0, max: blocks }), txIndex: fc.integer({ min: 0, max: 2 }) }),
            { maxLength: edges },
          ),
          seeds: fc.uniqueArray(fc.integer({ min: 0, max: nodes - 1 }), { minLength: 1, maxLength: 3 }),
          labelled: fc.uniqueArray(fc.integer({ min: 0, max: nodes - 1 }), { maxLength: 4 }),
          cap: fc.constantFrom(Infinity, 2, 5, 10),
          maxHops: fc.integer({ min: 0, max: 7 }),
          flip: fc.boolean(),
        }),
      )
    fc.assert(
      fc.property(graphArb, ({ transfers, seeds, labelled, cap, maxHops, flip }) => {
        const hop: HopTransfer[] = transfers.map((t) => (flip ? { ...t, from: a(t.to), to: a(t.from) } : { ...t, from: a(t.from), to: a(t.to) }))
        const counted = hop.map((t) => ({ ...t, asset: 'ETH', amount: 1n, txHash: '0x', kind: 'tx' as const, order: [0] }))
        const labels = labelled.map((n) => ({ address: a(n), label: 'exchange', category: 'exchange' }))
        const stop = stopNodes(counted, labels, DEFAULT_STOP_CATEGORIES, cap)
        const seedAddresses = seeds.map(a)
        expectSameHops(typedHopsFromTransfers(hop, seedAddresses, stop, maxHops), referenceHopsFromTransfers(hop, seedAddresses, stop, maxHops), { cap, maxHops })
        // The counterparty count the benchmark uses for its stop set equals stopNodes' rule.
        const interned = internTransfers(hop)
        const counts = typedCounterparties(buildTypedGraph(interned.addresses.length, interned.from, interned.to, interned.pos))
        const byCap = new Set(interned.addresses.filter((_, i) => counts[i]! > cap))
        expect([...byCap].sort()).toEqual([...stopNodes(counted, [], [], cap)].sort())
      }),
      { numRuns: 500, seed: 12 },
    )
  })

  it('equals reference-walk.ts on larger power-law graphs with many equal positions and long label chains', () => {
    for (const seed of [1, 2, 3, 4]) {
      let state = seed
      const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32)
      const nodes = 1500
      const transfers: HopTransfer[] = []
      for (let i = 0; i < 15_000; i++) {
        const from = Math.floor(nodes * random() ** 2.5)
        const to = Math.floor(nodes * random() ** 2)
        // Few blocks and indexes: many transfers share a position, and the input is out of chain order.
        transfers.push({ from: a(from), to: a(to), block: Math.floor(random() * 60), txIndex: Math.floor(random() * 3) })
      }
      const seeds = [a(100), a(700), a(1400)]
      const counted = transfers.map((t) => ({ ...t, asset: 'ETH', amount: 1n, txHash: '0x', kind: 'tx' as const, order: [0] }))
      for (const cap of [Infinity, 40]) {
        const stop = stopNodes(counted, [], [], cap)
        for (const maxHops of [4, 12]) {
          const want = referenceHopsFromTransfers(transfers, seeds, stop, maxHops)
          expectSameHops(typedHopsFromTransfers(transfers, seeds, stop, maxHops), want, { seed, cap, maxHops })
          // Not a trivial agreement: both directions reach past the first hops.
          const deepest = Math.max(...[...want.values()].flatMap((p) => [p.downstream ?? 0, p.upstream ?? 0]))
          expect(deepest).toBeGreaterThanOrEqual(3)
        }
      }
    }
  })

  it('scans each edge at most once per direction', () => {
    const transfers: HopTransfer[] = []
    for (let i = 0; i < 2000; i++) transfers.push({ from: a(1 + (i % 37)), to: a(1 + ((i * 7 + 3) % 41)), block: 2000 - i, txIndex: 0 })
    const interned = internTransfers(transfers, [a(1)])
    const graph = buildTypedGraph(interned.addresses.length, interned.from, interned.to, interned.pos)
    const passable = new Uint8Array(graph.n).fill(1)
    for (const direction of ['downstream', 'upstream'] as const) {
      const run = typedHops(graph, [0], passable, 50, direction)
      expect(run.relaxations).toBeLessThanOrEqual(transfers.length)
    }
  })
})
