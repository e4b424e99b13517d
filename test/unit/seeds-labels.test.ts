import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.ts'
import {
  categoryForSlug,
  categoryForSlugs,
  LABEL_CATEGORIES,
  SERVICE_CATEGORIES,
  slugsOf,
  slugTitle,
} from '../../src/seeds/label-categories.ts'
import {
  mergeLabels,
  readEtherscanLabelCsv,
  readEtherscanLabelMap,
  readLabelCsv,
  readLabelFile,
  readTagPackLabels,
} from '../../src/seeds/labels.ts'
import type { SkippedEntry } from '../../src/seeds/lists.ts'
import type { ServiceLabel } from '../../src/types.ts'

const fixture = (path: string): string => fileURLToPath(new URL(`../../fixtures/labels/${path}`, import.meta.url))
const MAP = fixture('combinedAccountLabels_trimmed.json')
const TORNADO_ROUTER = '0xd90e2f925da726b50c4ed8d0fb90ad053324f31b'
const RONIN = '0x098b716b8aaf21512996dc57eb0615e2383e2f96'

async function failure(promise: Promise<unknown>): Promise<InputError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof InputError) return error
    throw error
  }
  throw new Error('expected an InputError, got success')
}

function countBy(labels: readonly ServiceLabel[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const l of labels) counts[l.category] = (counts[l.category] ?? 0) + 1
  return counts
}

describe('label slug categories', () => {
  it('maps Tornado Cash to mixer, whatever other slugs it carries', () => {
    expect(categoryForSlug('tornado-cash')).toBe('mixer')
    expect(categoryForSlug('Ethereum-Mixer')).toBe('mixer')
    expect(categoryForSlugs(['ofac-sanctions-lists', 'tornado-cash', 'ethereum-mixer'])).toBe('mixer')
    expect(categoryForSlugs(['derivatives', 'huobi', 'otc'])).toBe('exchange')
    expect(categoryForSlugs(['0x-protocol', 'bridge'])).toBe('bridge')
    expect(categoryForSlugs(['blocked', 'ofac-sanctions-lists'])).toBe('sanctioned')
  })

  it('keeps suspects out of the service categories and leaves victims unmapped', () => {
    for (const suspect of ['sanctioned', 'hack', 'phishing', 'flagged'] as const) expect(SERVICE_CATEGORIES).not.toContain(suspect)
    expect(SERVICE_CATEGORIES).toEqual(expect.arrayContaining(['exchange', 'dex', 'bridge', 'mixer', 'lending']))
    expect(categoryForSlug('take-action')).toBeUndefined() // "Hack Alert": wallets that approved an exploited contract
    expect(categoryForSlugs(['airdrop-hunter'])).toBeUndefined()
  })

  it('maps every slug to exactly one category', () => {
    const all = LABEL_CATEGORIES.flatMap((c) => slugsOf(c))
    expect(new Set(all).size).toBe(all.length)
  })

  it('titles slugs for unnamed addresses', () => {
    expect(slugTitle('binance-deposit')).toBe('Binance Deposit')
  })
})

describe('Etherscan JSON label map', () => {
  it('reads {address: {name, labels}} into categorised labels, dropping unmapped slugs', async () => {
    const labels = await readEtherscanLabelMap(MAP)
    expect(countBy(labels)).toEqual({ mixer: 4, exchange: 4, bridge: 3, dex: 5, lending: 1, staking: 1, flagged: 1, sanctioned: 2 })
    expect(labels.find((l) => l.address === TORNADO_ROUTER)).toEqual({
      address: TORNADO_ROUTER,
      label: 'Tornado.Cash: Router',
      category: 'mixer',
      source: 'combinedAccountLabels_trimmed.json: ofac-sanctions-lists,tornado-cash',
    })
    expect(labels.find((l) => l.address === RONIN)).toMatchObject({ label: 'Ronin Bridge Exploiter', category: 'sanctioned' })
    expect(labels.find((l) => l.address === '0x6566fd32e6440b4268d616479707321851f354df')?.label).toBe('Blocked')
  })

  it('filters categories and can keep the unmapped ones as other', async () => {
    expect((await readEtherscanLabelMap(MAP, { categories: ['mixer'] })).map((l) => l.label)).toEqual([
      'Tornado.Cash: Mixer 1',
      'Tornado.Cash: 0.1 ETH',
      'Tornado.Cash: Router',
      'Typhoon.Cash: 1 ETH',
    ])
    const all = await readEtherscanLabelMap(MAP, { includeUncategorized: true, source: 'etherscan 2023-06' })
    expect(all).toHaveLength(23)
    expect(all.filter((l) => l.category === 'other').map((l) => l.label)).toEqual(['Multichain Hack Alert 1000', 'Airdrop Hunter'])
    expect(all[0]?.source).toBe('etherscan 2023-06: ethereum-mixer,ofac-sanctions-lists,tornado-cash')
  })
})

describe('per-label CSVs', () => {
  it('Etherscan per-label CSV: the slug is the file name', async () => {
    const tornado = await readEtherscanLabelCsv(fixture('tornado-cash.csv'))
    expect(tornado).toHaveLength(8)
    expect(new Set(tornado.map((l) => l.category))).toEqual(new Set(['mixer']))
    expect(tornado[3]).toEqual({
      address: '0x47ce0c6ed5b0ce3d3a51fdb1c52dc66a7c3c2936',
      label: 'Tornado.Cash: 1 ETH',
      category: 'mixer',
      source: 'tornado-cash.csv: tornado-cash',
    })
    expect(await readEtherscanLabelCsv(fixture('binance-deposit.csv'))).toEqual([
      { address: '0x49812738c5c5c3f05622fcbfd192a330ba46a7d5', label: 'Binance Deposit', category: 'exchange', source: 'binance-deposit.csv: binance-deposit' },
    ])
    expect(countBy(await readEtherscanLabelCsv(fixture('blocked.csv')))).toEqual({ flagged: 3 })
  })

  it('dawsbot address,nameTag: category from the file name', async () => {
    const exchanges = await readEtherscanLabelCsv(fixture('exchange_all.csv'))
    expect(exchanges).toHaveLength(7)
    expect(exchanges.filter((l) => l.label === 'Exchange')).toHaveLength(3)
    expect(countBy(exchanges)).toEqual({ exchange: 7 })
  })

  it('the real spreadsheet-mangled address in the phish-hack list is INVALID_ADDRESS at its line, or skipped', async () => {
    const file = fixture('phish-hack_all.csv')
    const error = await failure(readEtherscanLabelCsv(file))
    expect(error.code).toBe('INVALID_ADDRESS')
    expect(error.details).toMatchObject({ file, line: 9, value: '1.4390191554254E+48' })
    const skipped: SkippedEntry[] = []
    const labels = await readEtherscanLabelCsv(file, { skipInvalid: true, onSkip: (entry) => skipped.push(entry) })
    expect(countBy(labels)).toEqual({ hack: 3, phishing: 5 })
    expect(skipped.map((s) => [s.line, s.value])).toEqual([[9, '1.4390191554254E+48']])
  })

  it('plain address,label,category CSV: categories or slugs, any case', async () => {
    const labels = await readLabelCsv(fixture('plain-labels.csv'))
    expect(labels.map((l) => [l.label, l.category, l.source])).toEqual([
      ['Binance 14', 'exchange', 'Etherscan label binance (2023-06)'],
      ['Tornado.Cash: Router', 'mixer', 'Etherscan label tornado-cash (2023-06)'],
      ['Polygon (Matic): Bridge', 'bridge', 'plain-labels.csv'],
      ['Uniswap V2: Router 2', 'dex', 'Etherscan label dex (2023-06)'],
      ['Aave: Lending Pool V2', 'lending', 'Etherscan label aave (2023-06)'],
    ])
  })

  it('an unknown category is MALFORMED_FILE naming line and value', async () => {
    const file = fixture('plain-labels-bad-category.csv')
    const error = await failure(readLabelCsv(file))
    expect(error.code).toBe('MALFORMED_FILE')
    expect(error.details).toMatchObject({ file, line: 3, field: 'category', value: 'mixr' })
  })

  it('readLabelFile recognises each shape', async () => {
    expect(await readLabelFile(MAP)).toHaveLength(21)
    expect(await readLabelFile(fixture('tornado-cash.csv'))).toHaveLength(8)
    expect(await readLabelFile(fixture('exchange_all.csv'))).toHaveLength(7)
    expect(await readLabelFile(fixture('plain-labels.csv'))).toHaveLength(5)
  })

  it('TagPack tags with a category become labels', async () => {
    const labels = await readTagPackLabels(fileURLToPath(new URL('../../fixtures/seeds/lists/lazarus.tagpack.yaml', import.meta.url)))
    expect(labels).toEqual([
      { address: '0x28c6c06298d514db089934071355e5743bf21d60', label: 'Binance 14', category: 'exchange', source: 'https://etherscan.io/accounts/label/binance' },
    ])
  })
})

describe('mergeLabels', () => {
  it('one label per address: the category first in precedence wins, sources are combined', async () => {
    const labels = [
      ...(await readEtherscanLabelMap(MAP)),
      ...(await readEtherscanLabelCsv(fixture('tornado-cash.csv'))),
      ...(await readLabelCsv(fixture('plain-labels.csv'))),
    ]
    const merged = mergeLabels(labels)
    expect(new Set(merged.map((l) => l.address)).size).toBe(merged.length)
    expect(merged.find((l) => l.address === TORNADO_ROUTER)).toEqual({
      address: TORNADO_ROUTER,
      label: 'Tornado.Cash: Router',
      category: 'mixer',
      source: 'combinedAccountLabels_trimmed.json: ofac-sanctions-lists,tornado-cash | Etherscan label tornado-cash (2023-06)',
    })
    const a = '0x28c6c06298d514db089934071355e5743bf21d60' as const
    const dex: ServiceLabel = { address: a, label: 'looks like a DEX', category: 'dex', source: 'x' }
    const exchange: ServiceLabel = { address: a, label: 'Binance 14', category: 'exchange', source: 'y' }
    expect(mergeLabels([dex, exchange])).toEqual([{ address: a, label: 'Binance 14', category: 'exchange', source: 'x | y' }])
    expect(mergeLabels([exchange, dex])).toEqual([{ address: a, label: 'Binance 14', category: 'exchange', source: 'y | x' }])
  })
})
