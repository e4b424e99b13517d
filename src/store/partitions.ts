import type { Redis } from 'ioredis'

/**
 * Per-address keys (nodes, walk labels, frontiers, claims, staging, journal parts) are spread over
 * PARTITIONS hash tags by the address's first byte, so that a Redis Cluster can spread the graph
 * over its masters (keys.ts documents the layout). The same function partitions staging (commit.ts).
 */
export const PARTITIONS = 256

/** The partition of a lowercase hex40 address (without 0x): its first byte. */
export function partitionOfHex(hex: string): number {
  return (hexDigit(hex.charCodeAt(0)) << 4) | hexDigit(hex.charCodeAt(1))
}

/**
 * Blocks per bucket of per-block state (tx index, waiting token transfers, block times, and an
 * import's staging of them): one hash per bucket, one field per block.
 */
export const BLOCK_BUCKET_BITS = 10

/** The bucket of a block: block >> BLOCK_BUCKET_BITS. */
export function bucketOfBlock(block: number): number {
  return Math.floor(block / 2 ** BLOCK_BUCKET_BITS)
}

/**
 * The partition of a block's state: its bucket modulo PARTITIONS, so that consecutive buckets
 * (an import's block range) fall on different partitions and a cluster's masters share the
 * per-block state as they share the addresses. (The Lua twin is in apply-journal.lua and
 * answer.lua: string.format('%02x', bucket % 256).)
 */
export function partitionOfBlock(block: number): number {
  return bucketOfBlock(block) % PARTITIONS
}

/** '0'-'9', 'a'-'f' (addresses are lowercase inside the library; 'A'-'F' never reach a key). */
function hexDigit(code: number): number {
  return code <= 57 ? code - 48 : (code | 0x20) - 87
}

/**
 * The store's name inside partition tags: the prefix without its braces. Lua scripts get it as an
 * argument and derive a partition's tag from a hex40 themselves (partitionTagLua).
 */
export function partitionName(prefix: string): string {
  return prefix.replace(/[{}]/g, '')
}

/** `{exposure}`, 0x3f → `{exposure:p3f}`: the hash tag of partition p. */
export function partitionTag(prefix: string, p: number): string {
  return `{${partitionName(prefix)}:p${p.toString(16).padStart(2, '0')}}`
}

/** A SCAN/KEYS glob matching every partition tag of the prefix (braces are literal in globs). */
export function partitionGlob(prefix: string): string {
  return `{${partitionName(prefix).replace(/[*?[\]\\]/g, '\\$&')}:p[0-9a-f][0-9a-f]}`
}

/** Indices of `hexes` by partition, in first-seen order. */
export function groupByPartition(hexes: readonly string[]): Map<number, number[]> {
  const groups = new Map<number, number[]>()
  hexes.forEach((hex, i) => {
    const p = partitionOfHex(hex)
    const group = groups.get(p)
    if (group) group.push(i)
    else groups.set(p, [i])
  })
  return groups
}

type Pipeline = ReturnType<Redis['pipeline']>

/**
 * A multi-address read grouped by partition (one command per partition, all in one pipeline, so
 * each command stays in one hash slot); answers the values in the order of `hexes`.
 * `add` queues the command for one partition's hexes; its reply must be one value per hex.
 */
export async function readByPartition<T>(redis: Redis, hexes: readonly string[], add: (pipeline: Pipeline, p: number, hexes: string[]) => void): Promise<T[]> {
  const out = new Array<T>(hexes.length)
  if (hexes.length === 0) return out
  const groups = [...groupByPartition(hexes)]
  const pipeline = redis.pipeline()
  for (const [p, indices] of groups) add(pipeline, p, indices.map((i) => hexes[i]!))
  const replies = (await pipeline.exec()) ?? []
  groups.forEach(([, indices], g) => {
    const [error, reply] = replies[g] ?? [new Error('no reply')]
    if (error) throw error
    const values = reply as T[]
    indices.forEach((i, k) => (out[i] = values[k]!))
  })
  return out
}

/** HMGET of hex40 fields from per-partition hashes (`keyOf(p)`), in the order of `hexes`. */
export function hmgetByPartition(redis: Redis, keyOf: (p: number) => string, hexes: readonly string[]): Promise<(string | null)[]> {
  return readByPartition<string | null>(redis, hexes, (pipeline, p, group) => pipeline.hmget(keyOf(p), ...group))
}

/** MGET of per-address string keys (`keyOf(hex)`), as Buffers, in the order of `hexes`. */
export function mgetBufferByPartition(redis: Redis, keyOf: (hex: string) => string, hexes: readonly string[]): Promise<(Buffer | null)[]> {
  return readByPartition<Buffer | null>(redis, hexes, (pipeline, _p, group) => pipeline.mgetBuffer(...group.map(keyOf)))
}

/** SCAN/KEYS globs that together match every key of a store: the prefix's and its partitions'. */
export function storeGlobs(prefix: string): string[] {
  return [`${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, `${partitionGlob(prefix)}*`]
}
