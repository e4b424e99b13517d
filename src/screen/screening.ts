/**
 * Screening of submitted wallets (POST /v1/screen): each address is answered at once when the
 * store answers it exactly (the published walk: always without a live source; with one, when
 * that walk read the same source over the same blocks in both directions), or from its record
 * when it was screened on the same basis before; any other becomes a check job (check-job.ts),
 * deduplicated by address and basis, and the request waits up to `waitMs` for it. Every answer
 * is recorded and every screening audited (records.ts).
 */
import type { Job, QueueEvents } from 'bullmq'
import { checksumAddress as getAddress } from '../walk/checksum.ts'
import { BaseError } from '../errors.ts'
import { addCheckJob, checkIdAddress, type CheckQueue } from '../queues/check-queue.ts'
import type { GraphStore } from '../store/graph-store.ts'
import { resolveWalkSource, type WalkSourceConfig } from '../sources/walk-source.ts'
import type { Address, Direction } from '../types.ts'
import { answerJson } from '../walk/answer-json.ts'
import { createChecker, type CheckResult } from '../walk/check.ts'
import type { WalkParams } from '../walk/params.ts'
import type { RiskPolicy } from '../walk/risk.ts'
import type { CheckJobData, CheckJobResult } from './check-job.ts'
import { callScreenScript } from './scripts.ts'
import { auditOf, createRecorder, readRecords, recordScreenings, summaryOf, type AuditInput, type ScreenAnswer, type ScreenRecord } from './records.ts'

export type LiveSourceName = 'rpc' | 'etherscan'

export interface ScreeningOptions {
  store: GraphStore
  riskPolicy: RiskPolicy
  /** Walk parameters this process sets explicitly: answers from a walk with others are stale. */
  explicitParams?: Partial<WalkParams>
  /** The live source of check jobs; null: the store only (every answer from the published walk). */
  live: { source: LiveSourceName; config: WalkSourceConfig } | null
  queue: CheckQueue
  events: QueueEvents
  /** Per-job fetched-history budget. */
  maxHistories: number
  auditRetentionMs: number
}

export type CompleteResult = ScreenAnswer & { status: 'complete'; checkId?: string }
export interface PendingResult {
  address: string
  status: 'pending'
  checkId: string
}
export type ScreenResult = CompleteResult | PendingResult

export interface ScreenContext {
  /** How long to wait for check jobs (ms). */
  waitMs: number
  /** The submitting key's name. */
  key: string
  requestId: string
}

/** How each answer of a request was obtained (for metrics). */
export type AnsweredFrom = 'walk' | 'record' | 'job' | 'pending'

export interface ScreenOutcome {
  results: ScreenResult[]
  from: AnsweredFrom[]
}

export type CheckLookup = { kind: 'complete'; result: CompleteResult } | { kind: 'pending'; address: string } | { kind: 'failed'; address: string; reason: string }

/** The basis on-demand answers are computed on now (live sources only). */
interface LiveView {
  source: LiveSourceName
  throughBlock: number
  assets: string[]
  method: string
  runId: string | null
  seedVersion: number
  /** Directions the published walk answers exactly for this source and range. */
  exact: Direction[]
}

const BOTH: Direction[] = ['downstream', 'upstream']
/** Walk answers kept in this process (the map is dropped whole when full). */
const ANSWER_CACHE = 20_000
/**
 * How long one read of the walk and store versions serves (ms): a kept answer may be given up to
 * this long after a new walk was published or the store changed (it is the previous complete
 * walk's answer, and says so: its walk and stale flag are those it was computed with).
 */
const VERSIONS_MS = 50
/** How long the view of the published walk is reused (ms): a new walk is seen within this. */
const VIEW_MS = 1_000
/** How long a live source's finality line is reused when no walk of that source fixes it (ms). */
const RANGE_MS = 15_000

export function createScreening(options: ScreeningOptions) {
  const { store, queue, events } = options
  const { redis, keys } = store
  const checker = createChecker(store, options.riskPolicy, options.explicitParams === undefined ? {} : { explicitParams: options.explicitParams })
  events.setMaxListeners(0)
  // Aborted when the server closes: waiting requests answer pending at once instead of holding the close up.
  const closing = new AbortController()
  let view: { at: number; promise: Promise<LiveView> } | null = null
  let range: { at: number; promise: Promise<{ throughBlock: number; method: string }> } | null = null

  function liveView(): Promise<LiveView> {
    const now = Date.now()
    if (view === null || now - view.at >= VIEW_MS) {
      const promise = readView()
      view = { at: now, promise }
      promise.catch(() => {
        if (view?.promise === promise) view = null
      })
    }
    return view.promise
  }

  async function readView(): Promise<LiveView> {
    const live = options.live!
    const [[, current], [, seedVersion]] = (await redis.multi().hmget(keys.walkCurrent, 'runId', 'source', 'sourceThrough', 'sourceAssets', 'sourceMethod', 'directions').get(keys.seedVersion).exec()) as [[unknown, (string | null)[]], [unknown, string | null]]
    const [runId, source, through, assets, method, directions] = current
    const seeds = Number(seedVersion ?? 0)
    if (runId && source === live.source && through !== null && through !== undefined && through !== '') {
      const exact = (directions ?? '').split(',').filter((d): d is Direction => d === 'downstream' || d === 'upstream')
      return { source: live.source, throughBlock: Number(through), assets: (assets ?? '').split(',').filter((a) => a.length > 0), method: method ?? '', runId, seedVersion: seeds, exact }
    }
    const now = Date.now()
    if (range === null || now - range.at >= RANGE_MS) {
      const promise = resolveWalkSource(store, live.source, live.config).then((r) => ({ throughBlock: r.coverage.throughBlock!, method: r.method }))
      range = { at: now, promise }
      promise.catch(() => {
        if (range?.promise === promise) range = null
      })
    }
    const r = await range.promise
    return { source: live.source, throughBlock: r.throughBlock, assets: [...live.config.listedTokens], method: r.method, runId: runId ?? null, seedVersion: seeds, exact: [] }
  }

  const record = createRecorder(redis, keys, options.auditRetentionMs)

  /**
   * The published walk's answers, kept per address with the versions they were computed on (walk
   * run, store id and version, labels and seed-set versions): an answer depends on nothing else,
   * so while one read of those versions matches, the kept answer is what the walk would answer
   * (known wallets are screened again and again; rebuilding witness paths is most of the work).
   */
  const answers = new Map<Address, { versions: string; result: CheckResult }>()
  const versionsOf = (runId: string | undefined, v: { storeId: string; storeVersion: number; labelsVersion: number; seedVersion: number }) => `${runId}|${v.storeId}|${v.storeVersion}|${v.labelsVersion}|${v.seedVersion}`

  /** One read of the versions serves the requests of the next VERSIONS_MS (a change is seen within that). */
  let versions: { at: number; promise: Promise<string | null> } | null = null
  function currentVersions(): Promise<string | null> {
    const now = Date.now()
    if (versions === null || now - versions.at >= VERSIONS_MS) {
      const promise = (callScreenScript(redis, 'versions', [keys.walkCurrent, keys.meta, keys.seedVersion], []) as Promise<string[]>).then(([runId, storeId, storeVersion, labelsVersion, seedVersion]) =>
        runId === '' ? null : versionsOf(runId, { storeId: storeId!, storeVersion: Number(storeVersion), labelsVersion: Number(labelsVersion), seedVersion: Number(seedVersion) }),
      )
      versions = { at: now, promise }
      promise.catch(() => {
        if (versions?.promise === promise) versions = null
      })
    }
    return versions.promise
  }

  async function walkAnswers(addresses: readonly Address[]): Promise<CheckResult[]> {
    const now = await currentVersions()
    const out: (CheckResult | undefined)[] = addresses.map((a) => {
      const hit = answers.get(a)
      return hit !== undefined && hit.versions === now ? hit.result : undefined
    })
    const missing = addresses.filter((_, i) => out[i] === undefined)
    if (missing.length > 0) {
      const fresh = await checker.check(missing)
      let k = 0
      out.forEach((r, i) => {
        if (r !== undefined) return
        const result = fresh[k++]!
        out[i] = result
        if (result.versions === undefined || result.walk === null) return
        if (answers.size >= ANSWER_CACHE) answers.clear()
        answers.set(addresses[i]!, { versions: versionsOf(result.walk.runId, result.versions), result })
      })
    }
    return out as CheckResult[]
  }

  /** A walk answer (the check JSON, exact in both directions) and its record (its summary and basis: the walk gives the rest again). */
  function walkAnswer(r: CheckResult, source: string, key: string, live: boolean): { answer: ScreenAnswer; record: ScreenRecord } {
    const json = answerJson(live ? { ...r, answeredBy: { downstream: 'walk', upstream: 'walk' } } : r)
    const answer = { ...json, exact: { downstream: true, upstream: true } }
    return {
      answer,
      record: { summary: summaryOf(answer), answer: null, basis: { runId: r.walk?.runId ?? null, seedVersion: r.seedVersion ?? 0, finalBlock: r.finalBlock, source }, at: new Date().toISOString(), key },
    }
  }

  /** Screens addresses (lowercase; duplicates are answered once each, in order). */
  async function screen(addresses: readonly Address[], ctx: ScreenContext): Promise<ScreenOutcome> {
    const unique = [...new Set(addresses)]
    const answers = new Map<Address, { result: ScreenResult; from: AnsweredFrom }>()
    const audits: { audit: AuditInput; record: ScreenRecord | null }[] = []
    const complete = (a: Address, answer: ScreenAnswer, from: AnsweredFrom, checkId?: string) => {
      answers.set(a, { result: { ...answer, status: 'complete', ...(checkId === undefined ? {} : { checkId }) }, from })
    }

    if (options.live === null) {
      // The store is the only source: the published walk answers every address (NO_WALK without one).
      const results = await walkAnswers(unique)
      results.forEach((r, i) => {
        const { answer, record } = walkAnswer(r, 'store', ctx.key, false)
        complete(unique[i]!, answer, 'walk')
        audits.push({ audit: auditOf(r.address, ctx.requestId, ctx.key, 'walk', record, null), record })
      })
    } else {
      const v = await liveView()
      if (BOTH.every((d) => v.exact.includes(d))) {
        const results = await walkAnswers(unique)
        results.forEach((r, i) => {
          const { answer, record } = walkAnswer(r, v.source, ctx.key, true)
          complete(unique[i]!, answer, 'walk')
          audits.push({ audit: auditOf(r.address, ctx.requestId, ctx.key, 'walk', record, null), record })
        })
      } else {
        const records = await readRecords(redis, keys, unique)
        const jobs: { address: Address; job: Job<CheckJobData, CheckJobResult> }[] = []
        for (const [i, address] of unique.entries()) {
          const record = records[i]
          if (record && record.answer !== null && record.basis.source === v.source && record.basis.runId === v.runId && record.basis.seedVersion === v.seedVersion) {
            complete(address, record.answer, 'record')
            audits.push({ audit: auditOf(record.summary.address, ctx.requestId, ctx.key, 'record', record, record.checkId ?? null), record: null })
            continue
          }
          const data: CheckJobData = { address, source: v.source, throughBlock: v.throughBlock, assets: v.assets, method: v.method, basis: { runId: v.runId, seedVersion: v.seedVersion }, maxHistories: options.maxHistories, submittedBy: ctx.key, requestId: ctx.requestId }
          jobs.push({ address, job: await addCheckJob(queue, data) })
        }
        const finished = await Promise.all(jobs.map(({ job }) => waitFor(job, ctx.waitMs)))
        jobs.forEach(({ address, job }, i) => {
          const done = finished[i]
          if (done && done.record.answer !== null) {
            complete(address, done.record.answer, 'job')
            audits.push({ audit: auditOf(done.record.summary.address, ctx.requestId, ctx.key, 'job', done.record, job.id!), record: null })
          } else {
            answers.set(address, { result: { address: getAddress(address), status: 'pending', checkId: job.id! }, from: 'pending' })
            audits.push({ audit: auditOf(getAddress(address), ctx.requestId, ctx.key, 'pending', null, job.id!), record: null })
          }
        })
      }
    }
    await record(audits)
    const ordered = addresses.map((a) => answers.get(a)!)
    return { results: ordered.map((o) => o.result), from: ordered.map((o) => o.from) }
  }

  /** The job's result when it finishes within `waitMs`; null when it does not (or failed). */
  async function waitFor(job: Job<CheckJobData, CheckJobResult>, waitMs: number): Promise<CheckJobResult | null> {
    if (waitMs <= 0) {
      return (await job.isCompleted()) ? parseResult((await queue.getJob(job.id!))?.returnvalue) : null
    }
    if (closing.signal.aborted) return null
    let onAbort: (() => void) | undefined
    const aborted = new Promise<null>((resolve) => {
      onAbort = () => resolve(null)
      closing.signal.addEventListener('abort', onAbort, { once: true })
    })
    try {
      return await Promise.race([job.waitUntilFinished(events, waitMs).then(parseResult), aborted])
    } catch {
      return null
    } finally {
      closing.signal.removeEventListener('abort', onAbort!)
    }
  }

  /** GET /v1/checks/{checkId}: the job's answer once it is done. null: no such check. */
  async function lookup(checkId: string, ctx: Omit<ScreenContext, 'waitMs'>): Promise<CheckLookup | null> {
    const address = checkIdAddress(checkId)
    if (address === null) return null
    const job = await queue.getJob(checkId)
    let record: ScreenRecord | null = null
    if (job) {
      const state = await job.getState()
      if (state === 'failed') return { kind: 'failed', address: getAddress(address), reason: job.failedReason ?? 'unknown' }
      if (state !== 'completed') return { kind: 'pending', address: getAddress(address) }
      record = parseResult(job.returnvalue)?.record ?? null
    }
    if (record === null) {
      const [stored] = await readRecords(redis, keys, [address])
      if (stored?.checkId !== checkId) return null
      record = stored
    }
    if (record.answer === null) return null
    await recordScreenings(redis, keys, [{ audit: auditOf(record.summary.address, ctx.requestId, ctx.key, 'job', record, checkId), record: null }], options.auditRetentionMs)
    return { kind: 'complete', result: { ...record.answer, status: 'complete', checkId } }
  }

  return { screen, lookup, checker, stopWaiting: () => closing.abort() }
}

function parseResult(value: unknown): CheckJobResult | null {
  if (value === null || value === undefined) return null
  const parsed = typeof value === 'string' ? (JSON.parse(value) as CheckJobResult) : (value as CheckJobResult)
  if (parsed?.record?.answer === undefined || parsed.record.answer === null) throw new BaseError('INTERNAL', 'a check job finished without a record')
  return parsed
}

export type Screening = ReturnType<typeof createScreening>
