/**
 * Redis stopped and restarted under load: while it is away, screenings answer 503 with a problem
 * body (never a hang, a stack trace or a dropped connection) and /readyz answers 503; once it is
 * back (with its AOF), screenings answer 200 again without restarting the server, which reported
 * the outage once each way.
 */
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../support/cli.ts'
import { testPrefix } from '../support/redis-server.ts'
import { startRestartableRedis, type RestartableRedis } from '../support/restartable-redis.ts'
import { startServe, type ServeProcess } from '../support/serve.ts'

const DEMO = fileURLToPath(new URL('../../fixtures/demo/', import.meta.url))
const SEED = '0x098b716b8aaf21512996dc57eb0615e2383e2f96'

let redis: RestartableRedis
let env: Record<string, string>
let key: string
let serve: ServeProcess

beforeAll(async () => {
  redis = await startRestartableRedis({ appendonly: true })
  env = { REDIS_URL: redis.url, EXPOSURE_PREFIX: testPrefix('outage') }
  for (const args of [['import', DEMO], ['seeds', 'import', `${DEMO}seeds.csv`], ['trace']]) {
    const r = await runCli(args, env)
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
  }
  const created = await runCli(['keys', 'create', '--name', 'load', '--scopes', 'screen', '--rate', '100000/s', '--json'], env)
  expect(created.code, created.stderr).toBe(0)
  key = (JSON.parse(created.stdout) as { key: string }).key
  serve = await startServe(env)
}, 180_000)

afterAll(async () => {
  await serve?.stop('SIGKILL')
  await redis?.dispose()
})

describe('exposure serve while Redis goes away and comes back', () => {
  it('503 problems and /readyz 503 while Redis is down, 200 again once it is back; no request hangs or fails otherwise', async () => {
    const outcomes: { status: number; code?: string; type?: string }[] = []
    const failures: string[] = []
    let stop = false
    const loop = async () => {
      // Bounded: at most 20,000 requests per loop; each has a hang guard.
      for (let i = 0; i < 20_000 && !stop; i++) {
        try {
          const response = await fetch(`${serve.url}/v1/screen`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ addresses: [SEED] }), signal: AbortSignal.timeout(15_000) })
          const body = (await response.json()) as { code?: string }
          outcomes.push({ status: response.status, ...(body.code === undefined ? {} : { code: body.code }), type: response.headers.get('content-type')?.split(';')[0] ?? '' })
        } catch (error) {
          failures.push((error as Error).message)
        }
      }
    }
    const until = async (what: () => boolean | Promise<boolean>, label: string) => {
      // A hang guard, not a timing assertion.
      for (let i = 0; i < 1200; i++) {
        if (await what()) return
        await new Promise((r) => setTimeout(r, 50))
      }
      throw new Error(`never: ${label}`)
    }
    const loops = [loop(), loop(), loop(), loop()]
    await until(() => outcomes.filter((o) => o.status === 200).length >= 20, '20 answers before the outage')
    await redis.stop('SIGTERM')
    const down = outcomes.length
    await until(() => outcomes.slice(down).filter((o) => o.status === 503).length >= 20, '503 while Redis is down')
    const ready = await fetch(`${serve.url}/readyz`, { signal: AbortSignal.timeout(15_000) })
    expect(ready.status).toBe(503)
    expect(ready.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(((await ready.json()) as { code: string }).code).toBe('not-ready')
    expect((await fetch(`${serve.url}/healthz`)).status).toBe(200)
    await redis.start()
    const up = outcomes.length
    await until(() => outcomes.slice(up).filter((o) => o.status === 200).length >= 20, '200 after Redis is back')
    await until(async () => (await fetch(`${serve.url}/readyz`)).status === 200, 'ready again')
    stop = true
    await Promise.all(loops)
    expect(failures).toEqual([])
    const unexpected = outcomes.filter((o) => !(o.status === 200 || (o.status === 503 && o.code === 'store-unavailable' && o.type === 'application/problem+json')))
    expect(unexpected).toEqual([])
    expect(outcomes.filter((o) => o.status === 503).length).toBeGreaterThanOrEqual(20)
    expect(await serve.stop('SIGTERM')).toEqual({ code: 0, signal: null })
    const logs = serve.output()
    expect(logs.match(/lost the connection to Redis/g)).toHaveLength(1)
    expect(logs.match(/is back after/g)).toHaveLength(1)
    expect(logs).not.toMatch(/\n\s+at /)
    expect(logs).not.toContain(key)
  })
})
