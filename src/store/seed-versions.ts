/**
 * The versioned seed set in Redis. `P:seeds` holds the current set (one merged Seed per address);
 * every change is one MULTI that writes the seeds, increments `P:seeds:version` and appends a
 * {@link SeedChange} to `P:seeds:history`, under WATCH so that two concurrent changes cannot both
 * apply to the same version (the loser re-reads and re-plans).
 */
import type { Redis } from 'ioredis'
import { BaseError } from '../errors.ts'
import type { Address, Seed, SeedSetPlan } from '../types.ts'
import type { StoreKeys } from './keys.ts'

/** One version of the seed set: what changed and where the change came from. */
export interface SeedChange {
  version: number
  /** ISO time of the change. */
  time: string
  action: 'import' | 'remove'
  /** The file (and format) or the removal's target, as the user gave it. */
  source: string
  added: Address[]
  removed: Address[]
  updated: Address[]
}

export interface AppliedChange {
  /** The change recorded, or null when nothing changed (no version is created). */
  change: SeedChange | null
  plan: SeedSetPlan
}

const MAX_ATTEMPTS = 10
const WRITE_CHUNK = 5_000

export function createSeedVersions(redis: Redis, keys: StoreKeys) {
  async function current(): Promise<Map<Address, Seed>> {
    const all = await redis.hgetall(keys.seeds)
    return new Map(Object.entries(all).map(([address, json]) => [address as Address, JSON.parse(json) as Seed]))
  }

  async function version(): Promise<number> {
    return Number((await redis.get(keys.seedVersion)) ?? 0)
  }

  /**
   * Plans a change against the current set and applies it in one transaction; re-plans when another
   * change landed in between. A plan that changes nothing writes nothing.
   */
  async function apply(action: SeedChange['action'], source: string, plan: (current: ReadonlyMap<Address, Seed>) => SeedSetPlan): Promise<AppliedChange> {
    // WATCH is per connection: use our own so that other users of `redis` cannot disturb it.
    const connection = redis.duplicate()
    try {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        await connection.watch(keys.seeds, keys.seedVersion)
        const all = await connection.hgetall(keys.seeds)
        const seeds = new Map(Object.entries(all).map(([address, json]) => [address as Address, JSON.parse(json) as Seed]))
        const next = Number((await connection.get(keys.seedVersion)) ?? 0) + 1
        const result = plan(seeds)
        if (result.put.length === 0 && result.remove.length === 0) {
          await connection.unwatch()
          return { change: null, plan: result }
        }
        const change: SeedChange = {
          version: next,
          time: new Date().toISOString(),
          action,
          source,
          added: result.added,
          removed: result.remove,
          updated: result.updated,
        }
        const multi = connection.multi()
        for (let i = 0; i < result.put.length; i += WRITE_CHUNK) {
          multi.hset(keys.seeds, Object.fromEntries(result.put.slice(i, i + WRITE_CHUNK).map((s) => [s.address, JSON.stringify(s)])))
        }
        for (let i = 0; i < result.remove.length; i += WRITE_CHUNK) multi.hdel(keys.seeds, ...result.remove.slice(i, i + WRITE_CHUNK))
        multi.set(keys.seedVersion, next)
        multi.rpush(keys.seedHistory, JSON.stringify(change))
        const replies = await multi.exec()
        if (replies === null) continue // another change landed: plan again on the new set
        for (const [error] of replies) if (error) throw error
        return { change, plan: result }
      }
      throw new BaseError('WALK_BUSY', `the seed set kept changing under this ${action} (${MAX_ATTEMPTS} attempts); try again`, { value: keys.seeds })
    } finally {
      connection.disconnect()
    }
  }

  /** Every recorded change, oldest first. */
  async function history(): Promise<SeedChange[]> {
    return (await redis.lrange(keys.seedHistory, 0, -1)).map((json) => JSON.parse(json) as SeedChange)
  }

  return { current, version, apply, history }
}

export type SeedVersions = ReturnType<typeof createSeedVersions>
