/**
 * Etherscan-compatible account API (Etherscan API v2 with `chainid`; Blockscout's compatible
 * `?module=account&action=…` API): `txlist`, `txlistinternal`, `tokentx` per address, paged by
 * block at 1,000 records per page.
 *
 * Rate limit: every call is one job of a BullMQ queue named after a hash of the API key, whose
 * worker has BullMQ's limiter set to the plan's calls/s. The limiter lives in Redis, so all
 * workers of all processes using that key share it. Bodies saying "Max rate limit reached" or
 * "NOTOK" are retried with backoff; "No transactions found" is an empty answer.
 *
 * The key is sent to the API only: it is not in job data (the worker adds it), not in job ids,
 * not in messages.
 */
import { createHash } from 'node:crypto'
import { Queue, QueueEvents, Worker, UnrecoverableError, type Job } from 'bullmq'
import { Redis } from 'ioredis'
import { BaseError } from '../../errors.ts'

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
  /** Attempts per call on NOTOK / rate-limit bodies and transport faults. Default 10. */
  attempts?: number
  timeoutMs?: number
}

export interface EtherscanStats {
  calls: number
  retried: number
  rateLimited: number
  /** Wall time from the first to the last call (ms). */
  firstAt: number
  lastAt: number
}

interface CallJob {
  params: Record<string, string>
}

/** One record of an account list, as the API sends it (all strings). */
export type AccountRecord = Record<string, string>

export function etherscanQueueName(apiKey: string): string {
  return `etherscan-${createHash('sha256').update(apiKey).digest('hex').slice(0, 12)}`
}

export function createEtherscanClient(options: EtherscanOptions) {
  const pageSize = options.pageSize ?? 1_000
  const name = etherscanQueueName(options.apiKey)
  const connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null })
  const queue = new Queue<CallJob>(name, { connection, prefix: `${options.prefix}:q` })
  const events = new QueueEvents(name, { connection: connection.duplicate(), prefix: `${options.prefix}:q` })
  const stats: EtherscanStats = { calls: 0, retried: 0, rateLimited: 0, firstAt: 0, lastAt: 0 }
  let seq = 0

  const worker = new Worker<CallJob>(name, async (job: Job<CallJob>) => get(job.data.params), {
    connection: connection.duplicate(),
    prefix: `${options.prefix}:q`,
    concurrency: Math.max(1, Math.ceil(options.rate)),
    // One call per 1/rate seconds: evenly spaced, so no one-second window (fixed or sliding) of
    // the API ever sees more than `rate` calls, and the limit is still used in full.
    limiter: { max: 1, duration: Math.max(1, Math.floor(1000 / options.rate)) },
  })
  worker.on('error', () => undefined)

  /** One HTTP GET (run by the limited worker). NOTOK bodies throw to be retried by BullMQ. */
  async function get(params: Record<string, string>): Promise<AccountRecord[] | Record<string, unknown>> {
    const url = new URL(options.baseUrl)
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
    url.searchParams.set('chainid', String(options.chainId))
    url.searchParams.set('apikey', options.apiKey)
    const now = Date.now()
    if (stats.calls === 0) stats.firstAt = now
    stats.calls++
    stats.lastAt = now
    let response: Response
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 15_000) })
    } catch (error) {
      stats.retried++
      throw new Error(`Etherscan API unreachable: ${(error as Error).name}`)
    }
    if (response.status === 429 || response.status >= 500) {
      stats.retried++
      if (response.status === 429) stats.rateLimited++
      throw new Error(`Etherscan API answered HTTP ${response.status}`)
    }
    let body: { status?: string; message?: string; result?: unknown }
    try {
      body = (await response.json()) as typeof body
    } catch {
      stats.retried++
      throw new Error('Etherscan API sent a malformed body')
    }
    const text = `${body.message ?? ''} ${typeof body.result === 'string' ? body.result : ''}`
    if (params['module'] === 'proxy' && body.status === undefined) {
      // Proxy answers are JSON-RPC shaped; errors (rate limit, NOTOK) come in the account shape.
      if (body.result === undefined) throw new Error('Etherscan proxy answer without result')
      return { result: body.result }
    }
    if (body.status === '1' && Array.isArray(body.result)) return body.result as AccountRecord[]
    if (/no transactions found|no records found|no token transfers found|no internal transactions found/i.test(text)) return []
    if (/rate limit/i.test(text)) {
      stats.rateLimited++
      stats.retried++
      throw new Error('Etherscan: Max rate limit reached')
    }
    if (/invalid api key|missing.*api ?key/i.test(text)) throw new UnrecoverableError('Etherscan rejected the API key')
    if (/NOTOK/i.test(text) || body.status === '0') {
      stats.retried++
      throw new Error(`Etherscan: ${(body.result as string | undefined) ?? body.message ?? 'NOTOK'}`)
    }
    throw new UnrecoverableError(`Etherscan: unexpected answer (${JSON.stringify(body).slice(0, 80)})`)
  }

  async function call(params: Record<string, string>): Promise<unknown> {
    const job = await queue.add('call', { params }, {
      jobId: `${Date.now().toString(36)}-${process.pid}-${seq++}`,
      attempts: options.attempts ?? 10,
      backoff: { type: 'exponential', delay: 200 },
      removeOnComplete: { age: 60 },
      removeOnFail: { age: 600 },
    })
    try {
      return await job.waitUntilFinished(events)
    } catch (error) {
      throw new BaseError('RPC_UNAVAILABLE', `Etherscan ${params['action'] ?? ''} failed: ${(error as Error).message}`, { field: params['action'] ?? '', value: params['address'] ?? '' }, { cause: error })
    }
  }

  /**
   * Every record of `action` for `address` in blocks [startBlock, endBlock], paged by block: a
   * full page (1,000) continues from its last block, whose records are dropped from the page and
   * read again with the next one (a block's records are never split across pages).
   */
  async function accountRecords(action: AccountAction, address: string, startBlock: number, endBlock: number): Promise<AccountRecord[]> {
    const out: AccountRecord[] = []
    let start = startBlock
    for (;;) {
      const page = (await call({ module: 'account', action, address, startblock: String(start), endblock: String(endBlock), page: '1', offset: String(pageSize), sort: 'asc' })) as AccountRecord[]
      if (page.length < pageSize) {
        out.push(...page)
        return out
      }
      const last = Number(page[page.length - 1]!['blockNumber'])
      const before = page.filter((r) => Number(r['blockNumber']) < last)
      if (before.length === 0) throw new BaseError('RPC_ERROR', `more than ${pageSize} ${action} records of ${address} in block ${last}: cannot page by block`, { field: action, value: address })
      out.push(...before)
      start = last
    }
  }

  /** `proxy` module: eth_getTransactionByHash (for internal transfers' transaction index). */
  async function transactionIndex(hash: string): Promise<number> {
    const answer = (await call({ module: 'proxy', action: 'eth_getTransactionByHash', txhash: hash })) as { result: { transactionIndex?: string } | null }
    const index = answer.result?.transactionIndex
    if (index === undefined) throw new BaseError('RPC_ERROR', `Etherscan does not know transaction ${hash}`, { value: hash })
    return Number(BigInt(index))
  }

  async function blockNumber(): Promise<number> {
    const answer = (await call({ module: 'proxy', action: 'eth_blockNumber' })) as { result: string }
    return Number(BigInt(answer.result))
  }

  async function close(): Promise<void> {
    await worker.close()
    await events.close()
    await queue.close()
    connection.disconnect()
  }

  return { accountRecords, transactionIndex, blockNumber, stats, close, queueName: name }
}

export type EtherscanClient = ReturnType<typeof createEtherscanClient>
