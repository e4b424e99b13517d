import { startPrivateRedis } from '../../src/store/private-redis.ts'

export { freePort } from '../../src/store/private-redis.ts'

export interface TestRedis {
  url: string
  /** Stops the private server (no-op when the tests fell back to REDIS_URL). */
  stop(): Promise<void>
}

/**
 * A private `redis-server` on a free port for one test file, so test files cannot disturb each
 * other; falls back to REDIS_URL when the binary is missing.
 */
export async function startRedis(): Promise<TestRedis> {
  try {
    return await startPrivateRedis()
  } catch (error) {
    if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: async () => undefined }
    throw error
  }
}

/** A random key prefix per test, so tests sharing a server never see each other's keys. */
export function testPrefix(name = 't'): string {
  return `{${name}-${Math.random().toString(36).slice(2, 10)}}`
}
