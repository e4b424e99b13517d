import { describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.ts'
import { addressProblem, parseAddress, toChecksumAddress } from '../../src/seeds/address.ts'

// Real addresses: OFAC's Lazarus Group (Ronin) and the FBI's Bybit list.
const CHECKSUMMED = '0x098B716B8Aaf21512996dC57EB0615e2383E2f96'
const LOWER = CHECKSUMMED.toLowerCase()
// The research notes' spelling of an FBI-listed address: one letter in the wrong case.
const BAD_CHECKSUM = '0x55CCa2f5eB07907696afe4b9Db5102bCE5feB734'
const GOOD_CHECKSUM = '0x55CCa2f5eB07907696afe4b9Db5102bcE5feB734'

function thrown(fn: () => unknown): InputError {
  try {
    fn()
  } catch (error) {
    if (error instanceof InputError) return error
    throw error
  }
  throw new Error('expected an InputError')
}

describe('parseAddress', () => {
  it('accepts EIP-55, all-lowercase and all-uppercase hex, and answers lowercase', () => {
    expect(parseAddress(CHECKSUMMED)).toBe(LOWER)
    expect(parseAddress(LOWER)).toBe(LOWER)
    expect(parseAddress(`0x${LOWER.slice(2).toUpperCase()}`)).toBe(LOWER)
    expect(parseAddress(`  ${GOOD_CHECKSUM}\t`)).toBe(GOOD_CHECKSUM.toLowerCase())
  })

  it('rejects a mixed-case spelling whose EIP-55 checksum fails, naming value and where', () => {
    const error = thrown(() => parseAddress(BAD_CHECKSUM, { file: 'list.csv', line: 63, field: 'address' }))
    expect(error.code).toBe('INVALID_ADDRESS')
    expect(error.details).toEqual({
      file: 'list.csv',
      line: 63,
      field: 'address',
      value: BAD_CHECKSUM,
      reason: 'mixed-case address fails its EIP-55 checksum',
    })
    expect(error.message).toMatch(/^list\.csv:63: invalid address/)
  })

  it.each([
    ['wrong length', CHECKSUMMED.slice(0, -1)],
    ['too long', `${LOWER}0`],
    ['non-hex', `${LOWER.slice(0, -1)}g`],
    ['no 0x', LOWER.slice(2)],
    ['spreadsheet-mangled', '1.4390191554254E+48'],
    ['empty', ''],
  ])('rejects %s', (_, text) => {
    const error = thrown(() => parseAddress(text, { field: 'address' }))
    expect(error.code).toBe('INVALID_ADDRESS')
    expect(error.details.value).toBe(text)
    expect(addressProblem(text)).toBeDefined()
  })

  it('writes EIP-55 at the edges', () => {
    expect(toChecksumAddress(LOWER)).toBe(CHECKSUMMED)
  })
})
