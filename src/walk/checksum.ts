import { getAddress } from 'ethers'

/** Most checksummed addresses kept; the map is dropped whole when full (a cheap bound, no LRU bookkeeping). */
const LIMIT = 200_000
const cache = new Map<string, string>()

/**
 * EIP-55 of an address, cached: answers repeat the same seeds, hubs and tokens in every path,
 * and ethers' checksum is a pure-JS keccak (it was a fifth of the screening service's CPU).
 * Throws as getAddress does on a malformed address (nothing malformed is cached).
 */
export function checksumAddress(address: string): string {
  const key = address.toLowerCase()
  let value = cache.get(key)
  if (value === undefined) {
    value = getAddress(key)
    if (cache.size >= LIMIT) cache.clear()
    cache.set(key, value)
  }
  return value
}
