/**
 * An HTTP proxy in front of a JSON-RPC node that injects faults into a share of the requests:
 * 429 with Retry-After, 5xx, a malformed JSON body, a timeout (the answer never comes), a dropped
 * connection, a body cut off mid-stream (Content-Length promises more), an HTML page, and an
 * endless stream of junk. Deterministic (seeded), so a failing run can be replayed.
 *
 * It can also misbehave at the JSON-RPC level, per call of a batch: answer "method not found" for
 * some methods (a node without the trace namespace), rewrite a call before forwarding it (a node
 * that ignores `toBlock`), rewrite a result (a node that sends a malformed answer), and delay every
 * answer (a slow node). `calls` logs every call forwarded.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { prng } from './chain.ts'

export type Fault = '429' | '500' | '503' | 'malformed' | 'timeout' | 'drop' | 'truncate' | 'html' | 'huge'
export const ALL_FAULTS: readonly Fault[] = ['429', '500', '503', 'malformed', 'timeout', 'drop']
const EVERY_FAULT: readonly Fault[] = [...ALL_FAULTS, 'truncate', 'html', 'huge']

export interface JsonRpcCall {
  method: string
  params: unknown[]
}

export interface FaultProxyOptions {
  /** Share of requests that get a fault from `faults` (0 = transparent, 1 = every one). */
  rate: number
  seed: number
  faults?: readonly Fault[]
  /** How long a 'timeout' holds the request before dropping it (ms). Default 3 000. */
  timeoutHoldMs?: number
  /** Bytes of junk a 'huge' fault streams (chunked, no Content-Length). Default 200 MiB. */
  hugeBytes?: number
  /** Delay before forwarding every request (ms): a slow node. */
  delayMs?: number
  /** Calls of these methods are answered -32601 "Method not found" (a node without that namespace). */
  missingMethods?: RegExp
  /** Rewrites a call before it is forwarded. */
  rewriteCall?: (call: JsonRpcCall) => JsonRpcCall
  /** Rewrites the node's result of a call. */
  rewriteResult?: (call: JsonRpcCall, result: unknown) => unknown
}

export interface FaultProxy {
  url: string
  /** Faults injected so far, by kind. */
  injected: Record<Fault, number>
  /** Requests forwarded to the node. */
  forwarded: number
  /** Every JSON-RPC call forwarded (after rewriting), in order. */
  calls: JsonRpcCall[]
  /** Bytes of junk written by 'huge' faults (what the socket accepted). */
  hugeWritten: number
  /** Change the fault rate on the fly (0 = transparent). */
  setRate(rate: number): void
  stop(): Promise<void>
}

interface RpcRequest {
  jsonrpc?: string
  id?: unknown
  method: string
  params?: unknown[]
}

export async function startFaultProxy(target: string, options: FaultProxyOptions): Promise<FaultProxy> {
  const random = prng(options.seed)
  const faults = options.faults ?? ALL_FAULTS
  let rate = options.rate
  const injected = Object.fromEntries(EVERY_FAULT.map((f) => [f, 0])) as Record<Fault, number>
  const held = new Set<ServerResponse>()
  const state = { forwarded: 0, hugeWritten: 0 }
  const calls: JsonRpcCall[] = []
  const rpcLevel = options.missingMethods !== undefined || options.rewriteCall !== undefined || options.rewriteResult !== undefined

  async function forward(body: Buffer): Promise<{ status: number; text: string }> {
    if (!rpcLevel) {
      try {
        const parsed = JSON.parse(body.toString('utf8')) as RpcRequest | RpcRequest[]
        for (const r of Array.isArray(parsed) ? parsed : [parsed]) calls.push({ method: r.method, params: r.params ?? [] })
      } catch {
        // Not JSON: forwarded as is.
      }
      state.forwarded++
      const upstream = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
      return { status: upstream.status, text: await upstream.text() }
    }
    const parsed = JSON.parse(body.toString('utf8')) as RpcRequest | RpcRequest[]
    const single = !Array.isArray(parsed)
    const requests = single ? [parsed] : parsed
    const answers = new Map<unknown, unknown>()
    const onward: { request: RpcRequest; call: JsonRpcCall }[] = []
    for (const request of requests) {
      if (options.missingMethods?.test(request.method)) {
        answers.set(request.id, { jsonrpc: '2.0', id: request.id, error: { code: -32601, message: 'Method not found' } })
        continue
      }
      const call = options.rewriteCall ? options.rewriteCall({ method: request.method, params: request.params ?? [] }) : { method: request.method, params: request.params ?? [] }
      calls.push(call)
      onward.push({ request, call })
    }
    if (onward.length > 0) {
      state.forwarded++
      const upstream = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(onward.map(({ request, call }) => ({ jsonrpc: '2.0', id: request.id, method: call.method, params: call.params }))),
      })
      const items = (await upstream.json()) as { id: unknown; result?: unknown; error?: unknown }[]
      for (const item of items) {
        const call = onward.find((o) => o.request.id === item.id)?.call
        if (call && 'result' in item && options.rewriteResult) item.result = options.rewriteResult(call, item.result)
        answers.set(item.id, item)
      }
    }
    const out = requests.map((r) => answers.get(r.id))
    return { status: 200, text: JSON.stringify(single ? out[0] : out) }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks)
    if (random() < rate) {
      const fault = faults[Math.floor(random() * faults.length)]!
      injected[fault]++
      switch (fault) {
        case '429':
          res.writeHead(429, { 'retry-after': '0', 'content-type': 'text/plain' }).end('Too Many Requests')
          return
        case '500':
        case '503':
          res.writeHead(Number(fault), { 'content-type': 'text/plain' }).end('upstream error')
          return
        case 'malformed':
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":')
          return
        case 'timeout':
          held.add(res)
          setTimeout(() => {
            held.delete(res)
            res.destroy()
          }, options.timeoutHoldMs ?? 3_000)
          return
        case 'drop':
          req.socket.destroy()
          return
        case 'truncate': {
          // The real answer's first half, with a Content-Length for all of it, then the connection closes.
          const { text } = await forward(body)
          const bytes = Buffer.from(text)
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(bytes.length) })
          res.write(bytes.subarray(0, Math.floor(bytes.length / 2)), () => res.destroy())
          return
        }
        case 'html':
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>')
          return
        case 'huge':
          streamJunk(res, options.hugeBytes ?? 200 * 1024 * 1024, (n) => (state.hugeWritten += n))
          return
      }
    }
    if (options.delayMs !== undefined && options.delayMs > 0) {
      held.add(res)
      await new Promise((resolve) => setTimeout(resolve, options.delayMs))
      held.delete(res)
      if (res.destroyed) return
    }
    const { status, text } = await forward(body)
    if (res.destroyed) return
    res.writeHead(status, { 'content-type': 'application/json' }).end(text)
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    injected,
    calls,
    get forwarded() {
      return state.forwarded
    },
    get hugeWritten() {
      return state.hugeWritten
    },
    setRate: (r) => {
      rate = r
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const res of held) res.destroy()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/**
 * Streams `total` bytes of junk (chunked, no Content-Length), honouring backpressure, and stops as
 * soon as the client goes away; `count` is told what the socket accepted.
 */
export function streamJunk(res: ServerResponse, total: number, count: (bytes: number) => void, contentType = 'application/json'): void {
  const chunk = Buffer.alloc(64 * 1024, 'x')
  res.writeHead(200, { 'content-type': contentType })
  res.write('{"jsonrpc":"2.0","id":1,"result":"')
  let left = total
  const pump = (): void => {
    while (left > 0 && !res.destroyed) {
      const n = Math.min(left, chunk.length)
      left -= n
      count(n)
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
        res.once('drain', pump)
        return
      }
    }
    if (!res.destroyed) res.end('"}')
  }
  res.on('close', () => {
    left = 0
  })
  pump()
}
