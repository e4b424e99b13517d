/**
 * An HTTP proxy in front of a JSON-RPC node that injects faults into a share of the requests:
 * 429 with Retry-After, 5xx, a malformed JSON body, a timeout (the answer never comes) and a
 * dropped connection. Deterministic (seeded), so a failing run can be replayed.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { prng } from './chain.ts'

export type Fault = '429' | '500' | '503' | 'malformed' | 'timeout' | 'drop'
export const ALL_FAULTS: readonly Fault[] = ['429', '500', '503', 'malformed', 'timeout', 'drop']

export interface FaultProxy {
  url: string
  /** Faults injected so far, by kind. */
  injected: Record<Fault, number>
  /** Requests forwarded to the node. */
  forwarded: number
  /** Change the fault rate on the fly (0 = transparent). */
  setRate(rate: number): void
  stop(): Promise<void>
}

export async function startFaultProxy(target: string, options: { rate: number; seed: number; faults?: readonly Fault[]; timeoutHoldMs?: number }): Promise<FaultProxy> {
  const random = prng(options.seed)
  const faults = options.faults ?? ALL_FAULTS
  let rate = options.rate
  const injected = Object.fromEntries(ALL_FAULTS.map((f) => [f, 0])) as Record<Fault, number>
  const held = new Set<ServerResponse>()
  const state = { forwarded: 0 }

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
      }
    }
    state.forwarded++
    const upstream = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    const text = await upstream.text()
    res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(text)
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    injected,
    get forwarded() {
      return state.forwarded
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
