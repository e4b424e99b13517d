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
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

export interface TestRedis {
  url: string
  /** Stops the private server (no-op when the tests fell back to REDIS_URL). */
  stop(): Promise<void>
}

/**
 * Starts a private `redis-server` on a free port (no persistence) so test files cannot disturb each
 * other; falls back to REDIS_URL when the binary is missing.
 */
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort()
  let child: ChildProcess
  try {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' })
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject)
      child.once('spawn', () => resolve())
    })
  } catch (error) {
    if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: async () => undefined }
    throw new Error(`cannot start redis-server (${(error as Error).message}) and REDIS_URL is not set`)
  }
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
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within 10 s`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

/** A random key prefix per test, so tests sharing a server never see each other's keys. */
export function testPrefix(name = 't'): string {
  return `{${name}-${Math.random().toString(36).slice(2, 10)}}`
}
