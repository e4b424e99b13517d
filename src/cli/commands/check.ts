import { readFile } from 'node:fs/promises'
import { Option, type Command } from 'commander'
import { InputError } from '../../errors.ts'
import { formatUnits } from 'ethers'
import { parseAddress } from '../../seeds/address.ts'
import { LISTED_TOKENS } from '../../sources/assets.ts'
import type { Address, PathStep } from '../../types.ts'
import { openLazySource, parseWalkSource, requireSourceConfig, WALK_SOURCES, type WalkSourceConfig, type WalkSourceName, walkSourceConfig } from '../../sources/walk-source.ts'
import { createChecker, type CheckResult } from '../../walk/check.ts'
import { createOnDemandChecker, keepWalkFresh, liveRange, onDemandDefaults, type AnsweredBy } from '../../walk/on-demand-check.ts'
import { toJson } from '../../walk/answer-json.ts'
import { walkParams, type WalkParams } from '../../walk/params.ts'
import { formatShare, formatUnits as formatAssetUnits, symbolOf } from '../../walk/risk.ts'
import { withContext, type Context } from '../context.ts'
import { retryNotes } from '../retry-note.ts'
import { printJson, printTable, terminalSafe } from '../output.ts'
import { countFlag, MAX_CONFIRMATIONS } from './sync.ts'

/** Every argument is validated before anything is read or printed: one bad address, no output. */
function parseArguments(values: readonly string[]): Address[] {
  return values.map((value, index) => parseAddress(value, { field: `address argument ${index + 1}` }))
}

/**
 * Addresses from a file (or '-' for standard input): one per line; blank lines and lines starting
 * with '#' are skipped; a CSV line's first field is taken. Every line is validated first (file:line).
 */
async function readAddressFile(file: string): Promise<Address[]> {
  let text: string
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new InputError('FILE_NOT_FOUND', `no such file: ${file}`, { file })
    throw new InputError('INVALID_ARGUMENT', `cannot read ${file}: ${(error as Error).message}`, { file })
  }
  const name = file === '-' ? '<stdin>' : file
  const out: Address[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\ufeff/, '').trim()
    if (line === '' || line.startsWith('#')) return
    const value = line.split(',')[0]!.trim().replace(/^"|"$/g, '')
    if (i === 0 && !/^0x/i.test(value)) return // a header row
    out.push(parseAddress(value, { file: name, line: i + 1, field: 'address' }))
  })
  if (out.length === 0) throw new InputError('INVALID_ARGUMENT', `no addresses in ${name}`, { file: name })
  return out
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** The walk parameters this process sets explicitly (flags or environment): answers from a walk with others are stale. */
export function explicitParams(ctx: Pick<Context, 'options'>): Partial<WalkParams> {
  const env = process.env
  const params: Partial<WalkParams> = {}
  if (env.EXPOSURE_MAX_HOPS !== undefined) params.maxHops = ctx.options.maxHops
  if (env.EXPOSURE_STOP_CATEGORIES !== undefined) params.stopCategories = [...new Set(ctx.options.stopCategories)].sort()
  if (env.EXPOSURE_COUNTERPARTY_CAP !== undefined) params.counterpartyCap = ctx.options.counterpartyCap
  if (env.EXPOSURE_DUST !== undefined) params.dust = walkParams({ directions: [], maxHops: 0, stopCategories: [], counterpartyCap: 0, dust: ctx.options.dust }).dust
  return params
}

async function answer(ctx: Context, addresses: readonly Address[]): Promise<CheckResult[]> {
  const checker = createChecker(ctx.store, ctx.options.riskPolicy, { explicitParams: explicitParams(ctx) })
  const results = await checker.check(addresses, ctx.signal)
  warnStale(ctx, results)
  return results
}

/** One warning on stderr when answers are stale, with the reasons (the JSON carries them per answer). */
function warnStale(ctx: Context, results: readonly CheckResult[]): void {
  const stale = results.find((r) => r.stale)
  if (stale === undefined) return
  ctx.note(`warning: answers are stale: from walk ${stale.walk?.runId} (finished ${stale.walk?.finishedAt}), and ${stale.staleReasons.map((r) => r.detail).join('; ')}; run 'exposure trace' for current answers`)
}

/**
 * `--source rpc|etherscan`: per direction, the last walk's labels where that walk read the same
 * source lazily over the block range used here (they are exact), else an on-demand search from
 * the address that fetches histories as it reaches them (walk/on-demand-check.ts). The range is
 * the walk's when it used this source (its histories stay consistent), else the source's final
 * block now.
 */
async function answerLive(ctx: Context, source: Exclude<WalkSourceName, 'store'>, addresses: readonly Address[], confirmationsFlag = false): Promise<(CheckResult & { answeredBy?: Record<'downstream' | 'upstream', AnsweredBy> })[]> {
  const { store, options } = ctx
  const config: WalkSourceConfig = { ...walkSourceConfig(options), onRetry: retryNotes(ctx.note) }
  requireSourceConfig(source, config)
  // --confirmations on the command line asks for that range even when the walk used another.
  const range = await liveRange(store, source, config, { resolve: confirmationsFlag })
  const live = openLazySource(store, source, config, range.assets, range.method, range.throughBlock)
  try {
    const checker = createOnDemandChecker(store, ctx.options.riskPolicy, {
      source,
      lazy: live.lazy,
      throughBlock: range.throughBlock,
      defaults: onDemandDefaults(options),
    })
    const results = await checker.check(addresses)
    await keepWalkFresh(store, source, range)
    warnStale(ctx, results)
    const searched = results.reduce((n, r) => n + (r.answeredBy.downstream === 'search' ? 1 : 0) + (r.answeredBy.upstream === 'search' ? 1 : 0), 0)
    process.stderr.write(`${source}: blocks 0-${range.throughBlock}; ${results.length * 2 - searched} answers from the last walk's labels, ${searched} searched on demand (${live.lazy.fetched()} histories fetched, ${live.source.requests()} requests)\n`)
    return results
  } finally {
    await live.close()
  }
}

export { toJson }

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('screen addresses: risk, hops from the nearest seed downstream and upstream, and the seed')
    .argument('[addresses...]', 'Ethereum addresses (0x + 40 hex; mixed case must pass EIP-55)')
    .option('--file <file>', "read addresses from a file, one per line (a CSV's first column; '#' comments); '-' reads standard input")
    .option('--json', 'print a JSON array (one object per address, with witness paths)')
    .addOption(new Option('--source <source>', 'store: the last walk\'s answers (default); rpc or etherscan: addresses the last walk does not answer exactly for that source are searched on demand, fetching histories lazily (RPC_URL; ETHERSCAN_URL, ETHERSCAN_API_KEY)').choices([...WALK_SOURCES]).default('store'))
    .option('--rpc-url <url>', 'JSON-RPC endpoint for --source rpc (default RPC_URL)')
    .option('--confirmations <n>', 'for --source rpc|etherscan without a walk of that source: head − N is final (default EXPOSURE_CONFIRMATIONS; unset: the node\'s finalized tag, else 64)')
    .action(async (values: string[], flags: { json?: boolean; file?: string; source: string; rpcUrl?: string; confirmations?: string }, command: Command) => {
      const addresses = [...parseArguments(values), ...(flags.file === undefined ? [] : await readAddressFile(flags.file))]
      if (addresses.length === 0) throw new InputError('INVALID_ARGUMENT', 'no addresses: give them as arguments or with --file <file> (- for standard input)', { field: 'addresses' })
      const source = parseWalkSource(flags.source)
      const confirmations = countFlag('confirmations', flags.confirmations, 'blocks', MAX_CONFIRMATIONS)
      await withContext({ ...command.optsWithGlobals(), rpcUrl: flags.rpcUrl, confirmations }, async (ctx) => {
        const results = source === 'store' ? await answer(ctx, addresses) : await answerLive(ctx, source, addresses, confirmations !== undefined)
        if (flags.json) return printJson(toJson(results))
        printScreening(results)
        printViewLinks(ctx.options.publicUrl, results.filter((r) => r.risk !== 'none').map((r) => r.address))
      }, { write: source !== 'store' })
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
        printViewLinks(ctx.options.publicUrl, [result!.address])
      })
    })
}

/** With a public URL configured (EXPOSURE_PUBLIC_URL): where the graph view opens on each address. */
export function viewLink(publicUrl: string, address: string): string {
  return `${publicUrl}/#/address/${address}`
}

function printViewLinks(publicUrl: string, addresses: readonly string[]): void {
  if (publicUrl === '' || addresses.length === 0) return
  process.stdout.write(`\ngraph view:\n${addresses.map((a) => `  ${viewLink(publicUrl, a)}`).join('\n')}\n`)
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
  process.stdout.write(`${result.address}: risk ${result.risk}: ${terminalSafe(result.reason)}\n`)
  for (const [name, values] of [['received', result.value?.downstream], ['sent', result.value?.upstream]] as const) {
    if (!values || values.length === 0) continue
    printTable(
      ['asset', name, 'exposed', 'share', 'by hops'],
      values.map((v) => [symbolOf(v.asset), formatAssetUnits(BigInt(v.total), v.asset), formatAssetUnits(BigInt(v.exposed), v.asset), formatShare(v.share), Object.entries(v.byHops).map(([h, a]) => `${h}: ${formatAssetUnits(BigInt(a), v.asset)}`).join(', ')]),
    )
  }
  for (const [name, exposure] of [['downstream (funds from a seed reached it)', result.downstream], ['upstream (its funds reached a seed)', result.upstream]] as const) {
    if (!exposure) {
      process.stdout.write(`\n${name}: none within the walk's hops\n`)
      continue
    }
    process.stdout.write(`\n${name}: ${exposure.hops} hop(s), seed ${exposure.seed}${exposure.seedInfo ? ` (${terminalSafe(exposure.seedInfo.label)}; ${terminalSafe(exposure.seedInfo.source)})` : ''}\n`)
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
