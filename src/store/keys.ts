import type { Address, Direction } from '../types.ts'
import { PARTITIONS, bucketOfBlock, partitionGlob, partitionName, partitionOfBlock, partitionOfHex, partitionTag } from './partitions.ts'

/**
 * The Redis key layout of one graph store. Small global state starts with the store's prefix, which
 * holds a hash tag (`{exposure}` by default). Per-address state lives under one of PARTITIONS
 * partition tags instead (store/partitions.ts), so that a Redis Cluster spreads the graph over its
 * masters: with the prefix's name (the prefix without braces, `exposure`), partition p (the
 * address's first byte) is `{exposure:p3f}` for p = 0x3f, written Q below. Every per-address key
 * of an address sits under its partition's tag; walk scripts (relax, claim) touch one partition,
 * and so does applying a node journal part. On a Redis Cluster every script call stays in one
 * slot: incoming.lua and counterparties.lua are called once per partition there, staging's
 * append-many.lua once per partition (guarded by Q:import:<id>:live), and answer.lua's witness
 * path, which crosses partitions, is walked client-side step by step (walk/answer-stepwise.ts).
 * Pipelines and MULTIs that name many partitions run as one per slot there (slot-pipeline.ts):
 * the few multi-partition transactions (journal parts and their list, a run's guards with
 * P:walk:meta, an import's finish) order their writes so that an interrupted one is harmless.
 *
 * The graph
 *   Q:n:<hex40>             string  an address's node: header, sorted out-records, sorted in-records (records.ts)
 *   P:assets                list    asset table: index = asset id in records; 0 is 'ETH', then token addresses
 *   P:amounts               hash    txHash hex64 + kind/sub-index hex6 → exact decimal amount of a transfer whose
 *                                   amount does not fit a record's 96 bits (records.ts: the record holds 2^96-1)
 *   P:meta                  hash    format (STORE_FORMAT), storeId (random, written once: a Redis that lost the store no longer has it),
 *                                   version (+1 per commit that changed the graph), transfers, addresses,
 *                                   lastImport (time of the last such commit), labelsVersion (+1 per label change)
 * Per-block state, under the partition tag of the block's bucket (bucket = block >> 10, partition
 * B = bucket mod 256: partitions.ts partitionOfBlock), so that it spreads over a cluster's masters
 * with the addresses (on mainnet the tx index alone is ~30 GB: too much for one master)
 *   B:bt:<bucket>           hash    block → block timestamp (seconds), for paths
 *   B:txi:<bucket>          hash    block → that block's transactions as sorted entries of (first 8 bytes of the
 *                                   tx hash, u16 index): what token transfers, which etl exports without a
 *                                   transaction index, join on — in any order and any later command
 *                                   (store/tx-index.ts)
 *   B:ptok:<bucket>         hash    block → token transfers imported before their transactions, waiting for them
 * Seeds and labels
 *   P:seeds                 hash    0x-address → JSON Seed (label, source, extra provenance)
 *   P:seeds:version         string  version number of the seed set: +1 on every change (store/seed-versions.ts)
 *   P:seeds:history         list    JSON SeedChange per version, oldest first
 *   P:labels                hash    0x-address → JSON ServiceLabel (label, category, source)
 * Imports (store/imports.ts): staged, then committed exactly once through a journal
 *   P:imports               zset    unfinished import ids → creation time (ms)
 *   P:import:<id>           hash    state (staging|staged|committing), kind, holder, created, detail, targets,
 *                                   prepareAttempt (while ingest workers prepare its commit)
 *   Q:import:<id>:live      string  '1' while import <id> is registered: staging into partition Q is refused
 *                                   without it (a cluster's append-many.lua cannot see P:import:<id>)
 *   Q:import:<id>:attempt   string  the commit attempt whose prepare jobs may write partition Q's journal parts
 *                                   (prepare spread over ingest workers; set and cleared by the committing command)
 *   Q:import:<id>:touched   string  the addresses (20 bytes each) of partition Q whose nodes a prepare job changed
 *   Q:stage:<id>:p:<0-255>  string  records staged by import <id> for partition Q (the owners' first byte);
 *                                   entries: kind u8 (0 out, 1 in), owner 20 bytes, record
 *   B:stage:<id>:b          string  the import's per-block entries of partition B's blocks: tx-index entries,
 *                                   unresolved token transfers, block times (joined partition by partition)
 *   P:stage:<id>:x          string  the import's exact amounts of transfers whose amount does not fit a record
 *   Q:journal:<id>:<q>.<k>  hash    what the commit writes into partition Q's node strings (field → value; '' deletes),
 *                                   applied after the commit point, so each partition's commit work is in one slot
 *                                   (imports: <q>.<chunk>, or <q>.<chunk>.<attempt> from ingest workers; rollbacks: <q>.r<chunk>)
 *                                   and per-block state (<q>.x<k>: tx index, waiting tokens, block times; rollbacks' <q>.b<k>)
 *   Q:journal:<id>:<q>.v<hex40>[.<attempt>]  string  a node of 64 KiB or more, whole: a part of its own that
 *                                   the part naming it (field v<hex40>) RENAMEs onto the node at the apply
 *   P:journal:<id>:<part>   hash    the commit's other writes (parts x.…: amounts)
 *   P:journal:<id>:parts    list    the keys of all the import's journal parts
 *   P:lock:write            string  held by whoever writes the graph (a commit, a rollback): store/locks.ts
 * Walks (walk/walk-runs.ts): each run writes its own labels; readers use the published one
 *   P:walk:meta             hash    the latest walk attempt: runId, status (running|complete|failed|interrupted),
 *                                   holder, startedAt, finishedAt, directions, params, source fields, error
 *   P:walk:lock             string  held by the running walk's coordinator
 *   P:walk:current          hash    the published walk (the last complete one) and its basis: runId, finishedAt,
 *                                   directions, params, storeId, storeVersion, seedVersion, labelsVersion,
 *                                   labelsDigest, source fields
 *   P:walk:current:seeds    set     the seed addresses the published walk started from
 *   Q:walk:r:<run>:<dir>:labels    hash  hex40 → hop labels "h,c,key;…" (walk/labels.ts) of partition Q's addresses
 *   Q:walk:r:<run>:<dir>:frontier  zset  hex40 → least hops of its labels not yet expanded (partition Q's addresses)
 *   Q:walk:r:<run>:<dir>:claims    hash  job id → hex40 list claimed by that job in partition Q (crash recovery)
 *   Q:walk:running          string  the running walk's run id, written to every partition when a run starts and
 *                                   removed when it stops: relax and claim write nothing for another run
 *                                   (the partition's copy of P:walk:meta's runId/status, so they stay in one slot)
 *   P:walk:r:<run>:<dir>:active    zset  partition number → least hops queued there: where jobs look for work
 *                                   (a hint: the coordinator repairs it from the frontiers' sizes)
 *   P:walk:r:<run>:seeds           set   the seeds the run started from
 *   P:walk:r:<run>:stops           set   addresses that were stop nodes by label when it started
 *   P:walk:current:stops    set     the same of the published walk
 *   P:walk:runs             set     run ids that may still own per-run keys: added in the MULTI that starts a run
 *                                   (before any of its keys exist), removed once they are freed; the published
 *                                   run stays. A walk start frees every other member's keys (walk-runs.ts
 *                                   sweepRuns): what a crash between publishing and freeing left behind
 *   P:changes:<version>     string  the addresses (20 bytes each) whose nodes the commit that made
 *                                   store version <version> changed; kept while a published walk
 *                                   may need them (incremental walks re-expand them)
 *   P:changes:shrinking     set     store versions whose commit removed transfers (a rollback)
 * Block sync (sources/rpc/ingest.ts documents them): P:sync:rpc:… (coverage, block hashes, tentative blocks,
 *   a rollback in progress), P:lock:sync (the running sync), P:chain (chain id and genesis hash of the live data)
 * Screening service (src/screen/, exposure serve)
 *   P:screen:records        hash    hex40 → JSON ScreenRecord: the last answer given for that address, with its time,
 *                                   basis (walk run id, seed-set version, final block, source) and submitting key
 *   P:audit                 stream  one entry per screening: request id, key name, address, status, risk, hops, basis,
 *                                   time; trimmed by age (EXPOSURE_AUDIT_RETENTION) on every append
 *   P:audit:a:<hex40>       zset    audit entry ids of one address → time (ms); expires with the retention
 *   P:apikeys               hash    key id → JSON ApiKeyRecord (name, scopes, rate, SHA-256 of the secret, created, revoked)
 *   P:rl:<key id>           string  requests of that key in the current rate window (expires with the window)
 * Rescans, watchlists and alerts (src/watch/)
 *   P:watch                 hash    <owner>|<hex40> → JSON WatchEntry (owner 'cli' or 'key:<api key id>'; ref, added, expires)
 *   P:watch:last            hash    hex40 → JSON WatchedAnswer: the last answer a rescan (or watch add) recorded for a watched wallet
 *   P:alerts                stream  one entry per alert (field json); ids are the cursors of `alerts tail` and GET /v1/alerts
 *   P:alerts:ids            hash    alert id (deterministic: address + answers + basis) → stream id: an alert is appended once
 *   P:alerts:dispatched     string  the last stream id whose deliveries were queued
 *   P:rescan:lock           string  held by the running rescan (store/locks.ts)
 *   P:rescan:last           string  JSON summary of the last finished rescan
 *   P:rescan:files          hash    source file path → SHA-256 last applied (seed and label sources)
 *   P:rescan:inbox          hash    etl inbox file name → SHA-256 + time imported (each file once)
 *   P:webhooks              hash    endpoint id → JSON endpoint (url, events, secret, allowPrivate, disabled)
 *   P:webhooks:stats        hash    <endpoint id>:delivered|failed → count
 *   P:webhooks:done         hash    <endpoint id>|<alert id> → delivered|failed|dropped: a delivery is finished once
 *   P:webhooks:failed       list    JSON {endpoint, alert, at, reason} of alerts given up on (newest first, capped)
 *   P:wh:q:<ep>:<hex40>     list    alert ids queued for one endpoint and address, oldest first (delivered in order)
 *   P:cases                 hash    case id → JSON Case (graph/cases.ts): a saved graph view (nodes, positions, notes, filters)
 *   P:durable, Q:durable    string  a time stamp written before WAIT (store/durability.ts) under every tag, expires after an hour
 *   P:q:…                   BullMQ's keys (queue prefix), same hash tag
 */
export interface StoreKeys {
  prefix: string
  /** The prefix without braces: partition tags are `{<name>:pXX}` (Lua scripts derive them from it). */
  partitionName: string
  /** The hash tag of partition p (partitions.ts). */
  partition(p: number): string
  node(address: Address): string
  /** SCAN glob of every node key (every partition). */
  nodePattern: string
  assets: string
  amounts: string
  meta: string
  /** The hash holding block `block`'s timestamp (field: the block number). */
  blockTime(block: number): string
  txIndex(block: number): string
  pendingTokens(block: number): string
  /** SCAN glob of the waiting token transfers' hashes (every partition). */
  pendingTokensPattern: string
  seeds: string
  seedVersion: string
  seedHistory: string
  labels: string
  imports: string
  importRecord(importId: string): string
  /**
   * Partition p's copy of "import <id> is live" (its record exists): staging into partition p on a
   * Redis Cluster is guarded by it, in the slot of the staging key (lua/append-many.lua).
   */
  importLive(importId: string, partition: number): string
  importAttempt(importId: string, partition: number): string
  importTouched(importId: string, partition: number): string
  stagePartition(importId: string, partition: number): string
  stageExtra(importId: string): string
  /** Import `importId`'s staged per-block entries of partition p's blocks. */
  stageBlocks(importId: string, p: number): string
  journal(importId: string, part: number | string): string
  writeLock: string
  walkMeta: string
  walkLock: string
  walkCurrent: string
  walkCurrentSeeds: string
  walkLabels(runId: string, direction: Direction, partition: number): string
  walkFrontier(runId: string, direction: Direction, partition: number): string
  walkClaims(runId: string, direction: Direction, partition: number): string
  /** The running run id, as partition p's walk scripts see it. */
  walkRunning(partition: number): string
  /** Partitions with frontier work, by least hops queued. */
  walkActive(runId: string, direction: Direction): string
  walkRunSeeds(runId: string): string
  /** Addresses that were stop nodes by their label when run `runId` started (incremental walks diff against it). */
  walkRunStops(runId: string): string
  walkCurrentStops: string
  /** Every run that may still own keys (registered before it writes any; removed once they are freed). */
  walkRuns: string
  /** The addresses a commit changed, by the store version it made (20 bytes each). */
  changes(version: number): string
  /** Store versions whose commit removed transfers (rollbacks). */
  shrinkingVersions: string
  /** BullMQ `prefix` option for this store's queues. */
  queuePrefix: string
  screenRecords: string
  audit: string
  auditIndex(address: Address): string
  apiKeys: string
  rateLimit(keyId: string): string
  watch: string
  watchLast: string
  alerts: string
  alertIds: string
  alertsDispatched: string
  rescanLock: string
  rescanLast: string
  rescanFiles: string
  rescanInbox: string
  webhooks: string
  webhookStats: string
  webhookFailed: string
  webhookDone: string
  /** Alert ids waiting for one endpoint and address, oldest first. */
  webhookQueue(endpointId: string, address: Address): string
  cases: string
  /**
   * One key under every hash tag the store uses (P:durable): writing them puts this client's
   * replication offset past everything written before on every master (store/durability.ts).
   */
  durabilityKeys: readonly string[]
}

/**
 * The store's format, in P:meta `format`: 2 since trace sub-indices follow trace order
 * (sources/trace-index.ts), 3 since per-address keys are partitioned (the layout above), 4 since
 * per-block state is too (B:txi, B:ptok, B:bt, where format 3 had one P:txi, P:ptok and
 * P:blocktime family on the prefix's tag). A store of an older format is refused for reading and
 * writing (its keys are under other names: reading would answer "not exposed" or lose block times
 * and waiting token transfers): `exposure migrate` brings a format 3 store to 4 in place; older
 * ones are re-imported into a new prefix.
 */
export const STORE_FORMAT = 4

export function storeKeys(prefix: string): StoreKeys {
  const hex = (address: Address) => address.slice(2)
  const run = (runId: string) => `${prefix}:walk:r:${runId}`
  const tags = Array.from({ length: PARTITIONS }, (_, p) => partitionTag(prefix, p))
  const tag = (p: number) => tags[p]!
  const blockKey = (block: number, family: string) => `${tag(partitionOfBlock(block))}:${family}:${bucketOfBlock(block)}`
  const partRun = (runId: string, p: number) => `${tag(p)}:walk:r:${runId}`
  return {
    prefix,
    partitionName: partitionName(prefix),
    partition: tag,
    node: (a) => `${tag(partitionOfHex(hex(a)))}:n:${hex(a)}`,
    nodePattern: `${partitionGlob(prefix)}:n:*`,
    assets: `${prefix}:assets`,
    amounts: `${prefix}:amounts`,
    meta: `${prefix}:meta`,
    blockTime: (block) => blockKey(block, 'bt'),
    txIndex: (block) => blockKey(block, 'txi'),
    pendingTokens: (block) => blockKey(block, 'ptok'),
    pendingTokensPattern: `${partitionGlob(prefix)}:ptok:*`,
    seeds: `${prefix}:seeds`,
    seedVersion: `${prefix}:seeds:version`,
    seedHistory: `${prefix}:seeds:history`,
    labels: `${prefix}:labels`,
    imports: `${prefix}:imports`,
    importRecord: (id) => `${prefix}:import:${id}`,
    importLive: (id, p) => `${tag(p)}:import:${id}:live`,
    importAttempt: (id, p) => `${tag(p)}:import:${id}:attempt`,
    importTouched: (id, p) => `${tag(p)}:import:${id}:touched`,
    stagePartition: (id, p) => `${tag(p)}:stage:${id}:p:${p}`,
    stageExtra: (id) => `${prefix}:stage:${id}:x`,
    stageBlocks: (id, p) => `${tag(p)}:stage:${id}:b`,
    // Parts `<partition>.<k>` hold that partition's node strings (commit.ts preparePartition).
    journal: (id, part) => {
      const p = /^(\d+)\./.exec(String(part))
      return p === null ? `${prefix}:journal:${id}:${part}` : `${tag(Number(p[1]))}:journal:${id}:${part}`
    },
    writeLock: `${prefix}:lock:write`,
    walkMeta: `${prefix}:walk:meta`,
    walkLock: `${prefix}:walk:lock`,
    walkCurrent: `${prefix}:walk:current`,
    walkCurrentSeeds: `${prefix}:walk:current:seeds`,
    walkLabels: (r, d, p) => `${partRun(r, p)}:${d}:labels`,
    walkFrontier: (r, d, p) => `${partRun(r, p)}:${d}:frontier`,
    walkClaims: (r, d, p) => `${partRun(r, p)}:${d}:claims`,
    walkRunning: (p) => `${tag(p)}:walk:running`,
    walkActive: (r, d) => `${run(r)}:${d}:active`,
    walkRunSeeds: (r) => `${run(r)}:seeds`,
    walkRunStops: (r) => `${run(r)}:stops`,
    walkCurrentStops: `${prefix}:walk:current:stops`,
    walkRuns: `${prefix}:walk:runs`,
    changes: (v) => `${prefix}:changes:${v}`,
    shrinkingVersions: `${prefix}:changes:shrinking`,
    queuePrefix: `${prefix}:q`,
    screenRecords: `${prefix}:screen:records`,
    audit: `${prefix}:audit`,
    auditIndex: (a) => `${prefix}:audit:a:${hex(a)}`,
    apiKeys: `${prefix}:apikeys`,
    rateLimit: (id) => `${prefix}:rl:${id}`,
    watch: `${prefix}:watch`,
    watchLast: `${prefix}:watch:last`,
    alerts: `${prefix}:alerts`,
    alertIds: `${prefix}:alerts:ids`,
    alertsDispatched: `${prefix}:alerts:dispatched`,
    rescanLock: `${prefix}:rescan:lock`,
    rescanLast: `${prefix}:rescan:last`,
    rescanFiles: `${prefix}:rescan:files`,
    rescanInbox: `${prefix}:rescan:inbox`,
    webhooks: `${prefix}:webhooks`,
    webhookStats: `${prefix}:webhooks:stats`,
    webhookFailed: `${prefix}:webhooks:failed`,
    webhookDone: `${prefix}:webhooks:done`,
    webhookQueue: (ep, a) => `${prefix}:wh:q:${ep}:${hex(a)}`,
    cases: `${prefix}:cases`,
    // One key under the prefix's tag and one under each partition tag: they may sit on every master.
    durabilityKeys: [`${prefix}:durable`, ...tags.map((t) => `${t}:durable`)],
  }
}
