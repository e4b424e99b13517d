import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Address } from '../../../../types.ts'
import { ScreenRequest, ScreenResponse, authProblems, problem } from '../../../schemas.ts'

export default async function screenRoutes(app: FastifyInstance): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/screen',
    {
      schema: {
        tags: ['screening'],
        summary: 'Screen wallets',
        description: 'One result per address, in input order. Addresses the store answers exactly (the published walk, or a recorded screening on the same basis) are answered at once; any other becomes a check job and the request waits up to waitMs for it, else answers pending with a checkId (GET /v1/checks/{checkId}). Every answer is recorded with its basis and the submitting key, and every screening is audited.',
        security: [{ bearerAuth: [] }],
        body: ScreenRequest,
        response: { 200: ScreenResponse, 400: problem('bad input: malformed JSON, a bad address or checksum (invalidParams names each value and where it was)'), 413: problem('more than 1,000 addresses, or a body over 256 KiB'), 415: problem('not application/json'), ...authProblems, 502: problem('the check job or the live source failed') },
      },
      preHandler: app.requireScope('screen'),
    },
    async (request) => {
      const addresses = request.body.addresses.map((a) => a.trim().toLowerCase() as Address)
      const { results, from } = await app.services.screening.screen(addresses, { waitMs: request.body.waitMs, key: request.apiKey!.name, requestId: String(request.id) })
      app.metrics.countScreens(results, from)
      return { results }
    },
  )
}
