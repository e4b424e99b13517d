/**
 * Errors as RFC 9457 problem details (application/problem+json): one `type` URI and a stable
 * `code` per kind, a one-line `detail` for people, the request id, and for bad input the values
 * and where they were (`invalidParams`: `addresses[3]`). Never a stack trace.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'
import { isExposureError } from '../errors.ts'
import { storeError } from '../store/memory.ts'
import { isConnectionError } from '../store/redis.ts'

export interface InvalidParam {
  name: string
  reason: string
  value?: unknown
}

export interface ProblemBody {
  type: string
  title: string
  status: number
  detail: string
  code: string
  instance?: string
  requestId?: string
  invalidParams?: InvalidParam[]
  checks?: Record<string, unknown>
}

const TITLES: Record<string, [number, string]> = {
  'invalid-request': [400, 'Invalid request'],
  'malformed-json': [400, 'Malformed JSON'],
  'invalid-address': [400, 'Invalid address'],
  unauthorized: [401, 'Missing or invalid API key'],
  forbidden: [403, 'The API key lacks the scope'],
  'not-found': [404, 'Not found'],
  'method-not-allowed': [405, 'Method not allowed'],
  'too-many-addresses': [413, 'Too many addresses'],
  'body-too-large': [413, 'Request body too large'],
  'unsupported-media-type': [415, 'Unsupported media type'],
  'rate-limited': [429, 'Rate limit exceeded'],
  internal: [500, 'Internal error'],
  'check-failed': [502, 'The check job failed'],
  'source-unavailable': [502, 'The live source failed'],
  'no-walk': [503, 'No walk is published'],
  'store-unavailable': [503, 'The store (Redis) is unavailable'],
  'store-full': [503, 'The store (Redis) is full'],
  'not-ready': [503, 'Not ready'],
  'shutting-down': [503, 'Shutting down'],
}

export type ProblemKind = keyof typeof TITLES

/** A problem a route or hook answers on purpose. */
export class HttpProblem extends Error {
  readonly kind: ProblemKind
  readonly extra: Partial<ProblemBody>
  readonly headers: Record<string, string>
  constructor(kind: ProblemKind, detail: string, extra: Partial<ProblemBody> = {}, headers: Record<string, string> = {}) {
    super(detail)
    this.kind = kind
    this.extra = extra
    this.headers = headers
  }
}

export function problemBody(kind: ProblemKind, detail: string, request: FastifyRequest, extra: Partial<ProblemBody> = {}): ProblemBody {
  const [status, title] = TITLES[kind]!
  return { type: `urn:exposure-tracer:problem:${kind}`, title, status, detail, code: kind, instance: request.url.split('?')[0]!, requestId: String(request.id), ...extra }
}

export function sendProblem(reply: FastifyReply, kind: ProblemKind, detail: string, extra: Partial<ProblemBody> = {}, headers: Record<string, string> = {}): FastifyReply {
  const body = problemBody(kind, detail, reply.request, extra)
  return reply.code(body.status).headers(headers).type('application/problem+json').send(body)
}

/** Value at a JSON pointer-ish path of the request part (to name the bad value). */
function valueAt(root: unknown, path: readonly string[]): unknown {
  let node = root
  for (const part of path) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<string, unknown>)[part]
  }
  return node
}

/** `/addresses/3` → `addresses[3]`. */
function paramName(path: readonly string[]): string {
  return path.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('')
}

/** Maps anything thrown in a request to a problem (the app's error handler). */
export function handleError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof HttpProblem) return sendProblem(reply, error.kind, error.message, error.extra, error.headers)
  if (hasZodFastifySchemaValidationErrors(error)) {
    const part = (error as { validationContext?: string }).validationContext ?? 'body'
    const root = part === 'body' ? request.body : part === 'querystring' ? request.query : part === 'params' ? request.params : request.headers
    const params = error.validation.map((v) => {
      const path = v.instancePath.split('/').filter((p) => p.length > 0)
      const value = valueAt(root, path)
      return { name: paramName(path) || part, reason: v.message ?? 'invalid', ...(value === undefined || (typeof value === 'object' && value !== null) ? {} : { value }), keyword: v.keyword, path }
    })
    // More than 1,000 addresses is a size problem (413), not a malformed request.
    const tooMany = params.find((p) => part === 'body' && p.path.length === 1 && p.path[0] === 'addresses' && p.keyword === 'too_big')
    if (tooMany) {
      const count = Array.isArray((request.body as { addresses?: unknown })?.addresses) ? (request.body as { addresses: unknown[] }).addresses.length : 0
      return sendProblem(reply, 'too-many-addresses', `at most 1,000 addresses per request; got ${count}`, { invalidParams: [{ name: 'addresses', reason: tooMany.reason, value: count }] })
    }
    const addressIssue = params.find((p) => p.path[0] === 'addresses' || p.path[0] === 'address')
    const first = addressIssue ?? params[0]!
    const detail = `${first.name}${first.value === undefined ? '' : ` ${JSON.stringify(first.value)}`}: ${first.reason}`
    return sendProblem(reply, addressIssue && addressIssue.path.length > 0 ? 'invalid-address' : 'invalid-request', detail, { invalidParams: params.map(({ name, reason, value }) => ({ name, reason, ...(value === undefined ? {} : { value }) })) })
  }
  const code = (error as FastifyError).code
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (error instanceof SyntaxError && (error as FastifyError).statusCode === 400)) return sendProblem(reply, 'malformed-json', `the body is not valid JSON: ${error.message}`)
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return sendProblem(reply, 'malformed-json', 'the body is empty; send a JSON object')
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendProblem(reply, 'body-too-large', `the body is larger than ${request.routeOptions.bodyLimit ?? 262_144} bytes`)
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendProblem(reply, 'unsupported-media-type', `send application/json, not ${JSON.stringify(request.headers['content-type'] ?? '')}`)
  if (isExposureError(error)) {
    if (error.isBadInput) return sendProblem(reply, 'invalid-request', error.shortMessage, error.details.field === undefined ? {} : { invalidParams: [{ name: error.details.field, reason: error.shortMessage, ...(error.details.value === undefined ? {} : { value: error.details.value }) }] })
    if (error.code === 'NO_WALK') return sendProblem(reply, 'no-walk', 'no complete walk is published in this store: answers would be unknown, not none (run exposure trace)')
    if (error.code === 'STORE_UNAVAILABLE') return sendProblem(reply, 'store-unavailable', 'Redis is unavailable; try again shortly', {}, { 'retry-after': '1' })
    if (error.code === 'STORE_FULL') return sendProblem(reply, 'store-full', 'Redis refused a write for lack of memory')
    if (error.code.startsWith('RPC_')) return sendProblem(reply, 'source-unavailable', `the live source failed: ${error.shortMessage}`)
  }
  if (isConnectionError(error) || /Connection is closed|Command timed out|enableOfflineQueue/i.test(error.message)) return sendProblem(reply, 'store-unavailable', 'Redis is unavailable; try again shortly', {}, { 'retry-after': '1' })
  const full = storeError(error, 'request')
  if (isExposureError(full, 'STORE_FULL')) return sendProblem(reply, 'store-full', 'Redis refused a write for lack of memory')
  const status = (error as FastifyError).statusCode
  if (status !== undefined && status >= 400 && status < 500) return sendProblem(reply, 'invalid-request', error.message)
  request.log.error({ err: { message: error.message, code, name: error.name } }, 'request failed')
  return sendProblem(reply, 'internal', 'internal error; the request id names it in the server log')
}
