import type { Command } from 'commander'
import { getAddress } from 'ethers'
import { parseAddress } from '../../seeds/address.ts'
import { formatShare, formatUnits, symbolOf } from '../../walk/risk.ts'
import { taintOf, type TaintAnswer } from '../../walk/taint-region.ts'
import { withContext } from '../context.ts'
import { printJson, printTable } from '../output.ts'

/** The answer as JSON: amounts as decimal strings of base units, addresses EIP-55. */
export function taintJson(answer: TaintAnswer) {
  const address = (hex: string) => getAddress(`0x${hex}`)
  return {
    address: getAddress(answer.address),
    walk: answer.walk,
    regionSize: answer.regionSize,
    transfersReplayed: answer.transfersReplayed,
    assets: answer.assets.map((a) => ({
      asset: a.asset === 'ETH' ? 'ETH' : getAddress(a.asset),
      received: a.received.toString(),
      taintedReceived: a.taintedReceived.toString(),
      fraction: a.fraction,
      balance: a.balance.toString(),
      taintedBalance: a.taintedBalance.toString(),
      unexplained: a.unexplained.toString(),
      unexplainedBy: a.unexplainedBy.slice(0, 10).map((u) => ({ address: address(u.address), amount: u.amount.toString() })),
      topPaths: a.topPaths.map((p) => ({
        tainted: p.tainted.toString(),
        steps: p.steps.map((s) => ({ from: address(s.transfer.from), to: address(s.transfer.to), txHash: s.transfer.txHash, blockNumber: Math.floor(s.transfer.position / 65536), transactionIndex: s.transfer.position % 65536, amount: s.transfer.amount.toString(), tainted: s.tainted.toString() })),
      })),
    })),
  }
}

export function registerTaint(program: Command): void {
  program
    .command('taint')
    .description('haircut taint of an address: a chronological replay of the transfers between the seeds and it (seeds send fully tainted value, every address passes on its tainted share); per asset, the tainted amount and fraction it received, and the paths that brought the most')
    .argument('<address>', 'an Ethereum address')
    .option('--json', 'print JSON (amounts in base units)')
    .action(async (value: string, flags: { json?: boolean }, command: Command) => {
      const address = parseAddress(value, { field: 'address argument 1' })
      await withContext(command.optsWithGlobals(), async (ctx) => {
        const answer = await taintOf(ctx.store, address)
        if (flags.json) return printJson(taintJson(answer))
        process.stdout.write(`${getAddress(address)}: haircut taint over ${answer.regionSize} addresses and ${answer.transfersReplayed} transfers of walk ${answer.walk.runId}\n`)
        if (answer.assets.length === 0) return void process.stdout.write('no transfers of its own in the store\n')
        printTable(
          ['asset', 'received', 'tainted', 'fraction', 'holds', 'of it tainted', 'sent beyond what it received (clean)'],
          answer.assets.map((a) => [symbolOf(a.asset), formatUnits(a.received, a.asset), formatUnits(a.taintedReceived, a.asset), formatShare(a.fraction), formatUnits(a.balance, a.asset), formatUnits(a.taintedBalance, a.asset), formatUnits(a.unexplained, a.asset)]),
        )
        for (const a of answer.assets) {
          for (const [i, path] of a.topPaths.entries()) {
            process.stdout.write(`\n${symbolOf(a.asset)} path ${i + 1}: ${formatUnits(path.tainted, a.asset)} tainted ${symbolOf(a.asset)} reached it this way\n`)
            printTable(
              ['from', 'to', 'amount', 'tainted', 'block', 'tx hash'],
              path.steps.map((s) => [getAddress(`0x${s.transfer.from}`), getAddress(`0x${s.transfer.to}`), formatUnits(s.transfer.amount, a.asset), formatUnits(s.tainted, a.asset), `${Math.floor(s.transfer.position / 65536)}/${s.transfer.position % 65536}`, s.transfer.txHash]),
            )
          }
        }
      })
    })
}
