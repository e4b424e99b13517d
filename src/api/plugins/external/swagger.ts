/**
 * The OpenAPI 3 document, generated from the routes' zod schemas (fastify-type-provider-zod's
 * transform), served at /openapi.json, and its rendered reference at /docs (@fastify/swagger-ui;
 * its assets are served from the package, nothing loads from the internet).
 */
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod'

export const API_VERSION = '1.0.0'

async function docs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'exposure-tracer screening API',
        version: API_VERSION,
        description: 'How close does a wallet sit to Lazarus Group funds? Screening of submitted wallets (exact answers from the published walk or a recorded screening at once, on-demand checks through a queue otherwise), investigation of addresses and their counterparties, and the audit trail. Errors are application/problem+json.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'an API key from `exposure keys create`' } } },
      tags: [
        { name: 'screening', description: 'scope screen' },
        { name: 'investigation', description: 'scope investigate' },
        { name: 'admin', description: 'scope admin' },
        { name: 'watch', description: 'scope screen: watchlists (each key its own) and the alerts rescans raise' },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  })
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true, uiConfig: { docExpansion: 'list', deepLinking: false } })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}

export default fp(docs, { name: 'docs' })
