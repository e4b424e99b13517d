/** Operations routes, without a key and hidden from the OpenAPI document: liveness, readiness, metrics. */
import type { FastifyInstance } from 'fastify'
import { readPublished } from '../../../walk/walk-runs.ts'
import { sendProblem } from '../../problems.ts'

export default async function opsRoutes(app: FastifyInstance): Promise<void> {
  /** The process is up (no dependencies). */
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }))

  /** Redis answers, a walk is published (without a live source), check workers serve the check queue (with one). */
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const { services } = app
    const checks: Record<string, unknown> = {}
    let ready = !services.closing
    if (services.closing) checks.closing = true
    try {
      await services.redis.ping()
      checks.redis = 'ok'
      const published = await readPublished(services.redis, services.store.keys)
      checks.walk = published === null ? null : published.runId
      if (published === null && services.checkSource === null) ready = false
      if (services.checkSource !== null) {
        const workers = await services.checkQueue.getWorkersCount()
        checks.checkWorkers = workers
        if (workers === 0) ready = false
      }
    } catch (error) {
      checks.redis = (error as Error).message.split('\n')[0]
      ready = false
    }
    if (!ready) return sendProblem(reply, 'not-ready', services.closing ? 'shutting down' : checks.redis !== 'ok' ? 'Redis is unavailable' : checks.walk === null && services.checkSource === null ? 'no walk is published' : 'no check worker serves the check queue', { checks })
    return { status: 'ready', checks }
  })

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8')
    return app.metrics.render()
  })
}
