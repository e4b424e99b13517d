/**
 * One rescan, one at a time per store (P:rescan:lock; a second trigger while one runs is a no-op
 * that says so and names the holder):
 *   1. sources: the configured seed files (EXPOSURE_SEED_SOURCES, applied as `seeds import
 *      --replace` of that file: a versioned seed-set change, delisted addresses leave) and label
 *      files (EXPOSURE_LABEL_SOURCES), each read again only when its SHA-256 changed; the new etl
 *      files in EXPOSURE_ETL_INBOX, each imported once (recorded by name and SHA-256);
 *   2. the walk: brought up to date with the existing exact incremental walk (new transfers, seed
 *      changes, stop-label changes; walk/incremental.ts falls back to a full walk when it must),
 *      or left alone when the published walk is current;
 *   3. every watched wallet (watch entries and wallets screened within EXPOSURE_WATCH_SCREENED) is
 *      answered again by the checker and the answer recorded; a change of risk, hops or nearest
 *      seed becomes an alert (alerts.ts), appended once;
 *   4. deliveries of the new alerts are queued (delivery.ts).
 * Crash-safe by construction: imports are all-or-nothing and idempotent, seed and label changes
 * re-planned against the store change nothing twice, and alert ids are derived from the answers
 * and their basis, so a rescan killed midway and run again appends the same alerts, none twice.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join, relative } from 'node:path'
import type { Options } from '../config.ts'
import { BaseError, isExposureError } from '../errors.ts'
import { failpoint } from '../failpoints.ts'
import { readLabelsFrom, readSeedsFrom } from '../seeds/import-file.ts'
import { mergeLabels } from '../seeds/labels.ts'
import { planImport } from '../seeds/seed-set.ts'
import { etlKindOf } from '../sources/etl.ts'
import { importEtl } from '../sources/etl-import.ts'
import { describeRanges, readCoverage, syncKeys, type BlockRange } from '../sources/rpc/ingest.ts'
import { runSync } from '../sources/rpc/sync.ts'
import type { GraphStore } from '../store/graph-store.ts'
import { createHolder, describeHolder } from '../store/holder.ts'
import { acquireLock, inspectLock } from '../store/locks.ts'
import { createSeedVersions, type SeedChange } from '../store/seed-versions.ts'
import { createDeliverQueue } from '../queues/watch-queues.ts'
import { quietDuplicate } from '../store/redis.ts'
import type { Address, ServiceLabel } from '../types.ts'
import { labelsIn } from '../walk/walk-runs.ts'
import { createChecker, type CheckResult } from '../walk/check.ts'
import { checksumAddress } from '../walk/checksum.ts'
import { traceWalk, type TraceSummary } from '../walk/incremental.ts'
import type { StoreVersions } from '../walk/staleness.ts'
import { alertId, changesBetween, recordAnswers, summarize, type Alert, type RecordEntry, type WatchedAnswer } from './alerts.ts'
import { dispatch } from './delivery.ts'
import { dirtyAfter, snapshotBefore, type LabelSnapshot } from './dirty.ts'
import { createWatchlist } from './watchlist.ts'

export interface RescanStep {
  name: 'sources' | 'walk' | 'evaluate' | 'deliveries'
  seconds: number
  detail: string
}

export interface RescanSummary {
  status: 'done'
  id: string
  trigger: string
  startedAt: string
  finishedAt: string
  seconds: number
  steps: RescanStep[]
  read: {
    seedFiles: { file: string; sha256: string; changed: boolean; version: number | null; added: number; removed: number; updated: number }[]
    labelFiles: { file: string; sha256: string; changed: boolean; labels: number; written: number }[]
    etlFiles: { file: string; sha256: string }[]
    /** Block ranges read from the node (RPC_URL) for a synced store. */
    blocks: BlockRange[]
    transfersAdded: number
  }
  walk: { mode: 'incremental' | 'full' | 'skipped'; reason: string | null; runId: string | null; seconds: number; labelled: Record<string, number> | null }
  versions: { before: StoreVersions; after: StoreVersions }
  watched: number
  evaluated: number
  /** Watched wallets answered for the first time (their baseline; no alert). */
  baselines: number
  changed: number
  /** Alerts appended by this rescan (a rerun after a crash appends none already there). */
  alerts: number
  alertIds: string[]
  deliveriesQueued: number
}

export interface RescanBusy {
  status: 'busy'
  holder: string
  message: string
}

export interface RescanRunOptions {
  options: Options
  trigger: string
  signal?: AbortSignal
  onNote?: (line: string) => void
  /** Called after each step (progress for the CLI). */
  onStep?: (step: RescanStep) => void
}

const EVALUATE_CHUNK = 1_000

const sha256File = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex')

/** Files named by a list of files and folders (a folder's files, sorted; hidden files skipped). */
async function expand(paths: readonly string[]): Promise<string[]> {
  const out: string[] = []
  for (const path of paths) {
    const info = await stat(path).catch(() => null)
    if (info === null) throw new BaseError('FILE_NOT_FOUND', `configured source ${path} does not exist`, { file: path })
    if (info.isDirectory()) {
      for (const name of (await readdir(path)).sort()) {
        if (name.startsWith('.')) continue
        const file = join(path, name)
        if ((await stat(file)).isFile()) out.push(file)
      }
    } else out.push(path)
  }
  return out
}

/** The etl files in the inbox (top level and one level of folders), by name relative to it. */
async function inboxFiles(inbox: string): Promise<{ file: string; name: string }[]> {
  const out: { file: string; name: string }[] = []
  const visit = async (dir: string, depth: number) => {
    for (const name of (await readdir(dir)).sort()) {
      if (name.startsWith('.')) continue
      const file = join(dir, name)
      const info = await stat(file)
      if (info.isDirectory() && depth === 0) await visit(file, 1)
      else if (info.isFile() && etlKindOf(name) !== null && /\.csv(\.gz)?$/i.test(name)) out.push({ file, name: relative(inbox, file) })
    }
  }
  const info = await stat(inbox).catch(() => null)
  if (info === null || !info.isDirectory()) throw new BaseError('FILE_NOT_FOUND', `EXPOSURE_ETL_INBOX ${inbox} is not a folder`, { file: inbox })
  await visit(inbox, 0)
  return out
}

async function readVersions(store: GraphStore): Promise<StoreVersions> {
  const [meta, seedVersion] = await Promise.all([store.redis.hmget(store.keys.meta, 'storeId', 'version', 'labelsVersion'), store.redis.get(store.keys.seedVersion)])
  return { storeId: meta[0] ?? '', storeVersion: Number(meta[1] ?? 0), labelsVersion: Number(meta[2] ?? 0), seedVersion: Number(seedVersion ?? 0) }
}

/** Whether a rescan runs now, and who runs it. */
export async function rescanRunning(store: GraphStore): Promise<string | null> {
  const state = await inspectLock(store.redis, store.keys.rescanLock)
  return state.holder !== null && state.alive ? describeHolder(state.holder) : null
}

/** Runs one rescan (see the module comment); answers 'busy' without doing anything when one runs. */
export async function runRescan(store: GraphStore, run: RescanRunOptions): Promise<RescanSummary | RescanBusy> {
  const { redis, keys } = store
  const { options } = run
  const holder = await createHolder(redis, run.trigger === 'cli' ? 'exposure rescan' : `rescan (${run.trigger})`)
  let lock
  try {
    lock = await acquireLock(redis, keys.rescanLock, holder, { purpose: 'a rescan' })
  } catch (error) {
    if (!isExposureError(error, 'STORE_BUSY')) throw error
    const state = await inspectLock(redis, keys.rescanLock)
    const who = state.holder === null ? 'another process' : describeHolder(state.holder)
    return { status: 'busy', holder: who, message: `a rescan is already running (${who}): this one does nothing` }
  }
  try {
    return await rescanLocked(store, run, () => lock.assertHeld())
  } finally {
    await lock.release()
  }
}

async function rescanLocked(store: GraphStore, run: RescanRunOptions, assertHeld: () => void): Promise<RescanSummary> {
  const { redis, keys } = store
  const { options } = run
  const id = `rs${Date.now().toString(36)}${randomBytes(3).toString('hex')}`
  const startedAt = new Date()
  const steps: RescanStep[] = []
  const step = async <T>(name: RescanStep['name'], body: () => Promise<{ value: T; detail: string }>): Promise<T> => {
    if (run.signal?.aborted) throw new BaseError('INTERRUPTED', `rescan interrupted before its ${name} step`)
    const t = Date.now()
    const { value, detail } = await body()
    const s = { name, seconds: (Date.now() - t) / 1000, detail }
    steps.push(s)
    run.onStep?.(s)
    assertHeld()
    return value
  }
  const before = await readVersions(store)
  const read: RescanSummary['read'] = { seedFiles: [], labelFiles: [], etlFiles: [], blocks: [], transfersAdded: 0 }
  const imported: string[] = []

  // 1. Sources.
  await step('sources', async () => {
    const versions = createSeedVersions(redis, keys)
    for (const file of await expand(options.seedSources)) {
      const sha = await sha256File(file)
      const known = await redis.hget(keys.rescanFiles, file)
      if (known === sha) {
        read.seedFiles.push({ file, sha256: sha, changed: false, version: null, added: 0, removed: 0, updated: 0 })
        continue
      }
      const seeds = await readSeedsFrom(file)
      const applied = await versions.apply('import', `rescan: import --replace ${file} (${seeds.format}${seeds.filters.length > 0 ? `; ${seeds.filters.join('; ')}` : ''})`, (current) => planImport(current, seeds.seeds, { replace: true, scope: seeds.scope }))
      await redis.hset(keys.rescanFiles, file, sha)
      const entry = { file, sha256: sha, changed: applied.change !== null, version: applied.change?.version ?? null, added: applied.plan.added.length, removed: applied.plan.remove.length, updated: applied.plan.updated.length }
      read.seedFiles.push(entry)
      if (applied.change !== null) imported.push(`seeds ${file}: +${entry.added} -${entry.removed} ~${entry.updated} (seed set version ${entry.version})`)
    }
    for (const file of await expand(options.labelSources)) {
      const sha = await sha256File(file)
      if ((await redis.hget(keys.rescanFiles, file)) === sha) {
        read.labelFiles.push({ file, sha256: sha, changed: false, labels: 0, written: 0 })
        continue
      }
      const { labels } = await readLabelsFrom(file)
      const written = await applyLabels(store, labels)
      await redis.hset(keys.rescanFiles, file, sha)
      read.labelFiles.push({ file, sha256: sha, changed: written > 0, labels: labels.length, written })
      if (written > 0) imported.push(`labels ${file}: ${written} new or changed`)
    }
    if (options.etlInbox !== '') {
      const recorded = await redis.hgetall(keys.rescanInbox)
      const fresh: { file: string; name: string; sha: string }[] = []
      for (const f of await inboxFiles(options.etlInbox)) {
        const sha = await sha256File(f.file)
        if (recorded[f.name] !== undefined && JSON.parse(recorded[f.name]!).sha256 === sha) continue
        fresh.push({ ...f, sha })
      }
      if (fresh.length > 0) {
        const summary = await importEtl(store, fresh.map((f) => f.file), { listedTokens: options.listedTokens, ...(run.signal ? { signal: run.signal } : {}) })
        read.transfersAdded = summary.transfersAdded
        // Recorded after the commit: a crash in between imports the file again, which adds nothing.
        await redis.hset(keys.rescanInbox, Object.fromEntries(fresh.map((f) => [f.name, JSON.stringify({ sha256: f.sha, at: new Date().toISOString(), importId: summary.importId })])))
        for (const f of fresh) read.etlFiles.push({ file: f.name, sha256: f.sha })
        imported.push(`etl ${fresh.map((f) => f.name).join(', ')}: ${summary.transfersAdded} new transfers`)
      }
    }
    // New blocks from the node a synced store was read from, up to the finality line (a store that
    // was never synced is fed by files; a sync without --from-block continues and fills holes).
    if (options.rpcUrl !== '' && (await readCoverage(redis, syncKeys(keys.prefix))).length > 0) {
      const transfersBefore = Number((await redis.hget(keys.meta, 'transfers')) ?? 0)
      const synced = await runSync(store, {
        redisUrl: options.redisUrl,
        rpcUrl: options.rpcUrl,
        listedTokens: options.listedTokens,
        ...(options.confirmationsExplicit ? { confirmations: options.confirmations } : {}),
        rangeSize: options.syncRangeSize,
        workers: 2,
        concurrency: options.concurrency,
        rpc: { concurrency: options.rpcConcurrency, deadlineMs: options.rpcDeadlineMs },
        ...(run.signal ? { signal: run.signal } : {}),
        ...(run.onNote ? { onNote: run.onNote } : {}),
      })
      read.blocks = synced.read
      read.transfersAdded += Number((await redis.hget(keys.meta, 'transfers')) ?? 0) - transfersBefore
      if (synced.read.length > 0) imported.push(`blocks ${describeRanges(synced.read)} from the node (chain ${synced.chain.chainId})`)
      for (const fork of synced.forks) imported.push(`a fork rolled back and read again: ${JSON.stringify(fork)}`)
    }
    const detail = `${read.seedFiles.filter((f) => f.changed).length}/${read.seedFiles.length} seed files changed, ${read.labelFiles.filter((f) => f.changed).length}/${read.labelFiles.length} label files changed, ${read.etlFiles.length} new etl files, ${read.blocks.length === 0 ? 'no new blocks' : `blocks ${describeRanges(read.blocks)}`} (${read.transfersAdded} new transfers)`
    return { value: undefined, detail }
  })

  // 2. The walk.
  const checker = createChecker(store, options.riskPolicy)
  let snapshot: LabelSnapshot | null = null
  let walked: TraceSummary | null = null
  const walk = await step('walk', async () => {
    const info = await checker.walkInfo()
    const published = info.published
    const seeds = await redis.hlen(keys.seeds)
    let summary: TraceSummary | null = null
    let reason: string | null = null
    if (published !== null && info.staleReasons.length === 0) reason = 'the published walk is current'
    else if (published === null && seeds === 0) reason = 'no seeds: nothing to walk'
    else if (published !== null && published.source !== 'store') reason = `the published walk read the ${published.source} source: run 'exposure trace --source ${published.source} --incremental'`
    else {
      const params = published?.params
      // What the published walk said, to tell afterwards which watched wallets it can have changed.
      if (published !== null) snapshot = await snapshotBefore(store, published)
      summary = await traceWalk(
        store,
        {
          redisUrl: options.redisUrl,
          directions: params?.directions ?? ['downstream', 'upstream'],
          maxHops: params?.maxHops ?? options.maxHops,
          stopCategories: params?.stopCategories ?? options.stopCategories,
          counterpartyCap: params?.counterpartyCap ?? options.counterpartyCap,
          dust: params === undefined ? options.dust : Object.fromEntries(Object.entries(params.dust).map(([asset, min]) => [asset, BigInt(min)])),
          batchSize: options.batchSize,
          workers: options.workers,
          concurrency: options.concurrency,
          ...(published?.sourceThrough != null ? { source: { name: 'store' as const, throughBlock: published.sourceThrough, assets: '', method: '' } } : {}),
          ...(run.onNote ? { onNote: run.onNote } : {}),
          ...(run.signal ? { signal: run.signal } : {}),
        },
        { incremental: published !== null },
      )
      reason = summary.reason ?? (published === null ? 'no walk was published: a full walk' : null)
    }
    walked = summary
    const value: RescanSummary['walk'] = summary === null
      ? { mode: 'skipped', reason, runId: published?.runId ?? null, seconds: 0, labelled: null }
      : { mode: summary.mode, reason, runId: summary.runId, seconds: summary.seconds, labelled: summary.labelled }
    return { value, detail: summary === null ? `skipped: ${reason}` : `${summary.mode}${reason ? ` (${reason})` : ''}: ${Object.entries(summary.labelled).map(([d, n]) => `${d} ${n}`).join(', ')} labelled` }
  })
  const after = await readVersions(store)

  // 3. Re-evaluate the watched wallets.
  const watchlist = createWatchlist(redis, keys)
  const evaluation = await step('evaluate', async () => {
    const watched = await watchlist.watched(options.watchScreenedMs)
    const result = { watched: watched.length, evaluated: 0, baselines: 0, changed: 0, alerts: 0, alertIds: [] as string[] }
    if ((await checker.walkInfo()).published === null) return { value: result, detail: `${watched.length} watched; no walk is published: nothing to answer from` }
    const history = await createSeedVersions(redis, keys).history()
    // An answer depends only on the published walk and the store's versions: a wallet whose record
    // was made on the same walk and versions is answered the same, and is not asked again.
    const published = (await checker.walkInfo()).published
    const same = (last: WatchedAnswer | null) =>
      last !== null && published !== null && last.runId === published.runId && last.versions.storeId === after.storeId && last.versions.storeVersion === after.storeVersion && last.versions.seedVersion === after.seedVersion && last.versions.labelsVersion === after.labelsVersion
    let skipped = 0
    let clean = 0
    // After an incremental walk from the snapshot: only the wallets it can have changed are asked again.
    let dirty: Set<string> | null = null
    const diffed = snapshot as LabelSnapshot | null
    const walkRun = walked as TraceSummary | null
    if (diffed !== null && walkRun !== null && walkRun.mode === 'incremental' && walkRun.previousRunId === diffed.runId) {
      const changedSeeds = new Set<string>()
      for (const h of history) if (h.version > diffed.seedVersion && h.version <= after.seedVersion) for (const a of [...h.added, ...h.removed, ...h.updated]) changedSeeds.add(a.slice(2).toLowerCase())
      dirty = await dirtyAfter(store, diffed, walkRun.runId, watched.map((w) => w.address), changedSeeds)
    }
    let unchanged = 0
    const unlabelledNow = async (addresses: readonly Address[]): Promise<boolean[]> => {
      if (published === null) return addresses.map(() => false)
      const hexes = addresses.map((a) => a.slice(2))
      const replies = await Promise.all(published.directions.map((d) => labelsIn(redis, keys, published.runId, d, hexes)))
      return addresses.map((_, i) => replies.every((r) => r[i] == null || r[i] === ''))
    }
    for (let i = 0; i < watched.length; i += EVALUATE_CHUNK) {
      if (run.signal?.aborted) throw new BaseError('INTERRUPTED', `rescan interrupted after ${i} of ${watched.length} watched wallets`)
      const slice = watched.slice(i, i + EVALUATE_CHUNK)
      const lastRaw = await redis.hmget(keys.watchLast, ...slice.map((w) => w.address.slice(2)))
      const lasts = lastRaw.map((raw) => (raw == null ? null : (JSON.parse(raw) as WatchedAnswer)))
      const chunk = slice.filter((_, j) => !same(lasts[j]!))
      const chunkLast = lasts.filter((l) => !same(l))
      skipped += slice.length - chunk.length
      result.evaluated += slice.length - chunk.length
      if (chunk.length === 0) continue
      // A wallet with no exposure before and no hop label in the new walk still has none: its
      // answer is recorded on the new basis without asking the checker (most watched wallets are clean).
      const entries: RecordEntry[] = []
      const unlabelled = await unlabelledNow(chunk.map((w) => w.address))
      const ask: number[] = []
      chunk.forEach((w, j) => {
        const last = chunkLast[j]
        if (last != null && dirty !== null && last.runId === diffed!.runId && !dirty.has(w.address.slice(2))) {
          entries.push({ hex: w.address.slice(2), answer: { ...last, versions: after, runId: published?.runId ?? null, at: new Date().toISOString() }, alert: null })
          unchanged++
        } else if (last != null && unlabelled[j] && last.summary.risk === 'none' && last.summary.downstream === null && last.summary.upstream === null) {
          entries.push({ hex: w.address.slice(2), answer: { ...last, versions: after, runId: published?.runId ?? null, at: new Date().toISOString() }, alert: null })
          clean++
        } else ask.push(j)
      })
      const answers = await checker.check(ask.map((j) => chunk[j]!.address))
      ask.forEach((j, k) => {
        const w = chunk[j]!
        const r = answers[k]!
        const last = chunkLast[j]!
        const now: WatchedAnswer = { summary: summarize(r), versions: r.versions ?? after, runId: r.walk?.runId ?? null, at: new Date().toISOString() }
        let alert: Alert | null = null
        if (last === null) result.baselines++
        else {
          const changes = changesBetween(last.summary, now.summary)
          if (changes.length > 0) {
            result.changed++
            alert = buildAlert(r, w, last, now, changes, history, imported, id)
          }
        }
        // Unchanged answers are recorded too: on the new basis, the next rescan need not ask again.
        entries.push({ hex: w.address.slice(2), answer: now, alert })
      })
      result.evaluated += chunk.length
      const half = Math.ceil(entries.length / 2)
      for (const part of [entries.slice(0, half), entries.slice(half)]) {
        const appended = await recordAnswers(redis, keys, part)
        part.forEach((e, j) => {
          if (e.alert !== null && appended[j]) {
            result.alerts++
            result.alertIds.push(e.alert.id)
          }
        })
        if (i === 0 && part.length > 0) failpoint('rescan:half-recorded')
      }
    }
    return { value: result, detail: `${result.evaluated} of ${result.watched} watched wallets answered (${skipped} already on this walk and versions, ${unchanged} untouched by the walk's changes, ${clean} unexposed before and unlabelled now; ${result.evaluated - skipped - unchanged - clean} asked): ${result.baselines} first answers, ${result.changed} changed, ${result.alerts} new alerts` }
  })

  // 4. Deliveries.
  const deliveriesQueued = await step('deliveries', async () => {
    failpoint('rescan:before-dispatch')
    const queue = createDeliverQueue(quietDuplicate(redis, { maxRetriesPerRequest: null }), keys.queuePrefix)
    try {
      const n = await dispatch(redis, keys, queue)
      return { value: n, detail: `${n} deliveries queued` }
    } finally {
      await queue.close()
      await queue.disconnect()
    }
  })

  const finishedAt = new Date()
  const summary: RescanSummary = {
    status: 'done',
    id,
    trigger: run.trigger,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    seconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    steps,
    read,
    walk,
    versions: { before, after },
    ...evaluation,
    deliveriesQueued,
  }
  const { alertIds: _ids, ...last } = summary
  await redis.set(keys.rescanLast, JSON.stringify(last))
  return summary
}

function buildAlert(r: CheckResult, w: { address: Address; entries: { owner: string; ref: string }[]; screenedBy: string | null }, last: WatchedAnswer, now: WatchedAnswer, changes: Alert['changes'], history: readonly SeedChange[], imported: readonly string[], rescanId: string): Alert {
  const added = new Set<string>()
  const removed = new Set<string>()
  for (const h of history) {
    if (h.version <= last.versions.seedVersion || h.version > now.versions.seedVersion) continue
    for (const a of h.added) {
      removed.delete(a)
      added.add(a)
    }
    for (const a of h.removed) {
      added.delete(a)
      removed.add(a)
    }
  }
  return {
    id: alertId(w.address, last.summary, now.summary, now.versions),
    address: checksumAddress(w.address),
    at: now.at,
    changes,
    before: { ...last.summary, runId: last.runId },
    after: { ...now.summary, runId: now.runId, reason: r.reason, witness: { downstream: r.downstream?.path ?? null, upstream: r.upstream?.path ?? null } },
    cause: {
      storeVersion: { before: last.versions.storeVersion, after: now.versions.storeVersion },
      seedVersion: { before: last.versions.seedVersion, after: now.versions.seedVersion },
      labelsVersion: { before: last.versions.labelsVersion, after: now.versions.labelsVersion },
      seedsAdded: [...added].sort().map(checksumAddress),
      seedsRemoved: [...removed].sort().map(checksumAddress),
      imported: [...imported],
      rescanId,
    },
    watchers: { owners: [...new Set(w.entries.map((e) => e.owner))].sort(), refs: [...new Set(w.entries.map((e) => e.ref).filter((x) => x !== ''))].sort(), screenedBy: w.screenedBy },
  }
}

/** Labels into the store as `labels import` writes them: merged with what is there; answers how many changed. */
export async function applyLabels(store: GraphStore, labels: readonly ServiceLabel[]): Promise<number> {
  const incoming = mergeLabels(labels)
  if (incoming.length === 0) return 0
  const existing = await store.redis.hmget(store.keys.labels, ...incoming.map((l) => l.address))
  const merged = incoming.map((label, i) => {
    const old = existing[i]
    return old ? mergeLabels([JSON.parse(old) as ServiceLabel, label])[0]! : label
  })
  const changed = merged.filter((label, i) => existing[i] !== JSON.stringify(label))
  await store.putLabels(changed)
  return changed.length
}

/** Records a watched wallet's current answer as its baseline (watch add), unless it has one. */
export async function recordBaselines(store: GraphStore, options: Options, addresses: readonly Address[]): Promise<number> {
  if (addresses.length === 0) return 0
  const checker = createChecker(store, options.riskPolicy)
  if ((await checker.walkInfo()).published === null) return 0
  const last = await store.redis.hmget(store.keys.watchLast, ...addresses.map((a) => a.slice(2)))
  const missing = addresses.filter((_, i) => last[i] == null)
  if (missing.length === 0) return 0
  const answers = await checker.check(missing)
  const after = await readVersions(store)
  const entries: RecordEntry[] = answers.map((r, i) => ({ hex: missing[i]!.slice(2), answer: { summary: summarize(r), versions: r.versions ?? after, runId: r.walk?.runId ?? null, at: new Date().toISOString() }, alert: null }))
  // HSETNX semantics: a rescan recording meanwhile wins; write only where still missing.
  const pipeline = store.redis.pipeline()
  for (const e of entries) pipeline.hsetnx(store.keys.watchLast, e.hex, JSON.stringify(e.answer))
  await pipeline.exec()
  return entries.length
}
