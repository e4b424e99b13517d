import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { HttpProblem } from '../../../problems.ts'
import { CheckParams, CompleteResult, PendingResult, authProblems, problem } from '../../../schemas.ts'

export default async function checkRoutes(app: FastifyInstance): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/checks/:checkId',
    {
      schema: {
        tags: ['screening'],
        summary: 'The answer of a pending screening',
        description: 'complete once the check job is done (the answer as POST /v1/screen gives it), pending while it runs; 502 when the job failed (screen the address again to retry).',
        security: [{ bearerAuth: [] }],
        params: CheckParams,
        response: { 200: z.union([CompleteResult, PendingResult]), 404: problem('no such check, or it expired'), ...authProblems, 502: problem('the check job or the live source failed') },
      },
      preHandler: app.requireScope('screen'),
    },
    async (request) => {
      const { checkId } = request.params
      const found = await app.services.screening.lookup(checkId, { key: request.apiKey!.name, requestId: String(request.id) })
      if (found === null) throw new HttpProblem('not-found', `no check ${JSON.stringify(checkId)} (unknown, or expired: screen the address again)`)
      if (found.kind === 'failed') throw new HttpProblem('check-failed', `the check of ${found.address} failed: ${found.reason}`)
      if (found.kind === 'pending') return { address: found.address, status: 'pending' as const, checkId }
      app.metrics.countScreens([found.result], ['job'])
      return found.result
    },
  )
}
