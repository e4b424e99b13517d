/**
 * Real service processes for tests: `exposure serve` on its own free port and `exposure worker
 * --queues check`, with everything they print kept (to grep the logs for secrets), stopped by
 * SIGTERM with their exit status.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { freePort } from '../../src/store/private-redis.ts'
import { BIN } from './cli.ts'

export interface ServiceProcess {
  child: ChildProcess
  /** Everything printed so far, stdout and stderr. */
  output(): string
  /** SIGTERM, then its exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: string | null }>
}

export interface ServeProcess extends ServiceProcess {
  url: string
  port: number
  /** fetch relative to the server, with an optional key. */
  request(path: string, init?: { method?: string; key?: string; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> }): Promise<Response>
}

function spawnService(args: readonly string[], env: Record<string, string | undefined>, readyText: string | RegExp): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, REDIS_URL: undefined, EXPOSURE_PREFIX: undefined, RPC_URL: undefined, ETHERSCAN_URL: undefined, ETHERSCAN_API_KEY: undefined, ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const service: ServiceProcess = {
    child,
    output: () => output,
    stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode })
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, sig) => resolve({ code, signal: sig })))
      child.kill(signal)
      return exited
    },
  }
  return new Promise((resolve, reject) => {
    // A hang guard only: a service that never says it is ready fails the test with what it printed.
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} not ready: ${output}`)), 60_000)
    const check = () => {
      if (typeof readyText === 'string' ? output.includes(readyText) : readyText.test(output)) {
        clearTimeout(timer)
        child.stdout!.off('data', check)
        child.stderr!.off('data', check)
        resolve(service)
      }
    }
    child.stdout!.on('data', check)
    child.stderr!.on('data', check)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${args.join(' ')} exited (${code}): ${output}`))
    })
  })
}

/** Starts `exposure serve` on a free port and resolves once it listens. */
export async function startServe(env: Record<string, string | undefined>, args: readonly string[] = []): Promise<ServeProcess> {
  const port = await freePort()
  const service = await spawnService(['serve', '--port', String(port), ...args], env, 'exposure serve: listening on')
  const url = `http://127.0.0.1:${port}`
  return {
    ...service,
    url,
    port,
    request(path, init = {}) {
      const headers: Record<string, string> = { ...(init.headers ?? {}) }
      if (init.key !== undefined) headers.authorization = `Bearer ${init.key}`
      let body: string | Buffer | undefined
      if (init.raw !== undefined) body = init.raw
      else if (init.body !== undefined) {
        body = JSON.stringify(init.body)
        headers['content-type'] ??= 'application/json'
      }
      return fetch(`${url}${path}`, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, ...(body === undefined ? {} : { body }) })
    },
  }
}

/** Starts `exposure worker --queues check` and resolves once it is ready. */
export function startCheckWorker(env: Record<string, string | undefined>, args: readonly string[] = []): Promise<ServiceProcess> {
  return spawnService(['worker', '--queues', 'check', ...args], env, 'check worker ready')
}
