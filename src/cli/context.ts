import { buildOptions, type OptionInput, type Options } from '../config.ts'
import { createGraphStore, type GraphStore } from '../store/graph-store.ts'
import { connectRedis, evictionWarning, guardOutage, refuseEviction, type Redis } from '../store/redis.ts'
import { terminalSafe } from './output.ts'
import { handleInterruption } from './signals.ts'

/** Global flags every command accepts. */
export interface GlobalFlags {
  redisUrl?: string
  redisCluster?: string
  redisTlsCa?: string
  prefix?: string
  allowEviction?: boolean
}

export interface Context {
  options: Options
  redis: Redis
  store: GraphStore
  /** Aborted by the first SIGINT/SIGTERM (cli/signals.ts). */
  signal: AbortSignal
  /** One line on stderr (untrusted text escaped). */
  note(message: string): void
  close(): Promise<void>
}

export interface ContextMode {
  /** The command writes to the store: refused on a Redis that may evict keys unless --allow-eviction. Default false. */
  write?: boolean
  /** A long-running process (worker, serve): Redis outages are reported and ridden out, not fatal. */
  longRunning?: boolean
  /**
   * `exposure migrate`: opens a store of an older format without refusing it and without finishing
   * its interrupted imports (their journals are in the older layout; the migration refuses them).
   */
  migrating?: boolean
}

const note = (message: string) => process.stderr.write(`${terminalSafe(message)}\n`)

/**
 * Resolves the options (flags > environment > defaults), connects, checks the eviction policy,
 * guards against Redis going away, and brings interrupted imports to an end (store/commit.ts):
 * every command that touches the store finishes an import past its commit point first.
 */
export async function openContext(flags: GlobalFlags & OptionInput, mode: ContextMode = {}): Promise<Context> {
  const options = buildOptions(flags, process.env)
  const redis = await connectRedis(options.redisUrl)
  const allowEviction = options.allowEviction
  try {
    const warning = mode.write ? await refuseEviction(redis, allowEviction) : await evictionWarning(redis)
    if (warning) note(warning)
  } catch (error) {
    redis.disconnect()
    throw error
  }
  const guard = guardOutage(redis, options.redisUrl, mode.longRunning
    ? { onDown: note, onUp: note }
    : {
        onFatal: (message) => {
          process.stderr.write(`error: ${message}\n`)
          process.exit(1)
        },
      })
  const interruption = handleInterruption((signal) => note(`${signal}: stopping cleanly (press Ctrl-C again to stop at once)`))
  const store = createGraphStore(redis, options.prefix)
  try {
    if (!mode.migrating) await store.assertFormat()
    const waiting = mode.migrating ? [] : await store.imports.recover(note)
    for (const info of waiting) {
      note(`note: import ${info.id} (${info.detail}) was interrupted before its commit; nothing of it is in the store. 'exposure import --resume ${info.id}' commits it, 'exposure import --abort ${info.id}' drops it`)
    }
  } catch (error) {
    guard.stop()
    interruption.dispose()
    redis.disconnect()
    throw error
  }
  return {
    options,
    redis,
    store,
    signal: interruption.signal,
    note,
    close: async () => {
      guard.stop()
      interruption.dispose()
      redis.disconnect()
    },
  }
}

export async function withContext<T>(flags: GlobalFlags & OptionInput, run: (ctx: Context) => Promise<T>, mode: ContextMode = {}): Promise<T> {
  const ctx = await openContext(flags, mode)
  try {
    return await run(ctx)
  } finally {
    await ctx.close()
  }
}
