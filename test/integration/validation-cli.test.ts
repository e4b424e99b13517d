import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../support/cli.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'

/**
 * Validation at the edge, through the real CLI: configuration values and seed or label files that
 * would silently change answers are refused with exit 2, naming the value and where it was;
 * untrusted text is printed escaped.
 */
let server: TestRedis
let work: string
beforeAll(async () => {
  server = await startRedis()
  work = await mkdtemp(join(tmpdir(), 'validation-cli-'))
})
afterAll(async () => {
  await server?.stop()
  if (work) await rm(work, { recursive: true, force: true })
})

describe('configuration', () => {
  it('EXPOSURE_MAX_HOPS= (empty) is refused with exit 2, naming the variable', async () => {
    const result = await runCli(['--redis-url', server.url, '--prefix', testPrefix('hops'), 'status'], { EXPOSURE_MAX_HOPS: '' })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('EXPOSURE_MAX_HOPS')
    expect(result.stderr).toMatch(/empty/)
    expect(result.stdout).toBe('')
  })

  it('EXPOSURE_STOP_CATEGORIES=exchnage is refused with exit 2, naming the value and the known categories', async () => {
    const result = await runCli(['--redis-url', server.url, '--prefix', testPrefix('stop'), 'status'], { EXPOSURE_STOP_CATEGORIES: 'exchnage' })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('EXPOSURE_STOP_CATEGORIES')
    expect(result.stderr).toContain('exchnage')
    expect(result.stderr).toContain('exchange')
  })

  it('a Redis URL whose database is not an integer is refused with exit 2', async () => {
    const result = await runCli(['--redis-url', `${server.url}/abc`, 'status'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('--redis-url')
    expect(result.stderr).toContain('/abc')
  })
})

describe('seeds and labels', () => {
  const ZERO = '0x0000000000000000000000000000000000000000'
  const GOOD = '0x098B716B8Aaf21512996dC57EB0615e2383E2f96'

  it('the zero address as a seed is refused with exit 2 naming file:line, and nothing is written; --skip-invalid skips it with a report', async () => {
    const file = join(work, 'zero-seeds.csv')
    await writeFile(file, `address,label,source\n${GOOD},Lazarus Group,OFAC\n${ZERO},burn,mistake\n`)
    const g = ['--redis-url', server.url, '--prefix', testPrefix('zero')]
    const refused = await runCli([...g, 'seeds', 'import', '--no-walk', file])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain(`${file}:3`)
    expect(refused.stderr).toContain(ZERO)
    expect(refused.stderr).toMatch(/zero address/)
    const empty = await runCli([...g, 'seeds', 'list', '--json'])
    expect(JSON.parse(empty.stdout).seeds).toEqual([])

    const skipped = await runCli([...g, 'seeds', 'import', '--no-walk', '--skip-invalid', file])
    expect(skipped.code, skipped.stderr).toBe(0)
    expect(skipped.stderr).toContain(`skipped: ${file}:3: invalid address "${ZERO}"`)
    const listed = await runCli([...g, 'seeds', 'list', '--json'])
    expect((JSON.parse(listed.stdout).seeds as { address: string }[]).map((s) => s.address)).toEqual([GOOD])
  })

  it('seeds list prints a label with a right-to-left override and an ANSI sequence escaped; --json keeps them exact', async () => {
    const label = 'Lazarus \u202Eexe.gnp\u001B[31m'
    const file = join(work, 'rlo-seeds.csv')
    await writeFile(file, `address,label,source\n${GOOD},${label},advisory \u202Ex\n`)
    const g = ['--redis-url', server.url, '--prefix', testPrefix('rlo')]
    expect((await runCli([...g, 'seeds', 'import', '--no-walk', file])).code).toBe(0)
    const listed = await runCli([...g, 'seeds', 'list'])
    expect(listed.code, listed.stderr).toBe(0)
    expect(listed.stdout).not.toContain('\u202E')
    expect(listed.stdout).not.toContain('\u001B')
    expect(listed.stdout).toContain('Lazarus \\u{202E}exe.gnp\\u{1B}[31m')
    expect(listed.stdout).toContain('advisory \\u{202E}x')
    const json = await runCli([...g, 'seeds', 'list', '--json'])
    expect(JSON.parse(json.stdout).seeds[0].label).toBe(label)
  })
})
