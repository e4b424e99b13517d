/**
 * Authentication as one onRequest hook (`Authorization: Bearer <key>`; the admin pages also take
 * the key as a Basic password, so a browser can log in), the key's rate limit right after it
 * (held in Redis: every server process shares it), and scope checks as a small preHandler per
 * route. The key itself never reaches a log line (server.ts redacts the header).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import type { ApiKeyInfo, Scope } from '../../../screen/api-keys.ts'
import { HttpProblem } from '../../problems.ts'

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: ApiKeyInfo | null
  }
  interface FastifyInstance {
    authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void>
    authenticateAdminPage(request: FastifyRequest, reply: FastifyReply): Promise<void>
    requireScope(scope: Scope): preHandlerAsyncHookHandler
  }
}

async function auth(app: FastifyInstance): Promise<void> {
  app.decorateRequest('apiKey', null)

  async function check(request: FastifyRequest, reply: FastifyReply, allowBasic: boolean): Promise<void> {
    const header = request.headers.authorization
    const challenge = allowBasic ? 'Basic realm="exposure admin", charset="UTF-8"' : 'Bearer realm="exposure"'
    if (header === undefined || header === '') throw new HttpProblem('unauthorized', 'no API key: send Authorization: Bearer <key>', {}, { 'www-authenticate': challenge })
    let token: string | null = null
    const bearer = /^Bearer +(\S+) *$/i.exec(header)
    if (bearer) token = bearer[1]!
    else if (allowBasic) {
      const basic = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header)
      if (basic) {
        const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8')
        token = decoded.slice(decoded.indexOf(':') + 1)
      }
    }
    if (token === null) throw new HttpProblem('unauthorized', 'the Authorization header must be "Bearer <key>"', {}, { 'www-authenticate': challenge })
    const key = await app.services.apiKeys.verify(token)
    if (key === null) throw new HttpProblem('unauthorized', 'the API key is not valid (unknown, revoked or malformed)', {}, { 'www-authenticate': challenge })
    request.apiKey = key
    const decision = await app.services.limiter.take(key.id, key.rate)
    const reset = String(Math.max(1, Math.ceil(decision.resetMs / 1000)))
    reply.header('ratelimit-limit', String(decision.limit)).header('ratelimit-remaining', String(decision.remaining)).header('ratelimit-reset', reset)
    if (!decision.allowed) throw new HttpProblem('rate-limited', `key ${key.name} allows ${decision.limit} requests per ${key.rate.windowMs / 1000} s; retry after ${reset} s`, {}, { 'retry-after': reset })
  }

  app.decorate('authenticate', (request: FastifyRequest, reply: FastifyReply) => check(request, reply, false))
  app.decorate('authenticateAdminPage', async (request: FastifyRequest, reply: FastifyReply) => {
    await check(request, reply, true)
    if (!request.apiKey!.scopes.includes('admin')) throw new HttpProblem('forbidden', `key ${request.apiKey!.name} lacks the admin scope`)
  })
  app.decorate('requireScope', (scope: Scope): preHandlerAsyncHookHandler => {
    return async (request) => {
      const key = request.apiKey
      if (key === null) throw new HttpProblem('unauthorized', 'no API key', {}, { 'www-authenticate': 'Bearer realm="exposure"' })
      if (!key.scopes.includes(scope)) throw new HttpProblem('forbidden', `key ${key.name} lacks the ${scope} scope (it has ${key.scopes.join(', ')})`)
    }
  })
}

export default fp(auth, { name: 'auth', dependencies: ['services'] })
