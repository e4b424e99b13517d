/**
 * The service's own decorators: Redis connections, the store, the screening core, API keys,
 * the rate limiter, the check queue (with its events) and the in-process check workers. Closes
 * everything on close: workers first (running jobs get up to `jobGraceMs`), then queues, then
 * connections.
 */
import type { QueueEvents } from 'bullmq'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Options } from '../../../config.ts'
import { createCheckEvents, createCheckQueue, type CheckQueue } from '../../../queues/check-queue.ts'
import { createIngestQueue } from '../../../queues/ingest-queue.ts'
import { createWalkQueue } from '../../../queues/walk-queue.ts'
import { createGraphStore, type GraphStore } from '../../../store/graph-store.ts'
import { quietRedis, quietStoreRedis, type Redis } from '../../../store/redis.ts'
import { defineScripts } from '../../../store/scripts.ts'
import { defineScreenScripts } from '../../../screen/scripts.ts'
import { walkSourceConfig } from '../../../sources/walk-source.ts'
import { createAddressViews } from '../../../screen/address-view.ts'
import { createApiKeys, type ApiKeys } from '../../../screen/api-keys.ts'
import { createRateLimiter } from '../../../screen/rate-limit.ts'
import { createScreening, type LiveSourceName, type Screening } from '../../../screen/screening.ts'
import type { CheckJobResult } from '../../../screen/check-job.ts'
import { onDemandDefaults } from '../../../walk/on-demand-check.ts'
import type { WalkParams } from '../../../walk/params.ts'
import { startCheckWorker } from '../../../queues/workers/check.ts'
import type { Queue } from 'bullmq'

export interface ServiceOptions {
  options: Options
  /** Run check workers in this process (serve without --no-workers). */
  workers: boolean
  /** Walk parameters set explicitly in the configuration (answers from a walk with others are stale). */
  explicitParams?: Partial<WalkParams>
  /** How long running check jobs may take to finish on close (ms). Default 7000. */
  jobGraceMs?: number
}

export interface Services {
  options: Options
  redis: Redis
  store: GraphStore
  screening: Screening
  addressViews: ReturnType<typeof createAddressViews>
  apiKeys: ApiKeys
  limiter: ReturnType<typeof createRateLimiter>
  checkQueue: CheckQueue
  checkEvents: QueueEvents
  /** Every queue of the store, by name (metrics, bull-board, status). */
  queues: Record<'walk' | 'ingest' | 'check', Queue>
  /** The live source of check jobs, or null (the store only). */
  checkSource: LiveSourceName | null
  /** In-process check workers' finished jobs are reported here (metrics). */
  onCheckFinished: ((result: CheckJobResult) => void)[]
  /** True once close began: readiness fails, new requests are refused. */
  closing: boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services
  }
}

/** The live source of check jobs: EXPOSURE_CHECK_SOURCE, else rpc when a node is configured, else etherscan when configured, else none. */
export function checkSourceOf(options: Options): LiveSourceName | null {
  const chosen = options.checkSource !== '' ? options.checkSource : options.rpcUrl !== '' ? 'rpc' : options.etherscanUrl !== '' && options.etherscanApiKey !== '' ? 'etherscan' : 'store'
  return chosen === 'store' ? null : (chosen as LiveSourceName)
}

async function services(app: FastifyInstance, opts: ServiceOptions): Promise<void> {
  const { options } = opts
  // Commands fail at once while Redis is away (a 503, never a hang); ioredis reconnects on its own.
  // The store's connection: on a cluster, pipelines and MULTIs over many partitions run per slot.
  const redis = quietStoreRedis(options.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 5_000, enableAutoPipelining: true, lazyConnect: true })
  // Every script defined before the first command: automatic pipelines only know the commands defined when they open.
  defineScripts(redis)
  defineScreenScripts(redis)
  await redis.connect()
  const store = createGraphStore(redis, options.prefix, { actor: 'exposure serve' })
  // An older store's nodes and labels are under other key names: every answer would be "not exposed".
  await store.assertFormat().catch((error: unknown) => {
    redis.disconnect()
    throw error
  })
  const queueConnection = quietRedis(options.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 5_000 })
  const checkQueue = createCheckQueue(queueConnection, store.keys.queuePrefix)
  const checkEvents = createCheckEvents(quietRedis(options.redisUrl, { maxRetriesPerRequest: null }), store.keys.queuePrefix)
  const queues = {
    walk: createWalkQueue(queueConnection, store.keys.queuePrefix) as unknown as Queue,
    ingest: createIngestQueue(queueConnection, store.keys.queuePrefix) as unknown as Queue,
    check: checkQueue as unknown as Queue,
  }
  const source = checkSourceOf(options)
  const screening = createScreening({
    store,
    riskPolicy: options.riskPolicy,
    ...(opts.explicitParams === undefined ? {} : { explicitParams: opts.explicitParams }),
    live: source === null ? null : { source, config: walkSourceConfig(options) },
    queue: checkQueue,
    events: checkEvents,
    maxHistories: options.checkMaxHistories,
    auditRetentionMs: options.auditRetentionMs,
  })
  const onCheckFinished: Services['onCheckFinished'] = []
  const worker = opts.workers && source !== null
    ? startCheckWorker({ redisUrl: options.redisUrl, prefix: options.prefix, riskPolicy: options.riskPolicy, sourceConfig: walkSourceConfig(options), defaults: onDemandDefaults(options), concurrency: 4, onFinished: (r) => onCheckFinished.forEach((f) => f(r)) })
    : null
  const value: Services = {
    options,
    redis,
    store,
    screening,
    addressViews: createAddressViews(store, screening.checker),
    apiKeys: createApiKeys(redis, store.keys),
    limiter: createRateLimiter(redis, store.keys),
    checkQueue,
    checkEvents,
    queues,
    checkSource: source,
    onCheckFinished,
    closing: false,
  }
  app.decorate('services', value)
  app.addHook('preClose', async () => {
    value.closing = true
    screening.stopWaiting()
  })
  app.addHook('onClose', async () => {
    await worker?.close(opts.jobGraceMs ?? 7_000)
    await Promise.allSettled([checkEvents.close(), ...Object.values(queues).map((q) => q.close())])
    queueConnection.disconnect()
    redis.disconnect()
  })
}

export default fp(services, { name: 'services' })
