/**
 * The JSON-RPC client against small hostile servers on loopback: every transport fault ends within
 * the call's deadline (retries included) with an error that names the real cause, the node's
 * origin (never the URL's path or query, where API keys live) and the method; bodies are read
 * with a byte limit; `onRetry` reports each retry while the caller waits.
 *
 * No timed assertions: each test gives the client a small deadline and many attempts, so without
 * the deadline it would retry far longer than the test's hang guard.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { isExposureError } from '../../src/errors.ts'
import { createRpcClient, RpcError, type RetryEvent, type RpcClientOptions } from '../../src/sources/rpc/client.ts'
import { streamJunk } from '../support/fault-proxy.ts'

const servers: Server[] = []
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections()
    await new Promise((resolve) => s.close(resolve))
  }
})

const SECRET = 'k3y-0f-the-n0de-9f8e7d'

/** A server on a free loopback port; the client's URL carries a key in its path and query. */
async function serve(handler: (n: number, req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<{ url: string; origin: string; count: () => number }> {
  let n = 0
  const s = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => handler(++n, req, res, body))
  })
  servers.push(s)
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(s.address() as AddressInfo).port}`
  return { url: `${origin}/v3/${SECRET}?apikey=${SECRET}`, origin, count: () => n }
}

function answer(res: ServerResponse, body: string, result: unknown): void {
  const { id } = JSON.parse(body) as { id: number }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, result }))
}

/** A small deadline and far more attempts than it allows. */
const FAST: Partial<RpcClientOptions> = { deadlineMs: 1_500, timeoutMs: 300, maxAttempts: 1_000, backoffMs: 20, maxBackoffMs: 100, breakerThreshold: 1_000 }

async function failure(options: RpcClientOptions, method = 'eth_getLogs'): Promise<{ error: RpcError; retries: RetryEvent[] }> {
  const retries: RetryEvent[] = []
  const client = createRpcClient({ ...options, onRetry: (e) => retries.push(e) })
  const error = await client.call(method, [{ fromBlock: '0x0' }]).then(
    () => {
      throw new Error('the call did not fail')
    },
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(RpcError)
  return { error: error as RpcError, retries }
}

/** The message names the method and the origin, never the key. */
function expectNamed(error: RpcError, origin: string, method = 'eth_getLogs'): void {
  expect(error.message).toContain(method)
  expect(error.message).toContain(origin)
  expect(error.message).not.toContain(SECRET)
  expect(JSON.stringify(error.details)).not.toContain(SECRET)
}

describe('every transport fault ends within the deadline with its real cause', () => {
  it('a node that never answers in time: timeout after the per-request timeout, RPC_UNAVAILABLE', async () => {
    const held: ServerResponse[] = []
    const s = await serve((_n, _req, res) => held.push(res)) // never answers
    const { error, retries } = await failure({ url: s.url, ...FAST })
    expect(error.code).toBe('RPC_UNAVAILABLE')
    expect(error.fault).toBe('timeout')
    expect(error.shortMessage).toMatch(/no answer within 0\.3 s \(timeout\)/)
    expect(error.shortMessage).toMatch(/deadline 1\.5 s/)
    expectNamed(error, s.origin)
    // It did retry, and told the caller each time.
    expect(retries.length).toBeGreaterThanOrEqual(1)
    expect(retries.length).toBeLessThan(20)
    expect(retries[0]).toMatchObject({ node: s.origin, method: 'eth_getLogs', attempt: 1, fault: 'timeout', deadlineMs: 1_500 })
    expect(retries.map((r) => r.attempt)).toEqual(retries.map((_, i) => i + 1))
    for (const r of retries) expect(r.elapsedMs).toBeLessThan(1_500)
    for (const res of held) res.destroy()
  }, 10_000)

  it('a node slower than the per-request timeout fails by the deadline even with a long timeout asked for', async () => {
    // Answers after 5 s: the per-request timeout (20 s) is cut to what is left of the 1.5 s deadline.
    const s = await serve((_n, _req, res, body) => setTimeout(() => answer(res, body, '0x1'), 5_000).unref())
    const { error } = await failure({ url: s.url, ...FAST, timeoutMs: 20_000 })
    expect(error.fault).toBe('timeout')
    expect(error.shortMessage).toMatch(/no answer within 1\.5 s/)
    expect(s.count()).toBe(1)
  }, 4_000)

  it('a body cut off mid-stream (Content-Length promises more): "truncated"', async () => {
    const s = await serve((_n, _req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' })
      res.write('{"jsonrpc":"2.0","id":1,"result":[', () => res.destroy())
    })
    const { error, retries } = await failure({ url: s.url, ...FAST })
    expect(error.code).toBe('RPC_UNAVAILABLE')
    expect(error.fault).toBe('truncated')
    expect(error.shortMessage).toMatch(/closed mid-answer .*truncated/)
    expect(retries[0]?.fault).toBe('truncated')
    expectNamed(error, s.origin)
  }, 10_000)

  it('truncated JSON in a complete answer: "truncated or malformed JSON body"', async () => {
    const s = await serve((_n, _req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":'))
    const { error } = await failure({ url: s.url, ...FAST })
    expect(error.fault).toBe('malformed-json')
    expect(error.shortMessage).toMatch(/truncated or malformed JSON body \(33 bytes/)
    expectNamed(error, s.origin)
  }, 10_000)

  it('an HTML page instead of JSON: named with its title, the key redacted from what the page echoes', async () => {
    const s = await serve((_n, req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<html><head><title>Not found: ${req.url}</title></head></html>`))
    const { error } = await failure({ url: s.url, ...FAST })
    expect(error.fault).toBe('html')
    expect(error.shortMessage).toMatch(/an HTML page instead of JSON \(HTTP 200, title "Not found: /)
    expectNamed(error, s.origin)
  }, 10_000)

  it('HTTP 503 forever: names the status', async () => {
    const s = await serve((_n, _req, res) => res.writeHead(503, { 'content-type': 'text/plain' }).end('busy'))
    const { error } = await failure({ url: s.url, ...FAST })
    expect(error.code).toBe('RPC_UNAVAILABLE')
    expect(error.fault).toBe('http-503')
    expect(error.shortMessage).toMatch(/HTTP 503/)
    expectNamed(error, s.origin)
  }, 10_000)

  it('HTTP 429 forever with a long Retry-After: RPC_RATE_LIMITED, "rate-limited for N s", no wait past the deadline', async () => {
    const s = await serve((_n, _req, res) => res.writeHead(429, { 'retry-after': '3600' }).end())
    // maxBackoffMs caps Retry-After; a wait past the deadline is not started.
    const { error } = await failure({ url: s.url, ...FAST, maxBackoffMs: 400 })
    expect(error.code).toBe('RPC_RATE_LIMITED')
    expect(error.fault).toBe('http-429')
    expect(error.shortMessage).toMatch(/rate-limited for \d+(\.\d)? s \(HTTP 429 Too Many Requests \(Retry-After 3600 s\)\)/)
    expectNamed(error, s.origin)
  }, 10_000)

  it('a JSON-RPC rate-limit error forever: RPC_RATE_LIMITED', async () => {
    const s = await serve((_n, _req, res, body) => {
      const { id } = JSON.parse(body) as { id: number }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32005, message: 'daily request count exceeded, request rate limited' } }))
    })
    const { error } = await failure({ url: s.url, ...FAST })
    expect(error.code).toBe('RPC_RATE_LIMITED')
    expect(error.shortMessage).toMatch(/rate-limited for .*request rate limited/)
    expectNamed(error, s.origin)
  }, 10_000)

  it('a refused connection: "connection failed"', async () => {
    const s = await serve(() => undefined)
    const url = s.url
    await new Promise<void>((resolve) => {
      const server = servers.pop()!
      server.close(() => resolve())
    })
    const { error } = await failure({ url, ...FAST })
    expect(error.fault).toBe('connection')
    expect(error.shortMessage).toMatch(/connection failed \(ECONNREFUSED\)/)
    expectNamed(error, s.origin)
  }, 10_000)

  it('a slow node that does answer within the deadline: the answer, with onRetry told about the timeouts', async () => {
    const s = await serve((n, _req, res, body) => (n < 3 ? undefined : answer(res, body, '0x2a')))
    const retries: RetryEvent[] = []
    const client = createRpcClient({ url: s.url, ...FAST, deadlineMs: 5_000, onRetry: (e) => retries.push(e) })
    expect(await client.call('eth_blockNumber')).toBe('0x2a')
    expect(retries.map((r) => [r.attempt, r.fault])).toEqual([
      [1, 'timeout'],
      [2, 'timeout'],
    ])
    expect(client.stats.retries).toBe(2)
  }, 10_000)

  it('a throwing onRetry does not break the call', async () => {
    const s = await serve((n, _req, res, body) => (n === 1 ? res.writeHead(503).end() : answer(res, body, '0x1')))
    const client = createRpcClient({ url: s.url, ...FAST, onRetry: () => {
      throw new Error('printing failed')
    } })
    expect(await client.call('eth_chainId')).toBe('0x1')
  }, 10_000)
})

describe('response size cap', () => {
  it('a node streaming 200 MB of junk: RPC_ERROR naming the limit, not retried, reading stops near the limit', async () => {
    let written = 0
    const s = await serve((_n, _req, res) => streamJunk(res, 200 * 1024 * 1024, (n) => (written += n)))
    const { error, retries } = await failure({ url: s.url, ...FAST, timeoutMs: 20_000, deadlineMs: 20_000, maxResponseBytes: 1024 * 1024 })
    expect(error.code).toBe('RPC_ERROR')
    expect(error.fault).toBe('too-large')
    expect(error.shortMessage).toMatch(/with more than 1 MiB \(maxResponseBytes\)/)
    expectNamed(error, s.origin)
    expect(retries).toEqual([])
    expect(s.count()).toBe(1)
    // The client stopped reading: the server could not push much past the limit (socket buffers).
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(written).toBeLessThan(32 * 1024 * 1024)
  }, 20_000)

  it('a Content-Length over the limit is refused before reading', async () => {
    let written = 0
    const s = await serve((_n, _req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(200 * 1024 * 1024) })
      const chunk = Buffer.alloc(64 * 1024, 'x')
      const pump = () => {
        while (!res.destroyed && written < 200 * 1024 * 1024) {
          written += chunk.length
          if (!res.write(chunk)) return void res.once('drain', pump)
        }
      }
      pump()
    })
    const { error } = await failure({ url: s.url, ...FAST, deadlineMs: 20_000, timeoutMs: 20_000, maxResponseBytes: 1024 * 1024 })
    expect(error.fault).toBe('too-large')
    expect(error.shortMessage).toMatch(/Content-Length 209715200/)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(written).toBeLessThan(32 * 1024 * 1024)
  }, 20_000)

  it('an answer below the limit is read whole', async () => {
    const big = 'ab'.repeat(300_000)
    const s = await serve((_n, _req, res, body) => answer(res, body, big))
    const client = createRpcClient({ url: s.url, maxResponseBytes: 1024 * 1024 })
    expect(await client.call('eth_call')).toBe(big)
  })
})

describe('errors answered by the node', () => {
  it('a non-retryable JSON-RPC error names the method and the node (in details), at once', async () => {
    const s = await serve((_n, _req, res, body) => {
      const { id } = JSON.parse(body) as { id: number }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32602, message: 'invalid argument 0' } }))
    })
    const client = createRpcClient({ url: s.url })
    const error = await client.call('trace_filter', [{}]).catch((e: unknown) => e)
    expect(isExposureError(error, 'RPC_ERROR')).toBe(true)
    expectNamed(error as RpcError, s.origin, 'trace_filter')
    expect(s.count()).toBe(1)
  })

  it('HTTP 401 is not retried and names the status', async () => {
    const s = await serve((_n, _req, res) => res.writeHead(401, { 'content-type': 'text/plain' }).end('invalid project id'))
    const client = createRpcClient({ url: s.url })
    const error = (await client.call('eth_chainId').catch((e: unknown) => e)) as RpcError
    expect(error.code).toBe('RPC_UNAVAILABLE')
    expect(error.shortMessage).toMatch(/HTTP 401/)
    expectNamed(error, s.origin, 'eth_chainId')
    expect(s.count()).toBe(1)
  })
})
