import type { Command } from 'commander'
import { InputError } from '../../errors.ts'
import { connectRedis } from '../../store/redis.ts'
import { isCursor, lastAlerts, readAlerts, waitAlerts, type StoredAlert } from '../../watch/alerts.ts'
import { withContext } from '../context.ts'
import { printTable } from '../output.ts'
import { viewLink } from './check.ts'

function describe(a: StoredAlert): string[] {
  const d = (s: { downstream: { hops: number } | null; upstream: { hops: number } | null }) => `${s.downstream?.hops ?? '-'}/${s.upstream?.hops ?? '-'}`
  return [a.cursor, a.alert.at, a.alert.address, `${a.alert.before.risk} → ${a.alert.after.risk}`, `${d(a.alert.before)} → ${d(a.alert.after)}`, a.alert.changes.join(','), a.alert.id]
}

export function registerAlerts(program: Command): void {
  program
    .command('alerts')
    .description('alerts raised by rescans: a watched wallet whose risk, hops or nearest seed changed')
    .command('tail')
    .description('the latest alerts, oldest first; --follow keeps printing new ones (one JSON object per line with --json)')
    .option('-n, --lines <n>', 'how many of the latest to print first', '20')
    .option('--after <cursor>', 'print the alerts after this cursor (a stream id) instead of the latest')
    .option('--follow', 'wait for new alerts (Ctrl-C stops)')
    .option('--json', 'one JSON object per line: {cursor, alert}')
    .action(async (flags: { lines: string; after?: string; follow?: boolean; json?: boolean }, command: Command) => {
      const lines = Number(flags.lines)
      if (!Number.isInteger(lines) || lines < 0 || lines > 100_000) throw new InputError('INVALID_ARGUMENT', `--lines must be an integer from 0 to 100000: ${JSON.stringify(flags.lines)}`, { field: 'lines', value: flags.lines })
      if (flags.after !== undefined && !isCursor(flags.after)) throw new InputError('INVALID_ARGUMENT', `--after must be a cursor (a stream id like 1764633600000-0): ${JSON.stringify(flags.after)}`, { field: 'after', value: flags.after })
      await withContext(command.optsWithGlobals(), async ({ redis, store, options, signal }) => {
        // With a public URL (EXPOSURE_PUBLIC_URL), each alert links to its wallet in the graph view.
        const link = (a: StoredAlert) => (options.publicUrl === '' ? {} : { link: viewLink(options.publicUrl, a.alert.address) })
        const print = (list: StoredAlert[]) => {
          if (flags.json) for (const a of list) process.stdout.write(`${JSON.stringify({ ...a, ...link(a) })}\n`)
          else if (list.length > 0) printTable(['cursor', 'time', 'address', 'risk', 'hops down/up', 'changed', 'id', ...(options.publicUrl === '' ? [] : ['graph view'])], list.map((a) => [...describe(a), ...(options.publicUrl === '' ? [] : [link(a).link!])]))
        }
        const first = flags.after !== undefined ? await readAlerts(redis, store.keys, flags.after, Math.max(lines, 1_000)) : await lastAlerts(redis, store.keys, lines)
        print(first)
        if (!flags.follow) return
        let cursor = first.length > 0 ? first[first.length - 1]!.cursor : flags.after ?? ((await redis.xinfo('STREAM', store.keys.alerts).catch(() => null)) === null ? '0' : '$')
        if (cursor === '$') {
          const last = await lastAlerts(redis, store.keys, 1)
          cursor = last[0]?.cursor ?? '0'
        }
        const blocking = await connectRedis(options.redisUrl)
        try {
          while (!signal.aborted) {
            const page = await waitAlerts(blocking, store.keys, cursor, 1_000)
            if (page.length === 0) continue
            print(page)
            cursor = page[page.length - 1]!.cursor
          }
        } finally {
          blocking.disconnect()
        }
      })
    })
}
