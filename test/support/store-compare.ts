/**
 * Helpers to compare two graph stores and to judge a walk with the in-process reference.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse } from 'csv-parse/sync'
import type { Redis } from 'ioredis'
import type { GraphStore } from '../../src/store/graph-store.ts'
import { storeKeys } from '../../src/store/keys.ts'
import { publishedLabels } from '../../src/walk/walk-runs.ts'
import { createChecker } from '../../src/walk/check.ts'
import { DEFAULT_RISK_POLICY } from '../../src/walk/risk.ts'
import { runWalk, type WalkOptions } from '../../src/walk/run-walk.ts'
import type { Address, Direction } from '../../src/types.ts'
import { TOKEN_COLUMNS, TRACE_COLUMNS, TX_COLUMNS, type EtlRows } from './etl-rows.ts'
import { DEFAULT_STOP_CATEGORIES, prepareWitnessChecker, referenceExposure, type RefLabel } from './reference-walk.ts'

/** Every adjacency key of a store (name without its partition tag: `:n:<hex40>`) → its bytes as hex. */
export async function adjacencySnapshot(redis: Redis, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', storeKeys(prefix).nodePattern, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) {
      const values = await redis.mgetBuffer(...keys)
      keys.forEach((k, i) => out.set(k.slice(k.indexOf(':n:')), values[i]?.toString('hex') ?? ''))
    }
  } while (cursor !== '0')
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)))
}

/**
 * Both directions' walk labels of a store: address hex40 → "h,c,key;…", every non-dominated label
 * with its hops, cost and witness key (predecessor and record index), exactly as stored.
 */
export async function walkLabelsSnapshot(store: GraphStore): Promise<Record<Direction, Record<string, string>>> {
  const [downstream, upstream] = await Promise.all((['downstream', 'upstream'] as const).map((d) => publishedLabels(store, d)))
  return { downstream: downstream!, upstream: upstream! }
}

/** The rows of an etl export folder, projected on the columns the reference reads (a missing file: no rows). */
export async function readEtlRows(dir: string): Promise<EtlRows> {
  const load = async <C extends string>(name: string, columns: readonly C[]) => {
    const text = await readFile(join(dir, name), 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return ''
      throw error
    })
    const records = parse(text, { columns: true, skip_empty_lines: true }) as Record<string, string>[]
    return records.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] ?? ''])) as { [K in C]: string })
  }
  return {
    transactions: await load('transactions.csv', TX_COLUMNS),
    traces: await load('traces.csv', TRACE_COLUMNS),
    tokenTransfers: await load('token_transfers.csv', TOKEN_COLUMNS),
  }
}

export interface WalkJudgement {
  problems: string[]
  /** Addresses with downstream / upstream hops (to check the scenario is not trivial). */
  reached: { downstream: number; upstream: number }
  /** address → [downstream, upstream] hops from the walk. */
  hops: Map<string, [number | null, number | null]>
}

/** Runs the queue walk on `store` and compares every answer and witness with the reference over `rows`. */
export async function judgeWalk(
  store: GraphStore,
  redisUrl: string,
  rows: EtlRows,
  seeds: readonly string[],
  labels: readonly RefLabel[],
  listedTokens: readonly string[],
  maxHops = 4,
  extra: Partial<WalkOptions> = {},
): Promise<WalkJudgement> {
  await store.putSeeds(seeds.map((a) => ({ address: a as Address, label: 'seed', source: 'test' })))
  await store.putLabels(labels.map((l) => ({ address: l.address as Address, label: l.label, category: l.category })))
  await runWalk(store, {
    redisUrl,
    directions: ['downstream', 'upstream'],
    maxHops,
    batchSize: 16,
    stopCategories: DEFAULT_STOP_CATEGORIES,
    counterpartyCap: 1_000_000,
    dust: {},
    workers: 2,
    concurrency: 2,
    ...extra,
  })
  const options = { maxHops, listedTokens, counterpartyCap: 1_000_000 }
  const expected = referenceExposure(rows, seeds, labels, options)
  const witness = prepareWitnessChecker(rows, seeds, labels, options)
  const addresses = [...expected.keys()] as Address[]
  const results = await createChecker(store, DEFAULT_RISK_POLICY).check(addresses)
  const problems: string[] = []
  const reached = { downstream: 0, upstream: 0 }
  const hops = new Map<string, [number | null, number | null]>()
  results.forEach((r, i) => {
    const address = addresses[i]!
    const want = expected.get(address)!
    hops.set(address, [r.downstream?.hops ?? null, r.upstream?.hops ?? null])
    for (const direction of ['downstream', 'upstream'] as Direction[]) {
      const got = r[direction]
      if (got) reached[direction]++
      if ((got?.hops ?? null) !== want[direction]) problems.push(`${address} ${direction}: walk ${got?.hops ?? null}, reference ${want[direction]}`)
      if (got) {
        const why = witness(got.path, direction, address, got.hops)
        if (why !== null) problems.push(`${address} ${direction} witness: ${why}`)
      }
    }
  })
  return { problems, reached, hops }
}
