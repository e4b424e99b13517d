/**
 * A resilient JSON-RPC transport for one node: bounded concurrency, JSON-RPC batches, a per-request
 * timeout, retries with exponential backoff and full jitter on timeouts, dropped connections, 429,
 * 5xx and malformed bodies (honouring `Retry-After`), and a circuit breaker that stops hammering a
 * node that keeps failing.
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
  /** Per HTTP request (ms). Default 10 000. */
  timeoutMs?: number
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
  /** Random source for jitter (tests pin it). */
  random?: () => number
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

/** A JSON-RPC error answered by the node (not a transport fault). */
export class RpcError extends BaseError {
  override name = 'RpcError'
  readonly rpcCode: number | null
  constructor(code: ErrorCode, shortMessage: string, rpcCode: number | null, details: Record<string, string | number | undefined>, cause?: unknown) {
    super(code, shortMessage, details, cause === undefined ? {} : { cause })
    this.rpcCode = rpcCode
  }
}

const PRUNED = /missing trie node|header not found|pruned|historical state .*not available|state .*not available|block not found|unknown block|not archive/i
const RATE_LIMITED = /rate limit|too many requests|exceeded .*(quota|limit)|limit exceeded|capacity/i
/** JSON-RPC error codes that mean "try later": -32005 limit exceeded (EIP-1474), -32603 internal (often transient), 429. */
const RETRYABLE_RPC_CODES = new Set([-32005, 429, -32603])
const METHOD_NOT_FOUND = /method not found|not supported|does not exist|unsupported|not available|unknown method|not implemented/i

/** Whether a thrown error is worth retrying (rate limits and transport faults; not bad answers or pruned history). */
export function isRetryable(error: unknown): boolean {
  return error instanceof BaseError && (error.code === 'RPC_RATE_LIMITED' || error.code === 'RPC_UNAVAILABLE')
}

/** True when the node said the method does not exist (capability detection). */
export function isMethodNotFound(error: unknown): boolean {
  return error instanceof RpcError && (error.rpcCode === -32601 || (error.code === 'RPC_ERROR' && METHOD_NOT_FOUND.test(error.shortMessage)))
}

class Transient extends Error {
  constructor(
    readonly kind: string,
    message: string,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message)
  }
}

export function createRpcClient(options: RpcClientOptions) {
  const url = options.url
  const concurrency = options.concurrency ?? 8
  const timeoutMs = options.timeoutMs ?? 10_000
  const maxAttempts = options.maxAttempts ?? 8
  const backoffMs = options.backoffMs ?? 100
  const maxBackoffMs = options.maxBackoffMs ?? 5_000
  const breakerThreshold = options.breakerThreshold ?? 12
  const breakerCooldownMs = options.breakerCooldownMs ?? 1_000
  const maxBatch = options.maxBatch ?? 50
  const random = options.random ?? Math.random
  const stats: RpcStats = { requests: 0, calls: 0, retries: 0, faults: {}, breakerOpened: 0 }
  // The URL may carry an API key (Infura, Alchemy): only its origin goes into messages.
  const shownUrl = safeOrigin(url)

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

  function recordFailure(kind: string): void {
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

  /** One HTTP POST; throws Transient for faults worth retrying. */
  async function post(body: unknown): Promise<unknown> {
    const wait = openUntil - Date.now()
    if (wait > 0) await sleep(wait)
    await acquire()
    stats.requests++
    try {
      let response: Response
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        })
      } catch (error) {
        const name = (error as Error).name
        throw new Transient(name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'connection', `${name}: ${(error as Error).message}`)
      }
      let text: string
      try {
        text = await response.text()
      } catch (error) {
        throw new Transient('connection', `body: ${(error as Error).message}`)
      }
      if (response.status === 429) throw new Transient('http-429', 'HTTP 429 Too Many Requests', retryAfter(response.headers.get('retry-after')))
      if (response.status >= 500) throw new Transient(`http-${response.status}`, `HTTP ${response.status}`, retryAfter(response.headers.get('retry-after')))
      if (response.status >= 400 && response.status !== 400) {
        throw new RpcError('RPC_UNAVAILABLE', `the node at ${shownUrl} answered HTTP ${response.status}`, null, { value: String(response.status) })
      }
      try {
        return JSON.parse(text) as unknown
      } catch {
        throw new Transient('malformed-json', `malformed JSON body (${text.slice(0, 40)}…)`)
      }
    } finally {
      release()
    }
  }

  /** Sends `calls` as one batch (or a single call) with retries; returns results in order. */
  async function send(calls: readonly RpcCall[]): Promise<unknown[]> {
    const results: unknown[] = new Array(calls.length)
    let pending = calls.map((_, i) => i)
    let lastFault = ''
    for (let attempt = 1; ; attempt++) {
      let retryAfterMs: number | null = null
      try {
        const ids = pending.map(() => nextId++)
        const single = pending.length === 1
        const payload = pending.map((index, k) => ({ jsonrpc: '2.0', id: ids[k], method: calls[index]!.method, params: calls[index]!.params }))
        stats.calls += pending.length
        const answer = await post(single ? payload[0] : payload)
        const items = single ? [answer] : answer
        if (!Array.isArray(items)) {
          // Some nodes answer a whole batch with one error object (e.g. a rate limit).
          const error = (answer as { error?: { code?: number; message?: string } } | null)?.error
          if (error) throw classify(error, calls[pending[0]!]!.method)
          throw new Transient('malformed-json', 'batch answer is not an array')
        }
        const byId = new Map<unknown, { result?: unknown; error?: { code?: number; message?: string } }>()
        for (const item of items) {
          if (item === null || typeof item !== 'object') throw new Transient('malformed-json', 'batch item is not an object')
          byId.set((item as { id?: unknown }).id, item as { result?: unknown; error?: { code?: number; message?: string } })
        }
        const again: number[] = []
        let transient: Transient | null = null
        pending.forEach((index, k) => {
          const item = byId.get(ids[k])
          if (item === undefined) {
            again.push(index)
            transient ??= new Transient('missing-answer', 'batch answer lacks an id')
            return
          }
          if (item.error !== undefined && item.error !== null) {
            const error = classify(item.error, calls[index]!.method)
            if (error instanceof Transient) {
              again.push(index)
              transient ??= error
              return
            }
            throw error
          }
          if (!('result' in item)) {
            again.push(index)
            transient ??= new Transient('malformed-json', 'answer has neither result nor error')
            return
          }
          results[index] = item.result
        })
        if (again.length === 0) {
          recordSuccess()
          return results
        }
        pending = again
        throw transient ?? new Transient('missing-answer', 'incomplete batch answer')
      } catch (error) {
        if (!(error instanceof Transient)) throw error
        recordFailure(error.kind)
        lastFault = error.message
        retryAfterMs = error.retryAfterMs
        if (attempt >= maxAttempts) {
          const code: ErrorCode = error.kind === 'http-429' || error.kind === 'rate-limited' ? 'RPC_RATE_LIMITED' : 'RPC_UNAVAILABLE'
          throw new RpcError(code, `the node at ${shownUrl} kept failing (${attempt} attempts; last: ${lastFault})`, null, { value: calls[pending[0]!]?.method })
        }
      }
      stats.retries++
      const exponential = Math.min(maxBackoffMs, backoffMs * 2 ** (attempt - 1))
      const delay = retryAfterMs !== null ? Math.min(maxBackoffMs, retryAfterMs) : random() * exponential
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

/** A node's JSON-RPC error → a transient fault (retry) or a BaseError (do not). */
function classify(error: { code?: number; message?: string; data?: unknown }, method: string): Transient | RpcError {
  const message = String(error.message ?? 'unknown error')
  const code = typeof error.code === 'number' ? error.code : null
  if (PRUNED.test(message)) {
    return new RpcError('RPC_PRUNED', `the node no longer holds this history (${message}): use an archive node or a later --from-block`, code, { field: method, value: message })
  }
  if (RATE_LIMITED.test(message) || code === 429 || code === -32005) return new Transient('rate-limited', message)
  if (code !== null && RETRYABLE_RPC_CODES.has(code) && /timeout|timed out|temporar|busy|try again|internal/i.test(message)) return new Transient('rpc-transient', message)
  return new RpcError('RPC_ERROR', `${method}: ${message}`, code, { field: method, value: message })
}

function retryAfter(header: string | null): number | null {
  if (header === null) return null
  const seconds = Number(header)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(header)
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now())
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return '(invalid url)'
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** `0x…` quantity for a block number. */
export function toHex(n: number | bigint): string {
  return `0x${n.toString(16)}`
}
