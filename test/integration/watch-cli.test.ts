import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../support/cli.ts'
import { useRedisAndTempDir } from '../support/harness.ts'
import { testPrefix } from '../support/redis-server.ts'

/** `exposure watch` through the real CLI (issue 9): entries, expiry, and bad input refused with exit 2, naming the value and where, writing nothing. */
const harness = useRedisAndTempDir('watch-cli')

describe('exposure watch', () => {
  it('watch: bad input is refused with exit 2, naming the value and where, and writes nothing', async () => {
    const prefix = testPrefix('rs')
    const env = { REDIS_URL: harness.server.url, EXPOSURE_PREFIX: prefix }
    const good = '0x' + '1'.repeat(40)
    const bad = await runCli(['watch', 'add', good, '0x12345'], env)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/address argument 2.*0x12345|0x12345.*address argument 2/)
    const checksum = await runCli(['watch', 'add', '0x098B716B8Aaf21512996dC57EB0615e2383E2f97'], env)
    expect(checksum.code).toBe(2)
    expect((await runCli(['watch', 'add', good, '--expires', '5x'], env)).code).toBe(2)
    const csv = join(harness.dir, 'bad-watch.csv')
    await writeFile(csv, `address,ref\n${good},a\n0xnothex,b\n`)
    const file = await runCli(['watch', 'import', csv], env)
    expect(file.code).toBe(2)
    expect(file.stderr).toContain(`${csv}:3`)
    expect(file.stderr).toContain('address')
    const noHeader = join(harness.dir, 'no-header.csv')
    await writeFile(noHeader, `wallet\n${good}\n`)
    expect((await runCli(['watch', 'import', noHeader], env)).code).toBe(2)
    expect(await harness.redis.hlen(`${prefix}:watch`)).toBe(0)
    const removeUnknown = await runCli(['watch', 'remove', good], env)
    expect(removeUnknown.code).toBe(2)

    const added = await runCli(['watch', 'add', good, '--ref', 'r1', '--expires', '90d', '--json'], env)
    expect(added.code, added.stderr).toBe(0)
    const list = JSON.parse((await runCli(['watch', 'list', '--json'], env)).stdout)
    expect(list).toMatchObject([{ address: expect.stringMatching(/^0x1{40}$/), owner: 'cli', ref: 'r1', expired: false }])
    expect(Date.parse(list[0].expiresAt) - Date.parse(list[0].addedAt)).toBe(90 * 86_400_000)
    expect((await runCli(['watch', 'remove', good], env)).code).toBe(0)
    expect(await harness.redis.hlen(`${prefix}:watch`)).toBe(0)
    const config = await runCli(['rescan'], { ...env, EXPOSURE_WATCH_SCREENED: '9q' })
    expect(config.code).toBe(2)
    expect(config.stderr).toContain('EXPOSURE_WATCH_SCREENED')
  }, 150_000)
})
