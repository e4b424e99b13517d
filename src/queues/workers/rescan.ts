import { Worker } from 'bullmq'
import type { Options } from '../../config.ts'
import { QUEUES } from '../names.ts'
import { createRescanQueue, RESCAN_SCHEDULER, type RescanJobData } from '../watch-queues.ts'
import { createGraphStore } from '../../store/graph-store.ts'
import { isConnectionError, quietRedis, quietStoreRedis } from '../../store/redis.ts'
import { runRescan } from '../../watch/rescan.ts'
import { createErrorReporter } from '../error-reporter.ts'

export interface RescanWorkerOptions {
  options: Options
  /** Called with one line per rescan (the worker's log). */
  onLine?: (line: string) => void
}

/**
 * A BullMQ worker for the rescan queue, and the job scheduler that fills it on
 * EXPOSURE_RESCAN_CRON (installed, or updated, when the worker starts; removed when no cron is
 * configured). Rescans run one at a time per store whoever triggers them (the rescan lock): a
 * job that finds one running finishes at once, saying so.
 */
export function startRescanWorker({ options, onLine }: RescanWorkerOptions) {
  const connection = quietRedis(options.redisUrl, { maxRetriesPerRequest: null })
  const commands = quietStoreRedis(options.redisUrl, { maxRetriesPerRequest: 3 })
  const store = createGraphStore(commands, options.prefix, { actor: 'rescan worker' })
  const report = createErrorReporter('rescan worker')
  const say = onLine ?? ((line: string) => process.stderr.write(`${line}\n`))
  const queue = createRescanQueue(connection, store.keys.queuePrefix)
  const worker = new Worker<RescanJobData>(
    QUEUES.rescan,
    async (job) => {
      const result = await runRescan(store, { options, trigger: job.data.trigger ?? 'schedule', onNote: say })
      if (result.status === 'busy') say(`rescan worker: ${result.message}`)
      else say(`rescan worker: rescan ${result.id} done in ${result.seconds.toFixed(2)} s: ${result.evaluated} answered, ${result.changed} changed, ${result.alerts} new alert(s)`)
      const { ...json } = result
      return json
    },
    { connection, prefix: store.keys.queuePrefix, concurrency: 1, lockDuration: 60_000 },
  )
  worker.on('error', (error) => {
    if (!isConnectionError(error)) report(error)
  })
  async function installSchedule(): Promise<string> {
    if (options.rescanCron === '') {
      await queue.removeJobScheduler(RESCAN_SCHEDULER)
      return 'no EXPOSURE_RESCAN_CRON: rescans run when queued or run by exposure rescan'
    }
    await queue.upsertJobScheduler(RESCAN_SCHEDULER, { pattern: options.rescanCron }, { name: 'rescan', data: { trigger: 'schedule' }, opts: { removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } })
    const next = (await queue.getJobScheduler(RESCAN_SCHEDULER))?.next
    return `rescans scheduled on "${options.rescanCron}"${next === undefined ? '' : `, next at ${new Date(next).toISOString()}`}`
  }
  async function close(): Promise<void> {
    await worker.close()
    await queue.close()
    commands.disconnect()
    connection.disconnect()
  }
  return { worker, close, installSchedule }
}
