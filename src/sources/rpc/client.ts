/**
 * A resilient JSON-RPC transport for one node: bounded concurrency, JSON-RPC batches, retries with
 * exponential backoff and full jitter on timeouts, dropped connections, 429, 5xx, HTML pages and
 * malformed bodies (honouring `Retry-After`), and a circuit breaker that stops hammering a node
 * that keeps failing.
 *
 * Every call ends within its deadline (`deadlineMs`, default 30 s, retries and waits included):
 * each HTTP request has its own timeout below it, a wait that would pass the deadline is not
 * started, and the error then names the real cause (no answer within N s, a truncated or
 * malformed body, an HTML page instead of JSON, HTTP status, rate-limited for N s), the node's
 * origin (never its path or query: they may hold an API key) and the method. Bodies are read with
 * a byte limit (`maxResponseBytes`, default 64 MiB) and never buffered past it. `onRetry` tells a
 * caller about every retry while it waits, so it can show progress.
 *
 * Why not ethers' JsonRpcProvider for the transport: its FetchRequest retries 429 on its own and
 * folds every other fault into one error shape, and its batching coalesces calls by timer; we need
 * to tell a rate limit from a pruned node from a bad answer, and to count requests per expanded
 * address for the benchmark. ethers is still the wallet and ABI layer in the tests. The network is
 * static (the chain id is read once by capability detection, never polled), as ethers'
 * `staticNetwork` would do.
 */
import { BaseError, type ErrorCode } from '../../errors.ts'

export interface RpcClientOptions {
  url: string
  /** Requests in flight at once. Default 8. */
  concurrency?: number
  /** Per HTTP request (ms), never more than what is left of the call's deadline. Default 10 000. */
  timeoutMs?: number
  /**
   * Per call (ms): from its first request to its answer or error, retries and waits included.
   * Default 30 000; `Infinity` waits as long as `maxAttempts` allows (a patient user).
   */
  deadlineMs?: number
  /** Attempts per request before giving up (first try included). Default 8. */
  maxAttempts?: number
  /** First backoff (ms), doubled per attempt, full jitter. Default 100. */
  backoffMs?: number
  /** Longest single wait (ms), also the cap on Retry-After. Default 5 000. */
  maxBackoffMs?: number
  /** Consecutive failed attempts that open the breaker. Default 12. */
  breakerThreshold?: number
  /** How long an open breaker blocks requests (ms), doubled while the node stays down (≤ 30 s). Default 1 000. */
  breakerCooldownMs?: number
  /** Calls per JSON-RPC batch. Default 50. */
  maxBatch?: number
  /** Largest response body read (bytes); a longer one fails with RPC_ERROR naming the limit. Default 64 MiB. */
  maxResponseBytes?: number
  /** Called before every retry (progress while waiting); must not throw. */
  onRetry?: (event: RetryEvent) => void
  /** Random source for jitter (tests pin it). */
  random?: () => number
}

/** What `onRetry` is told before a retry: enough for "node slow: eth_getLogs attempt 3, last fault: timeout". */
export interface RetryEvent {
  /** The node's origin (scheme, host, port: no path or query), or the API's for Etherscan. */
  node: string
  /** The method (a batch: its methods, e.g. `trace_filter+eth_getLogs`); Etherscan: the action. */
  method: string
  /** The attempt that just failed (1 = the first try). */
  attempt: number
  /** Kind of fault: timeout, connection, truncated, malformed-json, html, http-503, http-429, rate-limited, rpc-transient, missing-answer. */
  fault: string
  /** The fault for people: `no answer within 10 s`, `HTTP 503`, `an HTML page instead of JSON …`. */
  cause: string
  /** Wait before the next attempt (ms). */
  delayMs: number
  /** Since the call's first request (ms). */
  elapsedMs: number
  /** The call's deadline (ms; Infinity when patient). */
  deadlineMs: number
}

export interface RpcStats {
  /** HTTP requests sent (a batch is one). */
  requests: number
  /** JSON-RPC calls made (each element of a batch counts). */
  calls: number
  retries: number
  /** Faults seen, by kind. */
  faults: Record<string, number>
  breakerOpened: number
}

export interface RpcCall {
  method: string
  params: readonly unknown[]
}

/** A JSON-RPC error answered by the node, or a transport fault given up on. */
export class RpcError extends BaseError {
  override name = 'RpcError'
  readonly rpcCode: number | null
  /** Kind of the last transport fault (`timeout`, `too-large`, …); null for an error the node answered. */
  readonly fault: string | null
  constructor(code: ErrorCode, shortMessage: string, rpcCode: number | null, details: Record<string, string | number | undefined>, cause?: unknown, fault: string | null = null) {
    super(code, shortMessage, details, cause === undefined ? {} : { cause })
    this.rpcCode = rpcCode
    this.fault = fault
  }
}

const PRUNED = /missing trie node|header not found|pruned|historical state .*not available|state .*not available|block not found|unknown block|not archive/i
const RATE_LIMITED = /rate limit|too many requests|exceeded .*(quota|limit)|limit exceeded|capacity/i
/** JSON-RPC error codes that mean "try later": -32005 limit exceeded (EIP-1474), -32603 internal (often transient), 429. */
const RETRYABLE_RPC_CODES = new Set([-32005, 429, -32603])
const METHOD_NOT_FOUND = /method not found|not supported|does not exist|unsupported|not available|unknown method|not implemented/i
/** HTTP statuses worth retrying besides 5xx: 408 Request Timeout, 425 Too Early, 429. */
const RETRYABLE_HTTP = new Set([408, 425, 429])

export const DEFAULT_DEADLINE_MS = 30_000
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
/** The shortest attempt worth starting before the deadline (ms). */
const MIN_ATTEMPT_MS = 250

/** Whether a thrown error is worth retrying (rate limits and transport faults; not bad answers or pruned history). */
export function isRetryable(error: unknown): boolean {
  return error instanceof BaseError && (error.code === 'RPC_RATE_LIMITED' || error.code === 'RPC_UNAVAILABLE')
}

/**
 * True when a call gave up on transport faults after its deadline or attempts (RPC_UNAVAILABLE /
 * RPC_RATE_LIMITED with `details.fault`, from this client or the Etherscan client): retrying the
 * whole job would only multiply the wait, so a worker should fail it for good with this message.
 */
export function isGivenUp(error: unknown): boolean {
  return isRetryable(error) && typeof (error as BaseError).details['fault'] === 'string'
}

/** True when the node said the method does not exist (capability detection). */
export function isMethodNotFound(error: unknown): boolean {
  return error instanceof RpcError && (error.rpcCode === -32601 || (error.code === 'RPC_ERROR' && METHOD_NOT_FOUND.test(error.shortMessage)))
}

/** A fault worth another attempt; `cause` is for people, `kind` for counters and `onRetry`. */
export class Transient extends Error {
  constructor(
    readonly kind: string,
    readonly reason: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(reason)
  }
}

/** A body longer than the limit (read no further). */
export class BodyTooLarge extends Error {
  constructor(
    readonly limit: number,
    readonly declared: number | null,
  ) {
    super(`answer larger than ${formatBytes(limit)}${declared !== null ? ` (Content-Length ${declared})` : ''}`)
  }
}

/**
 * Reads a response body as text, at most `limit` bytes: a Content-Length over the limit is refused
 * before reading, a longer stream is cancelled as soon as it passes the limit (never buffered past
 * it). Throws {@link BodyTooLarge}; a stream that breaks off throws a {@link Transient} `truncated`.
 */
export async function readBodyLimited(response: Response, limit: number): Promise<string> {
  const header = response.headers.get('content-length')
  const declared = header !== null && /^\d+$/.test(header) ? Number(header) : null
  if (declared !== null && declared > limit) {
    await response.body?.cancel().catch(() => undefined)
    throw new BodyTooLarge(limit, declared)
  }
  if (response.body === null) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    let chunk: Awaited<ReturnType<typeof reader.read>>
    try {
      chunk = await reader.read()
    } catch (error) {
      const name = (error as Error).name
      if (name === 'TimeoutError' || name === 'AbortError') throw error
      throw new Transient('truncated', `the connection closed mid-answer after ${total} bytes (truncated body${declared !== null ? ` of ${declared} announced` : ''})`)
    }
    if (chunk.done) break
    total += chunk.value.byteLength
    if (total > limit) {
      await reader.cancel().catch(() => undefined)
      throw new BodyTooLarge(limit, declared)
    }
    chunks.push(chunk.value)
  }
  return Buffer.concat(chunks, total).toString('utf8')
}

/** A body that is not JSON → the fault it shows: an HTML page, or a truncated / malformed body. */
export function notJsonFault(text: string, status: number, contentType: string | null, redact: (s: string) => string): Transient {
  const head = text.trimStart()
  const snippet = JSON.stringify(redact(head.slice(0, 60)))
  if (head.startsWith('<') || /text\/html/i.test(contentType ?? '')) {
    const title = /<title[^>]*>([^<]{0,80})/i.exec(head)?.[1]?.trim()
    return new Transient('html', `an HTML page instead of JSON (HTTP ${status}${title ? `, title ${JSON.stringify(redact(title))}` : `, ${snippet}`})`)
  }
  if (head === '') return new Transient('malformed-json', `an empty body instead of JSON (HTTP ${status})`)
  return new Transient('malformed-json', `a truncated or malformed JSON body (${text.length} bytes, starting ${snippet})`)
}

export function createRpcClient(options: RpcClientOptions) {
  const url = options.url
  const concurrency = options.concurrency ?? 8
  const timeoutMs = options.timeoutMs ?? 10_000
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS
  const maxAttempts = options.maxAttempts ?? 8
  const backoffMs = options.backoffMs ?? 100
  const maxBackoffMs = options.maxBackoffMs ?? 5_000
  const breakerThreshold = options.breakerThreshold ?? 12
  const breakerCooldownMs = options.breakerCooldownMs ?? 1_000
  const maxBatch = options.maxBatch ?? 50
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES
  const random = options.random ?? Math.random
  const stats: RpcStats = { requests: 0, calls: 0, retries: 0, faults: {}, breakerOpened: 0 }
  // The URL may carry an API key (Infura, Alchemy): only its origin goes into messages.
  const shownUrl = safeOrigin(url)
  const redact = redactor(url)

  let active = 0
  const waiting: (() => void)[] = []
  async function acquire(): Promise<void> {
    if (active < concurrency) {
      active++
      return
    }
    await new Promise<void>((resolve) => waiting.push(resolve))
  }
  function release(): void {
    const next = waiting.shift()
    if (next) next()
    else active--
  }

  // Circuit breaker: consecutive failed attempts open it; while open no request is sent.
  let consecutiveFailures = 0
  let openUntil = 0
  let cooldown = breakerCooldownMs
  let nextId = 1

  let lastFault = ''
  function recordFailure(fault: Transient): void {
    const kind = fault.kind
    if (kind !== 'breaker-open') lastFault = fault.reason
    stats.faults[kind] = (stats.faults[kind] ?? 0) + 1
    consecutiveFailures++
    if (consecutiveFailures >= breakerThreshold) {
      openUntil = Date.now() + cooldown
      cooldown = Math.min(cooldown * 2, 30_000)
      consecutiveFailures = 0
      stats.breakerOpened++
    }
  }
  function recordSuccess(): void {
    consecutiveFailures = 0
    cooldown = breakerCooldownMs
  }

  /** Bookkeeping of one call (one send): when it started and what went wrong so far. */
  interface Attempting {
    method: string
    started: number | null
    rateLimitedSince: number | null
  }

  const left = (a: Attempting) => (a.started === null ? deadlineMs : deadlineMs - (Date.now() - a.started))

  /** One HTTP POST; throws Transient for faults worth retrying. */
  async function post(body: unknown, a: Attempting): Promise<unknown> {
    await acquire()
    try {
      a.started ??= Date.now()
      const breaker = openUntil - Date.now()
      if (breaker > 0) {
        if (breaker >= left(a)) throw new Transient('breaker-open', `the node kept failing (circuit breaker open for ${seconds(breaker)} more; last fault: ${lastFault || 'unknown'})`)
        await sleep(breaker)
      }
      const timeout = Math.max(1, Math.min(timeoutMs, left(a)))
      stats.requests++
      let response: Response
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(timeout),
        })
      } catch (error) {
        throw transportFault(error, timeout)
      }
      let text: string
      try {
        text = await readBodyLimited(response, maxResponseBytes)
      } catch (error) {
        if (error instanceof BodyTooLarge) {
          throw new RpcError('RPC_ERROR', `the node at ${shownUrl} answered ${a.method} with more than ${formatBytes(error.limit)} (maxResponseBytes)${error.declared !== null ? `: Content-Length ${error.declared}` : ''}`, null, { field: a.method, node: shownUrl, limit: error.limit }, undefined, 'too-large')
        }
        if (error instanceof Transient) throw error
        throw transportFault(error, timeout)
      }
      const contentType = response.headers.get('content-type')
      if (response.status >= 500 || RETRYABLE_HTTP.has(response.status)) {
        const retry = retryAfter(response.headers.get('retry-after'))
        const page = text.trimStart().startsWith('<') ? ` with ${notJsonFault(text, response.status, contentType, redact).reason}` : ''
        if (response.status === 429) throw new Transient('http-429', `HTTP 429 Too Many Requests${retry !== null ? ` (Retry-After ${seconds(retry)})` : ''}`, retry)
        throw new Transient(`http-${response.status}`, `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}${page}`, retry)
      }
      let parsed: unknown
      try {
        parsed = JSON.parse(text) as unknown
      } catch {
        if (response.status >= 400) {
          throw new RpcError('RPC_UNAVAILABLE', `the node at ${shownUrl} answered ${a.method} with HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`, null, { field: a.method, node: shownUrl, value: String(response.status) }, undefined, `http-${response.status}`)
        }
        throw notJsonFault(text, response.status, contentType, redact)
      }
      if (response.status >= 400 && response.status !== 400) {
        throw new RpcError('RPC_UNAVAILABLE', `the node at ${shownUrl} answered ${a.method} with HTTP ${response.status}`, null, { field: a.method, node: shownUrl, value: String(response.status) }, undefined, `http-${response.status}`)
      }
      return parsed
    } finally {
      release()
    }
  }

  /** Sends `calls` as one batch (or a single call) with retries; returns results in order. */
  async function send(calls: readonly RpcCall[]): Promise<unknown[]> {
    const results: unknown[] = new Array(calls.length)
    let pending = calls.map((_, i) => i)
    const a: Attempting = { method: methodsOf(calls), started: null, rateLimitedSince: null }
    for (let attempt = 1; ; attempt++) {
      let fault: Transient
      try {
        const ids = pending.map(() => nextId++)
        const single = pending.length === 1
        const payload = pending.map((index, k) => ({ jsonrpc: '2.0', id: ids[k], method: calls[index]!.method, params: calls[index]!.params }))
        stats.calls += pending.length
        const answer = await post(single ? payload[0] : payload, a)
        const items = single ? [answer] : answer
        if (!Array.isArray(items)) {
          // Some nodes answer a whole batch with one error object (e.g. a rate limit).
          const error = (answer as { error?: { code?: number; message?: string } } | null)?.error
          if (error) throw classify(error, calls[pending[0]!]!.method, shownUrl)
          throw new Transient('malformed-json', 'a batch answer that is not an array')
        }
        const byId = new Map<unknown, { result?: unknown; error?: { code?: number; message?: string } }>()
        for (const item of items) {
          if (item === null || typeof item !== 'object') throw new Transient('malformed-json', 'a batch item that is not an object')
          byId.set((item as { id?: unknown }).id, item as { result?: unknown; error?: { code?: number; message?: string } })
        }
        const again: number[] = []
        let transient: Transient | null = null
        pending.forEach((index, k) => {
          const item = byId.get(ids[k])
          if (item === undefined) {
            again.push(index)
            transient ??= new Transient('missing-answer', 'a batch answer without one of the ids asked')
            return
          }
          if (item.error !== undefined && item.error !== null) {
            const error = classify(item.error, calls[index]!.method, shownUrl)
            if (error instanceof Transient) {
              again.push(index)
              transient ??= error
              return
            }
            throw error
          }
          if (!('result' in item)) {
            again.push(index)
            transient ??= new Transient('malformed-json', 'an answer with neither result nor error')
            return
          }
          results[index] = item.result
        })
        if (again.length === 0) {
          recordSuccess()
          return results
        }
        pending = again
        throw transient ?? new Transient('missing-answer', 'an incomplete batch answer')
      } catch (error) {
        if (!(error instanceof Transient)) throw error
        fault = error
      }
      recordFailure(fault)
      const now = Date.now()
      const limited = fault.kind === 'http-429' || fault.kind === 'rate-limited'
      if (limited) a.rateLimitedSince ??= now
      else a.rateLimitedSince = null
      const exponential = Math.min(maxBackoffMs, backoffMs * 2 ** (attempt - 1))
      const delay = fault.retryAfterMs !== null ? Math.min(maxBackoffMs, fault.retryAfterMs) : random() * exponential
      const elapsed = now - (a.started ?? now)
      // Give up when the attempts are spent or the wait would leave no useful time before the
      // deadline (an attempt cut to a few milliseconds would only hide the real fault behind a timeout).
      if (attempt >= maxAttempts || elapsed + delay + Math.min(timeoutMs, MIN_ATTEMPT_MS) > deadlineMs || fault.kind === 'breaker-open') {
        const code: ErrorCode = limited ? 'RPC_RATE_LIMITED' : 'RPC_UNAVAILABLE'
        const cause = limited ? `rate-limited for ${seconds(now - a.rateLimitedSince!)} (${fault.reason})` : fault.reason
        const budget = attempt >= maxAttempts ? `${attempt} attempts` : `deadline ${seconds(deadlineMs)}, ${attempt} attempts`
        throw new RpcError(code, `${a.method} on the node at ${shownUrl} failed after ${seconds(elapsed)} (${budget}): ${cause}`, null, { field: a.method, node: shownUrl, fault: fault.kind }, undefined, fault.kind)
      }
      stats.retries++
      if (options.onRetry) {
        try {
          options.onRetry({ node: shownUrl, method: a.method, attempt, fault: fault.kind, cause: fault.reason, delayMs: Math.round(delay), elapsedMs: elapsed, deadlineMs })
        } catch {
          // Progress output must not break the call.
        }
      }
      await sleep(delay)
    }
  }

  /** One JSON-RPC call. */
  async function call<T = unknown>(method: string, params: readonly unknown[] = []): Promise<T> {
    const [result] = await send([{ method, params }])
    return result as T
  }

  /** Many calls, sent as batches of at most `maxBatch`, the batches in parallel (bounded by concurrency). */
  async function batch<T = unknown>(calls: readonly RpcCall[]): Promise<T[]> {
    if (calls.length === 0) return []
    const chunks: RpcCall[][] = []
    for (let i = 0; i < calls.length; i += maxBatch) chunks.push(calls.slice(i, i + maxBatch))
    const answers = await Promise.all(chunks.map((chunk) => send(chunk)))
    return answers.flat() as T[]
  }

  return { url: shownUrl, call, batch, stats }
}

export type RpcClient = ReturnType<typeof createRpcClient>

/** A fetch that threw: a timeout (no answer within N s) or a connection fault. */
function transportFault(error: unknown, timeout: number): Transient {
  const name = (error as Error).name
  if (name === 'TimeoutError' || name === 'AbortError') return new Transient('timeout', `no answer within ${seconds(timeout)} (timeout)`)
  const code = (error as { cause?: { code?: string } }).cause?.code
  const detail = code ?? (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message
  return new Transient('connection', `connection failed (${detail})`)
}

/** The methods of a request for messages: `eth_getLogs`, `trace_filter+eth_getLogs`. */
function methodsOf(calls: readonly RpcCall[]): string {
  const names = [...new Set(calls.map((c) => c.method))]
  return names.length <= 3 ? names.join('+') : `${names.slice(0, 3).join('+')}+…`
}

/** A node's JSON-RPC error → a transient fault (retry) or a BaseError (do not). */
function classify(error: { code?: number; message?: string; data?: unknown }, method: string, node: string): Transient | RpcError {
  const message = String(error.message ?? 'unknown error')
  const code = typeof error.code === 'number' ? error.code : null
  if (PRUNED.test(message)) {
    return new RpcError('RPC_PRUNED', `the node no longer holds this history (${message}): use an archive node or a later --from-block`, code, { field: method, value: message, node })
  }
  if (RATE_LIMITED.test(message) || code === 429 || code === -32005) return new Transient('rate-limited', `rate-limited (${message})`)
  if (code !== null && RETRYABLE_RPC_CODES.has(code) && /timeout|timed out|temporar|busy|try again|internal/i.test(message)) return new Transient('rpc-transient', `${method}: ${message}`)
  return new RpcError('RPC_ERROR', `${method}: ${message}`, code, { field: method, value: message, node })
}

function retryAfter(header: string | null): number | null {
  if (header === null) return null
  const seconds = Number(header)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(header)
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now())
}

/** The origin of a URL (scheme, host, port): what messages may show of a node's URL. */
export function safeOrigin(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return '(invalid url)'
  }
}

/** Removes a URL's path and query values (API keys live there) from text a server sent back. */
export function redactor(url: string): (text: string) => string {
  const secrets: string[] = []
  try {
    const parsed = new URL(url)
    if (parsed.pathname.length > 1) secrets.push(parsed.pathname)
    for (const value of parsed.searchParams.values()) if (value.length >= 4) secrets.push(value)
    if (parsed.password) secrets.push(parsed.password)
  } catch {
    // No URL, nothing to hide.
  }
  secrets.sort((a, b) => b.length - a.length)
  return (text) => secrets.reduce((t, secret) => t.split(secret).join('…'), text)
}

/** `12 s`, `0.4 s`, `∞`. */
export function seconds(ms: number): string {
  if (!Number.isFinite(ms)) return '∞'
  return ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${(Math.round(ms / 100) / 10).toString()} s`
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`
  return `${n} bytes`
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** `0x…` quantity for a block number. */
export function toHex(n: number | bigint): string {
  return `0x${n.toString(16)}`
}
