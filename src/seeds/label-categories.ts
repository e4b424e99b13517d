/**
 * Label slugs (Etherscan label pages, as scraped by brianleect/etherscan-labels and
 * dawsbot/eth-labels) → service categories.
 *
 * A category says what kind of service an address belongs to; the walk's stop list decides which
 * categories stop exposure (see `SERVICE_CATEGORIES` for the ones that are services). Some
 * categories are deliberately NOT services: `sanctioned`, `hack`, `phishing` and `flagged` mark
 * suspects, and exposure must keep flowing through them; `wallet`, `token`, `mev`, `other` are
 * informational.
 *
 * Left unmapped on purpose (no category): `take-action` (Etherscan's "Hack Alert" tags on wallets
 * that approved an exploited contract: victims, not services), `genesis`/`burn` (null addresses),
 * `proposer-fee-recipient` (validators), `wbtc-merchant`, `fund`, `airdrop-hunter`, `old-contract`,
 * and project slugs without a clear service type.
 */

export const LABEL_CATEGORIES = [
  'mixer',
  'bridge',
  'exchange',
  'dex',
  'lending',
  'staking',
  'defi',
  'payment',
  'gambling',
  'nft',
  'mining',
  // A generic service (DESIGN.md's stop list names it): custodians, payment processors, anything
  // where many users' funds mix that fits no narrower category.
  'service',
  'mev',
  'wallet',
  'token',
  'sanctioned',
  'hack',
  'phishing',
  'flagged',
  'other',
] as const
export type LabelCategory = (typeof LABEL_CATEGORIES)[number]

/** Categories that are services (hubs where many users' funds mix): candidates for the stop list. */
export const SERVICE_CATEGORIES: readonly LabelCategory[] = ['mixer', 'bridge', 'exchange', 'dex', 'lending', 'staking', 'defi', 'payment', 'gambling', 'nft', 'mining', 'service']

/**
 * When an address carries several slugs, the category earliest in this list wins (e.g. Tornado
 * Cash pools are `ethereum-mixer` + `ofac-sanctions-lists` + `tornado-cash` → `mixer`).
 */
export const CATEGORY_PRECEDENCE: readonly LabelCategory[] = LABEL_CATEGORIES

const SLUGS: Record<LabelCategory, readonly string[]> = {
  mixer: ['tornado-cash', 'ethereum-mixer', 'mixer', 'typhoon-cash', 'privacy'],
  bridge: [
    'bridge', 'multichain', 'wormhole', 'synapse', 'hop-protocol', 'across-protocol', 'celer-network', 'connext', 'router',
    'ren', 'layer-2', 'arbitrum', 'arbitrum-one', 'arbitrum-nova', 'nitro', 'optimism', 'polygon-matic', 'starknet',
    'metis-andromeda', 'omg-network', 'zksync', 'scroll-network', 'aurora', 'rhino-fi', 'nomad', 'stargate', 'orbiter',
    'thorchain',
  ],
  exchange: [
    'exchange', 'binance', 'binance-deposit', 'huobi', 'okx', 'coinbase', 'kraken', 'kucoin', 'gate-io', 'crypto-com', 'ftx',
    'bitfinex', 'bitstamp', 'gemini', 'poloniex', 'bithumb', 'upbit', 'hotbit', 'bittrex', 'bitmex', 'korbit', 'coinone',
    'ascendex', 'bitmart', 'latoken', 'hitbtc', 'deribit', 'digifinex', 'liquid', 'coss-io', 'coinsquare', 'hoo-com',
    'coinmetro', 'coinhako', 'paribu', 'lcx-ag', 'bitcoin-suisse', 'changenow', 'coinbit', 'cobinhood', 'kryptono', 'tidex',
    'topbtc', 'zb-com', 'yunbi', 'allbit', 'abcc', 'bgogo', 'remitano', 'quadrigacx', 'coinlist', 'shapeshift', 'maskex',
    'bitpie', 'otc', 'fiat-gateway', 'hot-wallet', 'cold-wallet', 'exch', 'fixedfloat',
  ],
  dex: [
    'dex', 'uniswap', '1inch', 'paraswap', '0x-protocol', '0x-protocol-ecosystem', 'kyberswap', 'cow-protocol', 'airswap',
    'tokenlon', 'dex-ag', 'sushiswap', 'balancer', 'curve-fi', 'bancor', 'pancakeswap', 'loopring', 'dydx', 'idex',
    'switcheo', 'hydro-protocol', 'dutchx', 'swipeswap', 'saddle-finance', 'sorbet-finance', 'mcdex', 'dinngo',
    'metamask', 'derivatives', 'trading', 'options-trading',
  ],
  lending: [
    'aave', 'compound', 'maker', 'cream-finance', 'rari-capital', 'liquity', 'abracadabra-money', 'inverse-finance', 'dforce',
    'fortube', 'bzx', 'unit-protocol', 'reflexer-finance', 'alchemix-finance', 'gearbox-protocol', 'nuo-network',
    'reservelending', 'loans', 'defi-saver', 'instadapp', 'celsius-network', 'blockfi', 'nexo', 'augmented-finance',
  ],
  staking: ['lido', 'rocket-pool', 'staking', 'ankr', 'stakewise'],
  defi: [
    'defi', 'yearn-finance', 'synthetix', 'set-protocol', 'index-protocol', 'idle-finance', 'yield-farming', 'vaults',
    'convex-finance', 'aura-finance', 'enzyme-finance', 'pooltogether', 'olympusdao', 'mstable', 'zapper-fi', 'furucombo',
    'value-defi', 'ribbon-finance', 'vesper-finance', 'premia', 'opyn', 'robo-advisor-yield', 'harvest-finance',
    'badger-dao', 'sablier', 'nexus-mutual', 'insurance', 'fei-protocol', 'frax-finance',
  ],
  payment: ['payments', 'flexa', 'wirex', 'oobit'],
  gambling: ['gambling', 'etheroll', 'fomo3d', 'zethr'],
  nft: ['opensea', 'rarible', 'looksrare', 'superrare', 'nifty-gateway', 'sudoswap', 'marketplace', 'zora', 'art-blocks', 'blur'],
  mining: ['mining', 'miningpoolhub', 'f2pool', 'ethermine', 'sparkpool'],
  service: ['service', 'custodian', 'payment-processor'],
  mev: ['mev-bot', 'mev-builder', 'backrunning-bots', 'mev-protection'],
  wallet: ['multisig', 'safe-formerly-gnosis-safe', 'authereum', 'wallet-app', 'multisig-owner'],
  token: ['token-sale', 'ico-wallets', 'stablecoin', 'spam-token', 'airdrop-distributor', 'wrapped-bitcoin', 'tbtc'],
  sanctioned: ['ofac-sanctions-lists', 'sanctioned'],
  hack: ['hack', 'exploit', 'heist', 'phish-hack'],
  phishing: ['phishing', 'fake-phishing', 'scam'],
  flagged: ['blocked', 'flagged-by-sec', 'high-risk'],
  other: [],
}

const BY_SLUG: ReadonlyMap<string, LabelCategory> = new Map(
  LABEL_CATEGORIES.flatMap((category) => SLUGS[category].map((slug) => [slug, category] as const)),
)

/** The category of one label slug (case-insensitive), or undefined when the slug is not mapped. */
export function categoryForSlug(slug: string): LabelCategory | undefined {
  return BY_SLUG.get(slug.trim().toLowerCase())
}

/** The category of an address with several slugs: the mapped one earliest in `CATEGORY_PRECEDENCE`. */
export function categoryForSlugs(slugs: readonly string[]): LabelCategory | undefined {
  let best: LabelCategory | undefined
  for (const slug of slugs) {
    const category = categoryForSlug(slug)
    if (category !== undefined && (best === undefined || CATEGORY_PRECEDENCE.indexOf(category) < CATEGORY_PRECEDENCE.indexOf(best))) best = category
  }
  return best
}

/** The slugs mapped to a category (for documentation and tests). */
export function slugsOf(category: LabelCategory): readonly string[] {
  return SLUGS[category]
}

/** True when `category` is one of `LABEL_CATEGORIES`. */
export function isLabelCategory(category: string): category is LabelCategory {
  return (LABEL_CATEGORIES as readonly string[]).includes(category)
}

/** "binance-deposit" → "Binance Deposit": a label for an address whose name tag is empty. */
export function slugTitle(slug: string): string {
  return slug
    .split('-')
    .filter((part) => part !== '')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join(' ')
}
