import type { Address } from '../types.ts'

/**
 * Default dust floors: about 10 US dollars of each default asset, in base units. A transfer below
 * its asset's floor does not count — for hops, exposed value and taint alike — so that an
 * unsolicited deposit of a few dollars (the 2022 "Tornado Cash dusting" that got innocent wallets
 * blocked) cannot make a wallet exposed; ten dollars is what such dustings sent (0.1 ETH at most,
 * usually far less) rounded down to a value nobody launders.
 *
 * Prices assumed (late 2025): ETH ≈ 3,300 USD, BTC ≈ 100,000 USD; stablecoins 1 USD. At other
 * prices the floors stay the same order of magnitude, which is all they need. Override with
 * EXPOSURE_DUST="ETH=…,0x…=…" (replaces the defaults) or turn them off with EXPOSURE_DUST=none.
 */
export const DEFAULT_DUST_FLOORS: Readonly<Record<'ETH' | Address, bigint>> = Object.freeze({
  /** 0.003 ETH */
  ETH: 3_000_000_000_000_000n,
  /** WETH, 18 decimals: 0.003 WETH */
  '0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2': 3_000_000_000_000_000n,
  /** stETH, 18 decimals: 0.003 stETH */
  '0xae7ab96520de3a18e5e111b5eaab095312d7fe84': 3_000_000_000_000_000n,
  /** USDT, 6 decimals: 10 USDT */
  '0xdac17f958d2ee523a2206206994597c13d831ec7': 10_000_000n,
  /** USDC, 6 decimals: 10 USDC */
  '0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48': 10_000_000n,
  /** DAI, 18 decimals: 10 DAI */
  '0x6b175474e89094c44da98b954eedeac495271d0f': 10_000_000_000_000_000_000n,
  /** WBTC, 8 decimals: 0.0001 WBTC */
  '0x2260fac5e5542a773aa44fbcfedf7c193bc2c599': 10_000n,
})
