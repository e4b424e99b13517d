/**
 * How an import through jobs groups its files (sources/etl-ingest.ts planEtlJobs): token transfers
 * go with the transactions of their block range (ethereum-etl's file names), so that the job joins
 * them in memory; receipts keep every transactions file in one job; files of no range, and groups
 * that would outgrow a byte range, stay apart.
 */
import { describe, expect, it } from 'vitest'
import { planEtlJobs } from '../../src/sources/etl-ingest.ts'
import type { EtlKind } from '../../src/sources/etl.ts'

const file = (name: string, size = 100) => ({ file: `/exports/${name}`, kind: (['token_transfers', 'transactions', 'traces', 'receipts'] as const).find((k) => name.startsWith(k)) as EtlKind, size })
const names = (jobs: { file: string }[][]) => jobs.map((job) => job.map((f) => f.file.replace('/exports/', '')))

describe('planEtlJobs', () => {
  it('puts token transfers with the transactions of their block range, transactions first', () => {
    const files = ['transactions_00000000_00099999.csv', 'transactions_00100000_00199999.csv.gz', 'traces_00000000_00099999.csv', 'token_transfers_00000000_00099999.csv', 'token_transfers_00100000_00199999.csv', 'token_transfers_00200000_00299999.csv'].map((n) => file(n))
    expect(names(planEtlJobs(files))).toEqual([
      ['transactions_00000000_00099999.csv', 'token_transfers_00000000_00099999.csv'],
      ['transactions_00100000_00199999.csv.gz', 'token_transfers_00100000_00199999.csv'],
      ['traces_00000000_00099999.csv'],
      ['token_transfers_00200000_00299999.csv'],
    ])
  })

  it('keeps files apart when their names carry no range, or the job would outgrow the limit', () => {
    expect(names(planEtlJobs([file('transactions.csv'), file('token_transfers.csv')]))).toEqual([['transactions.csv'], ['token_transfers.csv']])
    expect(names(planEtlJobs([file('transactions_1.csv', 600), file('token_transfers_1.csv', 500)], 1_000))).toEqual([['transactions_1.csv'], ['token_transfers_1.csv']])
    expect(names(planEtlJobs([file('transactions_1.csv', 500), file('token_transfers_1.csv', 500)], 1_000))).toEqual([['transactions_1.csv', 'token_transfers_1.csv']])
  })

  it('with receipts, every transactions file reads with them and token transfers stay apart', () => {
    const files = ['receipts_1.csv', 'transactions_1.csv', 'transactions_2.csv', 'token_transfers_1.csv'].map((n) => file(n))
    expect(names(planEtlJobs(files))).toEqual([['receipts_1.csv', 'transactions_1.csv', 'transactions_2.csv'], ['token_transfers_1.csv']])
  })
})
