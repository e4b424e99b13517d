/**
 * The workers/*.ts process entry points: each is `exposure worker --queues <its queue>` (same
 * options, messages and clean exit on SIGTERM); imported, none starts anything.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const QUEUES = ['walk', 'ingest', 'check', 'rescan', 'deliver'] as const

let server: TestRedis

beforeAll(async () => {
  server = await startRedis()
})

afterAll(async () => {
  await server?.stop()
})

/** Runs `node --import tsx workers/<queue>.ts …` until it is ready, then SIGTERM; its stderr and exit. */
function runEntry(queue: string, args: readonly string[]): Promise<{ stderr: string; code: number | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', `workers/${queue}.ts`, ...args], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL: server.url, EXPOSURE_PREFIX: undefined, RPC_URL: undefined, EXPOSURE_RESCAN_CRON: undefined } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  let stopping = false
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  child.stderr!.on('data', (d) => {
    stderr += d
    // Once: a second SIGTERM ends the process at once, as it does `exposure worker`.
    if (!stopping && stderr.includes(`${queue} worker ready`)) {
      stopping = true
      child.kill('SIGTERM')
    }
  })
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ stderr, code })
    }),
  )
}

describe('workers/*.ts entry points', () => {
  it.each(QUEUES)('workers/%s.ts serves its queue only and stops cleanly on SIGTERM', async (queue) => {
    const prefix = testPrefix('entry')
    const { stderr, code } = await runEntry(queue, ['--prefix', prefix])
    expect(stderr).toContain(`${queue} worker ready (prefix ${prefix}`)
    expect(stderr).toContain(`${queue} worker: SIGTERM, finishing running jobs`)
    for (const other of QUEUES) if (other !== queue) expect(stderr).not.toContain(`${other} worker ready`)
    expect(code).toBe(0)
  })

  it('takes the worker options: bad ones exit 2 as exposure worker does', async () => {
    const { stderr, code } = await runEntry('walk', ['--lock-duration', '5'])
    expect(stderr).toContain('--lock-duration must be an integer number of milliseconds')
    expect(code).toBe(2)
  })

  it('imported, an entry point starts nothing', async () => {
    const walk = await import('../../workers/walk.ts')
    expect(typeof walk.runWalkWorkerProcess).toBe('function')
    for (const queue of QUEUES) await import(`../../workers/${queue}.ts`)
  })
})
