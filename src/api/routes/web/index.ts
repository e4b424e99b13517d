/**
 * The graph view (web/, built by `npm run build` into dist/web) at `/`, with a strict content
 * security policy: scripts, styles, workers and API calls from this origin only, no inline
 * script, no framing. Without a build, `/` says how to make one.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'

export const WEB_ROOT = fileURLToPath(new URL('../../../../dist/web/', import.meta.url))

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

export default async function webRoutes(app: FastifyInstance): Promise<void> {
  if (!existsSync(`${WEB_ROOT}index.html`)) {
    app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.code(503).type('text/plain; charset=utf-8').send('the graph view is not built: run npm run build, then restart exposure serve\n'))
    return
  }
  await app.register(fastifyStatic, {
    root: WEB_ROOT,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    setHeaders: (reply, path) => {
      reply.header('content-security-policy', CONTENT_SECURITY_POLICY)
      reply.header('x-content-type-options', 'nosniff')
      reply.header('referrer-policy', 'no-referrer')
      // Hashed asset names never change; the page itself is always re-read.
      reply.header('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache')
    },
  })
}
