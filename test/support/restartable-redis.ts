import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort } from '../../src/store/private-redis.ts'

export interface RestartableRedis {
  url: string
  port: number
  /** Stops the server: 'SIGTERM' saves the AOF first (a clean restart), 'SIGKILL' loses what was not fsynced. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>
  start(): Promise<void>
  restart(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>
  dispose(): Promise<void>
}

/**
 * A redis-server on a fixed free port that tests can stop and start again: with `appendonly` it
 * comes back with its data (AOF, fsync every second), without it empty (a Redis without
 * persistence after a restart).
 */
export async function startRestartableRedis(options: { appendonly: boolean }): Promise<RestartableRedis> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'restartable-redis-'))
  const url = `redis://127.0.0.1:${port}`
  let child: ChildProcess | null = null

  async function start(): Promise<void> {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', options.appendonly ? 'yes' : 'no', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' })
    const deadline = Date.now() + 15_000
    for (;;) {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      probe.on('error', () => undefined)
      try {
        await probe.connect()
        // LOADING replies until the AOF is read back.
        while ((await probe.ping().catch((e: Error) => e.message)) !== 'PONG') await new Promise((r) => setTimeout(r, 50))
        probe.disconnect()
        return
      } catch {
        probe.disconnect()
        if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not come up`)
        await new Promise((r) => setTimeout(r, 50))
      }
    }
  }

  async function stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const running = child
    child = null
    if (running === null || running.exitCode !== null || running.signalCode !== null) return
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve())
      running.kill(signal)
    })
  }

  await start()
  return {
    url,
    port,
    stop,
    start,
    restart: async (signal) => {
      await stop(signal)
      await start()
    },
    dispose: async () => {
      await stop('SIGKILL')
      await rm(dir, { recursive: true, force: true })
    },
  }
}
