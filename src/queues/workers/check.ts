import { UnrecoverableError, Worker, type Job } from 'bullmq'
import { ZodError } from 'zod'
import { createGraphStore } from '../../store/graph-store.ts'
import { QUEUES } from '../names.ts'
import { createCheckProcessor, type CheckJobData, type CheckJobResult } from '../../screen/check-job.ts'
import type { WalkSourceConfig } from '../../sources/walk-source.ts'
import { isRetryable } from '../../sources/rpc/client.ts'
import type { OnDemandParams } from '../../walk/on-demand-check.ts'
import type { RiskPolicy } from '../../walk/risk.ts'
import { isExposureError } from '../../errors.ts'
import { isConnectionError, quietRedis, quietStoreRedis } from '../../store/redis.ts'
import { createErrorReporter } from '../error-reporter.ts'

export interface CheckWorkerOptions {
  redisUrl: string
  prefix: string
  riskPolicy: RiskPolicy
  /** This process's live-source settings (URLs and API keys never ride in jobs). */
  sourceConfig: WalkSourceConfig
  defaults: OnDemandParams
  concurrency?: number
  lockDuration?: number
  /** Called after each finished job (metrics). */
  onFinished?: (result: CheckJobResult) => void
}

/**
 * A BullMQ worker for the check queue. Thin: the work is src/screen/check-job.ts. Bad payloads
 * and bad input (a source this worker is not configured for) fail at once; node and Redis faults
 * are retried with backoff.
 */
export function startCheckWorker(options: CheckWorkerOptions) {
  const connection = quietRedis(options.redisUrl, { maxRetriesPerRequest: null })
  const commands = quietStoreRedis(options.redisUrl, { maxRetriesPerRequest: 3 })
  const store = createGraphStore(commands, options.prefix, { actor: 'check worker' })
  const processor = createCheckProcessor({ store, riskPolicy: options.riskPolicy, sourceConfig: options.sourceConfig, defaults: options.defaults })
  const report = createErrorReporter('check worker')

  async function process(job: Job<CheckJobData, CheckJobResult>): Promise<CheckJobResult> {
    try {
      const result = await processor.process(job.data, job.id ?? job.name)
      options.onFinished?.(result)
      return result
    } catch (error) {
      if (error instanceof ZodError) throw new UnrecoverableError(`bad check job payload: ${error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
      // Node faults (isRetryable), Redis outages and other faults are retried with backoff.
      if (isExposureError(error) && error.isBadInput && !isRetryable(error)) throw new UnrecoverableError(error.message)
      throw error
    }
  }

  const worker = new Worker<CheckJobData, CheckJobResult>(QUEUES.check, process, {
    connection,
    prefix: store.keys.queuePrefix,
    concurrency: options.concurrency ?? 4,
    lockDuration: options.lockDuration ?? 30_000,
  })
  worker.on('error', (error) => {
    if (!isConnectionError(error)) report(error)
  })

  /** Running jobs finish (within `graceMs` when given; then they are left to be retried by another worker). */
  async function close(graceMs?: number): Promise<void> {
    if (graceMs === undefined) await worker.close()
    else {
      let timer: NodeJS.Timeout | undefined
      const forced = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)))
      const outcome = await Promise.race([worker.close(), forced])
      clearTimeout(timer)
      if (outcome === 'timeout') await worker.close(true)
    }
    await processor.close()
    commands.disconnect()
    connection.disconnect()
  }

  return { worker, close }
}
