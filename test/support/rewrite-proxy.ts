/**
 * A programmable, hostile JSON-RPC proxy in front of a node (tests of the block sync): it can
 * rewrite any call's answer (another chain id, another genesis hash, wrong parent hashes), answer
 * a call with a JSON-RPC error, delay every request, and play dead (drop every connection) on
 * demand or from a given request on. Batches are handled call by call.
 *
 * Unlike fault-proxy.ts (random transport faults a resilient client must ride out), the faults
 * here are deterministic lies and outages the sync must notice.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ProxiedCall {
  method: string
  params: unknown[]
}

/** A replacement result for a call, `undefined` to pass the node's answer on, or `{ error }` to answer an error. */
export type Rewrite = (call: ProxiedCall, result: unknown) => unknown

export type ProxyMode = 'pass' | 'drop'

export interface RewriteProxy {
  url: string
  /** HTTP requests seen (a batch is one). */
  readonly requests: number
  /** Requests dropped while playing dead. */
  readonly dropped: number
  setRewrite(rewrite: Rewrite | null): void
  /** 'drop': every request's connection is destroyed (a node that went away). */
  setMode(mode: ProxyMode): void
  /** Delay before each request is forwarded (ms). */
  setDelay(ms: number): void
  /** Called with each request's calls before it is forwarded: answer 'drop' to destroy it (and switch modes from here). */
  setGate(gate: ((calls: readonly ProxiedCall[]) => ProxyMode) | null): void
  stop(): Promise<void>
}

/** An answer `{ error: { code, message } }` from a Rewrite becomes a JSON-RPC error. */
export function rpcError(message: string, code = -32000): { error: { code: number; message: string } } {
  return { error: { code, message } }
}

export async function startRewriteProxy(target: string): Promise<RewriteProxy> {
  let rewrite: Rewrite | null = null
  let mode: ProxyMode = 'pass'
  let delayMs = 0
  let gate: ((calls: readonly ProxiedCall[]) => ProxyMode) | null = null
  const state = { requests: 0, dropped: 0 }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    state.requests++
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
    const items = (Array.isArray(body) ? body : [body]) as { id: unknown; method: string; params?: unknown[] }[]
    const calls = items.map((i) => ({ method: i.method, params: i.params ?? [] }))
    if (mode === 'drop' || (gate !== null && gate(calls) === 'drop')) {
      state.dropped++
      req.socket.destroy()
      return
    }
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs))
    const upstream = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const answer = (await upstream.json()) as unknown
    const answers = (Array.isArray(answer) ? answer : [answer]) as { id: unknown; result?: unknown; error?: unknown }[]
    if (rewrite !== null) {
      const byId = new Map(items.map((i, k) => [i.id, calls[k]!]))
      for (const a of answers) {
        const call = byId.get(a.id)
        if (call === undefined || a.error !== undefined) continue
        const replaced = rewrite(call, a.result)
        if (replaced === undefined) continue
        if (replaced !== null && typeof replaced === 'object' && 'error' in (replaced as object) && Object.keys(replaced as object).length === 1) {
          delete a.result
          a.error = (replaced as { error: unknown }).error
        } else {
          a.result = replaced
        }
      }
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(Array.isArray(answer) ? answers : answers[0]))
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests
    },
    get dropped() {
      return state.dropped
    },
    setRewrite: (r) => {
      rewrite = r
    },
    setMode: (m) => {
      mode = m
    },
    setDelay: (ms) => {
      delayMs = ms
    },
    setGate: (g) => {
      gate = g
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** The block number a call asks for (eth_getBlockByNumber, eth_getBlockReceipts, trace_block), or null. */
export function blockParam(call: ProxiedCall): number | null {
  const first = call.params[0]
  return typeof first === 'string' && /^0x[0-9a-f]+$/i.test(first) ? Number.parseInt(first, 16) : null
}
