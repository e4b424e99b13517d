/**
 * Case files: a saved graph view (the address it centres on, its nodes with positions and notes,
 * the filters) under a name, kept in the store (P:cases, one JSON per case) so that anyone of the
 * same deployment with an investigate key can reopen it by id. Notes are untrusted text: stored as
 * given, rendered as text by the page. Validated with zod on the way in.
 */
import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import type { Redis } from 'ioredis'
import type { StoreKeys } from '../store/keys.ts'
import { addressProblem } from '../seeds/address.ts'

const CaseAddress = z.string().superRefine((value, ctx) => {
  const problem = addressProblem(value)
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
})

export const CaseInput = z
  .object({
    name: z.string().trim().min(1).max(200),
    address: CaseAddress.meta({ description: 'the address the view centres on' }),
    hops: z.number().int().min(0).max(3).default(1),
    nodes: z
      .array(z.object({ address: CaseAddress, x: z.number().finite(), y: z.number().finite(), note: z.string().max(5_000).optional() }))
      .max(20_000)
      .meta({ description: 'the nodes of the view, with their positions and notes' }),
    filters: z
      .object({
        asset: z.string().max(100).optional(),
        minValueEth: z.string().regex(/^\d+(\.\d+)?$/).max(80).optional(),
        fromTime: z.number().int().optional(),
        toTime: z.number().int().optional(),
      })
      .default({}),
    notes: z.string().max(20_000).default(''),
    expansions: z
      .array(z.object({ address: CaseAddress, offset: z.number().int().min(0) }))
      .max(1_000)
      .default([])
      .meta({ description: 'addresses expanded in the view (with the page of counterparties), replayed on reopening' }),
  })
  .meta({ description: 'a saved graph view' })

export type CaseInputT = z.infer<typeof CaseInput>

export const Case = CaseInput.extend({ id: z.string(), createdAt: z.string(), createdBy: z.string() }).meta({ id: 'Case' })
export type CaseT = z.infer<typeof Case>

export const CaseSummary = z.object({ id: z.string(), name: z.string(), address: z.string(), nodes: z.number().int(), createdAt: z.string(), createdBy: z.string() }).meta({ id: 'CaseSummary' })

export function newCaseId(): string {
  return `case_${randomBytes(9).toString('base64url')}`
}

export async function saveCase(redis: Redis, keys: StoreKeys, input: CaseInputT, createdBy: string): Promise<CaseT> {
  const record: CaseT = { ...input, id: newCaseId(), createdAt: new Date().toISOString(), createdBy }
  await redis.hset(keys.cases, record.id, JSON.stringify(record))
  return record
}

export async function readCase(redis: Redis, keys: StoreKeys, id: string): Promise<CaseT | null> {
  const text = await redis.hget(keys.cases, id)
  return text === null ? null : (JSON.parse(text) as CaseT)
}

/** Every case, newest first. */
export async function listCases(redis: Redis, keys: StoreKeys): Promise<z.infer<typeof CaseSummary>[]> {
  const all = await redis.hvals(keys.cases)
  return all
    .map((text) => JSON.parse(text) as CaseT)
    .map((c) => ({ id: c.id, name: c.name, address: c.address, nodes: c.nodes.length, createdAt: c.createdAt, createdBy: c.createdBy }))
    .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? -1 : 1))
}
