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

export interface ScreenRecord {
  answer: ScreenAnswer
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
  await store.redis.hset(store.keys.screenRecords, record.answer.address.slice(2).toLowerCase(), JSON.stringify(record))
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

/** The audit entry of a screening from its record and how it was answered. */
export function auditOf(address: string, requestId: string, key: string, answeredFrom: AuditInput['answeredFrom'], record: Pick<ScreenRecord, 'answer' | 'basis'> | null, checkId: string | null): AuditInput {
  return {
    requestId,
    key,
    address,
    status: record === null ? 'pending' : 'complete',
    risk: record?.answer.risk ?? null,
    downstreamHops: record?.answer.downstream?.hops ?? null,
    upstreamHops: record?.answer.upstream?.hops ?? null,
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
