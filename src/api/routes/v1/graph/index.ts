/**
 * The graph view's routes (scope investigate): an address's neighbourhood as graphology JSON,
 * the same as a file (GEXF, GraphML, JSON, CSV of edges), and case files.
 */
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { Case, CaseInput, CaseSummary, listCases, readCase, saveCase } from '../../../../graph/cases.ts'
import { CONTENT_TYPES, exportGraph, FORMATS } from '../../../../graph/exports.ts'
import { buildNeighbourhood, DEFAULT_LIMIT, MAX_HOPS, MAX_LIMIT, type NeighbourhoodGraph } from '../../../../graph/neighbourhood.ts'
import type { Address } from '../../../../types.ts'
import { HttpProblem } from '../../../problems.ts'
import { AddressParams, authProblems, problem } from '../../../schemas.ts'

const GraphQuery = z.object({
  hops: z.coerce.number().int().min(0).max(MAX_HOPS).default(1),
  limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(DEFAULT_LIMIT).meta({ description: 'counterparties shown per address; a hub says how many more (node attribute more)' }),
  offset: z.coerce.number().int().min(0).default(0).meta({ description: "where the address's own counterparties start (paging a hub)" }),
})

const ExportQuery = GraphQuery.extend({ format: z.enum(FORMATS).default('gexf') })

const GraphJson = z
  .object({
    options: z.object({ type: z.string(), multi: z.boolean(), allowSelfLoops: z.boolean() }),
    attributes: z.object({ center: z.string(), hops: z.number().int(), limit: z.number().int(), offset: z.number().int(), runId: z.string(), truncated: z.boolean() }),
    nodes: z.array(z.object({ key: z.string(), attributes: z.record(z.string(), z.unknown()) })),
    edges: z.array(z.object({ key: z.string().optional(), source: z.string(), target: z.string(), attributes: z.record(z.string(), z.unknown()) })),
  })
  .meta({ id: 'GraphJson', description: "graphology's serialisation: node attributes address, label, distance, downstreamHops/upstreamHops (-1: none), seed, seedLabel, seedSource, seedProvenance (JSON text), serviceLabel, category, counterparties, more, expanded, receivedEth; edge attributes transfers, totals (JSON text: asset → base units), valueEth, firstBlock, lastBlock, firstTime, lastTime (-1: unknown)" })

const CaseParams = z.object({ id: z.string().regex(/^case_[A-Za-z0-9_-]{12}$/) })
const badInput = problem('bad input (invalidParams names each value and where it was)')

export default async function graphRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>()

  async function neighbourhood(address: string, q: z.infer<typeof GraphQuery>): Promise<NeighbourhoodGraph> {
    const lower = address.trim().toLowerCase() as Address
    const graph = await buildNeighbourhood(app.services.store, lower, q)
    const center = graph.getAttribute('center')
    const known = graph.getNodeAttribute(center, 'counterparties') > 0 || graph.getNodeAttribute(center, 'seed') || graph.getNodeAttribute(center, 'category') !== ''
    if (!known) throw new HttpProblem('not-found', `${center} is not in the store: no transfers, not a seed, no label`)
    return graph
  }

  r.get(
    '/graph/:address',
    {
      schema: {
        tags: ['investigation'],
        summary: "An address's neighbourhood as a graph",
        description: 'Addresses within `hops` transfer steps (either direction) and the transfers among them, aggregated per direction; each address shows at most `limit` counterparties (the most active first), the centre from `offset` on.',
        security: [{ bearerAuth: [] }],
        params: AddressParams,
        querystring: GraphQuery,
        response: { 200: GraphJson, 400: badInput, 404: problem('the address is not in the store'), ...authProblems },
      },
      preHandler: app.requireScope('investigate'),
    },
    async (request) => (await neighbourhood(request.params.address, request.query)).export() as unknown as z.infer<typeof GraphJson>,
  )

  r.get(
    '/export/:address',
    {
      schema: {
        tags: ['investigation'],
        summary: "An address's neighbourhood as a file: GEXF, GraphML, graphology JSON or CSV of edges",
        description: 'The same graph as GET /v1/graph/{address}, as an attachment (amounts are decimal strings of base units in every format).',
        security: [{ bearerAuth: [] }],
        params: AddressParams,
        querystring: ExportQuery,
        response: { 400: badInput, 404: problem('the address is not in the store'), ...authProblems },
      },
      preHandler: app.requireScope('investigate'),
    },
    async (request, reply) => {
      const { format, ...q } = request.query
      const graph = await neighbourhood(request.params.address, q)
      const name = `${graph.getAttribute('center')}-${q.hops}hops.${format}`
      return reply.type(CONTENT_TYPES[format]).header('content-disposition', `attachment; filename="${name}"`).send(exportGraph(graph, format) as never)
    },
  )

  r.post(
    '/cases',
    {
      schema: {
        tags: ['investigation'],
        summary: 'Save a view as a case',
        security: [{ bearerAuth: [] }],
        body: CaseInput,
        response: { 201: Case, 400: badInput, ...authProblems },
      },
      preHandler: app.requireScope('investigate'),
    },
    async (request, reply) => {
      const saved = await saveCase(app.services.redis, app.services.store.keys, request.body, request.apiKey?.name ?? '')
      return reply.code(201).header('location', `/v1/cases/${saved.id}`).send(saved)
    },
  )

  r.get(
    '/cases',
    {
      schema: { tags: ['investigation'], summary: 'Every saved case, newest first', security: [{ bearerAuth: [] }], response: { 200: z.object({ cases: z.array(CaseSummary) }), ...authProblems } },
      preHandler: app.requireScope('investigate'),
    },
    async () => ({ cases: await listCases(app.services.redis, app.services.store.keys) }),
  )

  r.get(
    '/cases/:id',
    {
      schema: { tags: ['investigation'], summary: 'One case', security: [{ bearerAuth: [] }], params: CaseParams, response: { 200: Case, 400: badInput, 404: problem('no case of that id'), ...authProblems } },
      preHandler: app.requireScope('investigate'),
    },
    async (request) => {
      const found = await readCase(app.services.redis, app.services.store.keys, request.params.id)
      if (found === null) throw new HttpProblem('not-found', `no case ${request.params.id}`)
      return found
    },
  )
}
