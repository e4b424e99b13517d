import { rename, writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { InputError } from '../../errors.ts'
import { exportGraph, FORMATS, type ExportFormat } from '../../graph/exports.ts'
import { buildNeighbourhood, DEFAULT_LIMIT, MAX_HOPS, MAX_LIMIT } from '../../graph/neighbourhood.ts'
import { parseAddress } from '../../seeds/address.ts'
import { withContext } from '../context.ts'

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('an address\'s neighbourhood as a graph file: GEXF (Gephi), GraphML, graphology JSON or CSV of edges; nodes carry hops, seed provenance and labels, edges aggregated transfers')
    .argument('<address>', 'an Ethereum address (EIP-55 or lowercase)')
    .option('--hops <n>', `transfer steps from the address, 0 to ${MAX_HOPS}`, '1')
    .option('--format <format>', FORMATS.join('|'), 'gexf')
    .option('--limit <n>', `counterparties shown per address (hubs are capped; 1 to ${MAX_LIMIT})`, String(DEFAULT_LIMIT))
    .option('--offset <n>', "where the address's own counterparties start (paging a hub)", '0')
    .option('--out <file>', 'write to this file (whole or not at all) instead of stdout')
    .action(async (value: string, flags: { hops: string; format: string; limit: string; offset: string; out?: string }, command: Command) => {
      const address = parseAddress(value, { field: 'address' })
      const hops = integer(flags.hops, 'hops', 0, MAX_HOPS)
      const limit = integer(flags.limit, 'limit', 1, MAX_LIMIT)
      const offset = integer(flags.offset, 'offset', 0, 1_000_000_000)
      if (!(FORMATS as readonly string[]).includes(flags.format)) throw new InputError('INVALID_ARGUMENT', `--format must be one of ${FORMATS.join(', ')}: ${JSON.stringify(flags.format)}`, { field: 'format', value: flags.format })
      await withContext(command.optsWithGlobals(), async ({ store, note }) => {
        const graph = await buildNeighbourhood(store, address, { hops, limit, offset })
        const center = graph.getAttribute('center')
        if (graph.getNodeAttribute(center, 'counterparties') === 0) note(`${center} has no transfers in the store`)
        if (graph.getAttribute('runId') === '') note('no walk is published: hops are unknown (-1); run exposure trace first')
        if (graph.getAttribute('truncated')) note(`the neighbourhood was cut at ${graph.order} addresses`)
        const text = exportGraph(graph, flags.format as ExportFormat)
        if (flags.out === undefined) {
          process.stdout.write(text)
          return
        }
        const temporary = `${flags.out}.${process.pid}.tmp`
        await writeFile(temporary, text)
        await rename(temporary, flags.out)
        note(`${flags.out}: ${graph.order} addresses, ${graph.size} edges (${flags.format})`)
      })
    })
}

function integer(text: string, field: string, min: number, max: number): number {
  const n = Number(text)
  if (!/^\d+$/.test(text.trim()) || n < min || n > max) throw new InputError('INVALID_ARGUMENT', `--${field} must be an integer from ${min} to ${max}: ${JSON.stringify(text)}`, { field, value: text })
  return n
}
