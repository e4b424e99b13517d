/**
 * A stable number for an internal call's trace address ("0,1,3"), so that transfers of one
 * transaction stay distinct, and **in trace order** where it can: the haircut taint replay moves
 * value through a transaction's internal calls in the order they ran (depth first), and records
 * sort by this number.
 *
 * Ordered code (values 2^20 … 2^21−1): the address's indices written as bits, each level a '1'
 * ("another level") followed by the index in an order-preserving prefix code (k ones, a zero,
 * then k bits, for indices from 2^k−1 to 2^(k+1)−2), the whole padded with zeros to 21 bits.
 * Comparing these numbers compares trace addresses depth first ([0] < [0,0] < [0,1] < [1]).
 * It holds every address of up to about six levels of small indices; a longer one gets the
 * fallback, FNV-1a (32-bit) of the comma-joined address mapped into 2^21 … 2^22−1: distinct in
 * practice (a collision can only merge two calls that also agree on recipient, asset and amount),
 * and ordered after every coded call of its transaction. 0 is the external transaction; a record
 * keeps the sub-index in 22 bits. Every source uses this one function, so the same chain gives the
 * same records from an etl export or a node.
 *
 * Any text maps to a number in range, so this never throws: a source must check the address
 * first ({@link isTraceAddress}) and name a malformed one where it read it (the etl reader does).
 */
export function traceSubIndex(traceAddress: string | readonly number[]): number {
  const indices = typeof traceAddress === 'string' ? (traceAddress === '' ? [] : traceAddress.split(',').map(Number)) : traceAddress
  const coded = orderedCode(indices)
  if (coded !== null) return coded
  const text = typeof traceAddress === 'string' ? traceAddress : traceAddress.join(',')
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193)
  return ORDERED_LIMIT + ((hash >>> 0) % (ORDERED_LIMIT - 1))
}

const CODE_BITS = 21
/** Ordered codes are below this; fallback hashes from it up to 2^22 − 1. */
const ORDERED_LIMIT = 2 ** CODE_BITS

/** The ordered code of a trace address, or null when it does not fit in 21 bits. */
function orderedCode(indices: readonly number[]): number | null {
  let bits = ''
  for (const index of indices) {
    if (!Number.isSafeInteger(index) || index < 0) return null
    // index + 1 = v in [2^k, 2^(k+1)): k ones, a zero, then the k low bits of v.
    const v = index + 1
    const k = Math.floor(Math.log2(v))
    bits += `1${'1'.repeat(k)}0${k === 0 ? '' : (v - 2 ** k).toString(2).padStart(k, '0')}`
    if (bits.length > CODE_BITS - 1) return null
  }
  // The top-level call (no indices) is the transaction itself: never a transfer of its own.
  if (indices.length === 0) return null
  return Number.parseInt(bits.padEnd(CODE_BITS, '0'), 2)
}

/** True when a sub-index is an ordered trace code (its order among the transaction's calls is known). */
export function isOrderedTraceIndex(subIndex: number): boolean {
  return subIndex >= 2 ** (CODE_BITS - 1) && subIndex < ORDERED_LIMIT
}

/** True for a trace address as etl writes it: child indices joined by commas (`0,1,3`); the top-level call's is empty. */
export function isTraceAddress(text: string): boolean {
  return /^\d+(?:,\d+)*$/.test(text)
}

/** Token mints name the zero address as sender: "transfers without a sender do not count". */
export const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000'
