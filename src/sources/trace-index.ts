/**
 * A stable number for an internal call's trace address ("0,1,3"), so that transfers of one
 * transaction stay distinct: FNV-1a (32-bit) of the comma-joined address, mapped into
 * 1..0xffffffff (0 is the external transaction, and the store keeps it in a u32). Every source uses
 * this one function, so the same chain gives the same records from an etl export or a node.
 */
export function traceSubIndex(traceAddress: string | readonly number[]): number {
  const text = typeof traceAddress === 'string' ? traceAddress : traceAddress.join(',')
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
  return ((hash >>> 0) % 0xffffffff) + 1
}

/** Token mints name the zero address as sender: "transfers without a sender do not count". */
export const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000'
