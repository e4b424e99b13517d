import type { Command } from 'commander'
import { migrateStore } from '../../store/migrate.ts'
import { withContext } from '../context.ts'
import { printJson } from '../output.ts'

/**
 * `exposure migrate`: brings a store of the previous format to this version's in place
 * (store/migrate.ts), instead of a re-import. Safe to interrupt and run again.
 */
export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('bring a store of the previous format (3) to this version’s (4) in place: per-block state moves under the partition tags; safe to interrupt and run again')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }, command: Command) => {
      await withContext(
        command.optsWithGlobals(),
        async (ctx) => {
          const result = await migrateStore(ctx.store, { signal: ctx.signal, ...(flags.json ? {} : { onProgress: (message: string) => ctx.note(message) }) })
          if (flags.json) return printJson(result)
          process.stdout.write(result.from === result.to ? `store ${ctx.store.keys.prefix} is at format ${result.to}: nothing to migrate\n` : `store ${ctx.store.keys.prefix} migrated from format ${result.from} to ${result.to}: ${result.txIndexBlocks} blocks of tx index, ${result.pendingTokenBlocks} of waiting token transfers and ${result.blockTimes} block times moved under the partition tags\n`)
        },
        { write: true, migrating: true },
      )
    })
}
