import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../support/cli.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'

/**
 * `exposure seeds import|list|diff|remove|history` and `labels import` through the real CLI: every
 * format, all-or-nothing, versioning, provenance in check --json, and a delisting round trip with
 * automatic incremental walks whose labels equal clean walks.
 */
const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url))
const SAMPLE = root('fixtures/etl-sample/')
const INCIDENTS = root('fixtures/seeds/lazarus-incidents/lazarus_incident_addresses_tayvano_trimmed.csv')
const FBI = root('fixtures/seeds/fbi-bybit-2025/fbi_psa250226_eth_addresses.txt')
const SDN = root('fixtures/seeds/ofac/sdn_advanced_2025-11-19_digital-currency-excerpt.xml')
const SDN_BZ2 = root('fixtures/seeds/ofac/sdn_advanced_2025-11-19_lazarus-mini.xml.bz2')
const LISTS = root('fixtures/seeds/lists/')
const LABELS = root('fixtures/labels/')
const BAD_ADDRESS = '0x55CCa2f5eB07907696afe4b9Db5102bCE5feB734'

let server: TestRedis
let redis: Redis
let work: string

beforeAll(async () => {
  server = await startRedis()
  redis = new Redis(server.url)
  work = await mkdtemp(join(tmpdir(), 'seeds-cli-'))
})

afterAll(async () => {
  redis?.disconnect()
  await server?.stop()
  await rm(work, { recursive: true, force: true })
})

const globals = (prefix: string) => ['--redis-url', server.url, '--prefix', prefix]
async function cli(prefix: string, ...args: string[]) {
  const result = await runCli([...globals(prefix), ...args])
  return { ...result, json: () => JSON.parse(result.stdout) }
}
async function ok(prefix: string, ...args: string[]) {
  const result = await cli(prefix, ...args)
  expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0)
  return result
}
const labelsOf = async (prefix: string) => ({
  downstream: await redis.hgetall(`${prefix}:walk:downstream:labels`),
  upstream: await redis.hgetall(`${prefix}:walk:upstream:labels`),
})

describe('seeds import: formats, provenance, all or nothing', () => {
  it('loads the shipped default set, versioned, with provenance', async () => {
    const p = testPrefix('def')
    const imported = (await ok(p, 'seeds', 'import', '--default', '--json')).json()
    expect(imported).toMatchObject({ read: 125, total: 125, version: 1, unchanged: 0 })
    expect(imported.added).toHaveLength(125)
    expect(imported.walk).toEqual({ updated: false, reason: 'no complete walk is published in this store' })
    const again = (await ok(p, 'seeds', 'import', '--default', '--json')).json()
    expect(again).toMatchObject({ version: null, unchanged: 125, total: 125 })
    const list = (await ok(p, 'seeds', 'list', '--json')).json()
    expect(list.version).toBe(1)
    expect(list.seeds).toHaveLength(125)
    const ronin = list.seeds.find((s: { address: string }) => s.address === '0x098B716B8Aaf21512996dC57EB0615e2383E2f96')
    expect(ronin.provenance.map((p: { source: string }) => p.source)).toEqual([
      'OFAC SDN sdn_advanced.xml 2025-11-19, profile 27307',
      'tayvano/lazarus-bluenoroff-research/hacks-and-thefts/ronin_bridge.md@11a2f6db0e9c6a9a6e812f05ce966366db6c3f8e',
    ])
    expect(ronin.extra).toMatchObject({ confidence: '70', incident: 'ronin_bridge_2022', program: 'DPRK3' })
    const table = await ok(p, 'seeds', 'list')
    expect(table.stdout).toContain('125 seeds, version 1')
  })

  it('reports the incident list\'s mis-cased address: exit 2 naming file, line and value, nothing written; --skip-invalid imports the rest', async () => {
    const p = testPrefix('inc')
    const bad = await cli(p, 'seeds', 'import', INCIDENTS)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain(`${INCIDENTS}:63`)
    expect(bad.stderr).toContain(BAD_ADDRESS)
    expect(bad.stderr).toContain('EIP-55')
    expect(await redis.keys(`${p}*`)).toEqual([])

    const skipped = await cli(p, 'seeds', 'import', '--skip-invalid', '--json', INCIDENTS)
    expect(skipped.code, skipped.stderr).toBe(0)
    expect(skipped.stderr).toContain(`skipped: ${INCIDENTS}:63: invalid address "${BAD_ADDRESS}"`)
    const summary = skipped.json()
    expect(summary.format).toBe('incidents')
    expect(summary.filters).toEqual(['roles=attacker'])
    expect(summary.skipped).toEqual([expect.objectContaining({ line: 63, value: BAD_ADDRESS, code: 'INVALID_ADDRESS' })])
    expect(summary.total).toBeGreaterThan(0)
    // victims are never seeds; depositors only when asked
    const never = await cli(p, 'seeds', 'import', '--roles', 'victim', INCIDENTS)
    expect(never.code).toBe(2)
    expect(never.stderr).toContain('victim')
    const depositors = (await ok(p, 'seeds', 'import', '--skip-invalid', '--roles', 'mixer_depositor', '--json', INCIDENTS)).json()
    expect(depositors.filters).toEqual(['roles=mixer_depositor'])
    expect(depositors.version).toBe(2)
  })

  it('merges duplicates across sources into one seed with several provenances (also with seeds already stored)', async () => {
    const p = testPrefix('dup')
    const fbi = (await ok(p, 'seeds', 'import', '--format', 'fbi', '--json', FBI)).json()
    const incidents = (await ok(p, 'seeds', 'import', '--skip-invalid', '--json', INCIDENTS)).json()
    expect(incidents.updated.length).toBeGreaterThan(0)
    const list = (await ok(p, 'seeds', 'list', '--json')).json()
    expect(list.seeds).toHaveLength(fbi.total + incidents.added.length)
    const both = list.seeds.find((s: { address: string }) => s.address === incidents.updated[0])
    expect(both.provenance).toHaveLength(2)
    expect(both.provenance.map((x: { source: string }) => x.source)[0]).toMatch(/^FBI PSA I-022625-PSA/)
    expect(both.extra.confidence).toBe('70')
    expect(new Set(list.seeds.map((s: { address: string }) => s.address.toLowerCase())).size).toBe(list.seeds.length)
  })

  it('reads OFAC sdn_advanced.xml (plain and .bz2) with the Lazarus Group filter by default, --all-eth, --program', async () => {
    const p = testPrefix('sdn')
    const lazarus = (await ok(p, 'seeds', 'diff', '--json', SDN)).json()
    expect(lazarus.filters).toEqual(['name=Lazarus Group'])
    expect(lazarus.add).toHaveLength(8)
    expect(lazarus.sourceFamilies).toEqual(['OFAC SDN sdn_advanced.xml'])
    const all = (await ok(p, 'seeds', 'diff', '--all-eth', '--json', SDN)).json()
    expect(all.add).toHaveLength(77)
    const dprk = (await ok(p, 'seeds', 'diff', '--program', 'DPRK3', '--json', SDN)).json()
    expect(dprk.add.length).toBeGreaterThanOrEqual(8)
    const bz2 = (await ok(p, 'seeds', 'import', '--json', SDN_BZ2)).json()
    expect(bz2.format).toBe('sdn')
    expect(bz2.added.sort()).toEqual(lazarus.add.sort())
    const misuse = await cli(p, 'seeds', 'import', '--program', 'DPRK3', FBI)
    expect(misuse.code).toBe(2)
  })

  it('reads CSV, JSON, TXT and TagPack lists; rejects malformed ones naming file and line, writing nothing', async () => {
    const p = testPrefix('lists')
    for (const [file, format] of [['seeds.csv', 'csv'], ['seeds.json', 'json'], ['seeds.txt', 'txt'], ['lazarus.tagpack.yaml', 'tagpack']] as const) {
      const read = (await ok(p, 'seeds', 'diff', '--json', join(LISTS, file))).json()
      expect(read.format, file).toBe(format)
      expect(read.add.length, file).toBeGreaterThan(0)
    }
    for (const [file, where] of [['malformed.csv', 'malformed.csv:'], ['bad-checksum.csv', 'bad-checksum.csv:'], ['non-hex.txt', 'non-hex.txt:'], ['bad-length.json', 'bad-length.json']] as const) {
      const result = await cli(p, 'seeds', 'import', join(LISTS, file))
      expect(result.code, file).toBe(2)
      expect(result.stderr, file).toContain(where)
    }
    const missing = await cli(p, 'seeds', 'import', join(work, 'nope.csv'))
    expect(missing.code).toBe(2)
    expect(await redis.keys(`${p}*`)).toEqual([])
  })
})

describe('labels import', () => {
  it('reads Etherscan JSON maps, per-label CSVs and address,label,category CSVs; mixers are stop categories', async () => {
    const p = testPrefix('labels')
    const map = (await ok(p, 'labels', 'import', '--json', join(LABELS, 'combinedAccountLabels_trimmed.json'))).json()
    expect(map.categories.mixer).toBeGreaterThan(0)
    expect(map.stopCategories).toContain('mixer')
    const tornado = JSON.parse((await redis.hget(`${p}:labels`, '0x12d66f87a04a9e220743712ce6d9bb1b5616b8fc'))!)
    expect(tornado).toMatchObject({ label: 'Tornado.Cash: 0.1 ETH', category: 'mixer' })
    const perLabel = (await ok(p, 'labels', 'import', '--json', join(LABELS, 'tornado-cash.csv'))).json()
    expect(Object.keys(perLabel.categories)).toEqual(['mixer'])
    const plain = (await ok(p, 'labels', 'import', '--json', join(LABELS, 'plain-labels.csv'))).json()
    expect(plain.categories).toEqual({ bridge: 1, dex: 1, exchange: 1, lending: 1, mixer: 1 })
    expect(plain.stopCategories.sort()).toEqual(['bridge', 'dex', 'exchange', 'mixer'])
    const router = JSON.parse((await redis.hget(`${p}:labels`, '0xd90e2f925da726b50c4ed8d0fb90ad053324f31b'))!)
    expect(router.category).toBe('mixer')
    expect(router.source).toContain('Etherscan label tornado-cash (2023-06)')
    const defaults = (await ok(p, 'labels', 'import', '--default', '--json')).json()
    expect(defaults.addresses).toBe(1464)
    expect(defaults.categories).toEqual({ bridge: 500, dex: 139, exchange: 739, mixer: 86 })
  })

  it('rejects an unknown category naming file, line and value, writing nothing', async () => {
    const p = testPrefix('badlabels')
    const file = join(LABELS, 'plain-labels-bad-category.csv')
    const bad = await cli(p, 'labels', 'import', file)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain(`${file}:3`)
    expect(bad.stderr).toContain('mixr')
    expect(await redis.keys(`${p}*`)).toEqual([])
  })
})

describe('delisting round trip on the etl sample, with incremental walks', () => {
  it('import → trace → import more (incremental) → diff → remove --source (incremental) → history; labels equal clean walks', async () => {
    const expected = JSON.parse(await readFile(join(SAMPLE, 'expected.json'), 'utf8')).expected as Record<string, { downstream: number | null; upstream: number | null }>
    const original = (await readFile(join(SAMPLE, 'seeds.csv'), 'utf8')).trim().split('\n').slice(1).map((line) => line.split(',')[0]!)
    const candidates = Object.entries(expected).filter(([a, e]) => e.downstream === 2 && !original.includes(a)).map(([a]) => a)
    const [w1, w2, w3] = candidates
    const watch = join(work, 'watchlist.csv')
    await writeFile(
      watch,
      `address,label,source,incident,listed,confidence\n${w1},Watch 1,watchlist,case_17,2026-11-01,50\n${w2},Watch 2,watchlist,case_17,2026-11-01,50\n${original[0]},Watch 0,watchlist,case_17,2026-11-01,50\n`,
    )
    const watch2 = join(work, 'watchlist-v2.csv')
    await writeFile(watch2, `address,label,source,incident,listed,confidence\n${w1},Watch 1,watchlist,case_17,2026-11-01,50\n${w3},Watch 3,watchlist,case_18,2026-11-20,50\n`)

    const p = testPrefix('round')
    const clean = testPrefix('clean')
    for (const prefix of [p, clean]) {
      await ok(prefix, 'import', SAMPLE)
      await ok(prefix, 'seeds', 'import', join(SAMPLE, 'seeds.csv'))
      await ok(prefix, 'labels', 'import', join(SAMPLE, 'labels.csv'))
    }
    // a mixer on the way: reached like any address, and checkable
    const mixer = Object.entries(expected).find(([a, e]) => e.downstream === 1 && !original.includes(a))![0]
    const mixerFile = join(work, 'mixer.csv')
    await writeFile(mixerFile, `address,label,category\n${mixer},Some Mixer,mixer\n`)
    for (const prefix of [p, clean]) await ok(prefix, 'labels', 'import', mixerFile)

    const first = (await ok(p, 'trace', '--hops', '4', '--incremental', '--json')).json()
    expect(first.mode).toBe('full')
    const before = await labelsOf(p)
    const mixerCheck = (await ok(p, 'check', '--json', mixer)).json()
    expect(mixerCheck[0].downstream.hops).toBe(1)

    const added = (await ok(p, 'seeds', 'import', '--json', watch)).json()
    expect(added.added).toHaveLength(2)
    expect(added.updated).toHaveLength(1)
    expect(added.walk.mode).toBe('incremental')
    expect(added.walk.added).toBe(2)
    await ok(clean, 'seeds', 'import', '--no-walk', watch)
    await ok(clean, 'trace', '--hops', '4')
    expect(await labelsOf(p)).toEqual(await labelsOf(clean))

    const checked = (await ok(p, 'check', '--json', w1!)).json()
    expect(checked[0].downstream.hops).toBe(0)
    expect(checked[0].downstream.seedInfo).toEqual({ label: 'Watch 1', source: 'watchlist', incident: 'case_17', listed: '2026-11-01', confidence: 50 })

    const diff = (await ok(p, 'seeds', 'diff', '--json', watch2)).json()
    expect(diff.sourceFamilies).toEqual(['watchlist'])
    expect(diff.add.map((a: string) => a.toLowerCase())).toEqual([w3])
    expect(diff.update).toEqual([])
    expect(diff.remove.map((a: string) => a.toLowerCase())).toEqual([w2])
    expect(diff.dropProvenance.map((a: string) => a.toLowerCase())).toEqual([original[0]])

    const removed = (await ok(p, 'seeds', 'remove', '--source', 'watchlist', '--json')).json()
    expect(removed.removed.map((a: string) => a.toLowerCase()).sort()).toEqual([w1, w2].sort())
    expect(removed.updated.map((a: string) => a.toLowerCase())).toEqual([original[0]])
    expect(removed.walk.mode).toBe('incremental')
    expect(removed.walk.removed).toBe(2)
    expect(await labelsOf(p)).toEqual(before)

    const history = (await ok(p, 'seeds', 'history', '--json')).json()
    expect(history.map((h: { version: number; action: string }) => [h.version, h.action])).toEqual([[1, 'import'], [2, 'import'], [3, 'remove']])
    expect(history[2].source).toBe('remove --source watchlist')
    expect(history[1].source).toContain('watchlist.csv (csv)')
    const table = await ok(p, 'seeds', 'history')
    expect(table.stdout).toContain('remove --source watchlist')

    const list = (await ok(p, 'seeds', 'list', '--json')).json()
    expect(list.seeds.map((s: { address: string }) => s.address.toLowerCase()).sort()).toEqual([...original].sort())
    expect(list.seeds.every((s: { provenance: unknown[] }) => s.provenance.length === 1)).toBe(true)

    const notSeed = await cli(p, 'seeds', 'remove', w3!)
    expect(notSeed.code).toBe(2)
    expect(notSeed.stderr).toContain('not a seed')
    const bad = await cli(p, 'seeds', 'remove', '0x1234')
    expect(bad.code).toBe(2)
    expect((await ok(p, 'seeds', 'list', '--json')).json().version).toBe(3)
  })
})
