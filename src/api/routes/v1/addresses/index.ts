import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Address } from '../../../../types.ts'
import { decodeCursor } from '../../../../screen/address-view.ts'
import { HttpProblem } from '../../../problems.ts'
import { AddressParams, AddressView, NeighbourPage, NeighbourQuery, authProblems, problem } from '../../../schemas.ts'

export default async function addressRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>()
  r.get(
    '/addresses/:address',
    {
      schema: {
        tags: ['investigation'],
        summary: 'Everything the store knows about an address',
        description: 'Its answer from the published walk (both directions, witness paths, seed provenance), its own seed provenance and service label, first and last transfer, transfer counts, counterparties, and the last screening recorded for it.',
        security: [{ bearerAuth: [] }],
        params: AddressParams,
        response: { 200: AddressView, 400: problem('bad input: malformed JSON, a bad address or checksum (invalidParams names each value and where it was)'), ...authProblems },
      },
      preHandler: app.requireScope('investigate'),
    },
    async (request) => app.services.addressViews.view(request.params.address.trim().toLowerCase() as Address),
  )
  r.get(
    '/addresses/:address/neighbours',
    {
      schema: {
        tags: ['investigation'],
        summary: 'Counterparties with aggregated transfers, paged',
        description: 'Ordered by counterparty address (out before in); pass nextCursor as cursor for the next page. Totals are exact base-unit sums per asset.',
        security: [{ bearerAuth: [] }],
        params: AddressParams,
        querystring: NeighbourQuery,
        response: { 200: NeighbourPage, 400: problem('bad input: malformed JSON, a bad address or checksum (invalidParams names each value and where it was)'), ...authProblems },
      },
      preHandler: app.requireScope('investigate'),
    },
    async (request) => {
      const { direction, limit, cursor } = request.query
      if (cursor !== undefined) {
        try {
          decodeCursor(cursor)
        } catch (error) {
          throw new HttpProblem('invalid-request', (error as Error).message, { invalidParams: [{ name: 'cursor', reason: 'not a cursor of this endpoint', value: cursor }] })
        }
      }
      return app.services.addressViews.neighbours(request.params.address.trim().toLowerCase() as Address, direction, limit, cursor ?? null)
    },
  )
}
