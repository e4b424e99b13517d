import { buildOptions, type OptionInput, type Options } from '../config.ts'
import { createGraphStore, type GraphStore } from '../store/graph-store.ts'
import { connectRedis, evictionWarning, type Redis } from '../store/redis.ts'

/** Global flags every command accepts. */
export interface GlobalFlags {
  redisUrl?: string
  prefix?: string
}

export interface Context {
  options: Options
  redis: Redis
  store: GraphStore
  close(): Promise<void>
}

/** Resolves the options (flags > environment > defaults), connects, warns about eviction. */
export async function openContext(flags: GlobalFlags & OptionInput): Promise<Context> {
  const options = buildOptions(flags, process.env)
  const redis = await connectRedis(options.redisUrl)
  const warning = await evictionWarning(redis)
  if (warning) process.stderr.write(`${warning}\n`)
  const store = createGraphStore(redis, options.prefix)
  return {
    options,
    redis,
    store,
    close: async () => {
      redis.disconnect()
    },
  }
}

export async function withContext<T>(flags: GlobalFlags & OptionInput, run: (ctx: Context) => Promise<T>): Promise<T> {
  const ctx = await openContext(flags)
  try {
    return await run(ctx)
  } finally {
    await ctx.close()
  }
}
