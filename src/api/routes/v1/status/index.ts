import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { collectStatus } from '../../../../cli/commands/status.ts'
import { StatusResponse, authProblems } from '../../../schemas.ts'

export default async function statusRoutes(app: FastifyInstance): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/status',
    {
      schema: {
        tags: ['investigation'],
        summary: 'What exposure status --json shows, and the service\'s queues',
        security: [{ bearerAuth: [] }],
        response: { 200: StatusResponse, ...authProblems },
      },
    },
    async () => {
      const { services } = app
      const { status } = await collectStatus({ store: services.store, redis: services.redis, options: services.options })
      const queues = Object.fromEntries(await Promise.all(Object.entries(services.queues).map(async ([name, q]) => [name, await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed')] as const)))
      return { ...status, service: { checkSource: services.checkSource ?? 'store', queues, checkWorkers: await services.checkQueue.getWorkersCount() } }
    },
  )
}
