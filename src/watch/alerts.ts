/**
 * Alerts: a watched wallet's answer changed (risk, hops in either direction, or the nearest seed).
 * Each alert names the answer before and after, the witness paths after, and what caused it (the
 * store, seed-set and labels versions before → after, the seeds added and removed between, and
 * what the rescan imported). Alerts are appended to a Redis stream (P:alerts) once each: the id is
 * derived from the address, both answers and the basis of the new one, so a rescan run again after
 * a crash appends none twice.
 */
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { StoreKeys } from '../store/keys.ts'
import type { PathStep } from '../types.ts'
import type { CheckResult } from '../walk/check.ts'
import type { StoreVersions } from '../walk/staleness.ts'
import { callWatchScript } from './scripts.ts'

export interface DirectionSummary {
  hops: number
  /** EIP-55. */
  seed: string
}

/** What an answer said, in the terms an alert compares. */
export interface AnswerSummary {
  risk: string
  downstream: DirectionSummary | null
  upstream: DirectionSummary | null
}

/** The answer a rescan recorded for a watched wallet (P:watch:last). */
export interface WatchedAnswer {
  summary: AnswerSummary
  versions: StoreVersions
  runId: string | null
  at: string
}

export const CHANGE_KINDS = ['risk', 'hops', 'seed'] as const
export type ChangeKind = (typeof CHANGE_KINDS)[number]

export interface AlertCause {
  storeVersion: { before: number; after: number }
  seedVersion: { before: number; after: number }
  labelsVersion: { before: number; after: number }
  /** Seeds added and removed between the two seed-set versions (EIP-55). */
  seedsAdded: string[]
  seedsRemoved: string[]
  /** What the rescan that found the change imported (files, with what they changed). */
  imported: string[]
  rescanId: string
}

export interface Alert {
  id: string
  /** EIP-55. */
  address: string
  at: string
  changes: ChangeKind[]
  before: AnswerSummary & { runId: string | null }
  after: AnswerSummary & { runId: string | null; reason: string; witness: { downstream: PathStep[] | null; upstream: PathStep[] | null } }
  cause: AlertCause
  /** Who watches it: watch entry owners and refs, and the key that screened it (within the window). */
  watchers: { owners: string[]; refs: string[]; screenedBy: string | null }
}

/** An alert as read back, with its stream id (the cursor). */
export interface StoredAlert {
  cursor: string
  alert: Alert
}

export function summarize(r: CheckResult): AnswerSummary {
  const d = (e: CheckResult['downstream']) => (e === null ? null : { hops: e.hops, seed: e.seed })
  return { risk: r.risk, downstream: d(r.downstream), upstream: d(r.upstream) }
}

/** Which of risk, hops (either direction) and nearest seed differ. */
export function changesBetween(before: AnswerSummary, after: AnswerSummary): ChangeKind[] {
  const out: ChangeKind[] = []
  if (before.risk !== after.risk) out.push('risk')
  const hops = (s: AnswerSummary, d: 'downstream' | 'upstream') => s[d]?.hops ?? null
  const seed = (s: AnswerSummary, d: 'downstream' | 'upstream') => s[d]?.seed.toLowerCase() ?? null
  if (hops(before, 'downstream') !== hops(after, 'downstream') || hops(before, 'upstream') !== hops(after, 'upstream')) out.push('hops')
  if (seed(before, 'downstream') !== seed(after, 'downstream') || seed(before, 'upstream') !== seed(after, 'upstream')) out.push('seed')
  return out
}

/** Deterministic: the address, both answers and the new answer's basis (not the walk run, which a rerun replaces). */
export function alertId(address: string, before: AnswerSummary, after: AnswerSummary, versions: StoreVersions): string {
  const basis = [versions.storeId, versions.storeVersion, versions.seedVersion, versions.labelsVersion]
  const text = JSON.stringify([address.toLowerCase(), canonical(before), canonical(after), basis])
  return `al_${createHash('sha256').update(text).digest('hex').slice(0, 32)}`
}

function canonical(s: AnswerSummary) {
  const d = (e: DirectionSummary | null) => (e === null ? null : [e.hops, e.seed.toLowerCase()])
  return [s.risk, d(s.downstream), d(s.upstream)]
}

export interface RecordEntry {
  hex: string
  answer: WatchedAnswer
  alert: Alert | null
}

/**
 * Writes the answers and appends the alerts, atomically per batch (lua/alert.lua). Answers, per
 * entry, whether its alert was appended now (false: it already was, or there was none).
 */
export async function recordAnswers(redis: Redis, keys: Pick<StoreKeys, 'alerts' | 'alertIds' | 'watchLast'>, entries: readonly RecordEntry[]): Promise<boolean[]> {
  const out: boolean[] = []
  for (let i = 0; i < entries.length; i += 200) {
    const chunk = entries.slice(i, i + 200)
    const args: (string | number)[] = [chunk.length]
    for (const e of chunk) args.push(e.hex, JSON.stringify(e.answer), e.alert?.id ?? '', e.alert === null ? '' : JSON.stringify(e.alert))
    const reply = (await callWatchScript(redis, 'alert', [keys.alerts, keys.alertIds, keys.watchLast], args)) as (string | number)[]
    for (let j = 0; j < chunk.length; j++) out.push(Number(reply[j * 2 + 1]) === 1)
  }
  return out
}

function parseEntries(entries: [string, string[]][]): StoredAlert[] {
  const out: StoredAlert[] = []
  for (const [cursor, fields] of entries) {
    const at = fields.indexOf('json')
    if (at < 0) continue
    out.push({ cursor, alert: JSON.parse(fields[at + 1]!) as Alert })
  }
  return out
}

/** Alerts after `cursor` (exclusive; '' or '0' from the start), oldest first, at most `limit`. */
export async function readAlerts(redis: Redis, keys: Pick<StoreKeys, 'alerts'>, cursor: string, limit: number): Promise<StoredAlert[]> {
  const start = cursor === '' || cursor === '0' ? '-' : `(${cursor}`
  return parseEntries((await redis.xrange(keys.alerts, start, '+', 'COUNT', limit)) as [string, string[]][])
}

/** The alert at one cursor (empty when trimmed or unknown). */
export async function readAlertAt(redis: Redis, keys: Pick<StoreKeys, 'alerts'>, cursor: string): Promise<StoredAlert[]> {
  return parseEntries((await redis.xrange(keys.alerts, cursor, cursor)) as [string, string[]][])
}

/** The last `count` alerts, oldest first. */
export async function lastAlerts(redis: Redis, keys: Pick<StoreKeys, 'alerts'>, count: number): Promise<StoredAlert[]> {
  return parseEntries(((await redis.xrevrange(keys.alerts, '+', '-', 'COUNT', count)) as [string, string[]][]).reverse())
}

/** Waits up to `blockMs` for alerts after `cursor` (a connection of its own: XREAD BLOCK holds it). */
export async function waitAlerts(redis: Redis, keys: Pick<StoreKeys, 'alerts'>, cursor: string, blockMs: number): Promise<StoredAlert[]> {
  const reply = (await redis.xread('COUNT', 500, 'BLOCK', blockMs, 'STREAMS', keys.alerts, cursor === '' ? '0' : cursor)) as [string, [string, string[]][]][] | null
  return reply === null ? [] : parseEntries(reply[0]![1])
}

/** Is this a stream id (a cursor of the alerts)? */
export function isCursor(text: string): boolean {
  return /^\d{1,16}-\d{1,10}$/.test(text) || text === '0'
}
