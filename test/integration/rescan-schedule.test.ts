import { spawn, type ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { BIN, runCli } from '../support/cli.ts'
import { useRedisAndTempDir } from '../support/harness.ts'
import { testPrefix } from '../support/redis-server.ts'

/**
 * Scheduled rescans (issue 9): `exposure worker --queues rescan` installs a BullMQ job scheduler on
 * EXPOSURE_RESCAN_CRON; its rescans run, one at a time per store, and `exposure status` shows the
 * last and the next one. A seed file changed between two scheduled rescans raises its alert.
 */
const harness = useRedisAndTempDir('rescan-schedule')
const children: ChildProcess[] = []
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
})

describe('scheduled rescans', () => {
  it('the worker installs the scheduler; rescans run on the cron; status shows the last and the next', async () => {
    const prefix = testPrefix('sched')
    const a = (tag: string) => `0x${tag.padStart(40, '0')}`
    const [S, T, Y] = ['5eed', 'cc03', 'dd04'].map(a) as [string, string, string]
    const dir = harness.dir
    await writeFile(join(dir, 'transactions.csv'), `hash,nonce,block_hash,block_number,transaction_index,from_address,to_address,value,gas,gas_price,input,block_timestamp,receipt_status\n0x${'1'.padStart(64, '0')},0,0x${'64'.padStart(64, '0')},100,0,${S},${Y},5,21000,1,0x,1700001200,1\n0x${'2'.padStart(64, '0')},0,0x${'5a'.padStart(64, '0')},90,0,${T},${Y},5,21000,1,0x,1700001080,1\n`)
    const seeds = join(dir, 'seeds.csv')
    await writeFile(seeds, `address,label,source\n${S},Lazarus,incident list\n`)
    const env = { REDIS_URL: harness.server.url, EXPOSURE_PREFIX: prefix, EXPOSURE_DUST: 'none', EXPOSURE_WORKERS: '1' }
    for (const args of [['import', join(dir, 'transactions.csv')], ['seeds', 'import', seeds, '--no-walk'], ['trace', '--workers', '1'], ['watch', 'add', Y]]) {
      const r = await runCli(args, env)
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
    }
    const never = JSON.parse((await runCli(['status', '--json'], env)).stdout)
    expect(never.rescan).toEqual({ last: null, next: null, cron: null, running: null })

    // The seed file a rescan re-reads. Once it lists T too, Y's nearest seed becomes T (hops 1 either
    // way; T's funds arrived first, at block 90).
    const sources = join(dir, 'ofac.csv')
    await writeFile(sources, `address,label,source\n${S},Lazarus,OFAC test\n`)
    const workerEnv = { ...env, EXPOSURE_RESCAN_CRON: '*/2 * * * * *', EXPOSURE_SEED_SOURCES: sources }
    const worker = spawn(process.execPath, [BIN, 'worker', '--queues', 'rescan'], { env: { ...process.env, ...workerEnv } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(worker)
    let output = ''
    worker.stdout!.on('data', (d) => (output += d))
    worker.stderr!.on('data', (d) => (output += d))
    const waitFor = async (what: string, ok: () => boolean | Promise<boolean>, ms = 40_000) => {
      const deadline = Date.now() + ms
      while (!(await ok())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${output}`)
        await new Promise((r) => setTimeout(r, 200))
      }
    }
    await waitFor('the worker', () => /rescan worker ready.*scheduled on "\*\/2 \* \* \* \* \*"/.test(output))
    await waitFor('a scheduled rescan', async () => (await harness.redis.get(`${prefix}:rescan:last`)) !== null)
    const status = JSON.parse((await runCli(['status', '--json'], env)).stdout)
    expect(status.rescan.last.trigger).toBe('schedule')
    expect(status.rescan.cron).toBe('*/2 * * * * *')
    expect(Date.parse(status.rescan.next)).toBeGreaterThan(Date.parse(status.rescan.last.startedAt))
    const human = await runCli(['status'], env)
    expect(human.stdout).toMatch(/last rescan/)
    expect(human.stdout).toMatch(/next rescan/)

    // A new listing in the seed file: the next scheduled rescan raises Y's alert (nearest seed S → T).
    await writeFile(sources, `address,label,source\n${S},Lazarus,OFAC test\n${T},Lazarus,OFAC test\n`)
    await waitFor('the alert', async () => (await harness.redis.xlen(`${prefix}:alerts`)) === 1)
    const tail = await runCli(['alerts', 'tail', '--json'], env)
    const [alert] = tail.stdout.trim().split('\n').map((l) => JSON.parse(l).alert)
    expect(alert.address.toLowerCase()).toBe(Y)
    expect(alert.changes).toEqual(['seed'])
    expect(alert.cause.seedsAdded.map((s: string) => s.toLowerCase())).toEqual([T])
    // Rescans keep running on schedule and raise it once.
    const last = (await harness.redis.get(`${prefix}:rescan:last`))!
    await waitFor('another scheduled rescan', async () => (await harness.redis.get(`${prefix}:rescan:last`)) !== last)
    expect(await harness.redis.xlen(`${prefix}:alerts`)).toBe(1)
    worker.kill('SIGTERM')
    await new Promise((r) => worker.once('exit', r))
  }, 120_000)
})
