import { randomBytes } from 'node:crypto'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { InputError } from '../errors.ts'
import type { GraphStore } from '../store/graph-store.ts'
import { ETH, type Address, type Asset, type Transfer } from '../types.ts'
import { etlKindOf, readEtlFile, type EtlKind, type SkipReason } from './etl.ts'
import { TxIndexTable } from './tx-index-table.ts'

export interface FileSummary {
  file: string
  kind: EtlKind
  rows: number
  transfers: number
  skipped: Partial<Record<SkipReason, number>>
}

export interface ImportSummary {
  files: FileSummary[]
  rows: number
  /** Rows that became transfers under the counting rules. */
  transfersCounted: number
  /** Transfers the store did not hold before (a re-import adds none). */
  transfersAdded: number
  addresses: number
  /** The first malformed rows, when `skipInvalid` (the count is in skipped.invalid). */
  invalid: InputError[]
  seconds: number
}

export interface ImportProgress {
  phase: 'read' | 'commit'
  file?: string
  done: number
  total: number
  transfers: number
}

export interface ImportOptions {
  listedTokens: readonly Address[]
  skipInvalid?: boolean
  onProgress?: (progress: ImportProgress) => void
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
  const listed = new Set<string>(options.listedTokens)
  const assetIds = await store.internAssets([ETH, ...options.listedTokens] as Asset[])
  const importId = randomBytes(6).toString('hex')
  const txIndexByHash = new TxIndexTable()
  const receiptStatus = new Map<string, string>()
  const blockTimes = new Map<number, number>()
  const invalid: InputError[] = []
  const summaries: FileSummary[] = []
  const totalBytes = files.reduce((sum, f) => sum + f.size, 0)
  let bytesBefore = 0
  let transfersCounted = 0
  // One batch is staged while the next is parsed: Redis and the parser work on different cores.
  let staging: Promise<void> = Promise.resolve()
  try {
    for (const { file, kind, size } of files) {
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
        onBytes: (bytes) => options.onProgress?.({ phase: 'read', file, done: bytesBefore + bytes, total: totalBytes, transfers: transfersCounted }),
      })
      for await (const batch of reader) {
        const transfers: Transfer[] = []
        for (const result of batch) {
          summary.rows++
          if (result.receipt) receiptStatus.set(result.receipt.hash, result.receipt.status)
          if (result.txIndex) {
            txIndexByHash.set(result.txIndex.hash, result.txIndex.index)
            if (result.txIndex.timestamp !== undefined) blockTimes.set(result.txIndex.block, result.txIndex.timestamp)
          }
          if (result.transfer) transfers.push(result.transfer)
          else if (result.skip) summary.skipped[result.skip] = (summary.skipped[result.skip] ?? 0) + 1
        }
        summary.transfers += transfers.length
        transfersCounted += transfers.length
        await staging
        staging = store.stage(importId, transfers, assetIds)
      }
      bytesBefore += size
    }
    await staging
  } catch (error) {
    await staging.catch(() => undefined)
    await store.abort(importId)
    throw error
  }
  const committed = await store.commit(importId, (p) => options.onProgress?.({ phase: 'commit', done: p.addressesDone, total: p.addressesTotal, transfers: transfersCounted }))
  if (blockTimes.size > 0) await store.putBlockTimes(blockTimes)
  return {
    files: summaries,
    rows: summaries.reduce((sum, s) => sum + s.rows, 0),
    transfersCounted,
    transfersAdded: committed.transfersAfter - committed.transfersBefore,
    addresses: committed.addresses,
    invalid,
    seconds: (Date.now() - startedAt) / 1000,
  }
}
