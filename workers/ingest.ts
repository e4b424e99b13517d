import { UnrecoverableError, Worker, type Job } from 'bullmq'
import { createGraphStore } from '../src/store/graph-store.ts'
import { QUEUES } from '../src/queues/names.ts'
import type { IngestJobData } from '../src/queues/ingest-queue.ts'
import { createRpcClient, isRetryable, type RpcClientOptions } from '../src/sources/rpc/client.ts'
import { detectCapabilities, type RpcCapabilities } from '../src/sources/rpc/capabilities.ts'
import { ingestRange, syncKeys, type IngestResult } from '../src/sources/rpc/ingest.ts'
import { isExposureError } from '../src/errors.ts'
import { isConnectionError, quietRedis } from '../src/store/redis.ts'
import { createErrorReporter } from '../src/queues/error-reporter.ts'
import type { Address } from '../src/types.ts'

export interface IngestWorkerOptions {
  redisUrl: string
  prefix: string
  rpcUrl: string
  listedTokens: readonly Address[]
  /** Jobs (block ranges) at once. Default 2. */
  concurrency?: number
  /** Transport options of the node client (timeouts, retries, concurrency). */
  rpc?: Omit<RpcClientOptions, 'url'>
}

/**
 * A BullMQ worker for the ingest queue: each job reads one block range from the node and writes
 * it into the store. Thin: the work is ingestRange. Transient node faults (timeouts, 429, 5xx,
 * a reorg during the read) are thrown as they are so BullMQ retries with backoff; bad answers
 * and pruned history become UnrecoverableError (retrying cannot help).
 */
export function startIngestWorker(options: IngestWorkerOptions) {
  const connection = quietRedis(options.redisUrl, { maxRetriesPerRequest: null })
  const commands = quietRedis(options.redisUrl, { maxRetriesPerRequest: 3 })
  const store = createGraphStore(commands, options.prefix, { actor: 'ingest worker' })
  const report = createErrorReporter('ingest worker')
  const keys = syncKeys(options.prefix)
  const client = createRpcClient({ url: options.rpcUrl, ...options.rpc })
  let caps: RpcCapabilities | null = null

  async function process(job: Job<IngestJobData>): Promise<Omit<IngestResult, 'hashes'>> {
    const { from, to } = job.data
    try {
      if (caps === null) {
        const stored = await commands.get(keys.caps)
        caps = stored !== null ? (JSON.parse(stored) as RpcCapabilities) : await detectCapabilities(client, options.rpcUrl)
      }
      const listedTokens = (job.data.listedTokens as Address[] | undefined) ?? options.listedTokens
      const { hashes: _hashes, ...result } = await ingestRange({ store, client, caps, listedTokens, keys }, from, to, true)
      return result
    } catch (error) {
      if (isRetryable(error) || isExposureError(error, 'WALK_BUSY') || isExposureError(error, 'STORE_BUSY') || !isExposureError(error)) throw error
      throw new UnrecoverableError(error.message)
    }
  }

  const worker = new Worker<IngestJobData>(QUEUES.ingest, process, {
    connection,
    prefix: store.keys.queuePrefix,
    concurrency: options.concurrency ?? 2,
    lockDuration: 60_000,
  })
  worker.on('error', (error) => {
    if (!isConnectionError(error)) report(error)
  })

  async function close(): Promise<void> {
    await worker.close()
    commands.disconnect()
    connection.disconnect()
  }

  return { worker, client, close }
}
