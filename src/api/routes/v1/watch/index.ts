import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Address } from '../../../../types.ts'
import { createWatchlist, parseExpires } from '../../../../watch/watchlist.ts'
import { recordBaselines } from '../../../../watch/rescan.ts'
import type { AnswerSummary, WatchedAnswer } from '../../../../watch/alerts.ts'
import { HttpProblem } from '../../../problems.ts'
import { checksumAddress } from '../../../../walk/checksum.ts'
import { AddressParams, WatchAdded, WatchEntry, WatchList, WatchRequest, authProblems, problem } from '../../../schemas.ts'

/** Each API key has its own watchlist: it sees, adds and removes only its own entries. */
export default async function watchRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>()
  const watchlist = () => createWatchlist(app.services.redis, app.services.store.keys)
  const ownerOf = (request: { apiKey: { id: string } | null }) => `key:${request.apiKey!.id}`
  const bad = problem('bad input: malformed JSON, a bad address or checksum (invalidParams names each value and where it was)')

  r.get(
    '/watch',
    {
      schema: { tags: ['watch'], summary: "This key's watched wallets, with the answer the last rescan recorded", security: [{ bearerAuth: [] }], response: { 200: WatchList, ...authProblems } },
      preHandler: app.requireScope('screen'),
    },
    async (request) => {
      const entries = await watchlist().list(ownerOf(request))
      const last = entries.length === 0 ? [] : await app.services.redis.hmget(app.services.store.keys.watchLast, ...entries.map((e) => e.address.slice(2).toLowerCase()))
      return { entries: entries.map((e, i) => ({ ...e, last: last[i] == null ? null : (JSON.parse(last[i]!) as WatchedAnswer).summary as AnswerSummary })) }
    },
  )
  r.post(
    '/watch',
    {
      schema: {
        tags: ['watch'],
        summary: 'Watch wallets',
        description: 'Rescans answer watched wallets again and raise an alert when risk, hops or the nearest seed change (GET /v1/alerts, webhooks). The current answer is recorded as the baseline.',
        security: [{ bearerAuth: [] }],
        body: WatchRequest,
        response: { 200: WatchAdded, 400: bad, ...authProblems },
      },
      preHandler: app.requireScope('screen'),
    },
    async (request) => {
      const addresses = [...new Set(request.body.addresses.map((a) => a.trim().toLowerCase() as Address))]
      const added = await watchlist().add(ownerOf(request), addresses.map((address) => ({ address, ref: request.body.ref.trim() })), parseExpires(request.body.expires))
      const baselines = await recordBaselines(app.services.store, app.services.options, addresses)
      return { added, baselines }
    },
  )
  r.delete(
    '/watch/:address',
    {
      schema: {
        tags: ['watch'],
        summary: 'Stop watching a wallet',
        security: [{ bearerAuth: [] }],
        params: AddressParams,
        response: { 200: WatchEntry.pick({ address: true, owner: true }), 400: bad, 404: problem('this key does not watch that wallet'), ...authProblems },
      },
      preHandler: app.requireScope('screen'),
    },
    async (request) => {
      const address = request.params.address.trim().toLowerCase() as Address
      const { removed } = await watchlist().remove(ownerOf(request), [address])
      if (removed.length === 0) throw new HttpProblem('not-found', `key ${request.apiKey!.name} does not watch ${request.params.address}`)
      return { address: checksumAddress(address), owner: ownerOf(request) }
    },
  )
}
