/**
 * Answers are records (DESIGN.md): every answer the service gives is kept per address with its
 * time, basis and submitting key (P:screen:records: the last answer per address, what the next
 * screening of that wallet is answered from while its basis holds), and every screening is
 * appended to the audit trail (P:audit, trimmed by age, with a per-address index for
 * `exposure audit <address>`). lua/record.lua writes both in one atomic step per request.
 */
import { checksumAddress as getAddress } from '../walk/checksum.ts'
import type { GraphStore } from '../store/graph-store.ts'
import type { StoreKeys } from '../store/keys.ts'
import type { Address, Direction } from '../types.ts'
import type { AnswerJson } from '../walk/answer-json.ts'
import { callScreenScript } from './scripts.ts'
import type { Redis } from 'ioredis'

/** What an answer was computed from. */
export interface ScreenBasis {
  /** The published walk (null: none was used). */
  runId: string | null
  seedVersion: number
  /** The block the answer is final up to (null: etl imports only). */
  finalBlock: number | null
  /** 'store', 'rpc' or 'etherscan'. */
  source: string
}

/** A complete answer: the check --json object, and which directions are exact. */
export type ScreenAnswer = AnswerJson & { exact: Record<Direction, boolean> }

/** What an answer said, in short: enough to audit it and to see when a rescan changes it. */
export interface ScreenSummary {
  address: string
  risk: string
  downstream: { hops: number; seed: string } | null
  upstream: { hops: number; seed: string } | null
  stale: boolean
  exact: Record<Direction, boolean>
}

export function summaryOf(answer: ScreenAnswer): ScreenSummary {
  const short = (e: ScreenAnswer['downstream']) => (e === null ? null : { hops: e.hops, seed: e.seed })
  return { address: answer.address, risk: answer.risk, downstream: short(answer.downstream), upstream: short(answer.upstream), stale: answer.stale, exact: answer.exact }
}

export interface ScreenRecord {
  summary: ScreenSummary
  /**
   * The whole answer (witness paths, seed provenance) when the published walk cannot give it
   * again: an on-demand check's. Null for the walk's own answers, which the walk (named in the
   * basis) answers again for as long as it is published; the summary and basis say what was given.
   */
  answer: ScreenAnswer | null
  basis: ScreenBasis
  /** When the answer was computed (ISO). */
  at: string
  /** Name of the API key that submitted it (null: a CLI or other internal caller). */
  key: string | null
  /** The check job that computed it, when one did. */
  checkId?: string
}

export interface AuditEntry {
  id: string
  time: string
  requestId: string
  key: string
  address: string
  status: 'complete' | 'pending'
  risk: string | null
  downstreamHops: number | null
  upstreamHops: number | null
  runId: string | null
  seedVersion: number | null
  finalBlock: number | null
  source: string | null
  checkId: string | null
  /** 'walk', 'record', 'job' or 'pending'. */
  answeredFrom: string
}

export type AuditInput = Omit<AuditEntry, 'id' | 'time'>

export async function writeRecord(store: Pick<GraphStore, 'redis' | 'keys'>, record: ScreenRecord): Promise<void> {
  await store.redis.hset(store.keys.screenRecords, record.summary.address.slice(2).toLowerCase(), JSON.stringify(record))
}

/** The records of these addresses (lowercase), null where none. */
export async function readRecords(redis: Redis, keys: Pick<StoreKeys, 'screenRecords'>, addresses: readonly Address[]): Promise<(ScreenRecord | null)[]> {
  if (addresses.length === 0) return []
  const raw = await redis.hmget(keys.screenRecords, ...addresses.map((a) => a.slice(2)))
  return raw.map((json) => (json === null ? null : (JSON.parse(json) as ScreenRecord)))
}

/**
 * Appends one audit entry per input (and writes the records given beside them) in one script
 * call. `retentionMs`: entries older than that are trimmed from the stream and the indexes.
 */
export async function recordScreenings(redis: Redis, keys: Pick<StoreKeys, 'screenRecords' | 'audit' | 'auditIndex'>, entries: readonly { audit: AuditInput; record: ScreenRecord | null }[], retentionMs: number): Promise<string[]> {
  if (entries.length === 0) return []
  const args: (string | number)[] = [Date.now(), retentionMs, entries.length]
  const scriptKeys = [keys.screenRecords, keys.audit]
  for (const { audit, record } of entries) {
    const hex = audit.address.slice(2).toLowerCase()
    scriptKeys.push(keys.auditIndex(`0x${hex}`))
    const fields: [string, string][] = [
      ['requestId', audit.requestId],
      ['key', audit.key],
      ['address', audit.address],
      ['status', audit.status],
      ['risk', audit.risk ?? ''],
      ['downstreamHops', audit.downstreamHops === null ? '' : String(audit.downstreamHops)],
      ['upstreamHops', audit.upstreamHops === null ? '' : String(audit.upstreamHops)],
      ['runId', audit.runId ?? ''],
      ['seedVersion', audit.seedVersion === null ? '' : String(audit.seedVersion)],
      ['finalBlock', audit.finalBlock === null ? '' : String(audit.finalBlock)],
      ['source', audit.source ?? ''],
      ['checkId', audit.checkId ?? ''],
      ['answeredFrom', audit.answeredFrom],
    ]
    args.push(hex, record === null ? '' : JSON.stringify(record), fields.length, ...fields.flat())
  }
  return (await callScreenScript(redis, 'record', scriptKeys, args)) as string[]
}

/**
 * Coalesces the recordScreenings calls of concurrent requests into one script call per turn of
 * the event loop (at most 500 entries each): one round trip for many screenings. Each caller
 * still waits until its own entries are written.
 */
export function createRecorder(redis: Redis, keys: Pick<StoreKeys, 'screenRecords' | 'audit' | 'auditIndex'>, retentionMs: number) {
  let queue: { entries: readonly { audit: AuditInput; record: ScreenRecord | null }[]; resolve: () => void; reject: (e: unknown) => void }[] = []
  let scheduled = false
  function flush(): void {
    scheduled = false
    const batch = queue
    queue = []
    for (let i = 0; i < batch.length; ) {
      const group: typeof batch = []
      let size = 0
      while (i < batch.length && (group.length === 0 || size + batch[i]!.entries.length <= 500)) {
        size += batch[i]!.entries.length
        group.push(batch[i++]!)
      }
      recordScreenings(redis, keys, group.flatMap((g) => g.entries), retentionMs).then(
        () => group.forEach((g) => g.resolve()),
        (error) => group.forEach((g) => g.reject(error)),
      )
    }
  }
  return (entries: readonly { audit: AuditInput; record: ScreenRecord | null }[]): Promise<void> => {
    if (entries.length === 0) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      queue.push({ entries, resolve, reject })
      if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    })
  }
}

/** The audit entry of a screening from its record and how it was answered. */
export function auditOf(address: string, requestId: string, key: string, answeredFrom: AuditInput['answeredFrom'], record: Pick<ScreenRecord, 'summary' | 'basis'> | null, checkId: string | null): AuditInput {
  return {
    requestId,
    key,
    address,
    status: record === null ? 'pending' : 'complete',
    risk: record?.summary.risk ?? null,
    downstreamHops: record?.summary.downstream?.hops ?? null,
    upstreamHops: record?.summary.upstream?.hops ?? null,
    runId: record?.basis.runId ?? null,
    seedVersion: record?.basis.seedVersion ?? null,
    finalBlock: record?.basis.finalBlock ?? null,
    source: record?.basis.source ?? null,
    checkId,
    answeredFrom,
  }
}

/** The audit entries of one address, newest first (at most `limit`). */
export async function readAudit(redis: Redis, keys: Pick<StoreKeys, 'audit' | 'auditIndex'>, address: Address, limit = 100): Promise<AuditEntry[]> {
  const ids = await redis.zrevrange(keys.auditIndex(address), 0, Math.max(0, limit - 1))
  if (ids.length === 0) return []
  const pipeline = redis.pipeline()
  for (const id of ids) pipeline.xrange(keys.audit, id, id)
  const replies = (await pipeline.exec()) ?? []
  const out: AuditEntry[] = []
  replies.forEach(([error, reply], i) => {
    const entry = (reply as [string, string[]][] | undefined)?.[0]
    // Trimmed from the stream (older than the retention) while the index still named it: skip.
    if (error || entry === undefined) return
    const f: Record<string, string> = {}
    for (let j = 0; j < entry[1].length; j += 2) f[entry[1][j]!] = entry[1][j + 1]!
    const num = (v: string | undefined) => (v === undefined || v === '' ? null : Number(v))
    const str = (v: string | undefined) => (v === undefined || v === '' ? null : v)
    out.push({
      id: ids[i]!,
      time: new Date(Number(ids[i]!.split('-')[0])).toISOString(),
      requestId: f.requestId ?? '',
      key: f.key ?? '',
      address: f.address ?? getAddress(address),
      status: f.status === 'pending' ? 'pending' : 'complete',
      risk: str(f.risk),
      downstreamHops: num(f.downstreamHops),
      upstreamHops: num(f.upstreamHops),
      runId: str(f.runId),
      seedVersion: num(f.seedVersion),
      finalBlock: num(f.finalBlock),
      source: str(f.source),
      checkId: str(f.checkId),
      answeredFrom: f.answeredFrom ?? '',
    })
  })
  return out
}
