/**
 * Etherscan-compatible account API (Etherscan API v2 with `chainid`; Blockscout's compatible
 * `?module=account&action=…` API): `txlist`, `txlistinternal`, `tokentx` per address, paged by
 * block at 1,000 records per page.
 *
 * Rate limit: every HTTP request is one job of a BullMQ queue named after a hash of the API key,
 * whose worker has BullMQ's limiter set to the plan's calls/s. The limiter lives in Redis, so all
 * workers of all processes using that key share it. "No transactions found" is an empty answer.
 *
 * Faults and time: a job is one attempt; the caller retries (exponential backoff, full jitter) on
 * "Max rate limit reached" / NOTOK bodies, HTTP 429 / 5xx, timeouts, dropped connections, HTML
 * pages and malformed bodies, until the call's deadline (`deadlineMs`, default 30 s, counted from
 * the first attempt's start, so time queued behind other calls under the shared limit is not a
 * fault), and then fails with an error naming the real cause (rate-limited for N s, an HTML page
 * instead of JSON, no answer within N s, HTTP status), the API's origin and the action. Bodies
 * are read with a byte limit (`maxResponseBytes`). Paging that does not advance (a server
 * answering the same full page whatever `startblock` says) fails at once; records outside the
 * blocks asked for are dropped.
 *
 * Redis: answers never go through BullMQ. The worker keeps an answer in memory when the asking
 * client is in its own process, else in a short-lived key (`<queue prefix>:<queue>:answer:<job
 * id>`, 2 minutes, deleted when read); the job's return value is only where the answer is. The
 * queue's events stream is trimmed (`eventsMaxLen`, default 1,000 events, approximate).
 *
 * The key is sent to the API only: it is not in job data (the worker adds it), not in job ids,
 * not in messages (the API's answers are shown with the request URL's path and query removed).
 */
import { createHash, randomUUID } from 'node:crypto'
import { Job, Queue, QueueEvents, Worker, type Job as JobType } from 'bullmq'
import { quietDuplicate, quietRedis } from '../../store/redis.ts'
import { BaseError, type ErrorCode } from '../../errors.ts'
import { BodyTooLarge, DEFAULT_DEADLINE_MS, DEFAULT_MAX_RESPONSE_BYTES, Transient, formatBytes, notJsonFault, readBodyLimited, redactor, safeOrigin, seconds, type RetryEvent } from '../rpc/client.ts'

export type AccountAction = 'txlist' | 'txlistinternal' | 'tokentx'

export interface EtherscanOptions {
  baseUrl: string
  apiKey: string
  /** Sent as `chainid` (API v2). */
  chainId: number
  /** Calls per second of the plan (shared through BullMQ's limiter). */
  rate: number
  redisUrl: string
  /** Store prefix (hash tag): the queue lives under `<prefix>:q`. */
  prefix: string
  /** Records per page. Default 1,000 (Etherscan's page size for block-paged account queries). */
  pageSize?: number
  /** Attempts per call (first try included), within the deadline. Default 10. */
  attempts?: number
  /** Per HTTP request (ms), cut to what is left of the deadline. Default 10 000. */
  timeoutMs?: number
  /** Per call (ms): from its first attempt's start to its answer or error, retries included. Default 30 000; Infinity: patient. */
  deadlineMs?: number
  /** First backoff (ms), doubled per attempt, full jitter. Default 250. */
  backoffMs?: number
  /** Longest single wait (ms), also the cap on Retry-After. Default 5 000. */
  maxBackoffMs?: number
  /** Largest answer read (bytes). Default 64 MiB. */
  maxResponseBytes?: number
  /** Approximate length the queue's BullMQ events stream is trimmed to. Default 1 000. */
  eventsMaxLen?: number
  /** Called before every retry (progress while waiting); must not throw. */
  onRetry?: (event: RetryEvent) => void
}

export interface EtherscanStats {
  /** HTTP requests made by this process's worker. */
  calls: number
  /** Attempts retried by this process's callers. */
  retried: number
  /** Rate-limit answers seen by this process's worker. */
  rateLimited: number
  /** Wall time from the first to the last call (ms). */
  firstAt: number
  lastAt: number
}

interface CallJob {
  params: Record<string, string>
  /** The asking client (its answers stay in its process when its own worker serves the job). */
  owner: string
  /** This attempt's HTTP timeout (ms). */
  timeoutMs: number
}

/** Where a finished job's answer is: in the worker's memory (same process) or under a Redis key. */
type AnswerPlace = 'local' | 'redis'

/** One record of an account list, as the API sends it (all strings). */
export type AccountRecord = Record<string, string>

export const DEFAULT_EVENTS_MAX_LEN = 1_000
const ANSWER_TTL_MS = 120_000
/** How long to wait for a job's finish notification before asking Redis for its state (a lost event must not hang a call). */
const NOTIFY_GUARD_MS = 60_000
/** Faults never retried. */
const FINAL_FAULTS = new Set(['api-key', 'unexpected', 'too-large'])

export function etherscanQueueName(apiKey: string): string {
  return `etherscan-${createHash('sha256').update(apiKey).digest('hex').slice(0, 12)}`
}

export function createEtherscanClient(options: EtherscanOptions) {
  const pageSize = options.pageSize ?? 1_000
  const attempts = options.attempts ?? 10
  const timeoutMs = options.timeoutMs ?? 10_000
  const deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS
  const backoffMs = options.backoffMs ?? 250
  const maxBackoffMs = options.maxBackoffMs ?? 5_000
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES
  const name = etherscanQueueName(options.apiKey)
  const queuePrefix = `${options.prefix}:q`
  const node = safeOrigin(options.baseUrl)
  const owner = randomUUID()
  // Through store/redis.ts: a cluster URL opens a Cluster, and a TLS CA registered for the URL applies.
  const connection = quietRedis(options.redisUrl, { maxRetriesPerRequest: null })
  const queue = new Queue<CallJob>(name, { connection, prefix: queuePrefix, streams: { events: { maxLen: options.eventsMaxLen ?? DEFAULT_EVENTS_MAX_LEN } } })
  // Each waiting call listens for the queue's 'closing' once; many calls at once are expected.
  queue.setMaxListeners(0)
  // BullMQ does not close connections it is given: close() disconnects these.
  const eventsConnection = quietDuplicate(connection)
  const workerConnection = quietDuplicate(connection)
  const events = new QueueEvents(name, { connection: eventsConnection, prefix: queuePrefix })
  events.setMaxListeners(0)
  const stats: EtherscanStats = { calls: 0, retried: 0, rateLimited: 0, firstAt: 0, lastAt: 0 }
  const answers = new Map<string, unknown>()
  const answerKey = (jobId: string) => `${queuePrefix}:${name}:answer:${jobId}`
  let seq = 0

  const worker = new Worker<CallJob, AnswerPlace>(name, async (job: JobType<CallJob>) => {
    const startedAt = Date.now()
    let answer: unknown
    try {
      answer = await get(job.data.params, job.data.timeoutMs)
    } catch (error) {
      // The failure reason carries the fault's kind, its Retry-After and this attempt's start.
      const fault = error instanceof Transient ? error : new Transient('connection', (error as Error).message)
      throw new Error(`[${fault.kind} ${fault.retryAfterMs ?? -1} ${startedAt}] ${fault.reason}`)
    }
    if (job.data.owner === owner) {
      answers.set(job.id!, answer)
      return 'local'
    }
    await connection.set(answerKey(job.id!), JSON.stringify(answer), 'PX', ANSWER_TTL_MS)
    return 'redis'
  }, {
    connection: workerConnection,
    prefix: queuePrefix,
    concurrency: Math.max(1, Math.ceil(options.rate)),
    // One call per 1/rate seconds: evenly spaced, so no one-second window (fixed or sliding) of
    // the API ever sees more than `rate` calls, and the limit is still used in full.
    limiter: { max: 1, duration: Math.max(1, Math.floor(1000 / options.rate)) },
  })
  worker.on('error', () => undefined)

  const redact = redactor(options.baseUrl)

  /** One HTTP GET (run by the limited worker). Throws Transient with the fault's kind. */
  async function get(params: Record<string, string>, timeout: number): Promise<AccountRecord[] | Record<string, unknown>> {
    const url = new URL(options.baseUrl)
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
    url.searchParams.set('chainid', String(options.chainId))
    url.searchParams.set('apikey', options.apiKey)
    const hide = redactor(url.toString())
    const now = Date.now()
    if (stats.calls === 0) stats.firstAt = now
    stats.calls++
    stats.lastAt = now
    let response: Response
    let text: string
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(Math.max(1, timeout)) })
      text = await readBodyLimited(response, maxResponseBytes)
    } catch (error) {
      if (error instanceof Transient) throw error
      if (error instanceof BodyTooLarge) throw new Transient('too-large', `an answer larger than ${formatBytes(error.limit)} (maxResponseBytes)`)
      const errorName = (error as Error).name
      if (errorName === 'TimeoutError' || errorName === 'AbortError') throw new Transient('timeout', `no answer within ${seconds(timeout)} (timeout)`)
      const code = (error as { cause?: { code?: string } }).cause?.code
      throw new Transient('connection', `connection failed (${code ?? errorName})`)
    }
    if (response.status === 429 || response.status >= 500) {
      const retry = retryAfterMs(response.headers.get('retry-after'))
      if (response.status === 429) {
        stats.rateLimited++
        throw new Transient('rate-limited', `HTTP 429 Too Many Requests${retry !== null ? ` (Retry-After ${seconds(retry)})` : ''}`, retry)
      }
      throw new Transient(`http-${response.status}`, `HTTP ${response.status}${text.trimStart().startsWith('<') ? ` with ${notJsonFault(text, response.status, response.headers.get('content-type'), hide).reason}` : ''}`, retry)
    }
    let body: { status?: string; message?: string; result?: unknown }
    try {
      body = JSON.parse(text) as typeof body
      if (body === null || typeof body !== 'object') throw new Error('not an object')
    } catch {
      if (response.status >= 400) throw new Transient('unexpected', `HTTP ${response.status}`)
      throw notJsonFault(text, response.status, response.headers.get('content-type'), hide)
    }
    const said = `${body.message ?? ''} ${typeof body.result === 'string' ? body.result : ''}`
    if (params['module'] === 'proxy' && body.status === undefined) {
      // Proxy answers are JSON-RPC shaped; errors (rate limit, NOTOK) come in the account shape.
      if (body.result === undefined) throw new Transient('malformed-json', 'a proxy answer without result')
      return { result: body.result }
    }
    if (body.status === '1' && Array.isArray(body.result)) return body.result as AccountRecord[]
    if (/no transactions found|no records found|no token transfers found|no internal transactions found/i.test(said)) return []
    if (/rate limit/i.test(said)) {
      stats.rateLimited++
      throw new Transient('rate-limited', hide(`"${typeof body.result === 'string' ? body.result : body.message}"`))
    }
    if (/invalid api key|missing.*api ?key/i.test(said)) throw new Transient('api-key', 'the API rejected the API key')
    if (/NOTOK/i.test(said) || body.status === '0') throw new Transient('notok', hide(`NOTOK: ${(typeof body.result === 'string' ? body.result : undefined) ?? body.message ?? ''}`))
    throw new Transient('unexpected', `an unexpected answer (${hide(JSON.stringify(body).slice(0, 80))})`)
  }

  /** The answer of a finished job (its return value says where it is). */
  async function take(jobId: string, place: unknown): Promise<unknown> {
    if (place === 'local') {
      const answer = answers.get(jobId)
      answers.delete(jobId)
      return answer
    }
    const [[, raw]] = (await connection.multi().get(answerKey(jobId)).del(answerKey(jobId)).exec()) as [[unknown, string | null], unknown]
    if (raw === null) throw new Transient('connection', `the answer of job ${jobId} expired before it was read`)
    return JSON.parse(raw) as unknown
  }

  /** Waits for a job: its return value, or throws its failure reason. A lost notification is looked up, never waited on forever. */
  async function finished(job: JobType<CallJob>): Promise<unknown> {
    for (;;) {
      try {
        return await job.waitUntilFinished(events, NOTIFY_GUARD_MS)
      } catch (error) {
        if (!/timed out before finishing/.test((error as Error).message)) throw error
        const state = await queue.getJobState(job.id!)
        if (state === 'unknown') throw new Transient('connection', `job ${job.id} vanished from the queue before it finished`)
        if (state === 'completed' || state === 'failed') {
          const fresh = await Job.fromId<CallJob, AnswerPlace>(queue, job.id!)
          if (state === 'completed') return fresh?.returnvalue
          throw new Error(fresh?.failedReason ?? 'the job failed')
        }
      }
    }
  }

  /** One API call: an attempt per job, retried within the deadline. */
  async function call(params: Record<string, string>): Promise<unknown> {
    const action = params['action'] ?? params['module'] ?? ''
    let started: number | null = null
    let limitedSince: number | null = null
    for (let attempt = 1; ; attempt++) {
      const left = started === null ? deadlineMs : deadlineMs - (Date.now() - started)
      const job = await queue.add('call', { params, owner, timeoutMs: Math.max(1, Math.min(timeoutMs, left)) }, {
        jobId: `${Date.now().toString(36)}-${process.pid}-${seq++}`,
        attempts: 1,
        removeOnComplete: { age: 60 },
        removeOnFail: { age: 600, count: 1_000 },
      })
      let fault: Fault
      try {
        return await take(job.id!, await finished(job))
      } catch (error) {
        fault = error instanceof Transient ? new Fault(error.kind, error.reason, error.retryAfterMs, null) : parseFault((error as Error).message)
        if (fault.startedAt !== null) started ??= fault.startedAt
      }
      const now = Date.now()
      started ??= now
      const limited = fault.kind === 'rate-limited'
      if (limited) limitedSince ??= now
      else limitedSince = null
      const exponential = Math.min(maxBackoffMs, backoffMs * 2 ** (attempt - 1))
      // A rate limit is per second: wait at least that long.
      const delay = fault.retryAfterMs !== null ? Math.min(maxBackoffMs, fault.retryAfterMs) : limited ? Math.min(maxBackoffMs, 1_000 + Math.random() * exponential) : Math.random() * exponential
      const elapsed = now - started
      if (FINAL_FAULTS.has(fault.kind) || attempt >= attempts || elapsed + delay + Math.min(timeoutMs, 250) > deadlineMs) {
        const code: ErrorCode = limited ? 'RPC_RATE_LIMITED' : FINAL_FAULTS.has(fault.kind) ? 'RPC_ERROR' : 'RPC_UNAVAILABLE'
        const cause = limited ? `rate-limited for ${seconds(now - limitedSince!)} (${fault.reason})` : fault.reason
        const budget = FINAL_FAULTS.has(fault.kind) ? 'not retried' : attempt >= attempts ? `${attempt} attempts` : `deadline ${seconds(deadlineMs)}, ${attempt} attempts`
        throw new BaseError(code, `Etherscan ${action} at ${node} failed after ${seconds(elapsed)} (${budget}): ${cause}`, { field: action, value: params['address'] ?? params['txhash'] ?? '', node, fault: fault.kind })
      }
      stats.retried++
      if (options.onRetry) {
        try {
          options.onRetry({ node, method: action, attempt, fault: fault.kind, cause: fault.reason, delayMs: Math.round(delay), elapsedMs: elapsed, deadlineMs })
        } catch {
          // Progress output must not break the call.
        }
      }
      await new Promise((resolve) => setTimeout(resolve, delay))
    }
  }

  /**
   * Every record of `action` for `address` in blocks [startBlock, endBlock], paged by block: a
   * full page continues from its last block, whose records are dropped from the page and read
   * again with the next one (a block's records are never split across pages). Records outside
   * the blocks asked for are dropped; a page that does not move past the block it started from
   * (a server ignoring `startblock`, or sending the same page again) fails with RPC_ERROR.
   */
  async function accountRecords(action: AccountAction, address: string, startBlock: number, endBlock: number): Promise<AccountRecord[]> {
    const out: AccountRecord[] = []
    let start = startBlock
    const fail = (why: string, block: number) => new BaseError('RPC_ERROR', `Etherscan ${action} at ${node} for ${address}: ${why}`, { field: action, value: address, node, block })
    for (;;) {
      const page = (await call({ module: 'account', action, address, startblock: String(start), endblock: String(endBlock), page: '1', offset: String(pageSize), sort: 'asc' })) as AccountRecord[]
      if (!Array.isArray(page)) throw fail('the answer is not a list of records', start)
      const blockOf = (r: AccountRecord) => Number(r?.['blockNumber'])
      const inRange = page.filter((r) => blockOf(r) >= start && blockOf(r) <= endBlock)
      if (page.length < pageSize) {
        out.push(...inRange)
        return out
      }
      let last = -1
      for (const r of page) {
        const block = blockOf(r)
        if (!Number.isSafeInteger(block)) throw fail(`a record with blockNumber ${JSON.stringify(r?.['blockNumber'])}`, start)
        if (block < last) throw fail(`records not in ascending block order (${block} after ${last})`, start)
        last = block
      }
      // A full page reaching past the end holds every record up to the end.
      if (last > endBlock) {
        out.push(...inRange)
        return out
      }
      if (last <= start) {
        if (page.every((r) => blockOf(r) === start)) throw fail(`more than ${pageSize} records in block ${start}: cannot page by block`, start)
        throw fail(`paging does not advance: a full page from block ${start} ends at block ${last} (the server ignores startblock or repeats a page)`, start)
      }
      out.push(...inRange.filter((r) => blockOf(r) < last))
      start = last
    }
  }

  /** `proxy` module: eth_getTransactionByHash (for internal transfers' transaction index). */
  async function transactionIndex(hash: string): Promise<number> {
    const answer = (await call({ module: 'proxy', action: 'eth_getTransactionByHash', txhash: hash })) as { result: { transactionIndex?: string } | null }
    const index = answer.result?.transactionIndex
    if (index === undefined) throw new BaseError('RPC_ERROR', `Etherscan at ${node} does not know transaction ${hash}`, { value: hash, node })
    return Number(BigInt(index))
  }

  async function blockNumber(): Promise<number> {
    const answer = (await call({ module: 'proxy', action: 'eth_blockNumber' })) as { result: string }
    if (typeof answer.result !== 'string' || !/^0x[0-9a-f]+$/i.test(answer.result)) throw new BaseError('RPC_ERROR', `Etherscan eth_blockNumber at ${node} answered ${JSON.stringify(redact(String(answer.result))).slice(0, 80)}`, { field: 'eth_blockNumber', node })
    return Number(BigInt(answer.result))
  }

  async function close(): Promise<void> {
    await worker.close()
    await events.close()
    await queue.close()
    for (const c of [connection, eventsConnection, workerConnection]) c.disconnect()
  }

  return { accountRecords, transactionIndex, blockNumber, stats, close, queueName: name, queue, worker }
}

export type EtherscanClient = ReturnType<typeof createEtherscanClient>

/** A Transient with the attempt's start, as the worker wrote it into the failure reason. */
class Fault extends Transient {
  constructor(
    kind: string,
    reason: string,
    retryAfterMs: number | null,
    readonly startedAt: number | null,
  ) {
    super(kind, reason, retryAfterMs)
  }
}

function parseFault(reason: string): Fault {
  const m = /^\[(\S+) (-?\d+) (\d+)\] ([\s\S]*)$/.exec(reason)
  if (!m) return new Fault('connection', reason, null, null)
  const retry = Number(m[2])
  return new Fault(m[1]!, m[4]!, retry >= 0 ? retry : null, Number(m[3]))
}

function retryAfterMs(header: string | null): number | null {
  if (header === null) return null
  const s = Number(header)
  if (Number.isFinite(s)) return Math.max(0, s * 1000)
  const date = Date.parse(header)
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now())
}
