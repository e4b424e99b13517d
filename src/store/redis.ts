/**
 * Connections to Redis, and what a command does when Redis misbehaves: one clear line, never a
 * flood of stack traces or a hang.
 *
 * - connectRedis: answers within a few seconds or says it cannot reach Redis; a database index
 *   the server does not have is refused (ioredis would quietly stay on database 0).
 * - every connection we make gets an error listener (ioredis prints each unhandled error event
 *   with its stack trace, several a second while Redis is down);
 * - an outage guard watches a command's connection: a one-shot command whose Redis stays away for
 *   longer than the grace (8 s) stops with one line; a long-running process (worker, serve) says
 *   once that Redis is gone and once that it is back, and rides the outage out as BullMQ does;
 * - writes to a Redis whose maxmemory-policy may evict keys are refused unless allowed.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import slotOf from 'cluster-key-slot'
import { BaseError, InputError } from '../errors.ts'
import { splitPipelinesBySlot } from './slot-pipeline.ts'
import { isClusterUrl, parseClusterUrl, redactUrl, tlsOptionsFor } from './redis-location.ts'

export type { Redis }

/**
 * A Redis Cluster travels through the code as a URL of its own scheme (`redis-cluster://`, or
 * `rediss-cluster://` for TLS, with the nodes' user and password: redis-location.ts, which config.ts
 * builds it with from --redis-cluster / REDIS_CLUSTER_NODES), so every place that opens a
 * connection from the configured URL opens a Cluster without knowing it. The store's keys carry
 * hash tags (the prefix's, and 256 partition tags for per-address keys: keys.ts): each script call
 * keeps to one slot, and store connections run pipelines and MULTIs naming many slots per slot
 * (slot-pipeline.ts).
 */
export { CLUSTER_SCHEME, TLS_CLUSTER_SCHEME, isClusterUrl, redactUrl } from './redis-location.ts'

/** The seed nodes of a cluster URL. */
export function clusterNodesOf(url: string): { host: string; port: number }[] {
  return parseClusterUrl(url).nodes
}

/** True for a connection opened on a cluster URL. */
export function isCluster(redis: Redis): boolean {
  return (redis as unknown as { isCluster?: boolean }).isCluster === true
}

/**
 * Opens a connection on a URL: a server, or a cluster whose client routes each command by its
 * key's slot and follows MOVED/ASK through failovers. The Cluster is handed around as a Redis:
 * the commands this code uses have the same shape on both.
 */
function openConnection(url: string, options: RedisOptions): Redis {
  // TLS: a rediss:// URL alone makes ioredis use TLS with the system's CAs; the registered CA
  // (--redis-tls-ca, redis-location.ts) replaces them.
  const tls = tlsOptionsFor(url)
  if (!isClusterUrl(url)) return new Redis(url, tls === undefined ? options : { ...options, tls })
  const { lazyConnect, enableOfflineQueue, retryStrategy, ...redisOptions } = options
  const spec = parseClusterUrl(url)
  const cluster = new Cluster(spec.nodes, {
    lazyConnect: lazyConnect ?? false,
    enableOfflineQueue: enableOfflineQueue ?? true,
    // Credentials and TLS reach every node the client discovers (and duplicates: quietDuplicate).
    redisOptions: {
      ...redisOptions,
      ...(spec.username === '' ? {} : { username: spec.username }),
      ...(spec.password === '' ? {} : { password: spec.password }),
      ...(tls === undefined ? {} : { tls }),
    },
    // With TLS, connect to each node by the name the cluster gives it, unresolved: a certificate
    // names hosts, and a managed cluster's nodes (ElastiCache) are reached by name (ioredis' advice).
    ...(tls === undefined ? {} : { dnsLookup: (address: string, callback: (error: Error | null, address: string) => void) => callback(null, address) }),
    ...(retryStrategy ? { clusterRetryStrategy: (times: number) => retryStrategy(times) } : {}),
    // A master lost: its replica is promoted after the node timeout; ride that out.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 100,
    maxRedirections: 64,
    slotsRefreshTimeout: 2_000,
  })
  return cluster as unknown as Redis
}

/** The connections to every master: one for a server, each master's for a cluster (SCAN, INFO and CONFIG are per node). */
export async function masterConnections(redis: Redis): Promise<Redis[]> {
  if (!isCluster(redis)) return [redis]
  const cluster = redis as unknown as Cluster
  // Before the first slot map arrives the cluster knows no masters: an empty list would read as
  // "no keys" (a silently empty answer). Wait for it.
  if (cluster.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new BaseError('STORE_UNAVAILABLE', 'the Redis Cluster did not become ready within 10 s')), 10_000)
      cluster.once('ready', () => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
  const masters = cluster.nodes('master') as unknown as Redis[]
  if (masters.length === 0) throw new BaseError('STORE_UNAVAILABLE', 'the Redis Cluster has no reachable master')
  return masters
}

/**
 * Every key matching `pattern`, in batches (SCAN on every master of a cluster: a key lives on the
 * master of its slot).
 */
export async function* scanKeyBatches(redis: Redis, pattern: string, count = 1_000): AsyncGenerator<string[]> {
  for (const node of await masterConnections(redis)) {
    let cursor = '0'
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count)
      cursor = next
      if (found.length > 0) yield found
    } while (cursor !== '0')
  }
}

/** {@link scanKeyBatches} with a callback (awaited per batch). */
export async function scanKeys(redis: Redis, pattern: string, onBatch: (keys: string[]) => unknown, count = 1_000): Promise<void> {
  for await (const batch of scanKeyBatches(redis, pattern, count)) await onBatch(batch)
}

/**
 * Keys grouped by their cluster slot, in first-seen order (on a server: one group). A multi-key
 * command must name keys of one slot on a cluster.
 */
export function bySlot(redis: Redis, keys: readonly string[]): string[][] {
  if (!isCluster(redis)) return [keys.slice()]
  const groups = new Map<number, string[]>()
  for (const key of keys) {
    const slot = slotOf(key)
    let group = groups.get(slot)
    if (!group) groups.set(slot, (group = []))
    group.push(key)
  }
  return [...groups.values()]
}

/** One master of a cluster as `status` shows it. */
export interface MasterLayout {
  node: string
  keys: number
  usedMemory: number
  /** How many of the store's hash tags (global and partitions) hash to slots this master serves. */
  tags: number
}

/**
 * Where a store sits on a cluster: every master's keys, memory and share of the store's hash
 * tags (`tagKeys`: a key under each tag). null on a single server.
 */
export async function clusterLayout(redis: Redis, tagKeys: readonly string[]): Promise<MasterLayout[] | null> {
  if (!isCluster(redis)) return null
  const cluster = redis as unknown as Cluster
  const masters = await masterConnections(redis)
  const tagsOf = new Map<string, number>()
  for (const key of tagKeys) {
    const owner = cluster.slots[slotOf(key)]?.[0]
    if (owner !== undefined) tagsOf.set(owner, (tagsOf.get(owner) ?? 0) + 1)
  }
  return Promise.all(
    masters.map(async (node) => {
      const { host, port } = (node as unknown as { options: { host: string; port: number } }).options
      const name = `${host}:${port}`
      const [keys, memory] = await Promise.all([node.dbsize(), node.info('memory')])
      return { node: name, keys, usedMemory: Number(/used_memory:(\d+)/.exec(memory)?.[1] ?? 0), tags: tagsOf.get(name) ?? 0 }
    }),
  )
}

/** MGET of keys of any slots (one MGET per slot on a cluster), values in the keys' order. */
export async function mgetBuffers(redis: Redis, keys: readonly string[]): Promise<(Buffer | null)[]> {
  if (keys.length === 0) return []
  if (!isCluster(redis)) return redis.mgetBuffer(...keys)
  const values = new Map<string, Buffer | null>()
  await Promise.all(
    bySlot(redis, keys).map(async (group) => {
      const replies = await redis.mgetBuffer(...group)
      group.forEach((key, i) => values.set(key, replies[i] ?? null))
    }),
  )
  return keys.map((key) => values.get(key) ?? null)
}

/** UNLINK of keys of any slots. */
export async function unlinkKeys(redis: Redis, keys: readonly string[]): Promise<void> {
  for (const group of bySlot(redis, keys)) for (let i = 0; i < group.length; i += 500) await redis.unlink(...group.slice(i, i + 500))
}

/** How long we try to reach Redis before saying so (the contract: a clear message within 5 s). */
const CONNECT_BUDGET_MS = 3_000
/** How long a one-shot command waits for Redis to come back before it stops. */
export const OUTAGE_GRACE_MS = 8_000

/**
 * Opens an ioredis connection and waits until it answers, or throws STORE_UNAVAILABLE naming the
 * URL within a few seconds instead of retrying forever. `forWorker` connections follow BullMQ's
 * rule (`maxRetriesPerRequest: null`): once up, a worker rides out Redis restarts.
 */
export async function connectRedis(url: string, { forWorker = false }: { forWorker?: boolean } = {}): Promise<Redis> {
  if (isClusterUrl(url)) return connectCluster(url, forWorker)
  return connectOnce(url, forWorker)
}

/** How long connecting to a cluster may take: long enough to ride out a master's failover. */
const CLUSTER_CONNECT_BUDGET_MS = 20_000
/** One attempt: ioredis' Cluster#connect can stay pending for good when a node dies during it. */
const CLUSTER_ATTEMPT_MS = 5_000

/**
 * Connects to a cluster, retrying whole attempts: a master that dies while the client discovers
 * the slots can leave that attempt pending forever, and its replica is promoted a few seconds later.
 */
async function connectCluster(url: string, forWorker: boolean): Promise<Redis> {
  const startedAt = Date.now()
  let lastError: unknown
  for (;;) {
    let timer: NodeJS.Timeout | undefined
    const attempt = connectOnce(url, forWorker)
    try {
      return await Promise.race([
        attempt,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new BaseError('STORE_UNAVAILABLE', `the Redis Cluster at ${redactUrl(url)} did not answer within ${CLUSTER_ATTEMPT_MS / 1000} s`)), CLUSTER_ATTEMPT_MS)
        }),
      ])
    } catch (error) {
      lastError = error
      // A late success of the abandoned attempt must not leave a connection open.
      attempt.then((redis) => redis.disconnect(), () => undefined)
      // A refused certificate or password stays refused: say so at once.
      if (isRefusal((error as { cause?: unknown }).cause)) throw lastError
      if (Date.now() - startedAt + CLUSTER_ATTEMPT_MS > CLUSTER_CONNECT_BUDGET_MS) throw lastError
      await new Promise((r) => setTimeout(r, 250))
    } finally {
      clearTimeout(timer)
    }
  }
}

async function connectOnce(url: string, forWorker: boolean): Promise<Redis> {
  const startedAt = Date.now()
  let lastError: unknown
  const db = isClusterUrl(url) ? 0 : databaseOf(url)
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
  const redis = openConnection(url, options)
  // Store connections (not BullMQ's, whose transactions keep to the queue's tag): the partitioned
  // layout's pipelines and MULTIs name keys of many slots, so on a cluster they run per slot.
  splitPipelinesBySlot(redis)
  redis.on('error', (error) => {
    lastError = error
  })
  // A cluster's own error only says that no node answered ("Failed to refresh slots cache"); a
  // node's says why (a certificate the CA does not sign, a wrong password).
  let nodeError: unknown
  redis.on('node error', (error) => {
    nodeError = error
  })
  try {
    await redis.connect()
    await redis.ping()
    connected = true
  } catch (error) {
    redis.disconnect()
    let cause = nodeError ?? (lastError as { lastNodeError?: unknown } | undefined)?.lastNodeError ?? lastError ?? error
    // The client's slot discovery swallows its connections' errors (a refused certificate reads
    // "Connection is closed"): ask a seed node directly why.
    if (isClusterUrl(url) && !isRefusal(cause)) cause = (await probeSeed(url)) ?? cause
    throw new BaseError('STORE_UNAVAILABLE', `cannot reach Redis at ${redactUrl(url)}: ${describe(cause)}${refusalHint(cause)}`, { value: redactUrl(url) }, { cause })
  }
  if (db !== 0) {
    // ioredis selects the URL's database on connect but stays on 0 when the server refuses it.
    try {
      await redis.select(db)
    } catch (error) {
      redis.disconnect()
      throw new InputError('INVALID_CONFIG', `Redis at ${redactUrl(url)} has no database ${db} (${describe(error)}); use an index below its 'databases' setting (16 by default)`, { field: 'redisUrl', value: redactUrl(url) }, { cause: error })
    }
  }
  return redis
}

/** Why the first seed node of a cluster URL does not answer a PING (null when it does). */
async function probeSeed(url: string): Promise<unknown> {
  const spec = parseClusterUrl(url)
  const tls = tlsOptionsFor(url)
  const probe = new Redis({
    ...spec.nodes[0]!,
    ...(spec.username === '' ? {} : { username: spec.username }),
    ...(spec.password === '' ? {} : { password: spec.password }),
    ...(tls === undefined ? {} : { tls }),
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: true,
    retryStrategy: () => null,
  })
  let failure: unknown = null
  probe.on('error', (error) => {
    failure ??= error
  })
  try {
    await probe.connect()
    await probe.ping()
    return null
  } catch (error) {
    return failure ?? error
  } finally {
    probe.disconnect()
  }
}

/**
 * True for a connection refused for good: a TLS certificate that does not verify (no CA, or the
 * wrong one: --redis-tls-ca), or credentials Redis refuses. Retrying cannot help.
 */
function isRefusal(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  const code = String((error as NodeJS.ErrnoException).code ?? '')
  if (/^(ERR_TLS_|ERR_SSL_)|CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code)) return true
  return /^(WRONGPASS|NOAUTH|NOPERM)\b|invalid password|called without any password configured/i.test(error.message)
}

/** What to do about a refusal ({@link isRefusal}), for the message. */
function refusalHint(error: unknown): string {
  if (!isRefusal(error)) return ''
  const code = String((error as NodeJS.ErrnoException).code ?? '')
  if (/^(WRONGPASS|NOAUTH|NOPERM)\b|password/i.test((error as Error).message)) return ' (check the user and password in the Redis URL or the cluster\'s node URLs)'
  if (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code)) return ' (the server\'s TLS certificate does not verify: give its CA with --redis-tls-ca / REDIS_TLS_CA)'
  return ''
}

/** The database index in a redis:// URL's path (0 when none). */
export function databaseOf(url: string): number {
  let path: string
  try {
    path = new URL(url).pathname
  } catch {
    return 0
  }
  const text = path.replace(/^\//, '')
  if (text === '') return 0
  if (!/^\d+$/.test(text)) throw new InputError('INVALID_CONFIG', `the Redis URL's database must be a number: ${JSON.stringify(text)} in ${redactUrl(url)}`, { field: 'redisUrl', value: redactUrl(url) })
  return Number(text)
}

/** Duplicates a connection for BullMQ (which wants its own blocking connections). */
export function redisOptionsFor(url: string): { url: string; options: RedisOptions } {
  return { url, options: { maxRetriesPerRequest: null } }
}

/** A new connection (for BullMQ or a worker) that never prints its own error events. */
export function quietRedis(url: string, options: RedisOptions = {}): Redis {
  const redis = openConnection(url, options)
  redis.on('error', () => undefined)
  return redis
}

/**
 * {@link quietRedis} for the store's own commands (a worker's): on a cluster its pipelines and
 * MULTIs run per slot (slot-pipeline.ts), as connectRedis' do. Not for BullMQ's connections.
 */
export function quietStoreRedis(url: string, options: RedisOptions = {}): Redis {
  const redis = quietRedis(url, options)
  splitPipelinesBySlot(redis)
  return redis
}

/** The same for a duplicate of an existing connection. */
export function quietDuplicate(redis: Redis, options: RedisOptions = {}): Redis {
  // Cluster#duplicate takes (startup nodes, cluster options): its node options sit in redisOptions.
  const copy = isCluster(redis)
    ? ((redis as unknown as Cluster).duplicate([], { redisOptions: { ...(redis as unknown as Cluster).options.redisOptions, ...options } }) as unknown as Redis)
    : redis.duplicate(options)
  copy.on('error', () => undefined)
  return copy
}

/**
 * True for errors that mean "Redis is not reachable right now" (worth waiting for), as opposed to
 * a reply Redis gave (a script error, OOM, a wrong type).
 */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  if (error.name === 'ReplyError') return false
  const code = (error as NodeJS.ErrnoException).code
  if (code !== undefined && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTCONN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED'].includes(code)) return true
  return /Connection is closed|MaxRetriesPerRequest|Stream isn't writeable|connect ECONNREFUSED|read ECONNRESET|write EPIPE|Reached the max retries|LOADING|enableOfflineQueue/i.test(error.message)
}

export interface OutageGuard {
  /** Stops watching (before a command ends normally). */
  stop(): void
}

/**
 * Watches a connection. When it has been down for `graceMs` (no 'ready' since it closed):
 * `onFatal` (one-shot commands print one line and exit). `onDown` / `onUp` report an outage once
 * when it starts and once when it ends (long-running processes).
 */
export function guardOutage(redis: Redis, url: string, handlers: { graceMs?: number; onFatal?: (message: string) => void; onDown?: (message: string) => void; onUp?: (message: string) => void }): OutageGuard {
  const graceMs = handlers.graceMs ?? OUTAGE_GRACE_MS
  let downSince: number | null = null
  let lastError = ''
  let timer: NodeJS.Timeout | null = null
  const onError = (error: Error) => {
    lastError = describe(error)
  }
  const onClose = () => {
    if (downSince !== null) return
    downSince = Date.now()
    handlers.onDown?.(`lost the connection to Redis at ${redactUrl(url)}${lastError ? ` (${lastError})` : ''}; waiting for it to come back`)
    if (handlers.onFatal) {
      timer = setTimeout(() => {
        handlers.onFatal?.(`lost the connection to Redis at ${redactUrl(url)} for ${Math.round(graceMs / 1000)} s${lastError ? ` (${lastError})` : ''}; stopped. Is redis-server running?`)
      }, graceMs)
      timer.unref()
    }
  }
  const onReady = () => {
    if (downSince === null) return
    const seconds = ((Date.now() - downSince) / 1000).toFixed(1)
    downSince = null
    if (timer) clearTimeout(timer)
    timer = null
    handlers.onUp?.(`Redis at ${redactUrl(url)} is back after ${seconds} s`)
  }
  redis.on('error', onError)
  redis.on('close', onClose)
  redis.on('ready', onReady)
  return {
    stop() {
      if (timer) clearTimeout(timer)
      redis.off('error', onError)
      redis.off('close', onClose)
      redis.off('ready', onReady)
    },
  }
}

/** The Redis server's maxmemory-policy, or null when CONFIG is not allowed (managed Redis). */
export async function evictionPolicy(redis: Redis): Promise<string | null> {
  try {
    // A cluster: the first master whose policy may evict (every master holds part of the store).
    let policy: string | null = null
    for (const node of await masterConnections(redis)) {
      const reply = (await node.config('GET', 'maxmemory-policy')) as string[]
      policy = reply[1] ?? policy
      if (policy !== null && policy !== 'noeviction') return policy
    }
    return policy
  } catch {
    return null
  }
}

/**
 * Returns a warning when Redis may evict keys: queue and store keys must never be evicted
 * (`maxmemory-policy noeviction`). Managed Redis may refuse CONFIG: then we cannot tell, and say nothing.
 */
export async function evictionWarning(redis: Redis): Promise<string | null> {
  const policy = await evictionPolicy(redis)
  if (policy !== null && policy !== 'noeviction') {
    return `warning: Redis maxmemory-policy is '${policy}'; it may evict graph-store and queue keys. Set 'maxmemory-policy noeviction'.`
  }
  return null
}

/**
 * Refuses writes to a Redis that may evict keys (a store missing some of its keys answers wrong
 * without knowing it), unless the operator allowed it.
 */
export async function refuseEviction(redis: Redis, allowEviction: boolean): Promise<string | null> {
  const policy = await evictionPolicy(redis)
  if (policy === null || policy === 'noeviction') return null
  const message = `Redis maxmemory-policy is '${policy}': it may evict graph-store and queue keys, and a store missing keys gives wrong answers without knowing it`
  if (!allowEviction) throw new InputError('INVALID_CONFIG', `${message}; set 'maxmemory-policy noeviction' (CONFIG SET maxmemory-policy noeviction), or pass --allow-eviction / EXPOSURE_ALLOW_EVICTION=1 to write anyway`, { field: 'maxmemory-policy', value: policy })
  return `warning: ${message} (--allow-eviction given)`
}

export function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name
  return String(error)
}

/**
 * Queues UNLINK of keys of any slots on a pipeline or MULTI: one command per slot on a cluster
 * (a multi-key command must keep to one slot), one command on a server.
 */
export function queueUnlink(redis: Redis, target: { unlink(...keys: string[]): unknown }, keys: readonly string[]): void {
  for (const group of bySlot(redis, keys)) if (group.length > 0) target.unlink(...group)
}
