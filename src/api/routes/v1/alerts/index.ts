import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { readAlerts, type StoredAlert } from '../../../../watch/alerts.ts'
import { AlertPage, AlertsQuery, authProblems, problem } from '../../../schemas.ts'

/**
 * Alerts after a cursor. A key sees the alerts of wallets it watches or screened (within the
 * screening watch window); an admin key sees all.
 */
export default async function alertRoutes(app: FastifyInstance): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/alerts',
    {
      schema: {
        tags: ['watch'],
        summary: 'Alerts after a cursor, oldest first',
        description: 'Pass nextCursor as after to read on; nextCursor stays the same when there is nothing new. Each alert: the answer before and after, the witness paths after, and the cause (store, seed-set and labels versions, seeds added and removed, what the rescan imported).',
        security: [{ bearerAuth: [] }],
        querystring: AlertsQuery,
        response: { 200: AlertPage, 400: problem('bad input: a malformed cursor or limit'), ...authProblems },
      },
      preHandler: app.requireScope('screen'),
    },
    async (request) => {
      const key = request.apiKey!
      const admin = key.scopes.includes('admin')
      const mine = (a: StoredAlert) => admin || a.alert.watchers.owners.includes(`key:${key.id}`) || a.alert.watchers.screenedBy === key.name
      const { after, limit } = request.query
      const out: StoredAlert[] = []
      let cursor = after
      // Read on past other keys' alerts, a bounded number of pages per request.
      for (let page = 0; page < 20 && out.length < limit; page++) {
        const batch = await readAlerts(app.services.redis, app.services.store.keys, cursor, 500)
        if (batch.length === 0) break
        for (const a of batch) {
          cursor = a.cursor
          if (mine(a)) out.push(a)
          if (out.length >= limit) break
        }
      }
      return { alerts: out as unknown as { cursor: string; alert: Record<string, never> }[], nextCursor: cursor } as never
    },
  )
}
