/**
 * The HTTP service as one plugin (server.ts starts it; tests mount it on a fresh instance):
 * decorators first (plugins/app), then the documentation, the /v1 routes (behind the key hook
 * and with the zod compilers, set in their own scope so that third-party plugins keep theirs),
 * the operations routes and the queue dashboard.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { validatorCompiler } from 'fastify-type-provider-zod'
import auth from './plugins/app/auth.ts'
import metrics from './plugins/app/metrics.ts'
import services, { type ServiceOptions } from './plugins/app/services.ts'
import { bullBoard } from './plugins/external/bull-board.ts'
import docs from './plugins/external/swagger.ts'
import { handleError, sendProblem } from './problems.ts'
import addressRoutes from './routes/v1/addresses/index.ts'
import auditRoutes from './routes/v1/audit/index.ts'
import checkRoutes from './routes/v1/checks/index.ts'
import screenRoutes from './routes/v1/screen/index.ts'
import statusRoutes from './routes/v1/status/index.ts'
import graphRoutes from './routes/v1/graph/index.ts'
import opsRoutes from './routes/ops/index.ts'
import watchRoutes from './routes/v1/watch/index.ts'
import alertRoutes from './routes/v1/alerts/index.ts'
import webRoutes from './routes/web/index.ts'

export type AppOptions = ServiceOptions

async function app(fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  fastify.setErrorHandler(handleError)
  fastify.setNotFoundHandler((request, reply) => sendProblem(reply, 'not-found', `no route ${request.method} ${request.url.split('?')[0]}`))
  await fastify.register(services, opts)
  await fastify.register(auth)
  await fastify.register(metrics)
  await fastify.register(docs)
  await fastify.register(
    async (v1) => {
      v1.setValidatorCompiler(validatorCompiler)
      // Responses are plain JSON.stringify: zod's encode of every answer would cost the screening
      // path dearly; the tests validate every route's responses against the OpenAPI document.
      v1.setSerializerCompiler(() => (data) => JSON.stringify(data))
      v1.addHook('onRequest', v1.authenticate)
      await v1.register(screenRoutes)
      await v1.register(checkRoutes)
      await v1.register(addressRoutes)
      await v1.register(statusRoutes)
      await v1.register(auditRoutes)
      await v1.register(watchRoutes)
      await v1.register(alertRoutes)
      await v1.register(graphRoutes)
    },
    { prefix: '/v1' },
  )
  await fastify.register(opsRoutes)
  await fastify.register(bullBoard)
  await fastify.register(webRoutes)
}

export default fp(app, { name: 'exposure-app' })
