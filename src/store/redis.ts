import { Redis, type RedisOptions } from 'ioredis'
import { BaseError } from '../errors.ts'

export type { Redis }

/** How long we try to reach Redis before saying so (the contract: a clear message within 5 s). */
const CONNECT_BUDGET_MS = 3_000

/**
 * Opens an ioredis connection and waits until it answers, or throws STORE_UNAVAILABLE naming the
 * URL within a few seconds instead of retrying forever. `forWorker` connections follow BullMQ's
 * rule (`maxRetriesPerRequest: null`): once up, a worker rides out Redis restarts.
 */
export async function connectRedis(url: string, { forWorker = false }: { forWorker?: boolean } = {}): Promise<Redis> {
  const startedAt = Date.now()
  let lastError: unknown
  const options: RedisOptions = {
    lazyConnect: true,
    connectTimeout: CONNECT_BUDGET_MS,
    enableOfflineQueue: true,
    maxRetriesPerRequest: forWorker ? null : 3,
    retryStrategy: (attempt) => {
      // While connecting for the first time, give up after the budget; later, keep retrying.
      if (!connected && Date.now() - startedAt > CONNECT_BUDGET_MS) return null
      return Math.min(attempt * 100, 1_000)
    },
  }
  let connected = false
  const redis = new Redis(url, options)
  redis.on('error', (error) => {
    lastError = error
  })
  try {
    await redis.connect()
    await redis.ping()
    connected = true
  } catch (error) {
    redis.disconnect()
    throw new BaseError('STORE_UNAVAILABLE', `cannot reach Redis at ${redactUrl(url)}: ${describe(lastError ?? error)}`, { value: redactUrl(url) }, { cause: error })
  }
  return redis
}

/** Duplicates a connection for BullMQ (which wants its own blocking connections). */
export function redisOptionsFor(url: string): { url: string; options: RedisOptions } {
  return { url, options: { maxRetriesPerRequest: null } }
}

/**
 * Returns a warning when Redis may evict keys: queue and store keys must never be evicted
 * (`maxmemory-policy noeviction`). Managed Redis may refuse CONFIG: then we cannot tell, and say nothing.
 */
export async function evictionWarning(redis: Redis): Promise<string | null> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[]
    const policy = reply[1]
    if (policy !== undefined && policy !== 'noeviction') {
      return `warning: Redis maxmemory-policy is '${policy}'; it may evict graph-store and queue keys. Set 'maxmemory-policy noeviction'.`
    }
  } catch {
    // CONFIG disabled (managed Redis): nothing to check.
  }
  return null
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name
  return String(error)
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@')
}
