import { randomBytes } from 'node:crypto'
import { readdir, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { BaseError, InputError, isExposureError } from '../errors.ts'
import { failpoint } from '../failpoints.ts'
import type { CommitOptions, CommitResult, GraphStore } from '../store/graph-store.ts'
import type { Holder } from '../store/holder.ts'
import { ETH, type Address, type Asset, type Transfer } from '../types.ts'
import { etlKindOf, readEtlFile, type EtlKind, type EtlRowResult, type SkipReason } from './etl.ts'
import type { ByteRange } from './etl-ranges.ts'
import { TxIndexTable } from './tx-index-table.ts'

export interface FileSummary {
  file: string
  kind: EtlKind
  rows: number
  transfers: number
  skipped: Partial<Record<SkipReason, number>>
}

export interface ImportSummary {
  /** The import's id (what `--resume` / `--abort` name). */
  importId: string
  /** Ingest jobs that read the files (imports with --ingest-workers: files, and byte ranges of large ones). */
  jobs?: number
  files: FileSummary[]
  rows: number
  /** Rows that became transfers under the counting rules. */
  transfersCounted: number
  /** Transfers the store did not hold before (a re-import adds none). */
  transfersAdded: number
  /** Addresses whose transfers changed. */
  addresses: number
  /** False when the store already held everything (a re-import): nothing was written. */
  changed: boolean
  /** Token transfers joined to transactions stored earlier (this or an earlier import brought them). */
  tokensResolved: number
  /** Token transfers of listed tokens still waiting for their transactions (kept in the store). */
  tokensPending: number
  /** Token transfers whose transaction cannot be told apart in its block (never guessed). */
  tokensAmbiguous: number
  /** The first malformed rows, when `skipInvalid` (the count is in skipped.invalid). */
  invalid: InputError[]
  seconds: number
  /** Of which reading and staging the files (the part ingest workers share out); the rest is the commit. */
  readSeconds: number
  /** Seconds in each step of the commit (CommitResult.steps). */
  commitSteps?: NonNullable<CommitResult['steps']>
}

export interface ImportProgress {
  phase: 'read' | 'prepare' | 'apply'
  file?: string
  done: number
  total: number
  transfers: number
}

export interface ImportOptions {
  listedTokens: readonly Address[]
  skipInvalid?: boolean
  onProgress?: (progress: ImportProgress) => void
  /** Stops reading (the staging is dropped) or the commit before its commit point. */
  signal?: AbortSignal
  /** Called once when another process is writing the store and this import waits for it. */
  onWait?: (holder: Holder) => void
}

const KIND_ORDER: readonly EtlKind[] = ['receipts', 'transactions', 'traces', 'token_transfers']

/**
 * Expands folders into their etl files and orders them so that receipts come before their
 * transactions and every transaction before the token transfers that join on it.
 */
export async function resolveEtlFiles(paths: readonly string[]): Promise<{ file: string; kind: EtlKind; size: number }[]> {
  const found: { file: string; kind: EtlKind; size: number }[] = []
  for (const path of paths) {
    const info = await stat(path).catch(() => null)
    if (info === null) throw new InputError('FILE_NOT_FOUND', `no such file or folder: ${path}`, { file: path })
    if (info.isDirectory()) {
      for (const name of (await readdir(path)).sort()) {
        const kind = etlKindOf(name)
        if (kind !== null && /\.csv(\.gz)?$/i.test(name)) found.push({ file: join(path, name), kind, size: (await stat(join(path, name))).size })
      }
    } else {
      const kind = etlKindOf(path)
      if (kind === null) throw new InputError('INVALID_ARGUMENT', `cannot tell which etl table ${path} holds: its name must start with transactions, traces, token_transfers or receipts`, { file: path })
      found.push({ file: path, kind, size: info.size })
    }
  }
  if (found.length === 0) throw new InputError('INVALID_ARGUMENT', `no etl files (transactions*.csv, traces*.csv, token_transfers*.csv, receipts*.csv, optionally .gz) in ${paths.join(', ')}`, { value: paths.join(',') })
  return found.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind))
}

/**
 * Imports etl files all-or-nothing: rows are streamed into a staging area; only when every file
 * has been read without error is the staging area merged into the store. A malformed row (or a
 * fault) drops the staging area, so nothing of the import reaches the store.
 */
export async function importEtl(store: GraphStore, paths: readonly string[], options: ImportOptions): Promise<ImportSummary> {
  const startedAt = Date.now()
  const files = await resolveEtlFiles(paths)
  const assetIds = await store.internAssets([ETH, ...options.listedTokens] as Asset[])
  const importId = `etl${randomBytes(5).toString('hex')}`
  await store.beginImport(importId, 'etl', describeFiles(files.map((f) => f.file)))
  let read: StagedFiles
  try {
    const totalBytes = files.reduce((sum, f) => sum + f.size, 0)
    read = await stageEtlFiles(store, importId, files, assetIds, {
      ...options,
      onBytes: (done, transfers, file) => options.onProgress?.({ phase: 'read', file, done, total: totalBytes, transfers }),
    })
    // Every file read: from here the import can be resumed (exposure import --resume) if this process dies.
    await store.imports.setState(importId, 'staged')
  } catch (error) {
    await store.abort(importId).catch(() => undefined)
    throw error
  }
  failpoint('import:staged')
  const readAt = Date.now()
  const committed = await commitImport(store, importId, options, read.transfers)
  return summarize(importId, read.files, read.invalid, committed, startedAt, readAt)
}

/** What reading a set of etl files staged. */
export interface StagedFiles {
  files: FileSummary[]
  transfers: number
  /** The first malformed rows, when `skipInvalid`. */
  invalid: InputError[]
}

export interface StageFilesOptions extends Pick<ImportOptions, 'listedTokens' | 'skipInvalid' | 'signal'> {
  /** Bytes read so far over all the files, and transfers counted. */
  onBytes?: (bytes: number, transfers: number, file: string) => void
}

/**
 * Reads etl files in order and stages their rows into import `importId` (the files of one import
 * command, or of one ingest job: etl-ingest.ts). Staging twice what was staged once changes
 * nothing at commit (records, transaction entries and waiting token transfers are de-duplicated),
 * so a retried ingest job is harmless. A malformed row throws (file:line, field) unless
 * `skipInvalid`; the caller drops the import.
 */
export async function stageEtlFiles(store: GraphStore, importId: string, files: readonly { file: string; kind: EtlKind; size: number; range?: ByteRange | undefined }[], assetIds: ReadonlyMap<Asset, number>, options: StageFilesOptions): Promise<StagedFiles> {
  const listed = new Set<string>(options.listedTokens)
  const txIndexByHash = new TxIndexTable()
  const receiptStatus = new Map<string, string>()
  const blockTimes = new Map<number, number>()
  const invalid: InputError[] = []
  const summaries: FileSummary[] = []
  let bytesBefore = 0
  let transfersCounted = 0
  // One batch is staged while the next is parsed: Redis and the parser work on different cores.
  let staging: Promise<void> = Promise.resolve()
  try {
    for (const { file, kind, size, range } of files) {
      const summary: FileSummary = { file, kind, rows: 0, transfers: 0, skipped: {} }
      summaries.push(summary)
      const reader = readEtlFile(file, kind, {
        listedTokens: listed,
        txIndexByHash,
        receiptStatus,
        skipInvalid: options.skipInvalid ?? false,
        onInvalid: (error) => {
          if (invalid.length < 20) invalid.push(error)
        },
        onBytes: (bytes) => options.onBytes?.(bytesBefore + bytes, transfersCounted, file),
        range,
      })
      for await (const batch of reader) {
        if (options.signal?.aborted) throw new BaseError('INTERRUPTED', `import interrupted while reading ${file}: nothing of it reached the store`, { file })
        const transfers: Transfer[] = []
        const transactions: { block: number; hash: string; index: number }[] = []
        const waiting: NonNullable<EtlRowResult['pendingToken']>[] = []
        for (const result of batch) {
          summary.rows++
          if (result.receipt) receiptStatus.set(result.receipt.hash, result.receipt.status)
          if (result.txIndex) {
            txIndexByHash.set(result.txIndex.hash, result.txIndex.index)
            transactions.push({ block: result.txIndex.block, hash: result.txIndex.hash, index: result.txIndex.index })
            if (result.txIndex.timestamp !== undefined) blockTimes.set(result.txIndex.block, result.txIndex.timestamp)
          }
          if (result.pendingToken) waiting.push(result.pendingToken)
          if (result.transfer) transfers.push(result.transfer)
          else if (result.skip) summary.skipped[result.skip] = (summary.skipped[result.skip] ?? 0) + 1
        }
        summary.transfers += transfers.length
        transfersCounted += transfers.length
        await staging
        staging = (async () => {
          await store.stage(importId, transfers, assetIds)
          // What token transfers need to join in any order: every transaction's index, and the
          // token transfers whose transaction this command has not seen (they wait in the store).
          await store.stageJoin(importId, { transactions, tokens: waiting }, assetIds)
        })()
        // Awaited with the next batch; until then a rejection (Redis out of memory) must not count as unhandled.
        staging.catch(() => undefined)
      }
      bytesBefore += size
    }
    await staging
    if (blockTimes.size > 0) await store.stageJoin(importId, { blockTimes })
  } catch (error) {
    await staging.catch(() => undefined)
    throw error
  }
  return { files: summaries, transfers: transfersCounted, invalid }
}

/** The import's summary once committed: token transfers that were waiting are counted where they ended up. */
export function summarize(importId: string, summaries: FileSummary[], invalid: InputError[], committed: CommitResult, startedAt: number, readAt: number): ImportSummary {
  for (const s of summaries) {
    if (s.kind === 'token_transfers' && s.skipped['unknown-transaction'] !== undefined) {
      const still = Math.min(s.skipped['unknown-transaction'], committed.tokensPending)
      if (still === 0) delete s.skipped['unknown-transaction']
      else s.skipped['unknown-transaction'] = still
    }
  }
  return {
    importId,
    files: summaries,
    rows: summaries.reduce((sum, s) => sum + s.rows, 0),
    transfersCounted: summaries.reduce((sum, s) => sum + s.transfers, 0),
    transfersAdded: committed.transfersAfter - committed.transfersBefore,
    addresses: committed.addresses,
    changed: committed.changed,
    tokensResolved: committed.tokensResolved,
    tokensPending: committed.tokensPending,
    tokensAmbiguous: committed.tokensAmbiguous,
    invalid,
    seconds: (Date.now() - startedAt) / 1000,
    readSeconds: (readAt - startedAt) / 1000,
    ...(committed.steps ? { commitSteps: committed.steps } : {}),
  }
}

export async function commitImport(store: GraphStore, importId: string, options: Pick<ImportOptions, 'onProgress' | 'signal' | 'onWait'> & Pick<CommitOptions, 'prepare'>, transfers: number): Promise<CommitResult> {
  try {
    return await store.commit(importId, {
      onProgress: (p) => options.onProgress?.({ phase: p.phase, done: p.done, total: p.total, transfers }),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onWait ? { onWait: options.onWait } : {}),
      ...(options.prepare ? { prepare: options.prepare } : {}),
    })
  } catch (error) {
    // Before the commit point nothing reached the store: an interrupted import is dropped, so a
    // Ctrl-C leaves nothing behind; a refused one (memory) stays staged for --resume.
    if (isExposureError(error, 'INTERRUPTED') || isExposureError(error, 'FAILED_OVER')) await store.abort(importId).catch(() => undefined)
    throw error
  }
}

/**
 * Commits (`resume`) or drops (`abort`) a staged import that was interrupted before its commit
 * point. Without an id: the only such import, if there is exactly one.
 */
export async function finishStagedImport(store: GraphStore, action: 'resume' | 'abort', importId: string | undefined, options: Pick<ImportOptions, 'onProgress' | 'signal' | 'onWait'> = {}): Promise<{ importId: string; result: CommitResult | null }> {
  const candidates = (await store.imports.list()).filter((i) => i.kind === 'etl' && i.state !== 'committing' && !i.alive)
  let chosen = importId
  if (chosen === undefined) {
    if (candidates.length === 0) throw new InputError('INVALID_ARGUMENT', `no interrupted import in store ${store.keys.prefix}`, { field: action })
    if (candidates.length > 1) throw new InputError('INVALID_ARGUMENT', `${candidates.length} interrupted imports in store ${store.keys.prefix} (${candidates.map((c) => c.id).join(', ')}): name one`, { field: action })
    chosen = candidates[0]!.id
  } else if (!candidates.some((c) => c.id === chosen)) {
    throw new InputError('INVALID_ARGUMENT', `no interrupted import ${chosen} in store ${store.keys.prefix}${candidates.length > 0 ? ` (there is ${candidates.map((c) => c.id).join(', ')})` : ''}`, { field: action, value: chosen })
  }
  if (action === 'abort') {
    await store.abort(chosen)
    return { importId: chosen, result: null }
  }
  const info = candidates.find((c) => c.id === chosen)!
  if (info.state === 'staging') throw new InputError('INVALID_ARGUMENT', `import ${chosen} was interrupted while reading its files: it cannot be resumed; '--abort ${chosen}' drops it, then run the import again`, { field: 'resume', value: chosen })
  // Take the import over: it is ours now.
  await store.beginImport(chosen, 'etl', info.detail)
  return { importId: chosen, result: await commitImport(store, chosen, options, 0) }
}

export function describeFiles(files: readonly string[]): string {
  const names = files.map((f) => basename(f))
  return names.length <= 4 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`
}
