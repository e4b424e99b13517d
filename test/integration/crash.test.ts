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
import { bestLabel, parseLabels } from '../../src/walk/labels.ts'
import type { Address } from '../../src/types.ts'
import { generatePowerLawGraph, type PowerLawGraph } from '../../bench/power-law-graph.ts'
import { referenceHopsFromTransfers } from '../support/reference-walk.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'

/**
 * SIGKILL a separate `exposure worker` process in the middle of a walk, start another: the walk
 * completes, and every label (hops, cost and witness key) equals a clean run's, and the hops equal
 * the in-process reference.
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
  await importEtl(store, [dir], { listedTokens: ['0xdac17f958d2ee523a2206206994597c13d831ec7'] })
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
    const started = Date.now()
    worker.kill('SIGTERM')
    const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve) => worker.once('exit', (code, signal) => resolve({ code, signal })))
    expect(exit, stderr).toEqual({ code: 0, signal: null })
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(stderr).toContain('SIGTERM')
  })
})

describe('a worker killed with SIGKILL mid-walk', () => {
  it('changes nothing: labels equal a clean run and hops equal the reference', async () => {
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

    // And the hops are the reference's.
    const transfers = Array.from({ length: graph.transfers }, (_, i) => ({ from: graph.addresses[graph.from[i]!]!, to: graph.addresses[graph.to[i]!]!, block: graph.block[i]!, txIndex: graph.txIndex[i]! }))
    const degree = new Map<string, Set<string>>()
    for (const t of transfers) {
      if (t.from === t.to) continue
      ;(degree.get(t.from) ?? degree.set(t.from, new Set()).get(t.from)!).add(t.to)
      ;(degree.get(t.to) ?? degree.set(t.to, new Set()).get(t.to)!).add(t.from)
    }
    const stop = new Set([...degree].filter(([, s]) => s.size > 300).map(([a]) => a))
    const reference = referenceHopsFromTransfers(transfers, seeds, stop, 4)
    const differences: string[] = []
    for (const [address, hops] of reference) {
      for (const direction of ['downstream', 'upstream'] as const) {
        const text = crashed[direction]![address.slice(2)]
        const mine = text === undefined ? null : bestLabel(parseLabels(text))!.hops
        if (mine !== hops[direction]) differences.push(`${address} ${direction}: ${mine} vs ${hops[direction]}`)
      }
    }
    expect(differences).toEqual([])
  })
})
