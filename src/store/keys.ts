import type { Address, Direction } from '../types.ts'

/**
 * The Redis key layout of one graph store. Every key starts with the store's prefix, which holds
 * a hash tag (`{exposure}` by default) so that a Redis Cluster keeps the whole store in one slot
 * and multi-key scripts stay legal.
 *
 *   P:n:<hex40>            string  an address's node: header, sorted out-records, sorted in-records (records.ts)
 *   P:assets               list    asset table: index = asset id in records; 0 is 'ETH', then token addresses
 *   P:meta                 hash    transfers (count of out-records), addresses, lastImport
 *   P:blocktime            hash    block number → block timestamp (seconds), for paths
 *   P:seeds                hash    0x-address → JSON Seed (label, source, extra provenance)
 *   P:seeds:version        string  version number of the seed set: +1 on every change (store/seed-versions.ts)
 *   P:seeds:history        list    JSON SeedChange per version, oldest first: time, action, source, added/removed/updated
 *   P:labels               hash    0x-address → JSON ServiceLabel (label, category, source)
 *   P:stage:<id>:p:<0-255> string  records staged by import <id>, by the address's first byte;
 *                                  entries: kind u8 (0 out, 1 in), owner 20 bytes, record
 *   P:lock:import          string  held by the import that is committing (one at a time)
 *   P:walk:meta            hash    current walk: runId, status, params (JSON), startedAt, finishedAt
 *   P:walk:lock            string  held by the running walk's coordinator
 *   P:walk:<dir>:labels    hash    hex40 → hop labels "h,c,key;…" (walk/labels.ts)
 *   P:walk:<dir>:frontier  zset    hex40 → least hops of its labels not yet expanded
 *   P:walk:<dir>:claims    hash    job id → hex40 list claimed by that job (crash recovery)
 *   P:walk:basis           hash    what the last complete walk was computed from: runId, params, storeVersion,
 *                                  labelsDigest, seedVersion (walk/incremental.ts)
 *   P:walk:basis:seeds     set     the seed addresses that walk started from (incremental walks diff against it)
 *   P:q:…                  BullMQ's keys (queue prefix), same hash tag
 */
export interface StoreKeys {
  prefix: string
  node(address: Address): string
  assets: string
  meta: string
  blockTimes: string
  seeds: string
  seedVersion: string
  seedHistory: string
  labels: string
  stagePartition(importId: string, partition: number): string
  stagePattern: string
  importLock: string
  walkMeta: string
  walkLock: string
  walkLabels(direction: Direction): string
  walkFrontier(direction: Direction): string
  walkClaims(direction: Direction): string
  walkBasis: string
  walkBasisSeeds: string
  /** BullMQ `prefix` option for this store's queues. */
  queuePrefix: string
}

export function storeKeys(prefix: string): StoreKeys {
  const hex = (address: Address) => address.slice(2)
  return {
    prefix,
    node: (a) => `${prefix}:n:${hex(a)}`,
    assets: `${prefix}:assets`,
    meta: `${prefix}:meta`,
    blockTimes: `${prefix}:blocktime`,
    seeds: `${prefix}:seeds`,
    seedVersion: `${prefix}:seeds:version`,
    seedHistory: `${prefix}:seeds:history`,
    labels: `${prefix}:labels`,
    stagePartition: (id, p) => `${prefix}:stage:${id}:p:${p}`,
    stagePattern: `${prefix}:stage:*`,
    importLock: `${prefix}:lock:import`,
    walkMeta: `${prefix}:walk:meta`,
    walkLock: `${prefix}:walk:lock`,
    walkLabels: (d) => `${prefix}:walk:${d}:labels`,
    walkFrontier: (d) => `${prefix}:walk:${d}:frontier`,
    walkClaims: (d) => `${prefix}:walk:${d}:claims`,
    walkBasis: `${prefix}:walk:basis`,
    walkBasisSeeds: `${prefix}:walk:basis:seeds`,
    queuePrefix: `${prefix}:q`,
  }
}
