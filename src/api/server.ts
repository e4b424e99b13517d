/**
 * `exposure serve`: the logger (pino, with redaction: no key, secret or Authorization header in
 * any line), body and request limits, graceful close on SIGTERM/SIGINT (stop accepting, finish
 * in-flight requests and check jobs, within 10 s), and listen (127.0.0.1 unless told otherwise).
 */
import { randomBytes } from 'node:crypto'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import pino, { type DestinationStream, type Logger } from 'pino'
import app, { type AppOptions } from './app.ts'

/** Largest request body (bytes): 1,000 addresses in JSON fit with room to spare. */
export const BODY_LIMIT = 256 * 1024
/** SIGTERM to exit, at most (ms). */
export const CLOSE_WITHIN_MS = 10_000

/** Paths pino blanks in every log line (and censors wherever a field of these names appears). */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'authorization',
  'key',
  'apiKey',
  'secret',
  '*.key',
  '*.apiKey',
  '*.secret',
  '*.etherscanApiKey',
  'etherscanApiKey',
]

export function createLogger(level = 'info', destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'exposure-serve' } }, destination)
}

/** Request ids unique across processes and restarts: a random prefix per process and a counter. */
function requestIds(): () => string {
  const prefix = randomBytes(5).toString('hex')
  let n = 0
  return () => `${prefix}${(n++).toString(36)}`
}

export interface ServerOptions extends AppOptions {
  logger?: Logger
}

export async function createServer(opts: ServerOptions): Promise<FastifyInstance> {
  const fastify: FastifyInstance = Fastify({
    loggerInstance: (opts.logger ?? createLogger()) as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT,
    // waitMs is at most 30 s; a request that takes longer than this is cut.
    requestTimeout: 35_000,
    connectionTimeout: 40_000,
    keepAliveTimeout: 65_000,
    genReqId: requestIds(),
    requestIdHeader: false,
    // Only the path, never the query string (it could carry something a client should not have put there).
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  })
  // One line per request: method, path (no query), status, time, the key's name (never the key).
  // Answered requests at debug (at thousands a second the access log is a tenth of the CPU; the
  // metrics count them), refusals at info, failures at warn.
  fastify.addHook('onResponse', async (request, reply) => {
    const status = reply.statusCode
    const level = status >= 500 ? 'warn' : status >= 400 ? 'info' : 'debug'
    if (!(request.log as unknown as Logger).isLevelEnabled(level)) return
    request.log[level]({ method: request.method, path: request.url.split('?')[0], status, ms: Number(reply.elapsedTime.toFixed(2)), keyName: request.apiKey?.name }, 'request')
  })
  await fastify.register(app, opts)
  // While closing, answer in-flight requests with `Connection: close`: a keep-alive socket that
  // turns idle after close() began would otherwise hold the close up until its timeout.
  fastify.addHook('onSend', async (_request, reply) => {
    if (fastify.services.closing) reply.header('connection', 'close')
  })
  return fastify
}

/**
 * Starts the server and returns once it listens. SIGTERM/SIGINT close it: no new connections,
 * in-flight requests and running check jobs finish, and the process exits within CLOSE_WITHIN_MS
 * (a job still running then is left to be retried by another worker).
 */
export async function runServer(opts: ServerOptions & { host: string; port: number }): Promise<{ fastify: FastifyInstance; closed: Promise<void> }> {
  const fastify = await createServer(opts)
  let resolveClosed!: () => void
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve))
  const stop = (signal: string) => {
    fastify.log.info({ signal }, 'closing: no new requests; finishing in-flight requests and check jobs')
    const timer = setTimeout(() => {
      fastify.log.error('still closing after 10 s: exiting')
      process.exit(1)
    }, CLOSE_WITHIN_MS)
    timer.unref()
    fastify.close().then(
      () => {
        clearTimeout(timer)
        fastify.log.info('closed')
        resolveClosed()
      },
      (error: Error) => {
        fastify.log.error({ err: { message: error.message } }, 'close failed')
        resolveClosed()
      },
    )
  }
  process.once('SIGTERM', () => stop('SIGTERM'))
  process.once('SIGINT', () => stop('SIGINT'))
  await fastify.listen({ host: opts.host, port: opts.port })
  return { fastify, closed }
}
