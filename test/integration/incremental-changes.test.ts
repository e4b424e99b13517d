import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { importEtl } from '../../src/sources/etl-import.ts'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { traceWalk, type TraceOptions } from '../../src/walk/incremental.ts'
import type { Address } from '../../src/types.ts'
import type { EtlRows } from '../support/etl-rows.ts'
import { dropPrefix, useRedisAndTempDir, writeEtlFolder } from '../support/harness.ts'
import { generateEtl } from '../support/random-etl.ts'
import { testPrefix } from '../support/redis-server.ts'
import { walkLabelsSnapshot } from '../support/store-compare.ts'

/**
 * Incremental walks follow every kind of change (issue 9): after any sequence of new transfers
 * (later blocks imported), stop labels added (an address becomes an exchange) or changed away
 * (it stops being one), and seeds added or removed, the incremental walk's labels — hops, cost and
 * witness key, both directions — equal a clean walk's on the same store, label for label.
 */
const harness = useRedisAndTempDir('incremental-changes')

type Change = { kind: 'import' } | { kind: 'stop'; pick: number } | { kind: 'unstop'; pick: number } | { kind: 'add-seed'; pick: number } | { kind: 'remove-seed'; pick: number }

/** The rows of blocks in [from, to). */
function blocks(etl: EtlRows, from: number, to: number): EtlRows {
  const inRange = (b: string) => Number(b) >= from && Number(b) < to
  return {
    transactions: etl.transactions.filter((t) => inRange(t.block_number)),
    traces: etl.traces.filter((t) => inRange(t.block_number)),
    tokenTransfers: etl.tokenTransfers.filter((t) => inRange(t.block_number)),
  }
}

async function run(graphSeed: number, counterpartyCap: number, changes: readonly Change[]): Promise<number> {
  const etl = generateEtl(graphSeed)
  const listed = [etl.listedToken as Address]
  const allBlocks = [...new Set(etl.transactions.map((t) => Number(t.block_number)))].sort((a, b) => a - b)
  const imports = changes.filter((c) => c.kind === 'import').length
  // The chain in (imports + 1) slices of blocks: the first now, one more per 'import' change.
  const cuts = Array.from({ length: imports + 2 }, (_, i) => allBlocks[Math.floor((i * allBlocks.length) / (imports + 1))] ?? Number.MAX_SAFE_INTEGER)
  cuts[cuts.length - 1] = Number.MAX_SAFE_INTEGER
  const prefix = testPrefix('inc')
  const store = createGraphStore(harness.redis, prefix)
  const importSlice = async (i: number) => importEtl(store, [await writeEtlFolder(harness.dir, `s${graphSeed}-${i}`, blocks(etl, cuts[i]!, cuts[i + 1]!))], { listedTokens: listed })
  let slice = 0
  await importSlice(slice++)
  const addresses = [...new Set(etl.transactions.flatMap((t) => [t.from_address, t.to_address]).filter((a) => a !== ''))].sort() as Address[]
  let seeds = etl.seeds.map((s) => s.toLowerCase() as Address)
  const setSeeds = async () => {
    await store.redis.del(store.keys.seeds)
    await store.putSeeds(seeds.map((address) => ({ address, label: 'seed', source: 'test' })))
  }
  await setSeeds()
  await store.putLabels(etl.labels.map((l) => ({ address: l.address as Address, label: l.label, category: l.category })))
  const options: TraceOptions = { redisUrl: harness.server.url, directions: ['downstream', 'upstream'], maxHops: 3, batchSize: 8, stopCategories: ['exchange', 'dex', 'bridge', 'mixer', 'service'], counterpartyCap, dust: {}, workers: 1, concurrency: 2 }
  await traceWalk(store, options)
  let incremental = 0
  for (const change of changes) {
    if (change.kind === 'import') await importSlice(slice++)
    else if (change.kind === 'stop') await store.putLabels([{ address: addresses[change.pick % addresses.length]!, label: 'Some Exchange', category: 'exchange' }])
    else if (change.kind === 'unstop') {
      const labelled = [...etl.labels.map((l) => l.address.toLowerCase()), ...addresses]
      await store.putLabels([{ address: labelled[change.pick % labelled.length]! as Address, label: 'no longer a service', category: 'other' }])
    } else if (change.kind === 'add-seed') seeds = [...new Set([...seeds, addresses[change.pick % addresses.length]!])]
    else if (seeds.length > 1) seeds = seeds.filter((_, i) => i !== change.pick % seeds.length)
    if (change.kind === 'add-seed' || change.kind === 'remove-seed') await setSeeds()
    const summary = await traceWalk(store, options, { incremental: true })
    expect(summary.mode, summary.reason).toBe('incremental')
    incremental++
    const afterIncremental = await walkLabelsSnapshot(store)
    await traceWalk(store, options)
    const clean = await walkLabelsSnapshot(store)
    expect(afterIncremental, `after ${change.kind}`).toEqual(clean)
  }
  await dropPrefix(harness.redis, prefix)
  return incremental
}

describe('incremental walks after new transfers, label changes and seed changes equal clean walks, label for label', () => {
  it('on random temporal graphs with random sequences of changes', async () => {
    let walks = 0
    const change = fc.oneof(
      fc.constant({ kind: 'import' as const }),
      fc.record({ kind: fc.constant('stop' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('unstop' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('add-seed' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('remove-seed' as const), pick: fc.nat() }),
    )
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom(4, 10, 1_000), fc.array(change, { minLength: 2, maxLength: 5 }), async (graphSeed, cap, changes) => {
        walks += await run(graphSeed, cap, changes)
      }),
      { numRuns: 25, seed: 909 },
    )
    expect(walks).toBeGreaterThan(50)
  }, 900_000)
})
