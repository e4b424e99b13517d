/**
 * Imports commit exactly once. An import (an etl import, a synced block range, a lazily fetched
 * history, a reorg's rollback) writes the graph in four steps:
 *
 *   1. staging     records go to the import's own staging keys (Q:stage:<id>:p:<q> by owner,
 *                  B:stage:<id>:b by block, P:stage:<id>:x: keys.ts); the graph is untouched.
 *                  The import is registered in P:imports with its holder (holder.ts).
 *   2. prepare     under the store's writer lock (P:lock:write): block partition by block
 *                  partition, token transfers are joined to their transactions and the per-block
 *                  tx maps, waiting token transfers and block times that change are journaled;
 *                  then every node the import touches is merged and the result written to the
 *                  import's journal (Q:journal:<id>:…), with the exact amounts it adds. Still
 *                  nothing in the graph has changed.
 *   3. commit point  one MULTI marks the import `committing` with the counters' target values and
 *                  bumps the store's version.
 *   4. apply       each journal part is applied by one script (apply-journal.lua: absolute values,
 *                  so applying a part twice gives the same store), then one MULTI sets the
 *                  counters and drops the import's keys.
 *
 * Interrupted anywhere (SIGINT, SIGKILL, OOM, Redis restarted with its data), the store holds none
 * or all of the import: before the commit point nothing reached the graph; after it, the next
 * command that opens the store finishes the apply (recover()). An import whose holder died while
 * staging is discarded; one that was fully staged waits for `exposure import --resume|--abort`.
 * Before step 2 writes anything the commit checks that it fits under Redis' maxmemory.
 */
import type { Redis } from 'ioredis'
import { BaseError } from '../errors.ts'
import type { Address } from '../types.ts'
import { describeHolder, isHolderAlive, parseHolder, type Holder } from './holder.ts'
import { readBlockFields, readBlockTimes } from './block-times.ts'
import { STORE_FORMAT, type StoreKeys } from './keys.ts'
import { acquireLock, inspectLock, type LockHandle } from './locks.ts'
import { failpoint } from '../failpoints.ts'
import { bulkLimit, checkHeadroom, formatBytes } from './memory.ts'
import { IN_SIZE, OUT_SIZE, countAfterAdding, joinNode, mergeIntoSorted, splitNode } from './records.ts'
import { clusterEpoch, failedOver, replicate } from './durability.ts'
import { callScript } from './scripts.ts'
import { bySlot, isCluster, unlinkKeys } from './redis.ts'
import { PENDING_TOKEN, TX_ENTRY, decodePendingToken, lookupTx, mergePendingTokens, mergeTxEntries, type PendingToken } from './tx-index.ts'

/** Staging partitions per import (by the address's first byte): the store's partitions (partitions.ts). */
export { PARTITIONS, partitionOfHex } from './partitions.ts'
import { BLOCK_BUCKET_BITS, PARTITIONS } from './partitions.ts'
/** Addresses merged per journal part. */
const CHUNK = 1_000
/** Bytes of node strings per journal part, at most: a part is written by one HSET. */
const PART_BYTES = 64 * 1024 * 1024
/** Nodes of at least this many bytes are journal parts of their own, moved into place by RENAME. */
const VALUE_PART_BYTES = 64 * 1024
/** Partitions prepared at once by a commit. */
const PREPARE_CONCURRENCY = 2
/** Journal parts applied at once (see applyJournal). */
const APPLY_CONCURRENCY = 4
export const ENTRY_OUT = 0
export const ENTRY_IN = 1
/** Extra staged entries (per-block ones in B:stage:<id>:b, amounts in P:stage:<id>:x): type u8, length u16, payload. */
export const EXTRA_TX = 1
export const EXTRA_TOKEN = 2
export const EXTRA_BLOCK_TIME = 3
export const EXTRA_AMOUNT = 4

export type ImportKind = 'etl' | 'rpc' | 'lazy' | 'rollback'
export type ImportState = 'staging' | 'staged' | 'committing'

export interface ImportInfo {
  id: string
  kind: ImportKind
  state: ImportState
  detail: string
  holder: Holder | null
  alive: boolean
  created: number
  /** Bytes of staging and journal keys the import holds in Redis. */
  bytes: number
}

export interface CommitProgress {
  phase: 'prepare' | 'apply'
  done: number
  total: number
}

export interface CommitOptions {
  onProgress?: (progress: CommitProgress) => void
  /** Called once when the writer lock is held by another live process and the commit waits. */
  onWait?: (holder: Holder) => void
  /** Stops the commit before its commit point (after it, the apply always finishes). */
  signal?: AbortSignal
  /**
   * Prepares the partitions elsewhere (etl-ingest.ts: prepare jobs that ingest workers on any host
   * run, each calling `prepareForAttempt`) instead of in this process. Called once, under the
   * writer lock, with the attempt those jobs must name; answers every partition's result.
   */
  prepare?: (attempt: string) => Promise<readonly PreparedPartition[]>
}

/** What preparing one partition of a commit decided (its journal parts are written and listed). */
export interface PreparedPartition {
  partition: number
  /** Nodes changed. */
  changed: number
  /** Transfers added. */
  transfers: number
  /** Nodes created. */
  addresses: number
}

/** A partition prepared, with its changed nodes' addresses (40 hex digits each, concatenated in the order they were prepared). */
type PreparedWithTouched = PreparedPartition & { touched: string }

export interface CommitResult {
  /** Distinct addresses whose nodes changed. */
  addresses: number
  transfersBefore: number
  transfersAfter: number
  /** False when the import changed nothing (a re-import): the store's version stays. */
  changed: boolean
  /** Token transfers turned into transfers by this commit (their transaction arrived now or earlier). */
  tokensResolved: number
  /** Token transfers left waiting for their transactions. */
  tokensPending: number
  /** Token transfers whose transaction hash prefix is ambiguous in its block (never guessed). */
  tokensAmbiguous: number
  /**
   * Seconds in each step of the commit (once the writer lock was held): joining token transfers
   * to their transactions, checking memory headroom, preparing the journal (here or in prepare
   * jobs), the commit point and applying the journal.
   */
  steps?: { join: number; headroom: number; prepare: number; apply: number }
}

/** What a commit turns resolved token transfers into (graph-store.ts stages them). */
export type StageResolved = (importId: string, tokens: readonly (PendingToken & { blockNumber: number; transactionIndex: number })[]) => Promise<void>

export function createImports(redis: Redis, keys: StoreKeys, holder: () => Promise<Holder>, stageResolved: StageResolved) {
  /** Imports this process registered, with the timer that keeps their holder's heartbeat fresh. */
  const registered = new Map<string, NodeJS.Timeout | undefined>()

  /**
   * Registers an import (once): its record and its place in P:imports. While this process holds
   * it, the record's heartbeat is refreshed every few seconds: where neither the process nor the
   * connection can be checked (another host, CLIENT disabled), a stale heartbeat is what tells
   * that the holder died.
   */
  async function register(importId: string, kind: ImportKind, detail: string): Promise<void> {
    if (registered.has(importId)) return
    const self = await holder()
    const created = Date.now()
    const write = redis.multi()
    write.hsetnx(keys.importRecord(importId), 'state', 'staging')
    write.hset(keys.importRecord(importId), { kind, detail, holder: JSON.stringify(self), created: String(created) })
    // The cluster's epoch as staging began: a failover after it may have cut the staging (durability.ts).
    const epoch = await clusterEpoch(redis)
    if (epoch !== null) write.hsetnx(keys.importRecord(importId), 'epoch', epoch)
    write.zadd(keys.imports, 'NX', created, importId)
    // On a cluster, every partition's copy of "this import is live": a cluster's staging script
    // sees only its own slot (append-many.lua; one server guards with the record itself, and
    // writes none of them: 256 more queued commands would not fit the headroom a resumed commit
    // is checked with). Queued after the record: on a cluster this MULTI runs per slot in that
    // order, and a partition whose marker an interruption left out refuses staging (the import
    // then fails as dropped), never the reverse.
    for (const key of liveKeys(importId)) write.set(key, '1')
    await execChecked(write)
    const beat = setInterval(() => {
      self.heartbeat = Date.now()
      // Only while the record exists (HSET on a finished import would bring a stray key back).
      redis.eval("if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'holder', ARGV[1]) end return 1", 1, keys.importRecord(importId), JSON.stringify(self)).catch(() => undefined)
    }, 5_000)
    beat.unref()
    registered.set(importId, beat)
  }

  /**
   * Stages into an import another process registered and holds (an ingest job's worker): this
   * process writes staging only, never the import's record or holder.
   */
  function adopt(importId: string): void {
    if (!registered.has(importId)) registered.set(importId, undefined)
  }

  function unregister(importId: string): void {
    clearInterval(registered.get(importId))
    registered.delete(importId)
  }

  async function setState(importId: string, state: ImportState): Promise<void> {
    await redis.hset(keys.importRecord(importId), 'state', state)
  }

  /** Every key an import may hold (its live markers first: deleting them stops further staging). */
  function importKeys(importId: string): string[] {
    return [...partitionKeys(importId), ...globalKeys(importId)]
  }

  /** An import's keys under the partition tags: live markers (a cluster's only), commit attempt markers, staging, prepare jobs' touched lists. */
  function partitionKeys(importId: string): string[] {
    return [
      ...liveKeys(importId),
      ...attemptKeys(importId),
      ...Array.from({ length: PARTITIONS }, (_, p) => keys.stagePartition(importId, p)),
      ...Array.from({ length: PARTITIONS }, (_, p) => keys.stageBlocks(importId, p)),
      ...Array.from({ length: PARTITIONS }, (_, p) => keys.importTouched(importId, p)),
    ]
  }

  function attemptKeys(importId: string): string[] {
    return Array.from({ length: PARTITIONS }, (_, p) => keys.importAttempt(importId, p))
  }

  /** An import's keys under the prefix's tag (its record apart). */
  function globalKeys(importId: string): string[] {
    return [keys.stageExtra(importId), keys.journal(importId, 'parts')]
  }

  function liveKeys(importId: string): string[] {
    return isCluster(redis) ? Array.from({ length: PARTITIONS }, (_, p) => keys.importLive(importId, p)) : []
  }

  /** UNLINK commands for `list`, one per slot on a cluster (a multi-key command keeps to one slot). */
  function unlinkEach(write: { unlink(...keys: string[]): unknown }, list: readonly string[]): void {
    for (const group of bySlot(redis, list)) write.unlink(...group)
  }

  async function dropJournal(importId: string): Promise<void> {
    const parts = await redis.lrange(keys.journal(importId, 'parts'), 0, -1)
    await unlinkKeys(redis, parts)
    await redis.unlink(keys.journal(importId, 'parts'))
  }

  /** Drops an import that did not reach its commit point: its staging, journal and record. */
  async function drop(importId: string): Promise<void> {
    const state = await redis.hget(keys.importRecord(importId), 'state')
    if (state === 'committing') throw new BaseError('INTERNAL', `import ${importId} is past its commit point: it can only be finished, not dropped`, { value: importId })
    // First: prepare jobs still running elsewhere write no part after this.
    await disarmAttempt(importId)
    await dropJournal(importId)
    // Not a MULTI: Redis refuses a whole transaction when it is out of memory, even one that only
    // deletes, and dropping is what frees it. Interrupted halfway, recover() drops the rest.
    const drop = redis.pipeline()
    unlinkEach(drop, importKeys(importId))
    drop.unlink(keys.importRecord(importId))
    drop.zrem(keys.imports, importId)
    for (const [error] of (await drop.exec()) ?? []) if (error) throw error
    unregister(importId)
  }

  async function list(): Promise<ImportInfo[]> {
    const ids = await redis.zrange(keys.imports, 0, -1)
    const out: ImportInfo[] = []
    for (const id of ids) {
      const record = await redis.hgetall(keys.importRecord(id))
      if (record.state === undefined) {
        await redis.zrem(keys.imports, id)
        continue
      }
      const h = parseHolder(record.holder)
      const sizes = redis.pipeline()
      for (const key of importKeys(id)) if (!liveKeys(id).includes(key)) sizes.strlen(key)
      const parts = await redis.lrange(keys.journal(id, 'parts'), 0, -1)
      for (const part of parts) sizes.memory('USAGE', part)
      const replies = (await sizes.exec()) ?? []
      const bytes = replies.reduce((sum, [error, value]) => sum + (error ? 0 : Number(value ?? 0)), 0)
      out.push({
        id,
        kind: (record.kind ?? 'etl') as ImportKind,
        state: record.state as ImportState,
        detail: record.detail ?? '',
        holder: h,
        alive: h !== null && (await isHolderAlive(redis, h)),
        created: Number(record.created ?? 0),
        bytes,
      })
    }
    return out
  }

  /** Reads extra staged entries (type u8, length u16, payload): per-block ones, or the import's amounts. */
  function parseExtras(raw: Buffer) {
    const txByBlock = new Map<number, Buffer[]>()
    const tokensByBlock = new Map<number, Buffer[]>()
    const blockTimes = new Map<number, string>()
    const amounts = new Map<string, string>()
    for (let at = 0; at + 3 <= raw.length; ) {
      const type = raw[at]!
      const length = raw.readUInt16BE(at + 1)
      const payload = raw.subarray(at + 3, at + 3 + length)
      at += 3 + length
      if (type === EXTRA_TX) push(txByBlock, payload.readUInt32BE(0), payload.subarray(4, 4 + TX_ENTRY))
      else if (type === EXTRA_TOKEN) push(tokensByBlock, payload.readUInt32BE(0), payload.subarray(4, 4 + PENDING_TOKEN))
      else if (type === EXTRA_BLOCK_TIME) blockTimes.set(payload.readUInt32BE(0), payload.readBigUInt64BE(4).toString())
      else if (type === EXTRA_AMOUNT) {
        const text = payload.toString('utf8')
        const eq = text.indexOf('=')
        amounts.set(text.slice(0, eq), text.slice(eq + 1))
      }
    }
    return { txByBlock, tokensByBlock, blockTimes, amounts }
  }

  /**
   * The per-block part of the commit, one block partition at a time (so a commit holds one
   * partition's blocks in memory, not the import's): token transfers joined to their transactions
   * (resolveTokens), and the tx maps, waiting lists and block times that change written to journal
   * parts `<q>.x<k>` under the partition's tag. Answers the journal fields written and the join's counts.
   */
  async function joinBlocks(importId: string): Promise<{ fields: number; resolved: number; pending: number; ambiguous: number }> {
    const out = { fields: 0, resolved: 0, pending: 0, ambiguous: 0 }
    // Which partitions hold any (a synced block's commit stages into one or two): one pipeline.
    const sizes = redis.pipeline()
    for (let q = 0; q < PARTITIONS; q++) sizes.strlen(keys.stageBlocks(importId, q))
    const staged = ((await sizes.exec()) ?? []).map(([error, size]) => {
      if (error) throw error
      return Number(size) > 0
    })
    for (let q = 0; q < PARTITIONS; q++) {
      if (!staged[q]) continue
      const raw = await redis.getBuffer(keys.stageBlocks(importId, q))
      if (raw === null || raw.length === 0) continue
      const extras = parseExtras(raw)
      const tokens = await resolveTokens(importId, extras)
      out.resolved += tokens.resolved
      out.pending += tokens.pending
      out.ambiguous += tokens.ambiguous
      const fields: (string | Buffer)[] = []
      for (const [field, value] of tokens.journal) fields.push(field, value)
      if (extras.blockTimes.size > 0) {
        const stored = await readBlockTimes(redis, keys, extras.blockTimes.keys())
        for (const [block, ts] of extras.blockTimes) if (String(stored.get(block)) !== ts) fields.push(`b${block}`, ts)
      }
      for (let i = 0; i < fields.length; i += 2_000) await writeJournalPart(importId, `${q}.x${i}`, fields.slice(i, i + 2_000))
      out.fields += fields.length / 2
    }
    return out
  }

  /**
   * Token transfers: this import's unresolved ones against its own and the stored tx maps, and the
   * stored waiting ones of every block this import brings transactions for. Resolved ones are
   * staged as transfers; the journal entries (tx maps, waiting lists) are returned.
   */
  async function resolveTokens(importId: string, extras: ReturnType<typeof parseExtras>) {
    const journal = new Map<string, Buffer | string>()
    const blocks = [...new Set([...extras.txByBlock.keys(), ...extras.tokensByBlock.keys()])]
    const storedMaps = await readBlockFields(redis, keys.txIndex, blocks)
    const storedPending = await readBlockFields(redis, keys.pendingTokens, extras.txByBlock.keys())
    const resolved: (PendingToken & { blockNumber: number; transactionIndex: number })[] = []
    let pending = 0
    let ambiguous = 0
    for (const block of blocks) {
      const added = extras.txByBlock.get(block)
      const stored = storedMaps.get(block)
      const map = added ? mergeTxEntries(stored ? [stored, ...added] : added) : (stored ?? Buffer.alloc(0))
      if (added && (stored === undefined || !map.equals(stored))) journal.set(`t${block}`, map)
      const waiting = [...(extras.tokensByBlock.get(block) ?? [])]
      const storedWaiting = storedPending.get(block)
      if (storedWaiting) waiting.push(storedWaiting)
      if (waiting.length === 0) continue
      const records = mergePendingTokens(waiting)
      const still: Buffer[] = []
      for (let o = 0; o < records.length; o += PENDING_TOKEN) {
        const record = records.subarray(o, o + PENDING_TOKEN)
        const token = decodePendingToken(record)
        const index = lookupTx(map, token.txHash)
        if (typeof index === 'number') resolved.push({ ...token, blockNumber: block, transactionIndex: index })
        else if (index === 'ambiguous') ambiguous++
        else still.push(record)
      }
      pending += still.length
      const left = Buffer.concat(still)
      if (storedWaiting === undefined ? left.length > 0 : !left.equals(storedWaiting)) journal.set(`p${block}`, left.length === 0 ? '' : left)
    }
    if (resolved.length > 0) await stageResolved(importId, resolved)
    return { journal, resolved: resolved.length, pending, ambiguous }
  }

  /** Bytes the journal will need at most: the touched nodes as they are, plus the staged records. */
  async function journalEstimate(importId: string): Promise<{ bytes: number; addresses: number }> {
    let bytes = 0
    let addresses = 0
    for (let p = 0; p < PARTITIONS; p++) {
      const staged = await redis.getBuffer(keys.stagePartition(importId, p))
      if (staged === null) continue
      const owners = new Set<string>()
      for (let at = 0; at < staged.length; ) {
        const size = staged[at] === ENTRY_OUT ? OUT_SIZE : IN_SIZE
        owners.add(staged.toString('hex', at + 1, at + 21))
        bytes += size
        at += 21 + size
      }
      const list = [...owners]
      for (let i = 0; i < list.length; i += CHUNK) {
        const pipeline = redis.pipeline()
        for (const hex of list.slice(i, i + CHUNK)) pipeline.strlen(keys.node(`0x${hex}` as Address))
        for (const [error, value] of (await pipeline.exec()) ?? []) if (!error) bytes += Number(value ?? 0)
      }
      // A journal entry costs its field (41 bytes) and a hash entry's overhead (~40 bytes).
      bytes += list.length * 96
      addresses += list.length
    }
    return { bytes, addresses }
  }

  /**
   * Merges staged partition `p` into journal parts; answers the changed nodes and counter deltas.
   * With `attempt` (a prepare job on an ingest worker), each part is written only while that
   * attempt is the partition's current one (writeJournalPart).
   */
  async function preparePartition(importId: string, p: number, attempt?: string): Promise<PreparedWithTouched> {
    const staged = await redis.getBuffer(keys.stagePartition(importId, p))
    if (staged === null) return { partition: p, changed: 0, transfers: 0, addresses: 0, touched: '' }
    // Each owner's staged records, as offsets into `staged` (millions of records: no Buffer each).
    const byOwner = new Map<string, { outs: number[]; ins: number[] }>()
    for (let at = 0; at < staged.length; ) {
      const isOut = staged[at] === ENTRY_OUT
      const size = isOut ? OUT_SIZE : IN_SIZE
      const owner = staged.toString('latin1', at + 1, at + 21)
      let lists = byOwner.get(owner)
      if (!lists) byOwner.set(owner, (lists = { outs: [], ins: [] }))
      ;(isOut ? lists.outs : lists.ins).push(at + 21)
      at += 21 + size
    }
    /** An owner's staged records of one list, copied out of `staged`. */
    const gather = (offsets: readonly number[], size: number): Buffer => {
      const out = Buffer.allocUnsafe(offsets.length * size)
      let at = 0
      for (const offset of offsets) at += staged.copy(out, at, offset, offset + size)
      return out
    }
    const owners = [...byOwner.keys()]
    const limit = await currentBulkLimit()
    let changed = 0
    let transfers = 0
    let addresses = 0
    const changedHexes: string[] = []
    let k = 0
    let fields: (string | Buffer)[] = []
    let bytes = 0
    const flush = async () => {
      if (fields.length === 0) return
      await writeJournalPart(importId, attempt === undefined ? `${p}.${k}` : `${p}.${k}.${attempt}`, fields, attempt === undefined ? undefined : { attempt, partition: p })
      k++
      fields = []
      bytes = 0
    }
    for (let start = 0; start < owners.length; start += CHUNK) {
      const chunk = owners.slice(start, start + CHUNK)
      const hexes = chunk.map((owner) => Buffer.from(owner, 'latin1').toString('hex'))
      const nodes = await redis.mgetBuffer(...hexes.map((hex) => keys.node(`0x${hex}` as Address)))
      for (let index = 0; index < hexes.length; index++) {
        const hex = hexes[index]!
        const old = nodes[index] ?? null
        const before = splitNode(old)
        const lists = byOwner.get(chunk[index]!)!
        const addedOut = gather(lists.outs, OUT_SIZE)
        const addedIn = gather(lists.ins, IN_SIZE)
        const out = mergeIntoSorted(before.out, addedOut, OUT_SIZE)
        const inn = mergeIntoSorted(before.in, addedIn, IN_SIZE)
        if (old !== null && out.length === before.out.length && inn.length === before.in.length) continue // nothing new
        const self = `0x${hex}` as Address
        const node = joinNode(self, out, inn, old === null ? undefined : countAfterAdding(self, before.counterparties, before.out, before.in, addedOut, addedIn))
        if (node === null) continue
        if (node.length > limit) throw nodeTooLarge(importId, hex, node.length, out.length / OUT_SIZE, inn.length / IN_SIZE, limit)
        if (node.length >= VALUE_PART_BYTES) {
          // A large node (a hub's) gets a journal part of its own, which the apply RENAMEs into
          // place: copying it inside a script would hold Redis for as long (0.4 s for 130 MB).
          const name = attempt === undefined ? `${p}.v${hex}` : `${p}.v${hex}.${attempt}`
          const value = await writeJournalValue(importId, name, node, attempt === undefined ? undefined : { attempt, partition: p })
          fields.push(`v${hex}`, value)
        } else {
          // A part is one HSET: a few hubs' nodes must not make it larger than Redis takes in one request.
          if (bytes + node.length > PART_BYTES) await flush()
          fields.push(`n${hex}`, node)
          bytes += node.length
        }
        changedHexes.push(hex)
        changed++
        transfers += (out.length - before.out.length) / OUT_SIZE
        if (old === null) addresses++
      }
      await flush()
    }
    return { partition: p, changed, transfers, addresses, touched: changedHexes.join('') }
  }

  /**
   * A prepare job's work (an ingest worker, any host): prepares `partitions` of import `importId`
   * for the committing command's attempt `attempt`. Throws IMPORT_GONE when that attempt has
   * ended (the command finished preparing without this job, failed, or dropped the import): what
   * this job would write is refused then, part by part (write-part.lua), so stopping is all it
   * can usefully do. The changed nodes' addresses go to the partition's touched key (binary,
   * guarded the same way), not into the answer: a job's answer also lands in BullMQ's event
   * stream, where megabytes of addresses would stay until it is trimmed.
   */
  async function prepareForAttempt(importId: string, attempt: string, partitions: readonly number[]): Promise<PreparedPartition[]> {
    const out: PreparedPartition[] = []
    for (const p of partitions) {
      if ((await redis.get(keys.importAttempt(importId, p))) !== attempt) throw attemptEnded(importId, attempt)
      const { touched, ...counts } = await preparePartition(importId, p, attempt)
      if (Number(await callScript(redis, 'write-part', [keys.importAttempt(importId, p), keys.importTouched(importId, p)], [attempt, 'string', Buffer.from(touched, 'hex')])) !== 1) throw attemptEnded(importId, attempt)
      out.push(counts)
    }
    return out
  }

  /** Redis' cap on one value, read again after a while (an operator raises it, then resumes). */
  let bulk: { at: number; limit: Promise<number> } | undefined
  function currentBulkLimit(): Promise<number> {
    if (bulk === undefined || Date.now() - bulk.at > 10_000) bulk = { at: Date.now(), limit: bulkLimit(redis) }
    const { limit } = bulk
    limit.catch(() => (bulk = undefined))
    return limit
  }

  /**
   * One node string is one Redis value, which Redis caps at proto-max-bulk-len (512 MB by default:
   * about 15 million incoming transfers). Refused before the commit point, so the import stays
   * staged for --resume once the limit is raised.
   */
  function nodeTooLarge(importId: string, hex: string, bytes: number, outgoing: number, incoming: number, limit: number): BaseError {
    return new BaseError(
      'STORE_FULL',
      `the node of 0x${hex} would take ${formatBytes(bytes)} (${outgoing} outgoing and ${incoming} incoming transfers), more than one Redis value may hold (proto-max-bulk-len ${formatBytes(limit)}): nothing of import ${importId} reached the store; raise proto-max-bulk-len (CONFIG SET proto-max-bulk-len, on every master) and run 'exposure import --resume ${importId}'`,
      { field: 'proto-max-bulk-len', value: `0x${hex}`, needed: bytes },
    )
  }

  function attemptEnded(importId: string, attempt: string): BaseError {
    return new BaseError('IMPORT_GONE', `commit attempt ${attempt} of import ${importId} has ended: its prepare job stops`, { value: importId })
  }

  /** Opens a commit attempt whose prepare jobs may write: the record's field and every partition's marker. */
  async function armAttempt(importId: string, attempt: string): Promise<void> {
    const arm = redis.multi()
    for (let p = 0; p < PARTITIONS; p++) arm.set(keys.importAttempt(importId, p), attempt)
    // Last: on a cluster this MULTI runs one slot after another, and a job reads the record first.
    arm.hset(keys.importRecord(importId), 'prepareAttempt', attempt)
    await execChecked(arm)
  }

  /**
   * Ends a commit attempt: from here on its prepare jobs list and write nothing. A pipeline, not
   * a MULTI (drop() calls it, and Redis refuses a whole transaction when it is out of memory).
   */
  async function disarmAttempt(importId: string): Promise<void> {
    const disarm = redis.pipeline()
    disarm.hdel(keys.importRecord(importId), 'prepareAttempt')
    unlinkEach(disarm, attemptKeys(importId))
    for (const [error] of (await disarm.exec()) ?? []) if (error) throw error
  }

  /**
   * Writes one journal part (field, value pairs; '' deletes) and lists it; answers its key. With
   * `guard` (a prepare job's part), listing and writing are each refused once the attempt has
   * ended, and the job stops (IMPORT_GONE).
   */
  async function writeJournalPart(importId: string, name: string, fields: readonly (string | Buffer)[], guard?: { attempt: string; partition: number }): Promise<string> {
    return writePart(importId, name, { fields }, guard)
  }

  /**
   * Writes a journal part that is one node string (a large node's new value, which the apply moves
   * into place by RENAME: see preparePartition) and lists it, as writeJournalPart does.
   */
  async function writeJournalValue(importId: string, name: string, value: Buffer, guard?: { attempt: string; partition: number }): Promise<string> {
    return writePart(importId, name, { value }, guard)
  }

  async function writePart(importId: string, name: string, content: { fields: readonly (string | Buffer)[] } | { value: Buffer }, guard?: { attempt: string; partition: number }): Promise<string> {
    const part = keys.journal(importId, name)
    if (guard !== undefined) {
      // Listed first, for the reason below.
      if (Number(await callScript(redis, 'list-part', [keys.importRecord(importId), keys.journal(importId, 'parts')], [guard.attempt, part])) !== 1) throw attemptEnded(importId, guard.attempt)
      const args = 'fields' in content ? ['hash', ...content.fields] : ['string', content.value]
      if (Number(await callScript(redis, 'write-part', [keys.importAttempt(importId, guard.partition), part], [guard.attempt, ...args])) !== 1) throw attemptEnded(importId, guard.attempt)
      return part
    }
    const write = redis.multi()
    // Listed first: on a cluster the part (its partition's slot) and the list (the prefix's) are
    // written one after the other, and a part listed but never written is harmless (applying it
    // finds an empty hash), while a part written but unlisted would never be dropped.
    write.rpush(keys.journal(importId, 'parts'), part)
    if ('fields' in content) write.hset(part, ...content.fields)
    else write.set(part, content.value)
    await execChecked(write)
    return part
  }

  /**
   * The commit point and the apply (steps 3 and 4): one MULTI marks the import committing with its
   * counters' targets and bumps the store's version; then the journal is applied and the import's
   * keys dropped. The caller holds the writer lock and wrote the whole journal.
   */
  /**
   * `touched`: the addresses whose nodes the commit changes, recorded as the change log of the new
   * version (P:changes:<version>): incremental walks re-expand them. `shrinks`: the commit removes
   * transfers (a rollback), which no incremental walk follows.
   */
  async function commitPoint(importId: string, delta: { transferDelta: number; addressDelta: number; changed: boolean; touched: readonly string[]; shrinks: boolean }, onProgress?: (p: CommitProgress) => void): Promise<void> {
    const meta = await redis.hmget(keys.meta, 'transfers', 'addresses', 'version')
    const point = redis.multi()
    point.hset(keys.importRecord(importId), {
      state: 'committing',
      changed: delta.changed ? '1' : '0',
      targetTransfers: String(Number(meta[0] ?? 0) + delta.transferDelta),
      targetAddresses: String(Number(meta[1] ?? 0) + delta.addressDelta),
    })
    if (delta.changed) {
      const version = Number(meta[2] ?? 0) + 1
      point.hset(keys.meta, { version: String(version), lastImport: new Date().toISOString() })
      point.set(keys.changes(version), Buffer.from(delta.touched.join(''), 'hex'))
      if (delta.shrinks) point.sadd(keys.shrinkingVersions, String(version))
      point.hsetnx(keys.meta, 'storeId', randomId())
      point.hsetnx(keys.meta, 'format', String(STORE_FORMAT))
    }
    // On a cluster: the journal must survive a failover before the commit point names it, and the
    // staging it came from must not have been cut by one (durability.ts).
    await replicate(redis, keys.durabilityKeys)
    const epoch = await redis.hget(keys.importRecord(importId), 'epoch')
    if (await failedOver(redis, epoch)) {
      throw new BaseError('FAILED_OVER', `a Redis master failed over while import ${importId} was being staged: writes of its staging may be lost, so nothing of it was committed; run the import again`, { value: importId })
    }
    await execChecked(point)
    await replicate(redis, keys.durabilityKeys)
    failpoint('commit:point')
    await finishCommitted(importId, onProgress)
  }

  async function applyJournal(importId: string, onProgress?: (p: CommitProgress) => void): Promise<void> {
    const parts = await redis.lrange(keys.journal(importId, 'parts'), 0, -1)
    let done = 0
    let next = 0
    // A few parts at once: their values are absolute and no two write the same key, so any order
    // gives the same store. On a cluster the masters apply in parallel; on one server the next
    // part travels while the current one is applied.
    const applier = async () => {
      for (let i = next++; i < parts.length; i = next++) {
        await callScript(redis, 'apply-journal', [parts[i]!], [keys.prefix, 2 ** BLOCK_BUCKET_BITS, keys.partitionName])
        onProgress?.({ phase: 'apply', done: ++done, total: parts.length })
        if (done === Math.ceil(parts.length / 2)) failpoint('commit:half-applied')
      }
    }
    const settled = await Promise.allSettled(Array.from({ length: Math.min(APPLY_CONCURRENCY, parts.length) }, applier))
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
    if (failure) throw failure.reason
  }

  /** Step 4's end: counters to their targets, the import's keys gone. Idempotent. */
  async function finish(importId: string): Promise<void> {
    const record = await redis.hgetall(keys.importRecord(importId))
    const write = redis.multi()
    // On a cluster this MULTI runs one slot after another in the order queued: the partitions'
    // keys go first, the counters and the record (the prefix's slot, atomic together) last, so an
    // interruption leaves the record and finish() runs again.
    unlinkEach(write, partitionKeys(importId))
    if (record.state === 'committing' && record.changed === '1') {
      write.hset(keys.meta, { transfers: record.targetTransfers ?? '0', addresses: record.targetAddresses ?? '0' })
    }
    write.unlink(...globalKeys(importId))
    write.unlink(keys.importRecord(importId))
    write.zrem(keys.imports, importId)
    await execChecked(write)
    unregister(importId)
  }

  /** Finishes an import past its commit point (the caller holds the writer lock). */
  async function finishCommitted(importId: string, onProgress?: (p: CommitProgress) => void): Promise<void> {
    await applyJournal(importId, onProgress)
    // The applied journal must survive a failover before the journal is dropped.
    await replicate(redis, keys.durabilityKeys)
    await finish(importId)
  }

  async function lockWriter(options: CommitOptions): Promise<LockHandle> {
    return acquireLock(redis, keys.writeLock, await holder(), {
      purpose: `writing to store ${keys.prefix}`,
      ...(options.onWait || options.signal ? { wait: { ...(options.onWait ? { onWait: options.onWait } : {}), ...(options.signal ? { signal: options.signal } : {}) } } : { wait: {} }),
    })
  }

  /** Finishes the commits of dead holders that passed their commit point (the caller holds the lock). */
  async function finishDeadCommits(except: string | null, onNote?: (note: string) => void): Promise<void> {
    for (const id of await redis.zrange(keys.imports, 0, -1)) {
      if (id === except) continue
      const record = await redis.hgetall(keys.importRecord(id))
      if (record.state !== 'committing') continue
      const h = parseHolder(record.holder)
      if (h !== null && (await isHolderAlive(redis, h))) continue
      await finishCommitted(id)
      onNote?.(`finished import ${id} (${record.detail ?? record.kind}): it was interrupted after its commit point`)
    }
  }

  /**
   * Prepares every partition in this process, a few at a time: while one waits for Redis (its
   * staging, its nodes, its journal write), another merges records here. Answers in partition order.
   */
  async function prepareHere(importId: string, options: CommitOptions, lock: LockHandle): Promise<PreparedWithTouched[]> {
    let next = 0
    let done = 0
    let failed = false
    const results: PreparedWithTouched[] = new Array(PARTITIONS)
    const preparer = async () => {
      try {
        for (let p = next++; p < PARTITIONS && !failed; p = next++) {
          if (options.signal?.aborted) throw new BaseError('INTERRUPTED', `interrupted before the commit point of import ${importId}: nothing of it reached the store`, { value: importId })
          lock.assertHeld()
          results[p] = await preparePartition(importId, p)
          options.onProgress?.({ phase: 'prepare', done: ++done, total: PARTITIONS })
        }
      } catch (error) {
        failed = true
        throw error
      }
    }
    // Every preparer settled before an error goes up: a journal part written after the caller
    // dropped the journal would be left behind.
    const settled = await Promise.allSettled(Array.from({ length: PREPARE_CONCURRENCY }, preparer))
    const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
    if (failure) throw failure.reason
    return results
  }

  /**
   * Prepares every partition through `prepare` (jobs on ingest workers) under a fresh attempt.
   * The attempt ends before this returns or throws, so no job of it writes after: the parts the
   * journal lists are exactly those of the results answered here (a duplicate job's are the same
   * parts, written again with the same values). Answers in partition order, with each partition's
   * touched list as its job wrote it.
   */
  async function prepareElsewhere(importId: string, prepare: NonNullable<CommitOptions['prepare']>, lock: LockHandle): Promise<PreparedWithTouched[]> {
    const attempt = randomId()
    await armAttempt(importId, attempt)
    let answered: readonly PreparedPartition[]
    try {
      answered = await prepare(attempt)
    } finally {
      await disarmAttempt(importId)
    }
    lock.assertHeld()
    const results: PreparedPartition[] = new Array(PARTITIONS)
    for (const result of answered) {
      if (!Number.isInteger(result.partition) || result.partition < 0 || result.partition >= PARTITIONS || results[result.partition] !== undefined) {
        throw new BaseError('INTERNAL', `prepare jobs of import ${importId} answered partition ${result.partition} twice or out of range`, { value: importId })
      }
      results[result.partition] = result
    }
    const missing = results.findIndex((r) => r === undefined)
    if (answered.length !== PARTITIONS || missing !== -1) throw new BaseError('INTERNAL', `prepare jobs of import ${importId} did not answer partition ${missing}`, { value: importId })
    const touched = await Promise.all(results.map((_, p) => redis.getBuffer(keys.importTouched(importId, p))))
    return results.map((result, p) => {
      const list = touched[p]
      if (list == null && result.changed > 0) throw new BaseError('INTERNAL', `prepare job of partition ${p} of import ${importId} left no list of its changed nodes`, { value: importId })
      return { ...result, touched: list == null ? '' : list.toString('hex') }
    })
  }

  /**
   * Commits a staged import exactly once (the module comment's steps 2-4). Waits for the writer
   * lock while another live process holds it; takes it over from a dead one.
   */
  async function commit(importId: string, options: CommitOptions = {}): Promise<CommitResult> {
    const record = await redis.hgetall(keys.importRecord(importId))
    if (record.state === undefined) throw new BaseError('INTERNAL', `no import ${importId} in store ${keys.prefix} (finished or dropped already?)`, { value: importId })
    if (record.state === 'staging') await setState(importId, 'staged')
    const lock = await lockWriter(options)
    try {
      await finishDeadCommits(importId)
      const transfersBefore = Number((await redis.hget(keys.meta, 'transfers')) ?? 0)
      if ((await redis.hget(keys.importRecord(importId), 'state')) === 'committing') {
        await finishCommitted(importId, options.onProgress)
        const transfersAfter = Number((await redis.hget(keys.meta, 'transfers')) ?? 0)
        return { addresses: 0, transfersBefore, transfersAfter, changed: true, tokensResolved: 0, tokensPending: 0, tokensAmbiguous: 0 }
      }
      const lap = stopwatch()
      await dropJournal(importId)
      const tokens = await joinBlocks(importId)
      const join = lap()
      await checkHeadroom(redis, async () => (await journalEstimate(importId)).bytes, `commit of import ${importId}`)
      const headroom = lap()
      const prepared = options.prepare ? await prepareElsewhere(importId, options.prepare, lock) : await prepareHere(importId, options, lock)
      let changedNodes = 0
      let transferDelta = 0
      let addressDelta = 0
      for (const result of prepared) {
        changedNodes += result.changed
        transferDelta += result.transfers
        addressDelta += result.addresses
      }
      // In partition order, whoever prepared them.
      const touched = [prepared.map((result) => result.touched).join('')]
      // Exact amounts too large for a record: the prefix's tag (rare).
      const extraFields: (string | Buffer)[] = []
      for (const [id, amount] of parseExtras((await redis.getBuffer(keys.stageExtra(importId))) ?? Buffer.alloc(0)).amounts) extraFields.push(`a${id}`, amount)
      for (let i = 0; i < extraFields.length; i += 2_000) await writeJournalPart(importId, `x.${i}`, extraFields.slice(i, i + 2_000))
      const changed = changedNodes > 0 || extraFields.length > 0 || tokens.fields > 0
      failpoint('commit:prepared')
      if (options.signal?.aborted) throw new BaseError('INTERRUPTED', `interrupted before the commit point of import ${importId}: nothing of it reached the store`, { value: importId })
      lock.assertHeld()
      const prepare = lap()
      await commitPoint(importId, { transferDelta, addressDelta, changed, touched, shrinks: false }, options.onProgress)
      const steps = { join, headroom, prepare, apply: lap() }
      return { addresses: changedNodes, transfersBefore, transfersAfter: transfersBefore + transferDelta, changed, tokensResolved: tokens.resolved, tokensPending: tokens.pending, tokensAmbiguous: tokens.ambiguous, steps }
    } finally {
      await lock.release()
    }
  }

  /**
   * Brings the store's unfinished imports to an end where their holders died: past the commit
   * point they are finished; while staging they are discarded (nothing of them reached the store);
   * fully staged etl imports wait for `exposure import --resume|--abort` (others are discarded:
   * their jobs or walks fetch again). Says what it did through `onNote`.
   */
  async function recover(onNote: (note: string) => void = () => undefined): Promise<ImportInfo[]> {
    // A writer lock whose holder died is taken over by the next writer anyway; drop it so nothing looks held.
    const lock = await inspectLock(redis, keys.writeLock)
    if (lock.holder !== null && !lock.alive) await callScript(redis, 'lock', [keys.writeLock], ['release', lock.holder.token])
    const all = await list()
    const waiting: ImportInfo[] = []
    const dead = all.filter((i) => !i.alive)
    if (dead.some((i) => i.state === 'committing')) {
      const lock = await lockWriter({ onWait: (h) => onNote(`waiting for ${describeHolder(h)} to finish writing`) })
      try {
        await finishDeadCommits(null, onNote)
      } finally {
        await lock.release()
      }
    }
    for (const info of dead) {
      if (info.state === 'committing') continue
      if (info.state === 'staged' && info.kind === 'etl') {
        waiting.push(info)
        continue
      }
      await drop(info.id)
      onNote(`discarded ${info.kind} import ${info.id} (${info.detail}): it was interrupted before its commit point, so nothing of it reached the store${info.kind === 'etl' ? '; run it again' : ''}`)
    }
    return waiting
  }

  return { register, adopt, unregister, setState, list, drop, commit, recover, lockWriter, writeJournalPart, commitPoint, finishDeadCommits, dropJournal, prepareForAttempt, currentBulkLimit }
}

export type Imports = ReturnType<typeof createImports>

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list) list.push(value)
  else map.set(key, [value])
}

/** Seconds since the previous call (the first: since it was made). */
function stopwatch(): () => number {
  let at = performance.now()
  return () => {
    const now = performance.now()
    const seconds = (now - at) / 1000
    at = now
    return seconds
  }
}

function randomId(): string {
  return Math.random().toString(36).slice(2, 10) + Date.now().toString(36)
}

/** Runs a MULTI and throws the first command error (ioredis reports them per command). */
export async function execChecked(multi: ReturnType<Redis['multi']>): Promise<unknown[]> {
  const results = (await multi.exec()) ?? []
  return results.map(([error, value]) => {
    if (error) throw error
    return value
  })
}
