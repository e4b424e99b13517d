/**
 * Drills on imports: the CLI import killed (SIGKILL) or interrupted (SIGINT) at a random moment —
 * while reading and staging, or while committing — then what an operator does next: any command
 * (`status`) brings the import to an end (finished past its commit point, else discarded or left
 * for --resume), and the import is finished (`--resume`) or run again. The store must then be
 * byte for byte the clean import's, and the answers the clean run's.
 */
import { answers, cleanAnswers, cli, dropPrefix, graphSnapshot, importInto, putSeeds, randomBetween, sameAnswers, walkOptions, type DrillResult, type World } from './lib.ts'
import { createGraphStore } from '../src/store/graph-store.ts'
import { traceWalk } from '../src/walk/incremental.ts'

export async function importDrill(world: World, runs: number, signal: 'SIGKILL' | 'SIGINT'): Promise<DrillResult> {
  const reference = await cleanAnswers(world)
  const cleanPrefix = '{drill-import-clean}'
  await importInto(world, cleanPrefix)
  const cleanStore = await graphSnapshot(world.redis, cleanPrefix)
  await dropPrefix(world.redis, cleanPrefix)
  const result: DrillResult = { runs, equal: 0, recoverMs: [], failures: [] }
  const outcomes: Record<string, number> = {}
  for (let i = 0; i < runs; i++) {
    const prefix = `{drill-import-${signal}-${i}}`
    // Anywhere from start-up to the end of the commit.
    const killed = await cli(world, prefix, ['import', world.folder], { killAfterMs: randomBetween(300, world.importMs + 300), killWith: signal })
    const recovery = await cli(world, prefix, ['status', '--json'])
    result.recoverMs.push(recovery.ms)
    const state = await graphSnapshot(world.redis, prefix)
    const empty = state === 'meta=/'
    const whole = state === cleanStore
    let outcome = killed.code === 0 ? 'finished before the signal' : whole ? 'whole after recovery' : empty ? 'nothing' : 'PARTIAL'
    let why: string | null = null
    if (!empty && !whole) why = 'the store held part of the import after recovery'
    if (signal === 'SIGINT' && killed.code !== 0 && killed.code !== 130 && !(killed.code === null && killed.signal === 'SIGINT')) why = `SIGINT ended the import with status ${killed.code}`
    // Finish it as an operator would.
    if (why === null && !whole) {
      const resumable = /import --resume/.test(recovery.stderr)
      const finish = await cli(world, prefix, resumable ? ['import', '--resume'] : ['import', world.folder])
      outcome += resumable ? ', resumed' : ', run again'
      if (finish.code !== 0) why = `finishing the import failed: ${finish.stderr.trim().split('\n').pop()}`
      else if ((await graphSnapshot(world.redis, prefix)) !== cleanStore) why = 'the finished store differs from a clean import'
    }
    if (why === null) {
      const store = createGraphStore(world.redis, prefix)
      await putSeeds(world, store)
      await traceWalk(store, walkOptions(world.url))
      const differs = sameAnswers(await answers(world, prefix), reference)
      if (differs !== null) why = `answers differ: ${differs}`
    }
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
    if (why === null) result.equal++
    else result.failures.push(`run ${i} (${outcome}): ${why}`)
    await dropPrefix(world.redis, prefix)
  }
  result.notes = Object.entries(outcomes).map(([k, n]) => `${n} ${k}`).join('; ')
  return result
}

/** Two imports of different exports at once through the CLI: both succeed, the store is their union. */
export async function twoImportsDrill(world: World, runs: number): Promise<DrillResult> {
  const reference = await cleanAnswers(world, [world.folder, world.folder2])
  const result: DrillResult = { runs, equal: 0, recoverMs: [], failures: [] }
  for (let i = 0; i < runs; i++) {
    const prefix = `{drill-two-imports-${i}}`
    const started = Date.now()
    const [a, b] = await Promise.all([cli(world, prefix, ['import', world.folder]), cli(world, prefix, ['import', world.folder2])])
    result.recoverMs.push(Date.now() - started)
    let why: string | null = a.code !== 0 || b.code !== 0 ? `exit statuses ${a.code} and ${b.code}: ${(a.code !== 0 ? a : b).stderr.trim()}` : null
    if (why === null) {
      const store = createGraphStore(world.redis, prefix)
      await putSeeds(world, store)
      await traceWalk(store, walkOptions(world.url))
      const differs = sameAnswers(await answers(world, prefix), reference)
      if (differs !== null) why = `answers differ: ${differs}`
    }
    if (why === null) result.equal++
    else result.failures.push(`run ${i}: ${why}`)
    await dropPrefix(world.redis, prefix)
  }
  return result
}
