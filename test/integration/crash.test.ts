import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { importEtl } from '../../src/sources/etl-import.ts'
import { publishedLabels } from '../../src/walk/walk-runs.ts'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import { runWalk, type WalkOptions } from '../../src/walk/run-walk.ts'
import { createChecker } from '../../src/walk/check.ts'
import { DEFAULT_RISK_POLICY } from '../../src/walk/risk.ts'
import type { Address, Direction } from '../../src/types.ts'
import { USDT, generatePowerLawGraph, type PowerLawGraph } from '../../bench/power-law-graph.ts'
import { prepareWitnessChecker, referenceExposure, type ReferenceOptions } from '../support/reference-walk.ts'
import { readEtlRows } from '../support/store-compare.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'

/**
 * SIGKILL a separate `exposure worker` process in the middle of a walk, start another: the walk
 * completes, every label (hops, cost and witness key) equals a clean run's, every answer (hops,
 * seed and witness path) equals the clean run's, the hops equal the in-process reference, and
 * every witness path is a real one (counting transfers, time-respecting, passable inner nodes,
 * from a seed, as long as its hops).
 */
const BIN = fileURLToPath(new URL('../../bin/exposure.mjs', import.meta.url))
let server: TestRedis
let redis: Redis
let dir: string
let graph: PowerLawGraph
const seeds: string[] = []

beforeAll(async () => {
  server = await startRedis()
  redis = await connectRedis(server.url)
  dir = await mkdtemp(join(tmpdir(), 'crash-'))
  graph = await generatePowerLawGraph(dir, { seed: 99, transfers: 40_000, addresses: 5_000 })
  for (let i = 50; seeds.length < 5; i += 37) seeds.push(graph.addresses[i]!)
})

afterAll(async () => {
  redis?.disconnect()
  await server?.stop()
  await rm(dir, { recursive: true, force: true })
})

function startWorker(prefix: string): ChildProcess {
  return spawn(process.execPath, [BIN, '--redis-url', server.url, '--prefix', prefix, 'worker', '--concurrency', '1', '--lock-duration', '1500'], { stdio: ['ignore', 'ignore', 'pipe'] })
}

async function prepareStore(prefix: string) {
  const store = createGraphStore(redis, prefix)
  await importEtl(store, [dir], { listedTokens: [USDT] })
  await store.putSeeds(seeds.map((a) => ({ address: a as Address, label: 'seed', source: 'crash test' })))
  return store
}

const walkOptions = (overrides: Partial<WalkOptions>): WalkOptions => ({
  redisUrl: '',
  directions: ['downstream', 'upstream'],
  maxHops: 4,
  batchSize: 2,
  stopCategories: [],
  counterpartyCap: 300,
  dust: {},
  workers: 0,
  concurrency: 1,
  idleTimeoutMs: 60_000,
  ...overrides,
})

async function allLabels(prefix: string): Promise<Record<string, Record<string, string>>> {
  const store = createGraphStore(redis, prefix)
  return {
    downstream: await publishedLabels(store, 'downstream'),
    upstream: await publishedLabels(store, 'upstream'),
  }
}

describe('exposure worker', () => {
  it('shuts down cleanly on SIGTERM (running jobs finish, exit status 0)', async () => {
    const worker = startWorker(testPrefix('term'))
    let stderr = ''
    worker.stderr!.on('data', (d) => (stderr += d))
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker not ready: ${stderr}`)), 20_000)
      worker.stderr!.on('data', () => {
        if (stderr.includes('walk worker ready')) {
          clearTimeout(timer)
          resolve()
        }
      })
    })
    worker.kill('SIGTERM')
    // No timing here (a loaded machine is slow, not wrong): the test's timeout guards a hang.
    const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve) => worker.once('exit', (code, signal) => resolve({ code, signal })))
    expect(exit, stderr).toEqual({ code: 0, signal: null })
    expect(stderr).toContain('SIGTERM')
  })
})

describe('a worker killed with SIGKILL mid-walk', () => {
  it('changes nothing: labels and answers (witness paths included) equal a clean run, hops the reference, every path valid', async () => {
    // Clean run, in process.
    const cleanPrefix = testPrefix('clean')
    const cleanStore = await prepareStore(cleanPrefix)
    await runWalk(cleanStore, walkOptions({ redisUrl: server.url, workers: 2, concurrency: 2, batchSize: 64 }))
    const clean = await allLabels(cleanPrefix)

    // Crash run: separate worker processes, the first killed once the walk is under way.
    const prefix = testPrefix('crash')
    const store = await prepareStore(prefix)
    const first = startWorker(prefix)
    let second: ChildProcess | null = null
    let killedAt = -1
    try {
      await runWalk(
        store,
        walkOptions({
          redisUrl: server.url,
          onProgress: (p) => {
            const labelled = p.labelled.downstream + p.labelled.upstream
            if (killedAt < 0 && labelled > 300 && p.frontier > 0) {
              killedAt = labelled
              first.kill('SIGKILL')
              second = startWorker(prefix)
            }
          },
        }),
      )
    } finally {
      first.kill('SIGKILL')
      ;(second as ChildProcess | null)?.kill('SIGTERM')
    }
    expect(killedAt).toBeGreaterThan(0)
    expect(first.signalCode).toBe('SIGKILL')
    const crashed = await allLabels(prefix)
    expect(Object.keys(crashed.downstream!).length).toBeGreaterThan(killedAt / 2)
    expect(crashed).toEqual(clean)

    // The answers, witness paths included, equal the clean run's; the hops are the reference's and
    // every path is a real one.
    const rows = await readEtlRows(dir)
    const options: ReferenceOptions = { maxHops: 4, listedTokens: [USDT], stopCategories: [], counterpartyCap: 300 }
    const reference = referenceExposure(rows, seeds, [], options)
    const witness = prepareWitnessChecker(rows, seeds, [], options)
    const addresses = [...reference.keys()] as Address[]
    expect(addresses.length).toBeGreaterThan(4000)
    const [crashedAnswers, cleanAnswers] = await Promise.all([prefix, cleanPrefix].map((p) => createChecker(createGraphStore(redis, p), DEFAULT_RISK_POLICY).check(addresses)))
    const problems: string[] = []
    let paths = 0
    crashedAnswers!.forEach((answer, i) => {
      const address = addresses[i]!
      const want = reference.get(address)!
      for (const direction of ['downstream', 'upstream'] as Direction[]) {
        const got = answer[direction]
        if ((got?.hops ?? null) !== want[direction]) problems.push(`${address} ${direction}: hops ${got?.hops ?? null}, reference ${want[direction]}`)
        if (got === null) continue
        if (got.path.length > 0) paths++
        const why = witness(got.path, direction, address, got.hops)
        if (why !== null) problems.push(`${address} ${direction} witness: ${why}`)
        const seedEnd = direction === 'downstream' ? got.path[0]?.from : got.path.at(-1)?.to
        if ((seedEnd ?? address).toLowerCase() !== got.seed.toLowerCase()) problems.push(`${address} ${direction}: the path ends at ${seedEnd}, not at its seed ${got.seed}`)
      }
    })
    expect(problems.slice(0, 20)).toEqual([])
    expect(paths).toBeGreaterThan(killedAt / 2)
    // Everything but which walk and which store answered (each store has its own ids and times).
    const essence = (answers: typeof crashedAnswers) => answers!.map(({ walk: _walk, versions, ...rest }) => ({ ...rest, versions: { ...versions, storeId: undefined } }))
    expect(essence(crashedAnswers)).toEqual(essence(cleanAnswers))
  })
})
