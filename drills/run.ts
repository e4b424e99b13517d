/**
 * `npm run drills`: the operator's drills of issue 7 (and the sync drills of issue 13), each run
 * many times against real processes and a real redis-server, printed as a table — drill, runs,
 * answers equal to a clean run, time to recover — and written to bench/results/drills.json.
 *
 *   npm run drills                      every drill, DRILL_RUNS (default 20) times each
 *   npm run drills -- --runs 2          a short form (CI runs one through test/integration/drills.test.ts)
 *   npm run drills -- --only walk-sigkill,bad-values
 *
 * Exit status 1 when any run was not equal.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { badValuesDrill } from './bad-values.ts'
import { importDrill, twoImportsDrill } from './import.ts'
import { createWorld, type DrillResult, type World } from './lib.ts'
import { maxmemoryDrill, redisRestartDrill } from './redis.ts'
import { checksDuringWalkDrill, twoWalksDrill, walkDrill } from './walk.ts'
import { hostileDrill } from './hostile.ts'
import { runSyncDrill } from './sync.ts'

export interface DrillDefinition {
  name: string
  what: string
  run(world: World, runs: number): Promise<DrillResult>
  /** Already run by a test file of its own (test/integration/sync-drill.test.ts): the CI short form skips it here. */
  testedApart?: boolean
}

export const DRILLS: DrillDefinition[] = [
  { name: 'import-sigkill', what: 'SIGKILL at a random point of import (staging or commit)', run: (w, n) => importDrill(w, n, 'SIGKILL') },
  { name: 'import-sigint', what: 'SIGINT at a random point of import (staging or commit)', run: (w, n) => importDrill(w, n, 'SIGINT') },
  { name: 'walk-sigkill', what: 'SIGKILL of trace at a random point', run: (w, n) => walkDrill(w, n, 'SIGKILL') },
  { name: 'walk-sigint', what: 'SIGINT of trace at a random point', run: (w, n) => walkDrill(w, n, 'SIGINT') },
  { name: 'redis-restart-aof', what: 'Redis restarted mid-walk, AOF everysec (resumes)', run: (w, n) => redisRestartDrill(w, n, true) },
  { name: 'redis-restart-no-persistence', what: 'Redis restarted mid-walk, no persistence (detected)', run: (w, n) => redisRestartDrill(w, n, false) },
  { name: 'maxmemory-import', what: 'maxmemory reached mid-import (refused, store intact)', run: (w, n) => maxmemoryDrill(w, n) },
  { name: 'checks-during-walk', what: 'checks throughout a walk (old or new, never a mix)', run: (w, n) => checksDuringWalkDrill(w, n) },
  { name: 'two-imports', what: 'two imports at once', run: (w, n) => twoImportsDrill(w, n) },
  { name: 'two-walks', what: 'two walks at once', run: (w, n) => twoWalksDrill(w, n) },
  { name: 'bad-values', what: 'the bad-value catalogue (counted once each)', run: (w) => badValuesDrill(w) },
  { name: 'sync-sigkill', what: 'SIGKILL at a random point of sync (or at a commit failpoint)', run: (_w, n) => runSyncDrill({ runs: n, signal: 'SIGKILL' }), testedApart: true },
  { name: 'sync-sigint', what: 'SIGINT at a random point of sync', run: (_w, n) => runSyncDrill({ runs: n, signal: 'SIGINT' }), testedApart: true },
  { name: 'hostile-sources', what: 'hostile nodes and APIs (slow, truncating, HTML, other chain, bad parents, endless pages, rate limits)', run: (w) => hostileDrill(w) },
]

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(sorted.length / 2)]!
}

function seconds(ms: number): string {
  return Number.isNaN(ms) ? '-' : `${(ms / 1000).toFixed(1)} s`
}

export async function runDrills(options: { runs: number; only?: readonly string[]; log?: (line: string) => void }): Promise<{ name: string; what: string; result: DrillResult }[]> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const chosen = DRILLS.filter((d) => options.only === undefined || options.only.includes(d.name))
  const world = await createWorld()
  const out: { name: string; what: string; result: DrillResult }[] = []
  try {
    for (const drill of chosen) {
      log(`drill ${drill.name}: ${drill.what} …`)
      const result = await drill.run(world, options.runs)
      for (const failure of result.failures) log(`  not equal: ${failure}`)
      out.push({ name: drill.name, what: drill.what, result })
    }
  } finally {
    await world.close()
  }
  return out
}

const invokedDirectly = process.argv[1] !== undefined && /drills[\\/]run\.ts$/.test(process.argv[1])
if (invokedDirectly) {
  const args = process.argv.slice(2)
  const flag = (name: string) => {
    const i = args.indexOf(name)
    return i >= 0 ? args[i + 1] : undefined
  }
  const runs = Number(flag('--runs') ?? process.env.DRILL_RUNS ?? 20)
  const only = flag('--only')?.split(',')
  const results = await runDrills({ runs, ...(only ? { only } : {}) })
  const rows = results.map(({ name, what, result }) => [name, what, String(result.runs), `${result.equal}/${result.runs}`, `${seconds(median(result.recoverMs))} (max ${seconds(result.recoverMs.length === 0 ? Number.NaN : Math.max(...result.recoverMs))})`, result.notes ?? ''])
  const head = ['drill', 'fault', 'runs', 'answers equal to a clean run', 'time to recover (median, max)', 'outcomes']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  process.stdout.write(`${line(head)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n${rows.map(line).join('\n')}\n`)
  await mkdir(new URL('../bench/results/', import.meta.url), { recursive: true })
  await writeFile(new URL('../bench/results/drills.json', import.meta.url), `${JSON.stringify({ runs, at: new Date().toISOString(), drills: results }, null, 2)}\n`)
  process.exit(results.every((r) => r.result.equal === r.result.runs) ? 0 : 1)
}
