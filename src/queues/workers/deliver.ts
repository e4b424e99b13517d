import { Worker } from 'bullmq'
import { QUEUES } from '../names.ts'
import type { DeliverJobData } from '../watch-queues.ts'
import { createGraphStore } from '../../store/graph-store.ts'
import { isConnectionError, quietRedis, quietStoreRedis } from '../../store/redis.ts'
import { createDeliveryProcessor, webhookBackoff } from '../../watch/delivery.ts'
import { createErrorReporter } from '../error-reporter.ts'

export interface DeliverWorkerOptions {
  redisUrl: string
  prefix: string
  /** Deliveries at once. Default 32. */
  concurrency?: number
  /** First retry delay (ms), doubling per attempt up to an hour. */
  backoffMs: number
  /** Give up after this long (ms). */
  retryForMs: number
  onDelivered?: (outcome: 'delivered' | 'failed' | 'dropped') => void
}

/** A BullMQ worker for the deliver queue. Thin: the work is src/watch/delivery.ts. */
export function startDeliverWorker(options: DeliverWorkerOptions) {
  const connection = quietRedis(options.redisUrl, { maxRetriesPerRequest: null })
  const commands = quietStoreRedis(options.redisUrl, { maxRetriesPerRequest: 3 })
  const store = createGraphStore(commands, options.prefix, { actor: 'deliver worker' })
  const processor = createDeliveryProcessor(commands, store.keys, { retryForMs: options.retryForMs, ...(options.onDelivered ? { onDelivered: options.onDelivered } : {}) })
  const report = createErrorReporter('deliver worker')
  const worker = new Worker<DeliverJobData>(QUEUES.deliver, processor, {
    connection,
    prefix: store.keys.queuePrefix,
    concurrency: options.concurrency ?? 32,
    lockDuration: 30_000,
    settings: { backoffStrategy: webhookBackoff(options.backoffMs) },
  })
  worker.on('error', (error) => {
    if (!isConnectionError(error)) report(error)
  })
  async function close(): Promise<void> {
    await worker.close()
    commands.disconnect()
    connection.disconnect()
  }
  return { worker, close }
}
