/**
 * Drills on Redis itself: restarted in the middle of a walk (with AOF, fsync every second: the walk
 * resumes and equals a clean one; without persistence: the loss is detected and the walk never
 * reported complete), and maxmemory reached in the middle of an import (refused before the commit
 * writes, the store intact; once memory is raised the import completes).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { isExposureError } from '../src/errors.ts'
import { importEtl } from '../src/sources/etl-import.ts'
import { DEFAULT_LISTED_TOKENS } from '../src/sources/assets.ts'
import { createGraphStore } from '../src/store/graph-store.ts'
import { freePort } from '../src/store/private-redis.ts'
import { createChecker } from '../src/walk/check.ts'
import { traceWalk } from '../src/walk/incremental.ts'
import { DEFAULT_RISK_POLICY } from '../src/walk/risk.ts'
import { cleanAnswers, cli, dropPrefix, graphSnapshot, randomBetween, sameAnswers, walkOptions, type DrillResult, type World } from './lib.ts'

/** A redis-server on a fixed port that can be restarted (SIGTERM: a clean shutdown, the AOF flushed). */
async function restartable(appendonly: boolean) {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'drill-redis-'))
  const url = `redis://127.0.0.1:${port}`
  let child: ChildProcess | null = null
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', appendonly ? 'yes' : 'no', '--appendfsync', 'everysec'], { stdio: 'ignore' })
    for (;;) {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      probe.on('error', () => undefined)
      const ok = await probe.connect().then(() => probe.ping()).then((p) => p === 'PONG', () => false)
      probe.disconnect()
      if (ok) return
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  const stop = async () => {
    const c = child
    child = null
    if (c === null || c.exitCode !== null) return
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve())
      c.kill('SIGTERM')
    })
  }
  await start()
  return { url, restart: async () => (await stop(), await start()), dispose: async () => (await stop(), await rm(dir, { recursive: true, force: true })) }
}

export async function redisRestartDrill(world: World, runs: number, appendonly: boolean): Promise<DrillResult> {
  const reference = appendonly ? await cleanAnswers(world) : new Map<string, string>()
  const result: DrillResult = { runs, equal: 0, recoverMs: [], failures: [] }
  const server = await restartable(appendonly)
  const redis = new Redis(server.url, { maxRetriesPerRequest: null })
  redis.on('error', () => undefined)
  try {
    for (let i = 0; i < runs; i++) {
      await redis.flushall()
      const store = createGraphStore(redis, '{drill-restart}')
      await importEtl(store, [world.folder], { listedTokens: DEFAULT_LISTED_TOKENS })
      await store.putSeeds(world.seeds.map((address) => ({ address, label: 'drill seed', source: 'drill' })))
      let expansions = 0
      let restartedAt = 0
      const at = randomBetween(2, 12)
      const outcome = await traceWalk(store, {
        ...walkOptions(server.url, { batchSize: 32 }),
        beforeExpand: async () => {
          if (++expansions === at) {
            restartedAt = Date.now()
            await server.restart()
          }
        },
      }).then((summary) => summary, (error: unknown) => error)
      const recovered = Date.now() - (restartedAt || Date.now())
      result.recoverMs.push(recovered)
      let why: string | null = null
      if (restartedAt === 0) why = `the walk ended before the restart (${expansions} expansions)`
      else if (appendonly) {
        if (isExposureError(outcome) || outcome instanceof Error) why = `the walk failed: ${(outcome as Error).message}`
        else {
          const results = await createChecker(store, DEFAULT_RISK_POLICY).check(world.sample)
          const differs = sameAnswers(new Map(results.map((r) => [r.address.toLowerCase(), JSON.stringify([r.risk, r.downstream, r.upstream])])), reference)
          if (differs !== null) why = `answers differ: ${differs}`
        }
      } else {
        // Without persistence the store is gone: the walk must fail and nothing may be published.
        if (!(isExposureError(outcome, 'STORE_VANISHED') || isExposureError(outcome, 'WALK_FAILED'))) why = `the walk over a vanished store ended ${outcome instanceof Error ? `with ${outcome.message}` : 'as complete'}`
        else if ((await redis.exists('{drill-restart}:walk:current')) === 1) why = 'a walk was published over the vanished store'
      }
      if (why === null) result.equal++
      else result.failures.push(`run ${i}: ${why}`)
    }
  } finally {
    redis.disconnect()
    await server.dispose()
  }
  result.notes = appendonly ? 'AOF everysec, clean restart: the walk resumes' : 'no persistence: the loss is detected, never "complete"'
  return result
}

/**
 * maxmemory set at a random level between the store's size and what the second import needs: the
 * import either fits and commits whole, or is refused (staging or commit) with the store intact;
 * then, memory raised, it completes.
 */
export async function maxmemoryDrill(world: World, runs: number): Promise<DrillResult> {
  const result: DrillResult = { runs, equal: 0, recoverMs: [], failures: [] }
  const outcomes: Record<string, number> = {}
  const both = '{drill-mem-both}'
  const bothStore = createGraphStore(world.redis, both)
  await importEtl(bothStore, [world.folder], { listedTokens: DEFAULT_LISTED_TOKENS })
  await importEtl(bothStore, [world.folder2], { listedTokens: DEFAULT_LISTED_TOKENS })
  const expected = await graphSnapshot(world.redis, both)
  await dropPrefix(world.redis, both)
  for (let i = 0; i < runs; i++) {
    const prefix = `{drill-mem-${i}}`
    await importEtl(createGraphStore(world.redis, prefix), [world.folder], { listedTokens: DEFAULT_LISTED_TOKENS })
    const before = await graphSnapshot(world.redis, prefix)
    const used = Number(/used_memory:(\d+)/.exec(await world.redis.info('memory'))![1])
    await world.redis.config('SET', 'maxmemory', String(used + randomBetween(200_000, 8_000_000)))
    const attempt = await cli(world, prefix, ['import', world.folder2])
    await world.redis.config('SET', 'maxmemory', '0')
    let why: string | null = null
    let outcome: string
    if (attempt.code === 0) outcome = 'fit'
    else if (/out of memory|not enough Redis memory/.test(attempt.stderr) && attempt.code === 1) outcome = /not enough Redis memory/.test(attempt.stderr) ? 'refused before the commit' : 'refused while staging'
    else {
      outcome = 'other'
      why = `exit ${attempt.code}: ${attempt.stderr.trim()}`
    }
    if (why === null && outcome !== 'fit' && (await graphSnapshot(world.redis, prefix)) !== before) why = 'the store changed although the import was refused'
    if (why === null && outcome !== 'fit') {
      const started = Date.now()
      const finish = /import --resume/.test(attempt.stderr) || /not enough Redis memory/.test(attempt.stderr) ? await cli(world, prefix, ['import', '--resume']) : await cli(world, prefix, ['import', world.folder2])
      result.recoverMs.push(Date.now() - started)
      if (finish.code !== 0) why = `finishing failed: ${finish.stderr.trim()}`
    }
    if (why === null && (await graphSnapshot(world.redis, prefix)) !== expected) why = 'the final store differs from both imports made cleanly'
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
    if (why === null) result.equal++
    else result.failures.push(`run ${i} (${outcome}): ${why}`)
    await dropPrefix(world.redis, prefix)
  }
  result.notes = Object.entries(outcomes).map(([k, n]) => `${n} ${k}`).join('; ')
  return result
}
