/**
 * Who holds something in the store (a lock, an unfinished import, a running walk), and whether
 * that holder is still alive. A holder that died (SIGKILL, OOM killer, a lost host) must not keep
 * others waiting until a timeout: locks, imports and walks are taken over at once.
 *
 * Alive is decided, most certain first:
 *   1. same host: the process id is checked with signal 0 (ESRCH: gone);
 *   2. another host: Redis itself knows whether the holder's connection is still open
 *      (`CLIENT LIST ID <id>`; the kernel closes a killed process's sockets at once);
 *   3. neither answerable (CLIENT disabled on a managed Redis): the heartbeat is older than
 *      `staleAfterMs`.
 */
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Redis } from 'ioredis'
import { isCluster } from './redis.ts'

export interface Holder {
  /** Random per process and purpose: what a lock's owner compares. */
  token: string
  pid: number
  host: string
  /** Redis CLIENT ID of the holder's command connection, null when CLIENT is not allowed. */
  clientId: number | null
  /** What the holder is doing, for messages ("exposure import", "walk coordinator"). */
  what: string
  /** ISO time the holder started. */
  since: string
  /** ms since the epoch of the holder's last sign of life (renewals refresh it). */
  heartbeat: number
}

const HOST = hostname()

let processActor = 'exposure'

/** Names what this process does ("exposure import"), for the holders it creates. */
export function setProcessActor(what: string): void {
  processActor = what
}

export function defaultActor(): string {
  return processActor
}

/** Describes this process as a holder; asks Redis for the connection's client id. */
export async function createHolder(redis: Redis, what: string): Promise<Holder> {
  let clientId: number | null = null
  // On a cluster a client id is one node's, and another command may ask another node: there the
  // process (same host) or the heartbeat tells whether a holder lives.
  if (!isCluster(redis)) {
    try {
      clientId = Number(await redis.client('ID'))
    } catch {
      clientId = null
    }
  }
  return { token: randomBytes(8).toString('hex'), pid: process.pid, host: HOST, clientId, what, since: new Date().toISOString(), heartbeat: Date.now() }
}

export function parseHolder(text: string | null | undefined): Holder | null {
  if (!text) return null
  try {
    const value = JSON.parse(text) as Partial<Holder>
    if (typeof value.token !== 'string') return null
    return { token: value.token, pid: Number(value.pid ?? 0), host: String(value.host ?? ''), clientId: value.clientId ?? null, what: String(value.what ?? 'unknown'), since: String(value.since ?? ''), heartbeat: Number(value.heartbeat ?? 0) }
  } catch {
    return null
  }
}

/** True when the holder is this very process. */
export function isSelf(holder: Holder): boolean {
  return holder.host === HOST && holder.pid === process.pid
}

/**
 * Whether a holder is still alive (see the module comment). `staleAfterMs` applies only when
 * neither the process nor the connection can be checked.
 */
export async function isHolderAlive(redis: Redis, holder: Holder, staleAfterMs = 30_000): Promise<boolean> {
  if (holder.host === HOST && holder.pid > 0) {
    try {
      process.kill(holder.pid, 0)
      // The process exists. Its connection id is not consulted here: after a Redis restart the
      // holder reconnects under a new id until its next renewal, and must not be taken over then.
      return true
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
      // EPERM: a process we may not signal exists.
      return true
    }
  }
  if (holder.clientId !== null) {
    const open = await connectionOpen(redis, holder.clientId)
    if (open !== null) return open
  }
  return Date.now() - holder.heartbeat < staleAfterMs
}

/** Whether Redis has a client connection with this id; null when CLIENT LIST is not allowed. */
async function connectionOpen(redis: Redis, clientId: number): Promise<boolean | null> {
  try {
    const listed = (await redis.call('CLIENT', 'LIST', 'ID', String(clientId))) as string
    return listed.trim().length > 0
  } catch {
    return null
  }
}

/** "pid 123 on host-a (exposure import, since 2026-…)": for messages. */
export function describeHolder(holder: Holder): string {
  return `${holder.what}, pid ${holder.pid} on ${holder.host}${holder.since ? `, since ${holder.since}` : ''}`
}
