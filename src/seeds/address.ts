/**
 * Address validation at the edges: everything read from a file passes through `parseAddress`,
 * which answers the lowercase form used inside the library or throws an `InputError` that names
 * the value and where it was.
 */
import { getAddress } from 'ethers'
import { InputError } from '../errors.ts'
import type { Address } from '../types.ts'

/** Where a value was read: named in the error when it is bad. */
export interface Where {
  file?: string
  line?: number
  field?: string
}

const SHAPE = /^0x[0-9a-fA-F]{40}$/

/**
 * Parses a `0x` + 40 hex digit Ethereum address and returns it in lowercase.
 *
 * All-lowercase and all-uppercase hex digits are accepted as they are (they carry no checksum);
 * mixed case must be a valid EIP-55 checksum. Surrounding whitespace is ignored.
 *
 * @throws InputError `INVALID_ADDRESS` (wrong length, non-hex, no `0x`, or a mixed-case spelling
 *   whose EIP-55 checksum fails), with `details` = `where` + `value` (the text as given) + `reason`.
 */
export function parseAddress(text: string, where: Where = {}): Address {
  const reason = addressProblem(text)
  if (reason !== undefined) {
    throw new InputError('INVALID_ADDRESS', `invalid address: ${reason}`, { ...whereDetails(where), value: text, reason })
  }
  return text.trim().toLowerCase() as Address
}

/** Why `text` is not an acceptable address, or `undefined` when it is. */
export function addressProblem(text: string): string | undefined {
  const value = text.trim()
  if (value === '') return 'empty'
  if (!value.startsWith('0x')) return 'must start with 0x'
  if (value.length !== 42) return `expected 40 hex digits after 0x, found ${value.length - 2} characters`
  if (!SHAPE.test(value)) return 'not hexadecimal'
  const digits = value.slice(2)
  if (digits === digits.toLowerCase() || digits === digits.toUpperCase()) return undefined
  let checksummed: string
  try {
    checksummed = getAddress(value)
  } catch {
    return 'mixed-case address fails its EIP-55 checksum'
  }
  return checksummed === value ? undefined : 'mixed-case address fails its EIP-55 checksum'
}

/** The zero address: where token mints come from and burns go; no one holds its key. */
export const ZERO_ADDRESS = '0x0000000000000000000000000000000000000000' as Address

/**
 * Why `text` is not an acceptable seed address, or `undefined` when it is: {@link addressProblem},
 * and never the zero address (a seed there would tie every mint and burn to the adversary).
 */
export function seedAddressProblem(text: string): string | undefined {
  const problem = addressProblem(text)
  if (problem !== undefined) return problem
  return text.trim().toLowerCase() === ZERO_ADDRESS ? 'the zero address (mints and burns) is never a seed' : undefined
}

/** True for `0x` + 40 hex digits (any case, checksum not checked). */
export function looksLikeAddress(text: string): boolean {
  return SHAPE.test(text.trim())
}

/** EIP-55 spelling of a (lowercase) address, for output at the edges. */
export function toChecksumAddress(address: Address | string): string {
  return getAddress(address.toLowerCase())
}

function whereDetails(where: Where): Where {
  const details: Where = {}
  if (where.file !== undefined) details.file = where.file
  if (where.line !== undefined) details.line = where.line
  if (where.field !== undefined) details.field = where.field
  return details
}
