import type { Command } from 'commander'
import { InputError } from '../../errors.ts'
import { parseAddress } from '../../seeds/address.ts'
import { checkRef, createWatchlist, parseExpires, readWatchCsv, type WatchInput } from '../../watch/watchlist.ts'
import { recordBaselines } from '../../watch/rescan.ts'
import { withContext } from '../context.ts'
import { printJson, printTable } from '../output.ts'

const OWNER = 'cli'

export function registerWatch(program: Command): void {
  const watch = program.command('watch').description('watchlists: wallets whose answers rescans keep current, alerting when risk, hops or the nearest seed change')
  watch
    .command('add')
    .description('watch wallets (the CLI\'s own entries; API keys have theirs); records each one\'s current answer as the baseline alerts compare with')
    .argument('<addresses...>', 'wallet addresses')
    .option('--ref <ref>', 'your own reference (a customer id, a case number)')
    .option('--expires <duration>', 'stop watching after this long: 90d, 12h, 30m, or never (default never)')
    .option('--json', 'print JSON')
    .action(async (values: string[], flags: { ref?: string; expires?: string; json?: boolean }, command: Command) => {
      const ref = checkRef(flags.ref ?? '')
      const expires = parseExpires(flags.expires)
      const inputs: WatchInput[] = values.map((v, i) => ({ address: parseAddress(v, { field: `address argument ${i + 1}` }), ref }))
      await withContext(command.optsWithGlobals(), async ({ redis, store, options }) => {
        const entries = await createWatchlist(redis, store.keys).add(OWNER, inputs, expires)
        const baselines = await recordBaselines(store, options, inputs.map((i) => i.address))
        if (flags.json) return printJson({ added: entries, baselines })
        process.stdout.write(`watching ${entries.length} wallet(s)${expires === null ? '' : ` until ${entries[0]!.expiresAt}`}; ${baselines} new baseline answer(s) recorded\n`)
      }, { write: true })
    })
  watch
    .command('import')
    .description('watch the wallets of a CSV file (header address[,ref]); all or nothing: a bad line names file:line and field')
    .argument('<csv>', 'the file')
    .option('--expires <duration>', 'stop watching after this long: 90d, 12h, 30m, or never (default never)')
    .option('--json', 'print JSON')
    .action(async (file: string, flags: { expires?: string; json?: boolean }, command: Command) => {
      const expires = parseExpires(flags.expires)
      const inputs = await readWatchCsv(file)
      await withContext(command.optsWithGlobals(), async ({ redis, store, options }) => {
        const entries = await createWatchlist(redis, store.keys).add(OWNER, inputs, expires)
        const baselines = await recordBaselines(store, options, inputs.map((i) => i.address))
        if (flags.json) return printJson({ file, added: entries.length, baselines })
        process.stdout.write(`watching ${entries.length} wallet(s) from ${file}; ${baselines} new baseline answer(s) recorded\n`)
      }, { write: true })
    })
  watch
    .command('list')
    .description('the watch entries (every owner: cli and each API key), with the last answer recorded')
    .option('--owner <owner>', "only this owner's entries: cli or key:<id>")
    .option('--json', 'print JSON')
    .action(async (flags: { owner?: string; json?: boolean }, command: Command) => {
      await withContext(command.optsWithGlobals(), async ({ redis, store }) => {
        const entries = await createWatchlist(redis, store.keys).list(flags.owner ?? null)
        const last = entries.length === 0 ? [] : await redis.hmget(store.keys.watchLast, ...entries.map((e) => e.address.slice(2).toLowerCase()))
        const rows = entries.map((e, i) => ({ ...e, expired: e.expiresAt !== null && Date.parse(e.expiresAt) <= Date.now(), last: last[i] == null ? null : JSON.parse(last[i]!) }))
        if (flags.json) return printJson(rows)
        printTable(['address', 'owner', 'ref', 'added', 'expires', 'risk', 'hops down/up'], rows.map((r) => [r.address, r.owner, r.ref, r.addedAt, r.expiresAt === null ? 'never' : `${r.expiresAt}${r.expired ? ' (expired)' : ''}`, r.last?.summary.risk ?? '-', r.last === null ? '-' : `${r.last.summary.downstream?.hops ?? '-'}/${r.last.summary.upstream?.hops ?? '-'}`]))
        process.stdout.write(`${rows.length} entries\n`)
      })
    })
  watch
    .command('remove')
    .description('stop watching wallets (the CLI\'s entries, or --owner\'s)')
    .argument('<addresses...>', 'wallet addresses')
    .option('--owner <owner>', 'whose entries: cli (default) or key:<id>')
    .option('--json', 'print JSON')
    .action(async (values: string[], flags: { owner?: string; json?: boolean }, command: Command) => {
      const addresses = values.map((v, i) => parseAddress(v, { field: `address argument ${i + 1}` }))
      const owner = flags.owner ?? OWNER
      if (!/^(cli|key:[0-9a-f]{12})$/.test(owner)) throw new InputError('INVALID_ARGUMENT', `--owner must be cli or key:<id>: ${JSON.stringify(owner)}`, { field: 'owner', value: owner })
      await withContext(command.optsWithGlobals(), async ({ redis, store }) => {
        const { removed, unknown } = await createWatchlist(redis, store.keys).remove(owner, addresses)
        if (removed.length === 0) throw new InputError('INVALID_ARGUMENT', `not watched by ${owner}`, { field: 'address', value: unknown.join(',') })
        if (flags.json) return printJson({ removed, notWatched: unknown })
        for (const a of unknown) process.stderr.write(`warning: ${a} was not watched by ${owner}\n`)
        process.stdout.write(`${removed.length} removed\n`)
      }, { write: true })
    })
}
