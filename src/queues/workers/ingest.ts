import { UnrecoverableError, Worker, type Job } from 'bullmq'
import { createGraphStore } from '../../store/graph-store.ts'
import { QUEUES } from '../names.ts'
import type { EtlJobData, IngestJobData } from '../ingest-queue.ts'
import { runEtlIngestJob, runEtlPrepareJob, type EtlIngestResult, type EtlPrepareResult } from '../../sources/etl-ingest.ts'
import { createRpcClient, isRetryable, type RpcClientOptions } from '../../sources/rpc/client.ts'
import { detectCapabilities, type RpcCapabilities } from '../../sources/rpc/capabilities.ts'
import { createChainGuard } from '../../sources/rpc/chain.ts'
import { ingestRange, syncKeys, type IngestResult } from '../../sources/rpc/ingest.ts'
import { InputError, isExposureError } from '../../errors.ts'
import { isConnectionError, quietRedis, quietStoreRedis } from '../../store/redis.ts'
import { createErrorReporter } from '../error-reporter.ts'
import type { Address } from '../../types.ts'

export interface IngestWorkerOptions {
  redisUrl: string
  prefix: string
  rpcUrl: string
  listedTokens: readonly Address[]
  /** Jobs (block ranges) at once. Default 2. */
  concurrency?: number
  /** Transport options of the node client (timeouts, retries, concurrency). */
  rpc?: Omit<RpcClientOptions, 'url'>
  /** Lock duration of etl ingest jobs (exposure worker --lock-duration). */
  lockDuration?: number
}

/**
 * A BullMQ worker for the ingest queue: each job reads one block range from the node and writes
 * it into the store. Thin: the work is ingestRange. The worker's node must serve the store's
 * chain (chain.ts; checked before the first job and whenever the store's record changes).
 * Transient node faults (timeouts, 429, 5xx) are thrown as they are so BullMQ retries with
 * backoff; another chain, bad answers, blocks that do not link up and pruned history become
 * UnrecoverableError (retrying cannot help).
 */
export function startIngestWorker(options: IngestWorkerOptions) {
  const connection = quietRedis(options.redisUrl, { maxRetriesPerRequest: null })
  const commands = quietStoreRedis(options.redisUrl, { maxRetriesPerRequest: 3 })
  const store = createGraphStore(commands, options.prefix, { actor: 'ingest worker' })
  const report = createErrorReporter('ingest worker')
  const keys = syncKeys(options.prefix)
  const client = createRpcClient({ url: options.rpcUrl, ...options.rpc })
  let caps: RpcCapabilities | null = null
  // The coordinator records the chain before it queues a job: a store without one is refused too.
  const chain = createChainGuard(commands, options.prefix, client, { record: false })

  async function process(job: Job<IngestJobData>): Promise<Omit<IngestResult, 'hashes'>> {
    const { from, to } = job.data
    try {
      if ((await commands.exists(keys.chain)) === 0) throw new InputError('INVALID_CONFIG', `store ${options.prefix} has no chain recorded: ingest jobs come from 'exposure sync', which records it first`, { field: 'chain' })
      await chain()
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
    // A killed worker's range is run again after about this long (BullMQ renews the lock at half of it).
    lockDuration: 30_000,
  })
  worker.on('error', (error) => {
    if (!isConnectionError(error)) report(error)
  })

  /** Stops taking jobs; waits for the running ones unless `force`. */
  async function close(force = false): Promise<void> {
    await worker.close(force)
    commands.disconnect()
    connection.disconnect()
  }

  return { worker, client, close }
}

export interface EtlIngestWorkerOptions {
  redisUrl: string
  prefix: string
  /** Jobs (file groups) at once. Default 1: one job keeps a core busy parsing. */
  concurrency?: number
  /** BullMQ lock duration (ms): how soon a killed worker's job is run again elsewhere. Default 30 s. */
  lockDuration?: number
}

/**
 * A BullMQ worker for etl ingest jobs (`exposure import --ingest-workers N`): each job stages
 * some etl files into an import that the importing command holds and commits, or prepares some
 * partitions of that commit. Thin: the work is runEtlIngestJob and runEtlPrepareJob. A job whose
 * worker died is run again after the lock duration; what the dead one staged is de-duplicated at
 * commit, and the parts a dead preparer wrote are written again with the same values.
 */
export function startEtlIngestWorker(options: EtlIngestWorkerOptions) {
  const connection = quietRedis(options.redisUrl, { maxRetriesPerRequest: null })
  const commands = quietStoreRedis(options.redisUrl, { maxRetriesPerRequest: 3 })
  const store = createGraphStore(commands, options.prefix, { actor: 'etl ingest worker' })
  const report = createErrorReporter('etl ingest worker')
  const lockDuration = options.lockDuration ?? 30_000
  const worker = new Worker<EtlJobData, EtlIngestResult | EtlPrepareResult>(
    QUEUES.etlIngest,
    async (job) => {
      if (job.data.source === 'etl-prepare') return runEtlPrepareJob(store, job.data)
      let last = 0
      return runEtlIngestJob(store, job.data, (bytes) => {
        // Progress for the importing command's bar, a few times a second at most.
        if (Date.now() - last < 250) return
        last = Date.now()
        job.updateProgress(bytes).catch(() => undefined)
      })
    },
    { connection, prefix: store.keys.queuePrefix, concurrency: options.concurrency ?? 1, lockDuration, stalledInterval: Math.max(250, Math.floor(lockDuration / 2)) },
  )
  worker.on('error', (error) => {
    if (!isConnectionError(error)) report(error)
  })

  async function close(force = false): Promise<void> {
    await worker.close(force).catch(() => undefined)
    commands.disconnect()
    connection.disconnect()
  }

  return { worker, close }
}
