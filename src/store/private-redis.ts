import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { Redis } from 'ioredis'

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))))
    })
  })
}

export interface PrivateRedis {
  url: string
  stop(): Promise<void>
}

/**
 * Starts a private `redis-server` on a free loopback port, without persistence and with
 * `noeviction`, and waits until it answers. Used by the demo when no Redis is reachable, and by
 * the tests so that test files cannot disturb each other.
 */
export async function startPrivateRedis(binary = 'redis-server'): Promise<PrivateRedis> {
  const port = await freePort()
  const child: ChildProcess = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' })
  await new Promise<void>((resolve, reject) => {
    child.once('error', (error) => reject(new Error(`cannot start ${binary}: ${error.message} (install Debian's redis-server package)`)))
    child.once('spawn', () => resolve())
  })
  const url = `redis://127.0.0.1:${port}`
  const deadline = Date.now() + 10_000
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    probe.on('error', () => undefined)
    try {
      await probe.connect()
      await probe.ping()
      probe.disconnect()
      break
    } catch {
      probe.disconnect()
      if (child.exitCode !== null) throw new Error(`${binary} exited with status ${child.exitCode} before answering`)
      if (Date.now() > deadline) {
        child.kill('SIGKILL')
        throw new Error(`${binary} on port ${port} did not answer within 10 s`)
      }
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}
