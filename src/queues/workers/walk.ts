import { UnrecoverableError, Worker, type Job } from 'bullmq'
import { createGraphStore } from '../../store/graph-store.ts'
import { createWalkState } from '../../store/walk-state.ts'
import { QUEUES } from '../names.ts'
import { addWalkTokens, createWalkQueue, followUpJobId, type WalkJobData } from '../walk-queue.ts'
import { runWalkJob, type BeforeExpand, type WalkJobResult } from '../../walk/walk-job.ts'
import { isExposureError } from '../../errors.ts'
import { isGivenUp, isRetryable } from '../../sources/rpc/client.ts'
import { isConnectionError, quietRedis, quietStoreRedis } from '../../store/redis.ts'
import { createErrorReporter } from '../error-reporter.ts'

/** How long closing waits for running jobs before it drops the connections. */
const CLOSE_WAIT_MS = 15_000

/** Most follow-up tokens one job adds; the frontier itself holds the work, tokens only wake workers. */
const MAX_FOLLOW_UPS = 4

export interface WalkWorkerOptions {
  redisUrl: string
  prefix: string
  concurrency?: number
  /** BullMQ lock duration (ms): how soon a killed worker's job is considered stalled. Default 10 s. */
  lockDuration?: number
  stalledInterval?: number
  /** Lazy-history hook: fetch the claimed addresses' transfers before expanding them (default none). */
  beforeExpand?: BeforeExpand
}

/**
 * A BullMQ worker for the walk queue. Thin: it wires the queue to runWalkJob and adds follow-up
 * tokens while the frontier has work. Close it with `close()` (SIGTERM/SIGINT in `exposure worker`):
 * running jobs finish, nothing new is taken.
 */
export function startWalkWorker(options: WalkWorkerOptions) {
  const connection = quietRedis(options.redisUrl, { maxRetriesPerRequest: null })
  const commands = quietStoreRedis(options.redisUrl, { maxRetriesPerRequest: 3 })
  const store = createGraphStore(commands, options.prefix, { actor: 'walk worker' })
  const queue = createWalkQueue(connection, store.keys.queuePrefix)
  const report = createErrorReporter('walk worker')

  async function process(job: Job<WalkJobData>): Promise<WalkJobResult | { stale: true }> {
    const data = job.data
    const [currentRun, status] = await commands.hmget(store.keys.walkMeta, 'runId', 'status')
    if (currentRun !== data.runId || status !== 'running') return { stale: true }
    const state = createWalkState(commands, store.keys, data.runId)
    try {
      const result = await runWalkJob(state, store.loadAssets, data, job.id ?? job.name, options.beforeExpand, { recover: job.attemptsMade > 0 || (job.attemptsStarted ?? 0) > 1 || (job.stalledCounter ?? 0) > 0 })
      const frontier = await state.frontierHint(data.direction, 8)
      const followUps = Math.min(MAX_FOLLOW_UPS, Math.ceil(frontier / data.batchSize))
      await addWalkTokens(queue, data, Array.from({ length: followUps }, (_, i) => followUpJobId(job.id ?? job.name, i)))
      return result
    } catch (error) {
      // The run was interrupted or replaced meanwhile: nothing to do, nothing was written.
      if (isExposureError(error, 'WALK_STOPPED')) return { stale: true }
      if (isExposureError(error) && error.isBadInput) throw new UnrecoverableError(error.message)
      // A source that already spent its deadline on retries: retrying the job would multiply the
      // wait; fail it for good with the precise reason (the coordinator prints it).
      if (isGivenUp(error) || (isExposureError(error) && !isRetryable(error) && !isExposureError(error, 'STORE_BUSY') && !isExposureError(error, 'WALK_BUSY'))) throw new UnrecoverableError(error instanceof Error ? error.message : String(error))
      throw error
    }
  }

  const worker = new Worker<WalkJobData>(QUEUES.walk, process, {
    connection,
    prefix: store.keys.queuePrefix,
    concurrency: options.concurrency ?? 2,
    lockDuration: options.lockDuration ?? 10_000,
    stalledInterval: options.stalledInterval ?? 5_000,
    maxStalledCount: 5,
  })
  // Connection errors are the outage guard's to report (once); others once per distinct message.
  worker.on('error', (error) => {
    if (!isConnectionError(error)) report(error)
  })

  /**
   * Closes the worker: by default after its running jobs finish, `force` without waiting for them
   * (a walk that already failed). Either way within CLOSE_WAIT_MS: a job whose keys vanished with
   * a Redis restarted without persistence never settles in BullMQ (moveToFinished and its retry
   * fail with "Missing key"), and a plain close would wait for it forever.
   */
  async function close({ force = false }: { force?: boolean } = {}): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_WAIT_MS)
      timer.unref()
    })
    const closed = (async () => {
      await worker.close(force)
      await queue.close()
    })().catch(() => undefined)
    await Promise.race([closed, waited])
    clearTimeout(timer)
    commands.disconnect()
    connection.disconnect()
  }

  return { worker, close }
}
