/**
 * What every drill needs: a private redis-server, a generated etl export with seeds, a clean run
 * to compare with, the real CLI as an operator runs it (with kills at random moments), and the
 * answers of a store in a comparable form.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { importEtl } from '../src/sources/etl-import.ts'
import { createGraphStore, type GraphStore } from '../src/store/graph-store.ts'
import { storeKeys } from '../src/store/keys.ts'
import { storeGlobs } from '../src/store/partitions.ts'
import { startPrivateRedis, type PrivateRedis } from '../src/store/private-redis.ts'
import { createChecker } from '../src/walk/check.ts'
import { traceWalk, type TraceOptions } from '../src/walk/incremental.ts'
import { DEFAULT_RISK_POLICY } from '../src/walk/risk.ts'
import { DEFAULT_STOP_CATEGORIES } from '../src/config.ts'
import { DEFAULT_LISTED_TOKENS } from '../src/sources/assets.ts'
import type { Address } from '../src/types.ts'
import { generatePowerLawGraph, prng } from '../bench/power-law-graph.ts'

export const BIN = fileURLToPath(new URL('../bin/exposure.mjs', import.meta.url))

export interface DrillResult {
  /** Runs made. */
  runs: number
  /** Runs whose end state equals the clean run's (answers, and the store where the drill compares it). */
  equal: number
  /** Time from the fault to a correct store, per run (ms): the recovering command's duration. */
  recoverMs: number[]
  /** One line per run that was not equal, saying why. */
  failures: string[]
  /** Anything else worth printing (counts of outcomes). */
  notes?: string
}

export interface World {
  server: PrivateRedis
  redis: Redis
  url: string
  dir: string
  /** An etl export folder. */
  folder: string
  /** A second, disjoint export (for "two imports at once"). */
  folder2: string
  seedsFile: string
  seeds: Address[]
  /** Addresses whose answers are compared. */
  sample: Address[]
  /** How long the clean import and walk took (ms): kills are timed inside these. */
  importMs: number
  walkMs: number
  close(): Promise<void>
}

export interface WorldOptions {
  transfers?: number
  addresses?: number
  seed?: number
}

/** A private Redis and two generated exports; the seeds are the most active senders of the first. */
export async function createWorld(options: WorldOptions = {}): Promise<World> {
  const transfers = options.transfers ?? 30_000
  const addresses = options.addresses ?? 6_000
  const seed = options.seed ?? 7
  const dir = await mkdtemp(join(tmpdir(), 'exposure-drill-'))
  const graph = await generatePowerLawGraph(join(dir, 'a'), { seed, transfers, addresses })
  await generatePowerLawGraph(join(dir, 'b'), { seed: seed + 1, transfers: Math.floor(transfers / 3), addresses })
  const random = prng(seed)
  const seeds = [...new Set(Array.from({ length: 12 }, () => graph.addresses[Math.floor(random() * Math.min(200, graph.addresses.length))]!))] as Address[]
  const seedsFile = join(dir, 'seeds.csv')
  await writeFile(seedsFile, `address,label,source\n${seeds.map((s) => `${s},drill seed,drill`).join('\n')}\n`)
  const sample = [...new Set(Array.from({ length: 300 }, () => graph.addresses[Math.floor(random() * graph.addresses.length)]!))] as Address[]
  const server = await startPrivateRedis()
  const redis = new Redis(server.url, { maxRetriesPerRequest: null })
  redis.on('error', () => undefined)
  const world: World = {
    server,
    redis,
    url: server.url,
    dir,
    folder: join(dir, 'a'),
    folder2: join(dir, 'b'),
    seedsFile,
    seeds,
    sample: [...seeds, ...sample],
    importMs: 0,
    walkMs: 0,
    close: async () => {
      redis.disconnect()
      await server.stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
  // Time a clean import and walk through the CLI: kills land inside these windows.
  const prefix = '{drill-timing}'
  world.importMs = (await cli(world, prefix, ['import', world.folder])).ms
  await cli(world, prefix, ['seeds', 'import', '--no-walk', seedsFile])
  world.walkMs = (await cli(world, prefix, ['trace'])).ms
  await dropPrefix(redis, prefix)
  return world
}

export interface CliRun {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  ms: number
}

/** Runs the CLI; with `killAfterMs`, sends `killWith` then (SIGINT: the process may finish cleanly). */
export function cli(world: Pick<World, 'url'>, prefix: string, args: readonly string[], options: { env?: Record<string, string>; killAfterMs?: number; killWith?: NodeJS.Signals; stdin?: string } = {}): Promise<CliRun> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, '--redis-url', world.url, '--prefix', prefix, ...args], {
      // No dust floors: the in-process reference walks (walkOptions) use none either.
      env: { ...process.env, REDIS_URL: undefined, EXPOSURE_PREFIX: undefined, EXPOSURE_FAILPOINT: undefined, EXPOSURE_DUST: 'none', ...options.env } as NodeJS.ProcessEnv,
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d) => (stdout += d))
    child.stderr!.on('data', (d) => (stderr += d))
    if (options.stdin !== undefined) child.stdin!.end(options.stdin)
    const timer = options.killAfterMs === undefined ? null : setTimeout(() => child.kill(options.killWith ?? 'SIGKILL'), options.killAfterMs)
    child.once('error', reject)
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started })
    })
  })
}

export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  for (const glob of storeGlobs(prefix)) {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', glob, 'COUNT', 5000)
      cursor = next
      if (keys.length > 0) await redis.unlink(...keys)
    } while (cursor !== '0')
  }
}

export function walkOptions(url: string, overrides: Partial<TraceOptions> = {}): TraceOptions {
  return { redisUrl: url, directions: ['downstream', 'upstream'], maxHops: 4, batchSize: 64, stopCategories: DEFAULT_STOP_CATEGORIES, counterpartyCap: 1_000, dust: {}, workers: 2, concurrency: 2, ...overrides }
}

/** In process (fast): import a folder into a prefix. */
export async function importInto(world: World, prefix: string, folder = world.folder): Promise<GraphStore> {
  const store = createGraphStore(world.redis, prefix)
  await importEtl(store, [folder], { listedTokens: DEFAULT_LISTED_TOKENS })
  return store
}

export async function putSeeds(world: World, store: GraphStore): Promise<void> {
  await store.putSeeds(world.seeds.map((address) => ({ address, label: 'drill seed', source: 'drill' })))
}

/** The answers for the sample, as comparable strings (risk, both directions' hops, seed and witness path). */
export async function answers(world: World, prefix: string): Promise<Map<string, string>> {
  const store = createGraphStore(world.redis, prefix)
  const results = await createChecker(store, DEFAULT_RISK_POLICY).check(world.sample)
  return new Map(results.map((r) => [r.address.toLowerCase(), JSON.stringify([r.risk, r.downstream, r.upstream])]))
}

/** Import + seeds + walk, in process, into a fresh prefix: the reference answers. */
export async function cleanAnswers(world: World, folders: readonly string[] = [world.folder]): Promise<Map<string, string>> {
  const prefix = `{drill-clean-${Math.random().toString(36).slice(2, 8)}}`
  const store = createGraphStore(world.redis, prefix)
  for (const folder of folders) await importEtl(store, [folder], { listedTokens: DEFAULT_LISTED_TOKENS })
  await putSeeds(world, store)
  await traceWalk(store, walkOptions(world.url))
  const result = await answers(world, prefix)
  await dropPrefix(world.redis, prefix)
  return result
}

/** The graph part of a store: node strings, tx maps, waiting tokens, counters. */
export async function graphSnapshot(redis: Redis, prefix: string): Promise<string> {
  const parts: string[] = []
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', storeKeys(prefix).nodePattern, 'COUNT', 5000)
    cursor = next
    if (keys.length > 0) {
      const values = await redis.mgetBuffer(...keys)
      keys.forEach((k, i) => parts.push(`${k.slice(k.indexOf(':n:'))}=${values[i]?.toString('hex') ?? ''}`))
    }
  } while (cursor !== '0')
  parts.sort()
  parts.push(`meta=${(await redis.hmget(`${prefix}:meta`, 'transfers', 'addresses')).join('/')}`)
  return parts.join('\n')
}

export function sameAnswers(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): string | null {
  for (const [address, answer] of a) if (b.get(address) !== answer) return `${address}: ${answer} != ${b.get(address)}`
  return a.size === b.size ? null : `${a.size} answers != ${b.size}`
}

export function randomBetween(low: number, high: number): number {
  return Math.round(low + Math.random() * Math.max(0, high - low))
}

export const SAMPLE_CHECK = (world: World) => world.sample
export { DEFAULT_RISK_POLICY }
