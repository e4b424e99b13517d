/**
 * A check job: "screen this wallet on demand" (a wallet the store cannot answer exactly yet,
 * submitted to `exposure serve`). The payload schema sits beside its processor; the processor is
 * the on-demand checker of `exposure check --source` with a fetched-history budget, and it
 * records the answer (records.ts) before the job completes, so the next screening of the wallet
 * is answered from the record without a job.
 */
import { z } from 'zod'
import type { GraphStore } from '../store/graph-store.ts'
import { openLazySource, type WalkSourceConfig } from '../sources/walk-source.ts'
import type { LazyHistory } from '../sources/lazy-history.ts'
import type { AddressHistorySource } from '../sources/lazy-history.ts'
import type { Address } from '../types.ts'
import { createOnDemandChecker, keepWalkFresh, snapshotWalk, type OnDemandParams } from '../walk/on-demand-check.ts'
import type { RiskPolicy } from '../walk/risk.ts'
import { answerJson } from '../walk/answer-json.ts'
import { summaryOf, writeRecord, type ScreenRecord } from './records.ts'

export const CheckJobData = z.object({
  /** Lowercase 0x + 40 hex. */
  address: z.string().regex(/^0x[0-9a-f]{40}$/),
  source: z.enum(['rpc', 'etherscan']),
  /** The block range's last block (the answers' finalBlock). */
  throughBlock: z.number().int().nonnegative(),
  /** Listed tokens of the range (as the walk meta records them). */
  assets: z.array(z.string().regex(/^0x[0-9a-f]{40}$/)),
  /** rpc: 'trace_filter' or 'ots'. */
  method: z.string(),
  /** The published walk and seed set the job was submitted against (its dedup key, with the address and range). */
  basis: z.object({ runId: z.string().nullable(), seedVersion: z.number().int().nonnegative() }),
  /** Most histories the job may fetch (EXPOSURE_CHECK_MAX_HISTORIES of the submitting server). */
  maxHistories: z.number().int().positive(),
  /** Name of the API key that submitted it (never the key). */
  submittedBy: z.string(),
  requestId: z.string(),
})
export type CheckJobData = z.infer<typeof CheckJobData>

export interface CheckJobResult {
  record: ScreenRecord
  /** Histories fetched by this job. */
  fetched: number
  /** Requests made to the source by this job. */
  requests: number
  ms: number
}

export interface CheckProcessorOptions {
  store: GraphStore
  riskPolicy: RiskPolicy
  /** This process's own live-source settings (URLs, API key). */
  sourceConfig: WalkSourceConfig
  /** Walk parameters when the store holds no walk. */
  defaults: OnDemandParams
}

/** The processor: validates the payload, searches, records. One lazy source per (source, method, assets), reused across jobs. */
export function createCheckProcessor(options: CheckProcessorOptions) {
  const { store } = options
  const sources = new Map<string, { lazy: LazyHistory; source: AddressHistorySource; close(): Promise<void> }>()

  async function process(raw: unknown, checkId: string): Promise<CheckJobResult> {
    const data = CheckJobData.parse(raw)
    const started = Date.now()
    const sourceKey = `${data.source}|${data.method}|${data.throughBlock}|${data.assets.join(',')}`
    let live = sources.get(sourceKey)
    if (!live) {
      live = openLazySource(store, data.source, options.sourceConfig, data.assets as Address[], data.method, data.throughBlock)
      sources.set(sourceKey, live)
    }
    const requestsBefore = live.source.requests()
    const before = await snapshotWalk(store)
    const checker = createOnDemandChecker(store, options.riskPolicy, { source: data.source, lazy: live.lazy, throughBlock: data.throughBlock, defaults: options.defaults, maxHistories: data.maxHistories })
    const [result] = await checker.check([data.address as Address])
    await keepWalkFresh(store, data.source, { throughBlock: data.throughBlock, before })
    const answer = { ...answerJson(result!), exact: result!.exact }
    const record: ScreenRecord = {
      summary: summaryOf(answer),
      answer,
      basis: { runId: data.basis.runId, seedVersion: data.basis.seedVersion, finalBlock: data.throughBlock, source: data.source },
      at: new Date().toISOString(),
      key: data.submittedBy,
      checkId,
    }
    await writeRecord(store, record)
    return { record, fetched: result!.fetched, requests: live.source.requests() - requestsBefore, ms: Date.now() - started }
  }

  async function close(): Promise<void> {
    await Promise.all([...sources.values()].map((s) => s.close()))
    sources.clear()
  }

  return { process, close }
}
