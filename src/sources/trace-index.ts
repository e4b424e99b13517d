/**
 * A stable number for an internal call's trace address ("0,1,3"), so that transfers of one
 * transaction stay distinct: FNV-1a (32-bit) of the comma-joined address, mapped into
 * 1..2^22-1 (0 is the external transaction; a record keeps the sub-index in 22 bits). Two calls of
 * one transaction collide with probability ~n²/2^23; a collision can only merge two calls that
 * also agree on recipient, asset and amount (records differing in any field stay apart). Every
 * source uses this one function, so the same chain gives the same records from an etl export or
 * a node.
 *
 * Any text hashes to a number in range, so this never throws: a source must check the address
 * first ({@link isTraceAddress}) and name a malformed one where it read it (the etl reader does).
 */
export function traceSubIndex(traceAddress: string | readonly number[]): number {
  const text = typeof traceAddress === 'string' ? traceAddress : traceAddress.join(',')
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
  return ((hash >>> 0) % 0x3fffff) + 1
}

/** True for a trace address as etl writes it: child indices joined by commas (`0,1,3`); the top-level call's is empty. */
export function isTraceAddress(text: string): boolean {
  return /^\d+(?:,\d+)*$/.test(text)
}

/** Token mints name the zero address as sender: "transfers without a sender do not count". */
export const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000'
