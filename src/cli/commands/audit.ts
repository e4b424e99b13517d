import type { Command } from 'commander'
import { parseAddress } from '../../seeds/address.ts'
import { readAudit } from '../../screen/records.ts'
import { InputError } from '../../errors.ts'
import { withContext } from '../context.ts'
import { printJson, printTable } from '../output.ts'

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description('the audit trail of an address: every screening of it by exposure serve (request id, key name, status, risk, hops, basis, time), newest first')
    .argument('<address>', 'an Ethereum address')
    .option('--limit <n>', 'most entries (default 100)', '100')
    .option('--json', 'print JSON')
    .action(async (value: string, flags: { limit: string; json?: boolean }, command: Command) => {
      const address = parseAddress(value, { field: 'address' })
      const limit = Number(flags.limit)
      if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new InputError('INVALID_ARGUMENT', `--limit must be an integer from 1 to 100000: ${JSON.stringify(flags.limit)}`, { field: 'limit', value: flags.limit })
      await withContext(command.optsWithGlobals(), async ({ redis, store }) => {
        const entries = await readAudit(redis, store.keys, address, limit)
        if (flags.json) return printJson(entries)
        if (entries.length === 0) {
          process.stderr.write(`no screenings of ${address} in the audit trail (within its retention)\n`)
          return
        }
        printTable(['time', 'key', 'status', 'risk', 'down', 'up', 'walk', 'seeds v', 'final block', 'from', 'request'], entries.map((e) => [e.time, e.key, e.status, e.risk ?? '-', e.downstreamHops ?? '-', e.upstreamHops ?? '-', e.runId ?? '-', e.seedVersion ?? '-', e.finalBlock ?? '-', e.answeredFrom, e.requestId]))
      })
    })
}
