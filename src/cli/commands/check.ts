import { Option, type Command } from 'commander'
import { formatUnits } from 'ethers'
import { parseAddress } from '../../seeds/address.ts'
import { LISTED_TOKENS } from '../../sources/assets.ts'
import type { Address, PathStep, Seed } from '../../types.ts'
import { openLazySource, parseWalkSource, requireSourceConfig, resolveWalkSource, WALK_SOURCES, type WalkSourceConfig, type WalkSourceName, walkSourceConfig } from '../../sources/walk-source.ts'
import { createChecker, type CheckResult, type ExposureWithSeed } from '../../walk/check.ts'
import { createOnDemandChecker, type AnsweredBy } from '../../walk/on-demand-check.ts'
import { withContext, type Context } from '../context.ts'
import { printJson, printTable } from '../output.ts'

/** Every argument is validated before anything is read or printed: one bad address, no output. */
function parseArguments(values: readonly string[]): Address[] {
  return values.map((value, index) => parseAddress(value, { field: `address argument ${index + 1}` }))
}

async function answer(ctx: Context, addresses: readonly Address[]): Promise<CheckResult[]> {
  const checker = createChecker(ctx.store, ctx.options.riskPolicy)
  const info = await checker.walkInfo()
  if (info.status !== 'complete') process.stderr.write(`warning: no complete walk in store ${ctx.store.keys.prefix} (status: ${info.status ?? 'never run'}); run 'exposure trace' first\n`)
  else if (info.storeChanged) process.stderr.write(`warning: transfers were imported after the last walk (${info.finishedAt}); run 'exposure trace' again for current answers\n`)
  return checker.check(addresses)
}

/**
 * `--source rpc|etherscan`: per direction, the last walk's labels where that walk read the same
 * source lazily over the block range used here (they are exact), else an on-demand search from
 * the address that fetches histories as it reaches them (walk/on-demand-check.ts). The range is
 * the walk's when it used this source (its histories stay consistent), else the source's final
 * block now.
 */
async function answerLive(ctx: Context, source: Exclude<WalkSourceName, 'store'>, addresses: readonly Address[]): Promise<(CheckResult & { answeredBy?: Record<'downstream' | 'upstream', AnsweredBy> })[]> {
  const { store, options } = ctx
  const config: WalkSourceConfig = walkSourceConfig(options)
  requireSourceConfig(source, config)
  const { redis, keys } = store
  const [metaSource, metaThrough, metaAssets, metaMethod, metaVersion] = await redis.hmget(keys.walkMeta, 'source', 'sourceThrough', 'sourceAssets', 'sourceMethod', 'storeVersion')
  let through: number
  let assets: readonly Address[]
  let method: string
  if (metaSource === source && metaThrough !== null && metaThrough !== '') {
    through = Number(metaThrough)
    assets = (metaAssets ?? '').split(',').filter((a) => a.length > 0) as Address[]
    method = metaMethod ?? ''
  } else {
    const resolved = await resolveWalkSource(store, source, config)
    through = resolved.coverage.throughBlock!
    assets = config.listedTokens
    method = resolved.method
  }
  const lastImportBefore = await redis.hget(keys.meta, 'lastImport')
  const live = openLazySource(store, source, config, assets, method, through)
  try {
    const checker = createOnDemandChecker(store, ctx.options.riskPolicy, {
      source,
      lazy: live.lazy,
      throughBlock: through,
      defaults: { maxHops: options.maxHops, stopCategories: options.stopCategories, counterpartyCap: options.counterpartyCap, dust: Object.fromEntries(Object.entries(options.dust).map(([asset, min]) => [asset, min.toString()])) },
    })
    const results = await checker.check(addresses)
    // Histories fetched for a walk's own source and range are more of that walk's input, not a
    // change of its chain: keep its answers from being reported stale (as trace --source does).
    if (metaSource === source && Number(metaThrough) === through && metaVersion === (lastImportBefore ?? '')) {
      await redis.hset(keys.walkMeta, 'storeVersion', (await redis.hget(keys.meta, 'lastImport')) ?? '')
    }
    const searched = results.reduce((n, r) => n + (r.answeredBy.downstream === 'search' ? 1 : 0) + (r.answeredBy.upstream === 'search' ? 1 : 0), 0)
    process.stderr.write(`${source}: blocks 0-${through}; ${results.length * 2 - searched} answers from the last walk's labels, ${searched} searched on demand (${live.lazy.fetched()} histories fetched, ${live.source.requests()} requests)\n`)
    return results
  } finally {
    await live.close()
  }
}

/** The contract's seedInfo: {label, source, incident, listed, confidence}. */
function seedInfo(seed: Seed | null) {
  if (!seed) return null
  return { label: seed.label, source: seed.source, incident: seed.extra?.incident ?? null, listed: seed.extra?.listed ?? null, confidence: seed.extra?.confidence === undefined ? null : Number(seed.extra.confidence) }
}

function publicExposure(e: ExposureWithSeed | null) {
  if (!e) return null
  return { hops: e.hops, seed: e.seed, path: e.path, seedInfo: seedInfo(e.seedInfo) }
}

export function toJson(results: readonly (CheckResult & { answeredBy?: Record<'downstream' | 'upstream', AnsweredBy> })[]) {
  return results.map((r) => ({
    address: r.address,
    risk: r.risk,
    downstream: publicExposure(r.downstream),
    upstream: publicExposure(r.upstream),
    finalBlock: r.finalBlock,
    // Additive, with --source rpc|etherscan only: which answers came from the walk, which from a search.
    ...(r.answeredBy ? { answeredBy: r.answeredBy } : {}),
  }))
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('screen addresses: risk, hops from the nearest seed downstream and upstream, and the seed')
    .argument('<addresses...>', 'Ethereum addresses (0x + 40 hex; mixed case must pass EIP-55)')
    .option('--json', 'print a JSON array (one object per address, with witness paths)')
    .addOption(new Option('--source <source>', 'store: the last walk\'s answers (default); rpc or etherscan: addresses the last walk does not answer exactly for that source are searched on demand, fetching histories lazily (RPC_URL; ETHERSCAN_URL, ETHERSCAN_API_KEY)').choices([...WALK_SOURCES]).default('store'))
    .option('--rpc-url <url>', 'JSON-RPC endpoint for --source rpc (default RPC_URL)')
    .action(async (values: string[], flags: { json?: boolean; source: string; rpcUrl?: string }, command: Command) => {
      const addresses = parseArguments(values)
      const source = parseWalkSource(flags.source)
      await withContext({ ...command.optsWithGlobals(), rpcUrl: flags.rpcUrl }, async (ctx) => {
        const results = source === 'store' ? await answer(ctx, addresses) : await answerLive(ctx, source, addresses)
        if (flags.json) return printJson(toJson(results))
        printScreening(results)
      })
    })

  program
    .command('path')
    .description('show the witness paths of an address: every transfer from the seed, with tx hashes, times and amounts')
    .argument('<address>', 'an Ethereum address')
    .option('--json', 'print JSON (as check --json)')
    .action(async (value: string, flags: { json?: boolean }, command: Command) => {
      const [address] = parseArguments([value])
      await withContext(command.optsWithGlobals(), async (ctx) => {
        const [result] = await answer(ctx, [address!])
        if (flags.json) return printJson(toJson([result!])[0])
        printPaths(result!)
      })
    })
}

export function printScreening(results: readonly CheckResult[]): void {
  printTable(
    ['address', 'risk', 'downstream', 'upstream', 'nearest seed'],
    results.map((r) => {
      const nearest = [r.downstream, r.upstream].filter((e) => e !== null).sort((a, b) => a!.hops - b!.hops)[0]
      return [
        r.address,
        r.risk,
        r.downstream ? `${r.downstream.hops} hop${r.downstream.hops === 1 ? '' : 's'}` : '-',
        r.upstream ? `${r.upstream.hops} hop${r.upstream.hops === 1 ? '' : 's'}` : '-',
        nearest ? `${nearest.seed.slice(0, 10)}… ${nearest.seedInfo?.label ?? ''}`.trim() : '-',
      ]
    }),
  )
}

function printPaths(result: CheckResult): void {
  process.stdout.write(`${result.address}: risk ${result.risk}\n`)
  for (const [name, exposure] of [['downstream (funds from a seed reached it)', result.downstream], ['upstream (its funds reached a seed)', result.upstream]] as const) {
    if (!exposure) {
      process.stdout.write(`\n${name}: none within the walk's hops\n`)
      continue
    }
    process.stdout.write(`\n${name}: ${exposure.hops} hop(s), seed ${exposure.seed}${exposure.seedInfo ? ` (${exposure.seedInfo.label}; ${exposure.seedInfo.source})` : ''}\n`)
    if (exposure.path.length > 0) {
      printTable(
        ['#', 'from', 'to', 'amount', 'block', 'time (UTC)', 'tx hash'],
        exposure.path.map((s, i) => [i + 1, s.from, s.to, formatAmount(s), `${s.blockNumber}/${s.transactionIndex}`, s.timestamp === undefined ? '-' : new Date(s.timestamp * 1000).toISOString().replace('.000Z', 'Z'), s.txHash]),
      )
    }
  }
}

const TOKENS = new Map(LISTED_TOKENS.map((t) => [t.address, t]))

/** Human amount: ETH and the listed tokens in whole units, anything else in base units. */
export function formatAmount(step: PathStep): string {
  if (step.asset === 'ETH') return `${formatUnits(BigInt(step.amount), 18)} ETH`
  const token = TOKENS.get(step.asset.toLowerCase() as Address)
  return token ? `${formatUnits(BigInt(step.amount), token.decimals)} ${token.symbol}` : `${step.amount} of ${step.asset}`
}
