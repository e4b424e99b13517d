/**
 * Redis memory: a write that would not fit under `maxmemory` is refused before it starts, and a
 * write Redis refuses for memory (an `OOM command not allowed` reply) becomes one clear error.
 */
import type { Redis } from 'ioredis'
import { BaseError, isExposureError } from '../errors.ts'
import { masterConnections } from './redis.ts'

export interface MemoryInfo {
  used: number
  /** 0: no limit. */
  maxmemory: number
  policy: string | null
}

export async function memoryInfo(redis: Redis): Promise<MemoryInfo> {
  const masters = await Promise.all((await masterConnections(redis)).map(nodeMemory))
  if (masters.length === 1) return masters[0]!
  // A cluster: the store spreads over its masters by slot, so a write has as much room as the
  // fullest master has times their number (every master needs its share of it).
  const limited = masters.every((m) => m.maxmemory > 0)
  const tightest = masters.reduce((a, b) => (b.maxmemory - b.used < a.maxmemory - a.used ? b : a))
  return {
    used: limited ? tightest.used * masters.length : masters.reduce((sum, m) => sum + m.used, 0),
    maxmemory: limited ? tightest.maxmemory * masters.length : 0,
    policy: masters.find((m) => m.policy !== 'noeviction')?.policy ?? masters[0]!.policy,
  }
}

async function nodeMemory(node: Redis): Promise<MemoryInfo> {
  const info = await node.info('memory')
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim()
  return { used: Number(field('used_memory') ?? 0), maxmemory: Number(field('maxmemory') ?? 0), policy: field('maxmemory_policy') ?? null }
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(2)} GiB`
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(1)} KiB`
  return `${bytes} B`
}

/** Share of maxmemory a write may fill: the rest is Redis' own slack (buffers, fragmentation, queues). */
const FILL_LIMIT = 0.95

/**
 * Refuses (STORE_FULL) a write of about `estimate()` bytes that would take Redis past its
 * maxmemory. The estimate is only computed when Redis has a limit.
 */
export async function checkHeadroom(redis: Redis, estimate: () => Promise<number>, what: string): Promise<MemoryInfo> {
  const info = await memoryInfo(redis)
  if (info.maxmemory <= 0) return info
  const needed = await estimate()
  const room = info.maxmemory * FILL_LIMIT - info.used
  if (needed > room) {
    throw new BaseError(
      'STORE_FULL',
      `not enough Redis memory for the ${what}: it needs about ${formatBytes(needed)} more, and ${formatBytes(info.used)} of maxmemory ${formatBytes(info.maxmemory)} are used (${formatBytes(Math.max(0, room))} free below ${FILL_LIMIT * 100} %); raise maxmemory or free memory — nothing was written to the store`,
      { field: 'maxmemory', value: String(info.maxmemory), needed },
    )
  }
  return info
}

/**
 * True when `error`, or a command error behind it, matches `pattern`. A MULTI whose command Redis
 * refused fails as "EXECABORT Transaction discarded because of previous errors", and ioredis
 * keeps the refusals themselves in the error's previousErrors.
 */
function refusedWith(error: unknown, pattern: RegExp): boolean {
  const message = error instanceof Error ? error.message : String(error)
  if (pattern.test(message)) return true
  const previous = (error as { previousErrors?: unknown } | null)?.previousErrors
  return Array.isArray(previous) && previous.some((e) => refusedWith(e, pattern))
}

/** True for Redis' "OOM command not allowed when used memory > 'maxmemory'" reply, alone or behind an EXECABORT. */
export function isOutOfMemory(error: unknown): boolean {
  return refusedWith(error, /\bOOM\b|used memory > 'maxmemory'/)
}

/** Redis' reply to an APPEND or SETRANGE past proto-max-bulk-len: "string exceeds maximum allowed size". */
export function isOverBulkLimit(error: unknown): boolean {
  return refusedWith(error, /exceeds maximum allowed size/)
}

/** Redis' default cap on one value (a string, a hash field's value): 512 MiB. */
export const DEFAULT_BULK_LIMIT = 512 * 1024 * 1024

/**
 * The most bytes one value may hold on this Redis (proto-max-bulk-len; the smallest of a cluster's
 * masters). Where CONFIG is not allowed (managed services), Redis' default.
 */
export async function bulkLimit(redis: Redis): Promise<number> {
  const limits = await Promise.all(
    (await masterConnections(redis)).map(async (node) => {
      try {
        const reply = (await node.config('GET', 'proto-max-bulk-len')) as string[]
        const value = Number(reply[1])
        return Number.isFinite(value) && value > 0 ? value : DEFAULT_BULK_LIMIT
      } catch {
        return DEFAULT_BULK_LIMIT
      }
    }),
  )
  return Math.min(...limits)
}

/**
 * Turns Redis' out-of-memory replies into STORE_FULL saying what was refused and that nothing of
 * it was written, and so its refusal of a value past proto-max-bulk-len (an import's staging for
 * one partition grew past it); anything else is returned as it is.
 */
export function storeError(error: unknown, what: string): unknown {
  if (isExposureError(error)) return error
  if (isOverBulkLimit(error)) {
    return new BaseError('STORE_FULL', `Redis refused to grow one value past its proto-max-bulk-len (512 MB unless raised): the ${what} was refused and nothing of it reached the store; import the files in several commands (token transfers join their transactions across imports), or raise proto-max-bulk-len`, { field: 'proto-max-bulk-len' }, { cause: error })
  }
  if (!isOutOfMemory(error)) return error
  return new BaseError('STORE_FULL', `Redis is out of memory (maxmemory reached): the ${what} was refused and nothing of it reached the store; raise maxmemory or free memory`, { field: 'maxmemory' }, { cause: error })
}
