import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

/**
 * Digest of every service label's address and category: what decides stop nodes. Two label sets
 * with the same digest give the same walk, whatever their label texts say.
 */
export async function labelsDigest(redis: Redis, labelsKey: string): Promise<string> {
  const hash = createHash('sha1')
  const all: [string, string][] = []
  let cursor = '0'
  do {
    const [next, entries] = await redis.hscan(labelsKey, cursor, 'COUNT', 10_000)
    cursor = next
    for (let i = 0; i < entries.length; i += 2) all.push([entries[i]!, (JSON.parse(entries[i + 1]!) as { category?: string }).category ?? ''])
  } while (cursor !== '0')
  all.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  for (const [address, category] of all) hash.update(`${address}=${category}\n`)
  return hash.digest('hex')
}
