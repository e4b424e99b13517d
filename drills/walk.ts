/**
 * Drills on walks: `exposure trace` killed or interrupted at a random moment, then run again (the
 * answers must equal a clean walk's, and the next trace must start at once); two traces at once;
 * checks running throughout a walk (every answer is the published walk's or the new one's, never
 * a mix).
 */
import { createHash } from 'node:crypto'
import { createGraphStore } from '../src/store/graph-store.ts'
import { createChecker, type CheckResult } from '../src/walk/check.ts'
import { traceWalk } from '../src/walk/incremental.ts'
import { DEFAULT_RISK_POLICY } from '../src/walk/risk.ts'
import { answers, cleanAnswers, cli, dropPrefix, importInto, putSeeds, randomBetween, sameAnswers, walkOptions, type DrillResult, type World } from './lib.ts'

export async function walkDrill(world: World, runs: number, signal: 'SIGKILL' | 'SIGINT'): Promise<DrillResult> {
  const reference = await cleanAnswers(world)
  const result: DrillResult = { runs, equal: 0, recoverMs: [], failures: [] }
  const outcomes: Record<string, number> = {}
  const prefix = `{drill-walk-${signal}}`
  const store = await importInto(world, prefix)
  await putSeeds(world, store)
  for (let i = 0; i < runs; i++) {
    const killed = await cli(world, prefix, ['trace'], { killAfterMs: randomBetween(300, world.walkMs + 300), killWith: signal })
    let why: string | null = null
    if (signal === 'SIGINT' && killed.code !== 0 && killed.code !== 130 && !(killed.code === null && killed.signal === 'SIGINT')) why = `SIGINT ended the trace with status ${killed.code}: ${killed.stderr.trim()}`
    outcomes[killed.code === 0 ? 'finished before the signal' : 'stopped'] = (outcomes[killed.code === 0 ? 'finished before the signal' : 'stopped'] ?? 0) + 1
    const again = await cli(world, prefix, ['trace'])
    result.recoverMs.push(again.ms)
    if (why === null && again.code !== 0) why = `the next trace failed: ${again.stderr.trim().split('\n').pop()}`
    if (why === null) {
      const differs = sameAnswers(await answers(world, prefix), reference)
      if (differs !== null) why = `answers differ: ${differs}`
    }
    if (why === null) result.equal++
    else result.failures.push(`run ${i}: ${why}`)
  }
  await dropPrefix(world.redis, prefix)
  result.notes = Object.entries(outcomes).map(([k, n]) => `${n} ${k}`).join('; ')
  return result
}

/** Two `exposure trace` at once: one walks, the other is refused naming the first (or runs after it); answers as a clean walk. */
export async function twoWalksDrill(world: World, runs: number): Promise<DrillResult> {
  const reference = await cleanAnswers(world)
  const result: DrillResult = { runs, equal: 0, recoverMs: [], failures: [] }
  const prefix = '{drill-two-walks}'
  const store = await importInto(world, prefix)
  await putSeeds(world, store)
  let refused = 0
  for (let i = 0; i < runs; i++) {
    const started = Date.now()
    const [a, b] = await Promise.all([cli(world, prefix, ['trace']), cli(world, prefix, ['trace'])])
    result.recoverMs.push(Date.now() - started)
    const busy = [a, b].filter((r) => r.code === 1 && /a walk on store .* is busy/.test(r.stderr)).length
    refused += busy
    let why: string | null = null
    if ([a, b].some((r) => r.code !== 0 && !(r.code === 1 && /is busy/.test(r.stderr)))) why = `unexpected exit: ${a.code}/${b.code} ${a.stderr.trim()} ${b.stderr.trim()}`
    else if (a.code !== 0 && b.code !== 0) why = 'both traces were refused'
    if (why === null) {
      const differs = sameAnswers(await answers(world, prefix), reference)
      if (differs !== null) why = `answers differ: ${differs}`
    }
    if (why === null) result.equal++
    else result.failures.push(`run ${i}: ${why}`)
  }
  await dropPrefix(world.redis, prefix)
  result.notes = `${refused} of ${runs * 2} traces refused as busy, naming the running one`
  return result
}

/** Checks throughout a walk whose answers differ from the published one's: never a mix, never a partial answer. */
export async function checksDuringWalkDrill(world: World, runs: number): Promise<DrillResult> {
  const result: DrillResult = { runs, equal: 0, recoverMs: [], failures: [] }
  const prefix = '{drill-checks}'
  const store = await importInto(world, prefix)
  const checker = createChecker(createGraphStore(world.redis, prefix), DEFAULT_RISK_POLICY)
  const key = (r: CheckResult) => JSON.stringify([r.risk, r.downstream, r.upstream])
  let answered = 0
  await putSeeds(world, store)
  await traceWalk(store, walkOptions(world.url))
  for (let i = 0; i < runs; i++) {
    // Alternate between few and all seeds: every walk changes many answers.
    const seeds = i % 2 === 0 ? world.seeds.slice(0, 2) : world.seeds
    await store.redis.del(store.keys.seeds)
    await store.putSeeds(seeds.map((address) => ({ address, label: 'drill seed', source: 'drill' })))
    const digest = (r: CheckResult) => createHash('sha1').update(key(r)).digest('base64')
    const before = new Map((await checker.check(world.sample)).map((r) => [r.address, { runId: r.walk?.runId, digest: digest(r) }]))
    let done = false
    // Only what is compared is kept (a walk can take a while; answers with paths are large).
    const seen: { address: string; runId: string | undefined; digest: string }[] = []
    const started = Date.now()
    const walking = traceWalk(store, walkOptions(world.url, { batchSize: 16 })).finally(() => (done = true))
    while (!done) for (const r of await checker.check(world.sample)) seen.push({ address: r.address, runId: r.walk?.runId, digest: digest(r) })
    const walk = await walking
    result.recoverMs.push(Date.now() - started)
    const after = new Map((await checker.check(world.sample)).map((r) => [r.address, { runId: r.walk?.runId, digest: digest(r) }]))
    answered += seen.length
    const mixed = seen.filter((r) => {
      const expected = r.runId === walk.runId ? after.get(r.address) : before.get(r.address)
      return expected === undefined || r.runId !== expected.runId || r.digest !== expected.digest
    })
    if (mixed.length === 0) result.equal++
    else result.failures.push(`run ${i}: ${mixed.length} of ${seen.length} answers matched neither walk (e.g. ${mixed[0]!.address})`)
  }
  await dropPrefix(world.redis, prefix)
  result.notes = `${answered} answers read while walks ran`
  return result
}
