/**
 * A stable number for an internal call's trace address ("0,1,3"), so that transfers of one
 * transaction stay distinct: FNV-1a (32-bit) of the comma-joined address, never 0 (0 is the
 * external transaction). Every source uses this one function, so the same chain gives the same
 * records whether it came from an etl export or a node.
 */
export function traceSubIndex(traceAddress: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < traceAddress.length; i++) {
    hash ^= traceAddress.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash === 0 ? 1 : hash
}
