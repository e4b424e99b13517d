import type { Command } from 'commander'
import slotOf from 'cluster-key-slot'
import { buildOptions } from '../../config.ts'
import { InputError } from '../../errors.ts'
import { partitionTagSlots, rangesSplittingTags, equalSlotRanges, tagsPerRange } from '../../store/slot-plan.ts'
import { printJson, printTable } from '../output.ts'

/**
 * `exposure cluster-slots --masters N`: slot ranges for a new Redis Cluster that split the store's
 * 256 partition tags evenly over its masters, to assign with CLUSTER ADDSLOTSRANGE before anything
 * is imported, beside what `redis-cli --cluster create`'s equal ranges would give. Reads no Redis:
 * the tags follow from the prefix alone.
 */
export function registerClusterSlots(program: Command): void {
  program
    .command('cluster-slots')
    .description('slot ranges that split the store’s partition tags evenly over a new cluster’s masters (CLUSTER ADDSLOTSRANGE), beside redis-cli’s equal ranges')
    .requiredOption('--masters <n>', 'how many masters the cluster has')
    .option('--json', 'print JSON')
    .action((flags: { masters: string; json?: boolean }, command: Command) => {
      const { prefix } = buildOptions(command.optsWithGlobals(), process.env)
      const masters = Number(flags.masters)
      const slots = partitionTagSlots(prefix)
      if (!/^\d+$/.test(flags.masters) || masters < 1 || masters > slots.length) {
        throw new InputError('INVALID_ARGUMENT', `--masters must be a whole number from 1 to ${slots.length} (one partition tag or more per master)`, { field: 'masters', value: flags.masters })
      }
      const planned = rangesSplittingTags(slots, masters)
      const plannedTags = tagsPerRange(slots, planned)
      const equal = equalSlotRanges(masters)
      const equalTags = tagsPerRange(slots, equal)
      // Meta, seeds, labels and queues: the prefix's own tag, a few MB, on one master.
      const globalSlot = slotOf(`${prefix}:meta`)
      const globalMaster = planned.findIndex(([first, last]) => globalSlot >= first && globalSlot <= last) + 1
      if (flags.json) {
        return printJson({ prefix, masters, tags: slots.length, globalSlot, globalMaster, planned: planned.map(([first, last], i) => ({ first, last, tags: plannedTags[i] })), equalRanges: equal.map(([first, last], i) => ({ first, last, tags: equalTags[i] })) })
      }
      printTable(
        ['master', 'slots', 'partition tags', 'command', 'redis-cli --cluster create: slots', 'tags'],
        planned.map(([first, last], i) => [String(i + 1), `${first}-${last}`, String(plannedTags[i]), `CLUSTER ADDSLOTSRANGE ${first} ${last}`, `${equal[i]![0]}-${equal[i]![1]}`, String(equalTags[i])]),
      )
      const mean = slots.length / masters
      process.stderr.write(
        `store ${prefix}: ${slots.length} partition tags over ${masters} masters. The busiest master holds ${Math.max(...plannedTags)} with these ranges, ${Math.max(...equalTags)} with redis-cli's equal ones (${(Math.max(...equalTags) / mean).toFixed(2)}× the mean): size masters for the busiest. Send each command to its master before the nodes meet and before importing. The store's global keys (meta, seeds, labels, queues) hash to slot ${globalSlot}, on master ${globalMaster}.\n`,
      )
    })
}
