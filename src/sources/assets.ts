import type { Address } from '../types.ts'

/**
 * The default asset list of DESIGN.md ("mainnet USDT, USDC, DAI, WETH, WBTC, stETH"): the only
 * token contracts whose `Transfer` logs count unless the user configures another list. Any contract
 * can emit a `Transfer` event naming any sender, so an unlisted token never counts by default
 * (address poisoning, framing).
 *
 * Addresses are lowercase. Each was checked against its EIP-55 checksummed form (the checksum
 * validates), and USDT, USDC, DAI, WETH and WBTC also against real mainnet `Transfer` logs of blocks
 * 17173049-17173050 (ethereum-etl's test resources, fixtures/rpc/test_stream/).
 */
export interface ListedToken {
  address: Address
  symbol: string
  /** ERC-20 `decimals()`: for display and for dust thresholds given in whole units. */
  decimals: number
}

export const LISTED_TOKENS: readonly ListedToken[] = Object.freeze([
  // Tether USD (0xdAC17F958D2ee523a2206206994597C13D831ec7)
  { address: '0xdac17f958d2ee523a2206206994597c13d831ec7', symbol: 'USDT', decimals: 6 },
  // USD Coin, FiatTokenProxy (0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48)
  { address: '0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48', symbol: 'USDC', decimals: 6 },
  // Dai Stablecoin, multi-collateral (0x6B175474E89094C44Da98b954EedeAC495271d0F)
  { address: '0x6b175474e89094c44da98b954eedeac495271d0f', symbol: 'DAI', decimals: 18 },
  // Wrapped Ether (0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2)
  { address: '0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2', symbol: 'WETH', decimals: 18 },
  // Wrapped BTC (0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599)
  { address: '0x2260fac5e5542a773aa44fbcfedf7c193bc2c599', symbol: 'WBTC', decimals: 8 },
  // Lido staked ether (0xae7ab96520DE3A18E5e111B5EaAb095312D7fE84); rebasing: balances grow
  // without `Transfer` events, only real moves emit one.
  { address: '0xae7ab96520de3a18e5e111b5eaab095312d7fe84', symbol: 'stETH', decimals: 18 },
])

/** Lowercase contract addresses of the default asset list. */
export const DEFAULT_LISTED_TOKENS: readonly Address[] = Object.freeze(LISTED_TOKENS.map((t) => t.address))

/** Symbol of each default listed token, by lowercase address. */
export const LISTED_TOKEN_SYMBOLS: Readonly<Record<Address, string>> = Object.freeze(
  Object.fromEntries(LISTED_TOKENS.map((t) => [t.address, t.symbol])) as Record<Address, string>,
)

/** Decimals of each default listed token, by lowercase address. */
export const LISTED_TOKEN_DECIMALS: Readonly<Record<Address, number>> = Object.freeze(
  Object.fromEntries(LISTED_TOKENS.map((t) => [t.address, t.decimals])) as Record<Address, number>,
)
