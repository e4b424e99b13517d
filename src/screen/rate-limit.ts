import type { Redis } from 'ioredis'
import type { StoreKeys } from '../store/keys.ts'
import type { Rate } from './api-keys.ts'
import { callScreenScript } from './scripts.ts'

export interface RateDecision {
  allowed: boolean
  limit: number
  remaining: number
  /** Milliseconds until the window ends (Retry-After when not allowed). */
  resetMs: number
}

/**
 * Per-key rate limits held in Redis (lua/rate-limit.lua: a fixed window per key), so that they
 * hold across every server process sharing the store.
 */
export function createRateLimiter(redis: Redis, keys: Pick<StoreKeys, 'rateLimit'>) {
  async function take(keyId: string, rate: Rate): Promise<RateDecision> {
    const [count, ttl] = (await callScreenScript(redis, 'rate-limit', [keys.rateLimit(keyId)], [rate.limit, rate.windowMs])) as [number, number]
    return { allowed: count <= rate.limit, limit: rate.limit, remaining: Math.max(0, rate.limit - count), resetMs: ttl }
  }
  return { take }
}
