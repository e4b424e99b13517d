import type { Command } from 'commander'
import { DEFAULT_RATE, formatRate, parseRate, parseScopes, createApiKeys } from '../../screen/api-keys.ts'
import { withContext } from '../context.ts'
import { printJson, printTable } from '../output.ts'

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('API keys of exposure serve: create (printed once), list, revoke')
  keys
    .command('create')
    .description('create a key; it is printed once and stored only as a hash')
    .requiredOption('--name <name>', 'who uses it (letters, digits, . @ _ -)')
    .requiredOption('--scopes <list>', 'comma-separated: screen, investigate, admin')
    .option('--rate <rate>', `requests per second, minute or hour: 100/s, 6000/min, 1000/h (default ${DEFAULT_RATE})`)
    .option('--json', 'print JSON (with the key) for scripts')
    .action(async (flags: { name: string; scopes: string; rate?: string; json?: boolean }, command: Command) => {
      const scopes = parseScopes(flags.scopes)
      const rate = parseRate(flags.rate ?? DEFAULT_RATE)
      await withContext(command.optsWithGlobals(), async ({ redis, store }) => {
        const { key, info } = await createApiKeys(redis, store.keys).create({ name: flags.name, scopes, rate })
        if (flags.json) return printJson({ key, ...info })
        process.stdout.write(`${key}\n`)
        process.stderr.write(`key ${info.id} (${info.name}; scopes ${info.scopes.join(', ')}; ${formatRate(info.rate)}). It is shown only now: store it in your secrets manager.\n`)
      }, { write: true })
    })
  keys
    .command('list')
    .description('the keys (never the secrets)')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }, command: Command) => {
      await withContext(command.optsWithGlobals(), async ({ redis, store }) => {
        const list = await createApiKeys(redis, store.keys).list()
        if (flags.json) return printJson(list)
        printTable(['id', 'name', 'scopes', 'rate', 'created', 'revoked'], list.map((k) => [k.id, k.name, k.scopes.join(','), formatRate(k.rate), k.createdAt, k.revokedAt ?? '-']))
      })
    })
  keys
    .command('revoke')
    .description('revoke a key by id or name (servers refuse it within a second)')
    .argument('<key>', 'the key id or name')
    .action(async (idOrName: string, _flags: unknown, command: Command) => {
      await withContext(command.optsWithGlobals(), async ({ redis, store }) => {
        const info = await createApiKeys(redis, store.keys).revoke(idOrName)
        process.stdout.write(`revoked ${info.id} (${info.name}) at ${info.revokedAt}\n`)
      }, { write: true })
    })
}
