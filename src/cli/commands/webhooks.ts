import type { Command } from 'commander'
import { randomBytes } from 'node:crypto'
import { BaseError, InputError } from '../../errors.ts'
import { createWebhooks, deliver, parseEvents } from '../../watch/webhooks.ts'
import { withContext } from '../context.ts'
import { printJson, printTable } from '../output.ts'

export function registerWebhooks(program: Command): void {
  const webhooks = program.command('webhooks').description('endpoints that receive alerts as signed webhooks (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)')
  webhooks
    .command('add')
    .description('add an endpoint; its whsec_ secret is generated unless given, and printed once')
    .requiredOption('--url <url>', 'http:// or https:// URL that receives POSTs')
    .option('--events <list>', 'which alerts: comma-separated risk, hops, seed (an alert goes when one of its changes is listed; default all)')
    .option('--secret <whsec>', 'use this secret (whsec_ + base64 of 24 to 64 bytes) instead of a new one')
    .option('--allow-private', 'allow a private or loopback target (refused by default: no server-side request forgery)')
    .option('--json', 'print JSON (with the secret)')
    .action(async (flags: { url: string; events?: string; secret?: string; allowPrivate?: boolean; json?: boolean }, command: Command) => {
      const events = parseEvents(flags.events)
      await withContext(command.optsWithGlobals(), async ({ redis, store }) => {
        const endpoint = await createWebhooks(redis, store.keys).add({ url: flags.url, events, ...(flags.secret === undefined ? {} : { secret: flags.secret }), allowPrivate: flags.allowPrivate === true })
        if (flags.json) return printJson(endpoint)
        process.stdout.write(`${endpoint.secret}\n`)
        process.stderr.write(`endpoint ${endpoint.id} → ${endpoint.url} (events ${endpoint.events.join(', ')}). ${flags.secret === undefined ? 'The secret above is shown only now: give it to the receiver to verify signatures.' : ''}\n`)
      }, { write: true })
    })
  webhooks
    .command('list')
    .description('the endpoints (never their secrets), deliveries made and alerts given up on')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }, command: Command) => {
      await withContext(command.optsWithGlobals(), async ({ redis, store }) => {
        const w = createWebhooks(redis, store.keys)
        const list = await w.list()
        const failures = await w.failures()
        if (flags.json) return printJson({ endpoints: list, failures })
        printTable(['id', 'url', 'events', 'delivered', 'failed', 'state'], list.map((e) => [e.id, e.url, e.events.join(','), e.delivered, e.failed, e.disabledAt === null ? 'enabled' : `disabled: ${e.disabledReason}`]))
        if (failures.length > 0) printTable(['failed at', 'endpoint', 'alert', 'address', 'reason'], failures.map((f) => [f.at, f.endpoint, f.alert, f.address, f.reason]))
      })
    })
  webhooks
    .command('remove')
    .description('remove an endpoint (its queued deliveries are dropped)')
    .argument('<id>', 'endpoint id')
    .action(async (id: string, _flags: unknown, command: Command) => {
      await withContext(command.optsWithGlobals(), async ({ redis, store }) => {
        await createWebhooks(redis, store.keys).remove(id)
        process.stdout.write(`removed ${id}\n`)
      }, { write: true })
    })
  webhooks
    .command('test')
    .description('send a signed test event to an endpoint now and print its answer (exit 1 unless 2xx)')
    .argument('<id>', 'endpoint id')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: { json?: boolean }, command: Command) => {
      await withContext(command.optsWithGlobals(), async ({ redis, store }) => {
        const endpoint = await createWebhooks(redis, store.keys).get(id)
        if (endpoint === null) throw new InputError('INVALID_ARGUMENT', `no webhook endpoint ${JSON.stringify(id)}`, { field: 'id', value: id })
        const messageId = `test_${randomBytes(12).toString('hex')}`
        const body = JSON.stringify({ type: 'webhook.test', timestamp: new Date().toISOString(), data: { endpoint: endpoint.id } })
        const outcome = await deliver(endpoint, messageId, body)
        const ok = outcome.status !== null && outcome.status >= 200 && outcome.status < 300
        if (flags.json) printJson({ id: messageId, ...outcome, ok })
        else process.stdout.write(`${endpoint.url}: ${outcome.status === null ? `no answer (${outcome.error})` : `HTTP ${outcome.status}`} in ${outcome.ms} ms\n`)
        if (!ok) throw new BaseError('INTERNAL', `the endpoint did not accept the test event (${outcome.status === null ? outcome.error : `HTTP ${outcome.status}`})`, { value: endpoint.url })
      })
    })
}
