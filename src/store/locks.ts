/**
 * Locks in Redis that expire with their holder. The value is the holder (holder.ts): a lock whose
 * holder died is taken over at once instead of blocking everyone until a timeout; a live holder
 * renews it (and its heartbeat) every third of its time to live; a holder that cannot renew (Redis
 * was gone longer than the ttl, or another process took it over) learns so and must stop.
 */
import type { Redis } from 'ioredis'
import { BaseError } from '../errors.ts'
import { describeHolder, isHolderAlive, parseHolder, type Holder } from './holder.ts'
import { callScript } from './scripts.ts'

export interface LockOptions {
  /** Time to live (ms) without renewal. Default 15 s. */
  ttlMs?: number
  /**
   * Wait for a live holder instead of failing. `onWait` is called once, with that holder, when
   * waiting starts (say so to the user); `signal` stops waiting.
   */
  wait?: { onWait?: (holder: Holder) => void; signal?: AbortSignal; timeoutMs?: number }
  /** Error code when the lock is held (and not waited for). Default 'STORE_BUSY'. */
  busyCode?: 'STORE_BUSY' | 'WALK_BUSY'
  /** What the lock guards, for messages ("writes to the graph", "a walk"). */
  purpose?: string
}

export interface LockHandle {
  key: string
  holder: Holder
  /** Set when renewal found the lock taken or gone. */
  readonly lost: boolean
  /** Throws STORE_BUSY when the lock was lost. */
  assertHeld(): void
  release(): Promise<void>
}

export interface LockState {
  holder: Holder | null
  alive: boolean
}

/** Reads a lock: its holder and whether that holder is alive. */
export async function inspectLock(redis: Redis, key: string): Promise<LockState> {
  const holder = parseHolder(await redis.get(key))
  if (holder === null) return { holder: null, alive: false }
  return { holder, alive: await isHolderAlive(redis, holder) }
}

/**
 * Takes the lock for `holder`: at once if free, by takeover if its holder is dead, after waiting
 * if `wait` is given and the holder is alive; otherwise throws STORE_BUSY / WALK_BUSY naming the
 * holder.
 */
export async function acquireLock(redis: Redis, key: string, holder: Holder, options: LockOptions = {}): Promise<LockHandle> {
  const ttlMs = options.ttlMs ?? 15_000
  const purpose = options.purpose ?? 'this store'
  const startedAt = Date.now()
  let announced = false
  for (;;) {
    holder.heartbeat = Date.now()
    const value = JSON.stringify(holder)
    if ((await redis.set(key, value, 'PX', ttlMs, 'NX')) === 'OK') return handle(redis, key, holder, ttlMs)
    const currentText = await redis.get(key)
    const current = parseHolder(currentText)
    if (currentText !== null && (current === null || !(await isHolderAlive(redis, current)))) {
      // A dead holder (or an unreadable value): take over, only if it is still the same value.
      if ((await callScript(redis, 'lock', [key], ['steal', currentText, value, ttlMs])) === 1) return handle(redis, key, holder, ttlMs)
      continue
    }
    if (current === null) continue // released meanwhile
    if (options.wait === undefined) {
      throw new BaseError(options.busyCode ?? 'STORE_BUSY', `${purpose} is busy: held by ${describeHolder(current)}; try again when it is done`, { field: 'lock', value: key })
    }
    if (!announced) {
      options.wait.onWait?.(current)
      announced = true
    }
    if (options.wait.signal?.aborted) throw new BaseError('INTERRUPTED', `interrupted while waiting for ${purpose} (held by ${describeHolder(current)})`, { value: key })
    if (options.wait.timeoutMs !== undefined && Date.now() - startedAt > options.wait.timeoutMs) {
      throw new BaseError(options.busyCode ?? 'STORE_BUSY', `${purpose} stayed busy for ${Math.round(options.wait.timeoutMs / 1000)} s: held by ${describeHolder(current)}`, { field: 'lock', value: key })
    }
    await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 150))
  }
}

function handle(redis: Redis, key: string, holder: Holder, ttlMs: number): LockHandle {
  let lost = false
  let released = false
  const renew = async () => {
    if (released || lost) return
    holder.heartbeat = Date.now()
    try {
      // After a Redis restart the connection has a new id: keep the lock's record of it current.
      try {
        if (holder.clientId !== null) holder.clientId = Number(await redis.client('ID'))
      } catch {
        // CLIENT not allowed: the heartbeat and the pid decide.
      }
      const ok = await callScript(redis, 'lock', [key], ['renew', holder.token, JSON.stringify(holder), ttlMs])
      if (ok !== 1 && !released) lost = true
    } catch {
      // Redis unreachable: the lock may expire; the next renewal tells.
    }
  }
  const timer = setInterval(() => void renew(), Math.max(200, Math.floor(ttlMs / 3)))
  timer.unref()
  return {
    key,
    holder,
    get lost() {
      return lost
    },
    assertHeld() {
      if (lost) throw new BaseError('STORE_BUSY', `lost the lock ${key} (Redis was unreachable for longer than its ${ttlMs / 1000} s time to live, or another process took it over)`, { value: key })
    },
    async release() {
      released = true
      clearInterval(timer)
      await callScript(redis, 'lock', [key], ['release', holder.token]).catch(() => undefined)
    },
  }
}
