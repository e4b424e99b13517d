import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { importEtl } from '../../src/sources/etl-import.ts'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { createHolder } from '../../src/store/holder.ts'
import { acquireLock } from '../../src/store/locks.ts'
import type { Address } from '../../src/types.ts'
import { changesBetween, readAlerts, summarize, type AnswerSummary, type WatchedAnswer } from '../../src/watch/alerts.ts'
import { createChecker } from '../../src/walk/check.ts'
import { traceWalk } from '../../src/walk/incremental.ts'
import { DEFAULT_RISK_POLICY } from '../../src/walk/risk.ts'
import { runCli } from '../support/cli.ts'
import type { EtlRows, TxRow } from '../support/etl-rows.ts'
import { useRedisAndTempDir, writeEtlFolder } from '../support/harness.ts'
import { generateEtl } from '../support/random-etl.ts'
import { testPrefix } from '../support/redis-server.ts'

/**
 * Rescans (issue 9) through the real CLI against a real redis-server: new transfers dropped in the
 * etl inbox, a new stop label, a new seed file. The alerts a rescan raises are exactly the changes a
 * clean walk implies: every watched wallet's answer after the rescan equals a fresh full walk's on a
 * copy of the store, and an alert exists exactly for the wallets whose answer changed.
 */
const harness = useRedisAndTempDir('rescan-alerts')
const STOPS = ['exchange', 'dex', 'bridge', 'mixer', 'service']

function blocks(etl: EtlRows, from: number, to: number): EtlRows {
  const inRange = (b: string) => Number(b) >= from && Number(b) < to
  return { transactions: etl.transactions.filter((t) => inRange(t.block_number)), traces: etl.traces.filter((t) => inRange(t.block_number)), tokenTransfers: etl.tokenTransfers.filter((t) => inRange(t.block_number)) }
}

const json = (text: string) => JSON.parse(text) as Record<string, any>

/** The answers a clean, full walk gives on its own store holding these rows, seeds and labels. */
async function freshAnswers(rows: EtlRows, seeds: readonly string[], labels: readonly { address: string; label: string; category: string }[], listed: readonly string[], addresses: readonly Address[]): Promise<Map<Address, AnswerSummary>> {
  const store = createGraphStore(harness.redis, testPrefix('fresh'))
  await importEtl(store, [await writeEtlFolder(harness.dir, 'fresh', rows)], { listedTokens: listed as Address[] })
  await store.putSeeds(seeds.map((s) => ({ address: s.toLowerCase() as Address, label: 'seed', source: 'test' })))
  await store.putLabels(labels.map((l) => ({ address: l.address.toLowerCase() as Address, label: l.label, category: l.category })))
  await traceWalk(store, { redisUrl: harness.server.url, directions: ['downstream', 'upstream'], maxHops: 3, batchSize: 64, stopCategories: STOPS, counterpartyCap: 1000, dust: {}, workers: 1, concurrency: 2 })
  const answers = await createChecker(store, DEFAULT_RISK_POLICY).check(addresses)
  return new Map(addresses.map((a, i) => [a, summarize(answers[i]!)]))
}

async function lastAnswers(prefix: string, addresses: readonly Address[]): Promise<Map<Address, AnswerSummary>> {
  const raw = await harness.redis.hmget(`${prefix}:watch:last`, ...addresses.map((a) => a.slice(2)))
  return new Map(addresses.map((a, i) => [a, (JSON.parse(raw[i]!) as WatchedAnswer).summary]))
}

const lower = (s: AnswerSummary) => JSON.stringify({ ...s, downstream: s.downstream && { ...s.downstream, seed: s.downstream.seed.toLowerCase() }, upstream: s.upstream && { ...s.upstream, seed: s.upstream.seed.toLowerCase() } })

describe('exposure rescan', () => {
  it('after new transfers in the etl inbox, killed midway and run again: exactly the alerts a clean walk implies, none twice; a file is imported once', async () => {
    const prefix = testPrefix('rs')
    const etl = generateEtl(7331, { addresses: 40, blocks: 30 })
    // The generator's non-service labels ('individual') are written as the known category 'other'.
    etl.labels = etl.labels.map((l) => (STOPS.includes(l.category) ? l : { ...l, category: 'other' }))
    const listed = [etl.listedToken]
    const all = [...new Set(etl.transactions.map((t) => Number(t.block_number)))].sort((a, b) => a - b)
    const cut = all[Math.floor(all.length / 3)]!
    const cut2 = all[Math.floor((2 * all.length) / 3)]!
    const first = blocks(etl, 0, cut)
    const later = blocks(etl, cut, cut2)
    const last = blocks(etl, cut2, Number.MAX_SAFE_INTEGER)
    const inbox = join(harness.dir, 'inbox')
    await mkdir(inbox, { recursive: true })
    const env = { REDIS_URL: harness.server.url, EXPOSURE_PREFIX: prefix, EXPOSURE_DUST: 'none', EXPOSURE_MAX_HOPS: '3', EXPOSURE_WORKERS: '1', EXPOSURE_ASSETS: listed.join(','), EXPOSURE_ETL_INBOX: inbox }
    const ok = async (args: string[], extra: Record<string, string> = {}) => {
      const r = await runCli(args, { ...env, ...extra })
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      return r
    }
    await ok(['import', await writeEtlFolder(harness.dir, 'first', first)])
    const seedsCsv = join(harness.dir, 'seeds.csv')
    await writeFile(seedsCsv, `address,label,source\n${etl.seeds.map((s) => `${s},seed,test`).join('\n')}\n`)
    await ok(['seeds', 'import', seedsCsv, '--no-walk'])
    const labelsCsv = join(harness.dir, 'labels.csv')
    await writeFile(labelsCsv, `address,label,category\n${etl.labels.map((l) => `${l.address},${l.label},${l.category}`).join('\n')}\n`)
    await ok(['labels', 'import', labelsCsv])
    await ok(['trace', '--hops', '3', '--workers', '1'])

    const addresses = [...new Set(etl.transactions.flatMap((t: TxRow) => [t.from_address, t.to_address]).filter((a) => a !== ''))].map((a) => a.toLowerCase() as Address).sort()
    const watchCsv = join(harness.dir, 'watch.csv')
    await writeFile(watchCsv, `address,ref\n${addresses.map((a, i) => `${a},customer-${i}`).join('\n')}\n`)
    const imported = json((await ok(['watch', 'import', watchCsv, '--json'])).stdout)
    expect(imported.added).toBe(addresses.length)
    expect(imported.baselines).toBe(addresses.length)
    const baseline = await lastAnswers(prefix, addresses)

    await writeEtlFolder(inbox, 'later', later)
    // Killed (SIGKILL) after half the answers of the first batch were recorded.
    const killed = await runCli(['rescan', '--json'], { ...env, EXPOSURE_FAILPOINT: 'rescan:half-recorded' })
    expect(killed.code, killed.stderr).toBe(null)
    expect(killed.stderr).toContain('failpoint rescan:half-recorded')
    const partial = (await readAlerts(harness.redis, { alerts: `${prefix}:alerts` }, '0', 10_000)).length

    const rerun = json((await ok(['rescan', '--json'])).stdout)
    expect(rerun.status).toBe('done')
    // The first run imported the inbox and walked; the rerun finds both done.
    expect(rerun.read.etlFiles).toEqual([])
    expect(rerun.walk.mode).toBe('skipped')

    const fresh = await freshAnswers(blocks(etl, 0, cut2), etl.seeds, etl.labels, listed, addresses)
    const after = await lastAnswers(prefix, addresses)
    for (const a of addresses) expect(lower(after.get(a)!), a).toBe(lower(fresh.get(a)!))
    const expected = addresses.filter((a) => changesBetween(baseline.get(a)!, fresh.get(a)!).length > 0)
    expect(expected.length).toBeGreaterThan(2)
    const alerts = await readAlerts(harness.redis, { alerts: `${prefix}:alerts` }, '0', 10_000)
    expect(alerts.map((a) => a.alert.address.toLowerCase()).sort()).toEqual(expected)
    expect(new Set(alerts.map((a) => a.alert.id)).size).toBe(alerts.length)
    expect(partial).toBeGreaterThan(0)
    expect(partial).toBeLessThan(alerts.length)
    expect(rerun.alerts).toBe(alerts.length - partial)
    for (const { alert } of alerts) {
      const a = alert.address.toLowerCase() as Address
      expect(alert.changes).toEqual(changesBetween(baseline.get(a)!, fresh.get(a)!))
      expect(lower({ risk: alert.before.risk, downstream: alert.before.downstream, upstream: alert.before.upstream })).toBe(lower(baseline.get(a)!))
      expect(lower({ risk: alert.after.risk, downstream: alert.after.downstream, upstream: alert.after.upstream })).toBe(lower(fresh.get(a)!))
      expect(alert.after.witness.downstream?.length ?? null).toBe(alert.after.downstream?.hops ?? null)
      expect(alert.cause.storeVersion.after).toBeGreaterThan(alert.cause.storeVersion.before)
      expect(alert.watchers.owners).toEqual(['cli'])
    }

    // Nothing new: a third rescan imports nothing and raises nothing.
    const third = json((await ok(['rescan', '--json'])).stdout)
    expect(third.read.etlFiles).toEqual([])
    expect(third.alerts).toBe(0)
    const tail = (await ok(['alerts', 'tail', '-n', '1000', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l))
    expect(tail.map((t) => t.alert.id)).toEqual(alerts.map((a) => a.alert.id))
    const status = json((await ok(['status', '--json'])).stdout)
    expect(status.rescan.last.id).toBe(third.id)

    // All three kinds of change in one incremental rescan — the last blocks, a new stop label, a new
    // seed — where only the wallets the walk's changes can reach are asked again: still exactly a
    // clean walk's answers and the alerts they imply.
    const labelledBefore = new Set(etl.labels.map((l) => l.address.toLowerCase()))
    const seedsBefore = new Set(etl.seeds.map((x) => x.toLowerCase()))
    const candidates = addresses.filter((a) => !labelledBefore.has(a) && !seedsBefore.has(a) && fresh.get(a)!.downstream !== null && fresh.get(a)!.downstream!.hops >= 1)
    const newStop = candidates[0]!
    const newSeed = addresses.find((a) => !labelledBefore.has(a) && !seedsBefore.has(a) && a !== newStop && fresh.get(a)!.downstream === null)!
    expect(newStop).toBeDefined()
    expect(newSeed).toBeDefined()
    const stopFile = join(harness.dir, 'new-labels.csv')
    await writeFile(stopFile, `address,label,category\n${newStop},New Exchange,exchange\n`)
    const seedFile = join(harness.dir, 'new-seeds.csv')
    await writeFile(seedFile, `address,label,source\n${newSeed},Lazarus Group,OFAC test\n`)
    await writeEtlFolder(inbox, 'last', last)
    const fourth = json((await ok(['rescan', '--json'], { EXPOSURE_LABEL_SOURCES: stopFile, EXPOSURE_SEED_SOURCES: seedFile })).stdout)
    expect(fourth.walk.mode).toBe('incremental')
    const evaluated = fourth.steps.find((x: { name: string }) => x.name === 'evaluate').detail as string
    // Some wallets were recorded without asking the checker, and their answers below are still exact.
    expect(Number(/(\d+) untouched by the walk's changes/.exec(evaluated)?.[1]), evaluated).toBeGreaterThan(0)
    expect(Number(/(\d+) asked/.exec(evaluated)?.[1]), evaluated).toBeGreaterThan(0)
    const finalFresh = await freshAnswers(etl, [...etl.seeds, newSeed], [...etl.labels, { address: newStop, label: 'New Exchange', category: 'exchange' }], listed, addresses)
    const finalAnswers = await lastAnswers(prefix, addresses)
    for (const a of addresses) expect(lower(finalAnswers.get(a)!), a).toBe(lower(finalFresh.get(a)!))
    const expectedNow = addresses.filter((a) => changesBetween(fresh.get(a)!, finalFresh.get(a)!).length > 0)
    const newAlerts = await readAlerts(harness.redis, { alerts: `${prefix}:alerts` }, alerts.at(-1)!.cursor, 10_000)
    expect(newAlerts.map((a) => a.alert.address.toLowerCase()).sort()).toEqual(expectedNow)
    expect(fourth.alerts).toBe(expectedNow.length)
  }, 240_000)

  it('a new stop label demotes a wallet whose only path ran through it; a new seed file raises an alert naming the seed; a second rescan while one runs does nothing and says so', async () => {
    const prefix = testPrefix('rs')
    const a = (tag: string) => `0x${tag.padStart(40, '0')}`
    const [S, X, W, T, Y, Z] = ['5eed', 'aaa1', 'bbb2', 'cc03', 'dd04', 'ee05'].map(a) as [string, string, string, string, string, string]
    let n = 0
    const tx = (block: number, from: string, to: string): TxRow => ({ hash: `0x${(++n).toString(16).padStart(64, '0')}`, nonce: '0', block_hash: `0x${String(block).padStart(64, '0')}`, block_number: String(block), transaction_index: String(n), from_address: from, to_address: to, value: '1000000000000000000', gas: '21000', gas_price: '1', input: '0x', block_timestamp: String(1_700_000_000 + block * 12), receipt_status: '1' })
    const rows: EtlRows = { transactions: [tx(100, S, X), tx(110, X, W), tx(120, T, Y), tx(130, S, Z)], traces: [], tokenTransfers: [] }
    const dir = join(harness.dir, 'hand')
    await mkdir(dir, { recursive: true })
    const seedsCsv = join(dir, 'seeds.csv')
    await writeFile(seedsCsv, `address,label,source\n${S},Lazarus,incident list\n`)
    const env = { REDIS_URL: harness.server.url, EXPOSURE_PREFIX: prefix, EXPOSURE_DUST: 'none', EXPOSURE_MAX_HOPS: '3', EXPOSURE_WORKERS: '1' }
    const ok = async (args: string[], extra: Record<string, string> = {}) => {
      const r = await runCli(args, { ...env, ...extra })
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      return r
    }
    await ok(['import', await writeEtlFolder(dir, 'rows', rows)])
    await ok(['seeds', 'import', seedsCsv, '--no-walk'])
    await ok(['trace', '--hops', '3', '--workers', '1'])
    await ok(['watch', 'add', W, Y, Z, '--ref', 'case-7'])

    // Nothing changed: a rescan is a no-op for the walk and raises nothing.
    const quiet = json((await ok(['rescan', '--json'])).stdout)
    expect(quiet.walk.mode).toBe('skipped')
    expect(quiet.alerts).toBe(0)
    expect(quiet.baselines).toBe(0)

    const labelsCsv = join(dir, 'labels.csv')
    await writeFile(labelsCsv, `address,label,category\n${X},Some Exchange,exchange\n`)
    const labelled = json((await ok(['rescan', '--json'], { EXPOSURE_LABEL_SOURCES: labelsCsv })).stdout)
    expect(labelled.walk.mode).toBe('incremental')
    expect(labelled.read.labelFiles).toMatchObject([{ file: labelsCsv, changed: true, written: 1 }])
    expect(labelled.alerts).toBe(1)
    const [demoted] = await readAlerts(harness.redis, { alerts: `${prefix}:alerts` }, '0', 100)
    expect(demoted!.alert.address.toLowerCase()).toBe(W)
    expect(demoted!.alert.before.downstream).toMatchObject({ hops: 2 })
    expect(demoted!.alert.after.downstream).toBeNull()
    expect(demoted!.alert.changes).toEqual(['risk', 'hops', 'seed'])
    expect(demoted!.alert.cause.labelsVersion.after).toBeGreaterThan(demoted!.alert.cause.labelsVersion.before)
    expect(demoted!.alert.watchers.refs).toEqual(['case-7'])

    // An OFAC-style file with one more address, dropped in the configured seed sources.
    const extraSeeds = join(dir, 'ofac-extra.csv')
    await writeFile(extraSeeds, `address,label,source\n${T},Lazarus Group,OFAC SDN test\n`)
    const seeded = json((await ok(['rescan', '--json'], { EXPOSURE_LABEL_SOURCES: labelsCsv, EXPOSURE_SEED_SOURCES: extraSeeds })).stdout)
    expect(seeded.read.labelFiles).toMatchObject([{ changed: false }])
    expect(seeded.read.seedFiles).toMatchObject([{ file: extraSeeds, changed: true, added: 1, removed: 0 }])
    expect(seeded.alerts).toBe(1)
    const alerts = await readAlerts(harness.redis, { alerts: `${prefix}:alerts` }, demoted!.cursor, 100)
    expect(alerts).toHaveLength(1)
    expect(alerts[0]!.alert.address.toLowerCase()).toBe(Y)
    expect(alerts[0]!.alert.before.downstream).toBeNull()
    expect(alerts[0]!.alert.after.downstream).toMatchObject({ hops: 1 })
    expect(alerts[0]!.alert.cause.seedsAdded.map((s: string) => s.toLowerCase())).toEqual([T])
    expect(alerts[0]!.alert.after.witness.downstream).toMatchObject([{ from: expect.stringMatching(new RegExp(T.slice(2), 'i')), blockNumber: 120 }])
    // Z (straight from the seed) never changed.
    const lastZ = JSON.parse((await harness.redis.hget(`${prefix}:watch:last`, Z.slice(2)))!) as WatchedAnswer
    expect(lastZ.summary.downstream).toMatchObject({ hops: 1 })

    // A rescan is running (this process holds the store's rescan lock): another does nothing and says so.
    const store = createGraphStore(harness.redis, prefix)
    const lock = await acquireLock(harness.redis, store.keys.rescanLock, await createHolder(harness.redis, 'test rescan'))
    try {
      const before = await harness.redis.get(`${prefix}:rescan:last`)
      const busy = await ok(['rescan', '--json'])
      expect(json(busy.stdout)).toMatchObject({ status: 'busy' })
      expect(json(busy.stdout).message).toMatch(/already running.*test rescan/)
      const human = await ok(['rescan'])
      expect(human.stdout).toMatch(/already running/)
      expect(await harness.redis.get(`${prefix}:rescan:last`)).toBe(before)
      const status = json((await ok(['status', '--json'])).stdout)
      expect(status.rescan.running).toMatch(/test rescan/)
    } finally {
      await lock.release()
    }
  }, 180_000)
})
