/**
 * Drill on the block sync: `exposure sync` (the real CLI, in-process ingest workers) against a
 * real anvil is killed (SIGKILL: a crash, the OOM killer; sometimes at a commit failpoint) or
 * interrupted (SIGINT: Ctrl-C) at a random moment while it writes, then synced again as an
 * operator would. The store must then equal a clean full sync byte for byte (every address's
 * node), hold exactly the asked range as its coverage, and keep no unfinished import and no lock.
 *
 * Self-contained: it starts its own redis-server and anvil, builds a chain of real transactions,
 * and stops them at the end. `runs` kills per call (20 when asked, 1-2 in tests).
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { readCoverage, syncKeys } from '../src/sources/rpc/ingest.ts'
import { startPrivateRedis } from '../src/store/private-redis.ts'
import { startAnvil } from '../test/support/anvil.ts'
import { buildRandomChain, prng } from '../test/support/chain.ts'
import { adjacencySnapshot } from '../test/support/store-compare.ts'
import { dropPrefix } from './lib.ts'

const BIN = fileURLToPath(new URL('../bin/exposure.mjs', import.meta.url))

export interface SyncDrillOptions {
  runs: number
  signal: 'SIGKILL' | 'SIGINT'
  /** Seed of the chain and of the kill moments. Default 13. */
  seed?: number
  /** Blocks of transactions in the chain. Default 40. */
  blocks?: number
  /** One line per run (progress for a long drill). */
  log?: (line: string) => void
}

export interface SyncDrillResult {
  runs: number
  /** Runs whose store, after the resumed sync, equals the clean sync's. */
  equal: number
  /** Per run: how long the resumed sync took (ms), from its start to a correct store. */
  recoverMs: number[]
  /** One line per run that was not equal, saying why. */
  failures: string[]
  /** Counts of outcomes (killed while writing, finished before the signal, at which failpoint). */
  notes: string
}

interface CliRun {
  code: number | null
  signal: NodeJS.Signals | null
  stderr: string
  ms: number
}

/** Failpoints a SIGKILL run may use instead of a random moment: the process dies exactly there. */
const FAILPOINTS = ['commit:prepared', 'commit:point', 'commit:half-applied'] as const

export async function runSyncDrill(options: SyncDrillOptions): Promise<SyncDrillResult> {
  const seed = options.seed ?? 13
  const random = prng(seed * 7919 + (options.signal === 'SIGINT' ? 1 : 0))
  const [server, anvil] = await Promise.all([startPrivateRedis(), startAnvil({ args: ['--auto-impersonate'] })])
  const redis = new Redis(server.url, { maxRetriesPerRequest: null })
  redis.on('error', () => undefined)
  try {
    const chain = await buildRandomChain(anvil.url, { seed, blocks: options.blocks ?? 40, txPerBlock: 8 })
    const env = { REDIS_URL: server.url, RPC_URL: anvil.url, EXPOSURE_ASSETS: chain.contracts.token }
    const args = ['sync', '--from-block', '0', '--to-block', String(chain.lastBlock), '--confirmations', '0', '--range', '3', '--workers', '2']

    // The clean run, through the same CLI: what every resumed store must equal, and how long writing takes.
    const cleanPrefix = '{drill-sync-clean}'
    let cleanStartedWriting = 0
    const clean = await cli([...args], { ...env, EXPOSURE_PREFIX: cleanPrefix }, {
      onStart: async (startedAt) => {
        cleanStartedWriting = (await waitForKey(redis, syncKeys(cleanPrefix).caps, 120_000)) - startedAt
      },
    })
    if (clean.code !== 0) throw new Error(`the clean sync failed (${clean.code}): ${clean.stderr}`)
    const reference = await storeState(redis, cleanPrefix)
    const writingMs = Math.max(200, clean.ms - cleanStartedWriting)

    const result: SyncDrillResult = { runs: options.runs, equal: 0, recoverMs: [], failures: [], notes: '' }
    const outcomes: Record<string, number> = {}
    for (let i = 0; i < options.runs; i++) {
      const prefix = `{drill-sync-${options.signal}-${i}}`
      const failpoint = options.signal === 'SIGKILL' && i % 4 !== 0 ? FAILPOINTS[(i - 1) % 4 % FAILPOINTS.length] : undefined
      const delay = Math.floor(random() * writingMs)
      const killed = await cli(args, { ...env, EXPOSURE_PREFIX: prefix, ...(failpoint ? { EXPOSURE_FAILPOINT: failpoint } : {}) }, {
        onStart: failpoint
          ? undefined
          : async (_startedAt, child) => {
              // From the moment it writes (the sync lock is held, capabilities stored), a random time in.
              await waitForKey(redis, syncKeys(prefix).caps, 120_000)
              await new Promise((resolve) => setTimeout(resolve, delay))
              child.kill(options.signal)
            },
      })
      let outcome = killed.code === 0 ? 'finished before the signal' : failpoint ? `killed at ${failpoint}` : `${options.signal} after ${delay} ms of writing`
      let why: string | null = null
      // Exit 130, or death by SIGINT itself (after the command finished and dropped its handler, as a shell reports 130 too).
      if (options.signal === 'SIGINT' && killed.code !== 0 && killed.code !== 130 && !(killed.code === null && killed.signal === 'SIGINT')) why = `SIGINT ended the sync with status ${killed.code}: ${lastLine(killed.stderr)}`
      const heldBefore = await readCoverage(redis, syncKeys(prefix))
      const resumed = await cli(args, { ...env, EXPOSURE_PREFIX: prefix })
      result.recoverMs.push(resumed.ms)
      if (why === null && resumed.code !== 0) why = `the resumed sync failed (${resumed.code}): ${lastLine(resumed.stderr)}`
      if (why === null) {
        const state = await storeState(redis, prefix)
        why = compare(state, reference)
      }
      outcome += heldBefore.length > 0 ? ' (part held before resuming)' : ''
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
      if (why === null) result.equal++
      else result.failures.push(`run ${i} (${outcome}): ${why}`)
      options.log?.(`sync drill ${options.signal} run ${i}: ${outcome}: ${why ?? 'equal'} (resumed in ${resumed.ms} ms)`)
      await dropPrefix(redis, prefix)
    }
    result.notes = Object.entries(outcomes).map(([k, n]) => `${n} ${k}`).join('; ')
    return result
  } finally {
    redis.disconnect()
    await Promise.all([anvil.stop(), server.stop()])
  }
}

interface StoreState {
  nodes: Map<string, string>
  coverage: string
  transfers: string | null
  imports: number
  locks: number
}

async function storeState(redis: Redis, prefix: string): Promise<StoreState> {
  return {
    nodes: await adjacencySnapshot(redis, prefix),
    coverage: JSON.stringify(await readCoverage(redis, syncKeys(prefix))),
    transfers: await redis.hget(`${prefix}:meta`, 'transfers'),
    imports: await redis.zcard(`${prefix}:imports`),
    locks: await redis.exists(`${prefix}:lock:write`, `${prefix}:lock:sync`),
  }
}

function compare(state: StoreState, reference: StoreState): string | null {
  if (state.coverage !== reference.coverage) return `coverage ${state.coverage}, a clean sync's ${reference.coverage}`
  if (state.imports !== 0) return `${state.imports} unfinished imports left`
  if (state.locks !== 0) return 'a lock was left held'
  if (state.transfers !== reference.transfers) return `${state.transfers} transfers counted, a clean sync's ${reference.transfers}`
  if (state.nodes.size !== reference.nodes.size) return `${state.nodes.size} addresses, a clean sync's ${reference.nodes.size}`
  for (const [key, bytes] of reference.nodes) if (state.nodes.get(key) !== bytes) return `node ${key} differs from a clean sync's`
  return null
}

/** Runs the CLI; `onStart` may kill it (its errors are ignored: the process may end first). */
function cli(args: readonly string[], env: Record<string, string>, hooks: { onStart?: ((startedAt: number, child: ReturnType<typeof spawn>) => Promise<void>) | undefined } = {}): Promise<CliRun> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, REDIS_URL: undefined, EXPOSURE_PREFIX: undefined, RPC_URL: undefined, EXPOSURE_CONFIRMATIONS: undefined, EXPOSURE_FAILPOINT: undefined, ...env } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr!.on('data', (d) => (stderr += d))
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal, stderr, ms: Date.now() - started }))
    hooks.onStart?.(started, child).catch(() => undefined)
  })
}

/** Resolves with the time the key first exists (polling), or rejects after `timeoutMs`. */
async function waitForKey(redis: Redis, key: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  while ((await redis.exists(key)) === 0) {
    if (Date.now() > deadline) throw new Error(`${key} did not appear within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return Date.now()
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? ''
}
