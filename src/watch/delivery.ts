/**
 * Alert delivery: `dispatch` queues one deliver job per new alert and matching endpoint (job id
 * `<endpoint>-<alert id>`, and the alert id appended once to the endpoint's per-address list);
 * the deliver worker sends the alert at the head of that list only, so the alerts of one address
 * reach an endpoint in order, a later one waiting while an earlier one is retried. A failed
 * attempt is retried with exponential backoff until EXPOSURE_WEBHOOK_RETRY_FOR (24 h), then the
 * alert is marked failed for that endpoint (`webhooks list`, P:webhooks:failed) and the next one
 * goes; an endpoint that answers 410 Gone is disabled.
 */
import { DelayedError, UnrecoverableError, type Job, type Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import type { StoreKeys } from '../store/keys.ts'
import type { Address } from '../types.ts'
import { DELIVER_JOB_OPTIONS, type DeliverJobData } from '../queues/watch-queues.ts'
import type { Alert } from './alerts.ts'
import { readAlertAt, readAlerts } from './alerts.ts'
import { callWatchScript } from './scripts.ts'
import { createWebhooks, deliver, type WebhookEndpoint } from './webhooks.ts'

/** The body of an alert's delivery: the same bytes on every attempt. */
export function alertBody(alert: Alert): string {
  return JSON.stringify({ type: 'exposure.alert', timestamp: alert.at, data: alert })
}

/**
 * Queues deliveries of every alert appended since the last dispatch (P:alerts:dispatched), to the
 * enabled endpoints whose events match. Idempotent: run again, it queues nothing twice.
 */
export async function dispatch(redis: Redis, keys: StoreKeys, queue: Queue<DeliverJobData>): Promise<number> {
  const endpoints = (await createWebhooks(redis, keys).all()).filter((e) => e.disabledAt === null)
  let cursor = (await redis.get(keys.alertsDispatched)) ?? '0'
  let queued = 0
  for (;;) {
    const page = await readAlerts(redis, keys, cursor, 500)
    if (page.length === 0) break
    if (endpoints.length > 0) {
      const jobs: { name: string; data: DeliverJobData; opts: typeof DELIVER_JOB_OPTIONS }[] = []
      for (const { cursor: at, alert } of page) {
        const hex = alert.address.slice(2).toLowerCase()
        for (const endpoint of endpoints) {
          if (!alert.changes.some((c) => endpoint.events.includes(c))) continue
          await callWatchScript(redis, 'queue-delivery', [keys.webhookQueue(endpoint.id, `0x${hex}` as Address), keys.webhookDone], [alert.id, endpoint.id])
          jobs.push({ name: 'deliver', data: { endpointId: endpoint.id, alertId: alert.id, cursor: at, hex }, opts: { ...DELIVER_JOB_OPTIONS, jobId: `${endpoint.id}-${alert.id}` } })
        }
      }
      if (jobs.length > 0) await queue.addBulk(jobs)
      queued += jobs.length
    }
    cursor = page[page.length - 1]!.cursor
    await redis.set(keys.alertsDispatched, cursor)
  }
  return queued
}

export interface DeliveryOptions {
  /** Give up (mark failed) once a delivery has been retried this long (ms). */
  retryForMs: number
  /** How long a later alert of the same address waits before looking again (ms). Default 250. */
  followPollMs?: number
  /** Called after each finished delivery (metrics, benchmarks). */
  onDelivered?: (outcome: 'delivered' | 'failed' | 'dropped') => void
}

/** The deliver worker's processor. */
export function createDeliveryProcessor(redis: Redis, keys: StoreKeys, options: DeliveryOptions) {
  const webhooks = createWebhooks(redis, keys)
  const cache = new Map<string, { endpoint: WebhookEndpoint | null; at: number }>()

  async function endpointOf(id: string): Promise<WebhookEndpoint | null> {
    const hit = cache.get(id)
    if (hit !== undefined && Date.now() - hit.at < 1_000) return hit.endpoint
    const endpoint = await webhooks.get(id)
    cache.set(id, { endpoint, at: Date.now() })
    return endpoint
  }

  async function finish(data: DeliverJobData, outcome: 'delivered' | 'failed' | 'dropped'): Promise<void> {
    const list = keys.webhookQueue(data.endpointId, `0x${data.hex}` as Address)
    if ((await callWatchScript(redis, 'finish-delivery', [list, keys.webhookDone, keys.webhookStats], [data.alertId, data.endpointId, outcome])) === 1) options.onDelivered?.(outcome)
  }

  return async function process(job: Job<DeliverJobData>, token?: string): Promise<{ outcome: string; status: number | null }> {
    const data = job.data
    const list = keys.webhookQueue(data.endpointId, `0x${data.hex}` as Address)
    const endpoint = await endpointOf(data.endpointId)
    if (endpoint === null || endpoint.disabledAt !== null) {
      await finish(data, 'dropped')
      return { outcome: 'dropped', status: null }
    }
    const head = await redis.lindex(list, 0)
    if (head !== data.alertId) {
      if ((await redis.lpos(list, data.alertId)) === null) return { outcome: 'done before', status: null }
      // An earlier alert of this address is still being delivered: wait for it (not an attempt).
      await job.moveToDelayed(Date.now() + (options.followPollMs ?? 250), token)
      throw new DelayedError()
    }
    const [stored] = await readAlertAt(redis, keys, data.cursor)
    if (stored === undefined || stored.alert.id !== data.alertId) {
      await finish(data, 'dropped')
      return { outcome: 'dropped', status: null }
    }
    const attemptStartedAt = Date.now()
    const result = await deliver(endpoint, stored.alert.id, alertBody(stored.alert))
    if (result.status !== null && result.status >= 200 && result.status < 300) {
      await finish(data, 'delivered')
      return { outcome: 'delivered', status: result.status }
    }
    if (result.status === 410) {
      await webhooks.disable(endpoint.id, `answered 410 Gone at ${new Date().toISOString()}`)
      cache.delete(endpoint.id)
      await finish(data, 'dropped')
      return { outcome: 'endpoint disabled (410)', status: 410 }
    }
    const reason = result.status === null ? (result.error ?? 'no answer') : `HTTP ${result.status}`
    // The retry window starts at the first attempt (an alert may have waited behind an earlier one).
    const firstAttemptAt = data.firstAttemptAt ?? attemptStartedAt
    if (data.firstAttemptAt === undefined) await job.updateData({ ...data, firstAttemptAt })
    if (Date.now() - firstAttemptAt >= options.retryForMs) {
      await redis.multi().lpush(keys.webhookFailed, JSON.stringify({ endpoint: endpoint.id, alert: data.alertId, address: `0x${data.hex}`, at: new Date().toISOString(), reason })).ltrim(keys.webhookFailed, 0, 9_999).exec()
      await finish(data, 'failed')
      throw new UnrecoverableError(`gave up delivering ${data.alertId} to ${endpoint.url} after ${Math.round((Date.now() - firstAttemptAt) / 1000)} s: ${reason}`)
    }
    throw new Error(`delivery of ${data.alertId} to ${endpoint.url} failed: ${reason}`)
  }
}


/** Exponential backoff from `baseMs`, doubling per attempt, at most an hour. */
export function webhookBackoff(baseMs: number) {
  return (attemptsMade: number) => Math.min(baseMs * 2 ** Math.max(0, attemptsMade - 1), 3_600_000)
}
