/**
 * Prometheus metrics (prom-client, own registry): request latency per route, screens by risk,
 * status and how they were answered, job durations per queue (from each queue's events, so jobs
 * of every worker process count), walk progress and Redis memory read at scrape time, and
 * BullMQ's own queue depths (`queue.exportPrometheusMetrics()`).
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { QueueEvents } from 'bullmq'
import { memoryInfo } from '../../../store/memory.ts'
import { quietRedis } from '../../../store/redis.ts'
import { PARTITIONS } from '../../../store/partitions.ts'
import type { AnsweredFrom, ScreenResult } from '../../../screen/screening.ts'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: {
      registry: Registry
      countScreens(results: readonly ScreenResult[], from: readonly AnsweredFrom[]): void
      /** The exposition text: prom-client's registry and BullMQ's queue counts. */
      render(): Promise<string>
    }
  }
}

async function metrics(app: FastifyInstance): Promise<void> {
  const { services } = app
  const { redis, store } = services
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'exposure_' })
  const requests = new Histogram({ name: 'exposure_http_request_duration_seconds', help: 'HTTP request latency by route', labelNames: ['method', 'route', 'status'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] })
  const screens = new Counter({ name: 'exposure_screens_total', help: 'Screened addresses by risk, status and how they were answered (walk, record, job, pending)', labelNames: ['risk', 'status', 'from'], registers: [registry] })
  const jobs = new Histogram({ name: 'exposure_job_duration_seconds', help: 'Job durations per queue (active to completed or failed, any worker)', labelNames: ['queue', 'outcome'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300], registers: [registry] })
  const checkFetches = new Counter({ name: 'exposure_check_histories_fetched_total', help: 'Histories fetched by this process\'s check workers', registers: [registry] })
  const checkRequests = new Counter({ name: 'exposure_check_source_requests_total', help: 'Requests to the live source by this process\'s check workers', registers: [registry] })
  services.onCheckFinished.push((r) => {
    checkFetches.inc(r.fetched)
    checkRequests.inc(r.requests)
  })

  new Gauge({
    name: 'exposure_webhook_deliveries',
    help: 'Alert deliveries per webhook endpoint by outcome (delivered, failed: given up after the retry window, dropped), and alerts in the stream',
    labelNames: ['endpoint', 'outcome'],
    registers: [registry],
    async collect() {
      this.reset()
      const stats = await redis.hgetall(store.keys.webhookStats)
      for (const [field, count] of Object.entries(stats)) {
        const at = field.lastIndexOf(':')
        this.set({ endpoint: field.slice(0, at), outcome: field.slice(at + 1) }, Number(count))
      }
      this.set({ endpoint: '', outcome: 'alerts' }, await redis.xlen(store.keys.alerts))
    },
  })
  new Gauge({
    name: 'exposure_walk_progress',
    help: 'The latest walk attempt: running (1/0), and per direction its labelled addresses and frontier',
    labelNames: ['measure', 'direction'],
    registers: [registry],
    async collect() {
      this.reset()
      const [runId, status] = await redis.hmget(store.keys.walkMeta, 'runId', 'status')
      this.set({ measure: 'running', direction: '' }, status === 'running' ? 1 : 0)
      if (!runId) return
      // Summed over the partitions (keys.ts), one pipeline.
      const pipeline = redis.pipeline()
      for (const d of ['downstream', 'upstream'] as const) for (let p = 0; p < PARTITIONS; p++) pipeline.hlen(store.keys.walkLabels(runId, d, p)).zcard(store.keys.walkFrontier(runId, d, p))
      const replies = ((await pipeline.exec()) ?? []).map(([, v]) => Number(v ?? 0))
      ;(['downstream', 'upstream'] as const).forEach((d, i) => {
        let labelled = 0
        let frontier = 0
        for (let p = 0; p < PARTITIONS; p++) {
          labelled += replies[(i * PARTITIONS + p) * 2]!
          frontier += replies[(i * PARTITIONS + p) * 2 + 1]!
        }
        this.set({ measure: 'labelled', direction: d }, labelled)
        this.set({ measure: 'frontier', direction: d }, frontier)
      })
    },
  })
  new Gauge({
    name: 'exposure_redis_used_memory_bytes',
    help: 'Redis used_memory',
    registers: [registry],
    async collect() {
      this.set((await memoryInfo(redis)).used)
    },
  })

  // Job durations from each queue's events: 'active' and 'completed'/'failed' carry stream ids whose first part is the time (ms).
  const watchers: QueueEvents[] = []
  const watch = (name: string, events: QueueEvents) => {
    const started = new Map<string, number>()
    const at = (id: string) => Number(id.split('-')[0])
    events.on('active', ({ jobId }, id) => {
      if (started.size > 50_000) started.clear()
      started.set(jobId, at(id))
    })
    for (const outcome of ['completed', 'failed'] as const) {
      events.on(outcome, ({ jobId }: { jobId: string }, id: string) => {
        const start = started.get(jobId)
        if (start === undefined) return
        started.delete(jobId)
        jobs.observe({ queue: name, outcome }, Math.max(0, at(id) - start) / 1000)
      })
    }
  }
  watch('check', services.checkEvents)
  for (const name of ['walk', 'ingest'] as const) {
    const events = new QueueEvents(name, { connection: quietRedis(services.options.redisUrl, { maxRetriesPerRequest: null }), prefix: store.keys.queuePrefix })
    events.on('error', () => undefined)
    watchers.push(events)
    watch(name, events)
  }
  app.addHook('onClose', async () => {
    await Promise.allSettled(watchers.map((w) => w.close()))
  })

  app.addHook('onResponse', async (request, reply) => {
    requests.observe({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }, reply.elapsedTime / 1000)
  })

  app.decorate('metrics', {
    registry,
    countScreens(results, from) {
      results.forEach((r, i) => screens.inc({ risk: r.status === 'complete' ? r.risk : 'unknown', status: r.status, from: from[i] ?? 'walk' }))
    },
    async render() {
      const own = await registry.metrics()
      const queues = await Promise.all(Object.values(services.queues).map((q) => q.exportPrometheusMetrics().catch(() => '')))
      // One HELP/TYPE header per metric family: keep the first queue's, drop the repeats.
      const seen = new Set<string>()
      const lines = queues.join('\n').split('\n').filter((line) => {
        if (!line.startsWith('#')) return line.trim().length > 0
        if (seen.has(line)) return false
        seen.add(line)
        return true
      })
      return `${own.trimEnd()}\n${lines.join('\n')}\n`
    },
  })
}

export default fp(metrics, { name: 'metrics', dependencies: ['services'] })
