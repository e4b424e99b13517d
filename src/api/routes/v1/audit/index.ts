import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { getAddress } from 'ethers'
import { readAudit } from '../../../../screen/records.ts'
import type { Address } from '../../../../types.ts'
import { AuditQuery, AuditResponse, authProblems, problem } from '../../../schemas.ts'

export default async function auditRoutes(app: FastifyInstance): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/audit',
    {
      schema: {
        tags: ['admin'],
        summary: 'The audit trail of one address, newest first',
        security: [{ bearerAuth: [] }],
        querystring: AuditQuery,
        response: { 200: AuditResponse, 400: problem('bad input: malformed JSON, a bad address or checksum (invalidParams names each value and where it was)'), ...authProblems },
      },
      preHandler: app.requireScope('admin'),
    },
    async (request) => {
      const address = request.query.address.trim().toLowerCase() as Address
      const entries = await readAudit(app.services.redis, app.services.store.keys, address, request.query.limit)
      return { address: getAddress(address), entries }
    },
  )
}
