import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq'
import { EVENTS_MAX_LEN, QUEUES } from './names.ts'

/** A delivery job: one alert (by its stream cursor) to one endpoint. Job id `<endpoint>-<alert id>`. */
export interface DeliverJobData {
  endpointId: string
  alertId: string
  /** The alert's stream id in P:alerts. */
  cursor: string
  /** hex40 of the alert's address: its deliveries to one endpoint go in order. */
  hex: string
  /** When the first attempt was made (ms; set by the worker): the retry window starts there. */
  firstAttemptAt?: number
}

export interface RescanJobData {
  trigger: 'schedule' | 'queue'
}

/** The backoff strategy name the deliver worker implements (exponential, capped at an hour). */
export const WEBHOOK_BACKOFF = 'webhook'

/**
 * Deliveries retry until the worker gives up (EXPOSURE_WEBHOOK_RETRY_FOR, 24 h by default) and
 * marks the alert failed: the attempt count only bounds a runaway.
 */
export const DELIVER_JOB_OPTIONS: JobsOptions = {
  attempts: 100_000,
  backoff: { type: WEBHOOK_BACKOFF },
  removeOnComplete: { age: 7 * 86_400, count: 200_000 },
  removeOnFail: { age: 7 * 86_400, count: 50_000 },
}

export function createDeliverQueue(connection: ConnectionOptions, prefix: string): Queue<DeliverJobData> {
  const queue = new Queue<DeliverJobData>(QUEUES.deliver, { connection, prefix, streams: { events: { maxLen: EVENTS_MAX_LEN } } })
  queue.on('error', () => undefined)
  return queue
}

export function createRescanQueue(connection: ConnectionOptions, prefix: string): Queue<RescanJobData> {
  const queue = new Queue<RescanJobData>(QUEUES.rescan, { connection, prefix, streams: { events: { maxLen: EVENTS_MAX_LEN } } })
  queue.on('error', () => undefined)
  return queue
}

/** The id of the job scheduler `exposure worker --queues rescan` installs. */
export const RESCAN_SCHEDULER = 'rescan-cron'
