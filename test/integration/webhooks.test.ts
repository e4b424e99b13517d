import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { mkdir, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { Webhook } from 'standardwebhooks'
import { afterAll, describe, expect, it } from 'vitest'
import { createDeliverQueue } from '../../src/queues/watch-queues.ts'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { recordAnswers, type Alert } from '../../src/watch/alerts.ts'
import { dispatch } from '../../src/watch/delivery.ts'
import { createWebhooks, sign } from '../../src/watch/webhooks.ts'
import { startDeliverWorker } from '../../src/queues/workers/deliver.ts'
import { BIN, runCli } from '../support/cli.ts'
import type { EtlRows, TxRow } from '../support/etl-rows.ts'
import { useRedisAndTempDir, writeEtlFolder } from '../support/harness.ts'
import { testPrefix } from '../support/redis-server.ts'

/**
 * Signed alerts (issue 9) reach a real HTTP receiver that verifies them with the standardwebhooks
 * package: delivered by a real `exposure worker --queues deliver` process from alerts real rescans
 * raised, retried with backoff, de-duplicable by webhook-id, in order per address; 410 disables an
 * endpoint; a delivery that keeps failing past the retry window is marked failed.
 */
const harness = useRedisAndTempDir('webhooks')

interface Received {
  path: string
  id: string
  headers: IncomingHttpHeaders
  body: string
  status: number
  verified: boolean
  at: number
}

function startReceiver(answer: (path: string, id: string, attempt: number) => number, secret: () => string): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = []
  const attempts = new Map<string, number>()
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      const id = String(req.headers['webhook-id'] ?? '')
      const key = `${req.url}|${id}`
      const attempt = (attempts.get(key) ?? 0) + 1
      attempts.set(key, attempt)
      let verified = false
      try {
        new Webhook(secret()).verify(body, req.headers as Record<string, string>)
        verified = true
      } catch {
        verified = false
      }
      const status = verified ? answer(req.url ?? '', id, attempt) : 400
      received.push({ path: req.url ?? '', id, headers: req.headers, body, status, verified, at: Date.now() })
      res.statusCode = status
      res.end()
    })
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received })))
}

async function until<T>(what: string, get: () => T | Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await get()
    if (ok(v)) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

function startWorker(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'worker', '--queues', 'deliver'], { env: { ...process.env, REDIS_URL: undefined, EXPOSURE_PREFIX: undefined, ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker not ready: ${output}`)), 60_000)
    const check = (d: Buffer) => {
      output += d
      if (output.includes('deliver worker ready')) {
        clearTimeout(timer)
        resolve(child)
      }
    }
    child.stdout!.on('data', check)
    child.stderr!.on('data', check)
    child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${output}`)))
  })
}

const servers: Server[] = []
const children: ChildProcess[] = []
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM')
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
})

describe('webhooks', () => {
  it('signed alerts verified by standardwebhooks; tampering, a wrong secret and an old timestamp rejected; 3 failures then success delivers once; in order per address; 410 disables', async () => {
    const prefix = testPrefix('wh')
    const env = { REDIS_URL: harness.server.url, EXPOSURE_PREFIX: prefix, EXPOSURE_DUST: 'none', EXPOSURE_MAX_HOPS: '3', EXPOSURE_WORKERS: '1' }
    const ok = async (args: string[], extra: Record<string, string> = {}) => {
      const r = await runCli(args, { ...env, ...extra })
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      return r
    }
    const a = (tag: string) => `0x${tag.padStart(40, '0')}`
    const [S, X, W, T, Y] = ['5eed', 'aaa1', 'bbb2', 'cc03', 'dd04'].map(a) as [string, string, string, string, string]
    let n = 0
    const tx = (block: number, from: string, to: string): TxRow => ({ hash: `0x${(++n).toString(16).padStart(64, '0')}`, nonce: '0', block_hash: `0x${String(block).padStart(64, '0')}`, block_number: String(block), transaction_index: String(n), from_address: from, to_address: to, value: '1000000000000000000', gas: '21000', gas_price: '1', input: '0x', block_timestamp: String(1_700_000_000 + block * 12), receipt_status: '1' })
    const rows: EtlRows = { transactions: [tx(100, S, X), tx(110, X, W), tx(120, T, Y)], traces: [], tokenTransfers: [] }
    const dir = join(harness.dir, 'hand')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'seeds.csv'), `address,label,source\n${S},Lazarus,incident list\n`)
    await ok(['import', await writeEtlFolder(dir, 'rows', rows)])
    await ok(['seeds', 'import', join(dir, 'seeds.csv'), '--no-walk'])
    await ok(['trace', '--hops', '3', '--workers', '1'])
    await ok(['watch', 'add', W, Y])

    let secret = ''
    let holdW = true
    const firstW: string[] = []
    const receiver = await startReceiver((path, id, attempt) => {
      if (path === '/gone') return 410
      if (!id.startsWith('al_')) return 204
      // W's first alert is held (500) until the test lets it go: W's second alert must wait behind it.
      if (firstW.includes(id) && holdW) return 500
      return attempt <= 3 ? 500 : 200
    }, () => secret)
    servers.push(receiver.server)

    // Bad endpoints are refused with exit 2; a loopback target needs --allow-private.
    const privateTarget = await runCli(['webhooks', 'add', '--url', `${receiver.url}/hook`], env)
    expect(privateTarget.code).toBe(2)
    expect(privateTarget.stderr).toMatch(/private or loopback.*--allow-private/)
    expect((await runCli(['webhooks', 'add', '--url', 'ftp://example.com/x'], env)).code).toBe(2)
    expect((await runCli(['webhooks', 'add', '--url', 'http://10.1.2.3/x'], env)).code).toBe(2)
    expect((await runCli(['webhooks', 'add', '--url', `${receiver.url}/hook`, '--allow-private', '--events', 'price'], env)).code).toBe(2)
    expect((await runCli(['webhooks', 'add', '--url', `${receiver.url}/hook`, '--allow-private', '--secret', 'whsec_short'], env)).code).toBe(2)
    expect(JSON.parse((await ok(['webhooks', 'list', '--json'])).stdout).endpoints).toEqual([])

    const added = await ok(['webhooks', 'add', '--url', `${receiver.url}/hook`, '--allow-private'])
    secret = added.stdout.trim()
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    const gone = JSON.parse((await ok(['webhooks', 'add', '--url', `${receiver.url}/gone`, '--allow-private', '--events', 'seed', '--secret', secret, '--json'])).stdout)
    const hookId = JSON.parse((await ok(['webhooks', 'list', '--json'])).stdout).endpoints.find((e: { url: string }) => e.url.endsWith('/hook')).id
    // The secret is printed once and never listed.
    expect((await ok(['webhooks', 'list', '--json'])).stdout).not.toContain(secret.slice(6))
    expect((await ok(['webhooks', 'test', hookId])).stdout).toMatch(/HTTP 204/)
    expect(receiver.received.filter((r) => r.id.startsWith('test_') && r.verified)).toHaveLength(1)

    children.push(await startWorker({ ...env, EXPOSURE_WEBHOOK_BACKOFF: '100ms', EXPOSURE_WEBHOOK_RETRY_FOR: '5m' }))

    // Rescan 1: X becomes an exchange (W demoted) and T a seed (Y exposed): two alerts.
    await writeFile(join(dir, 'labels.csv'), `address,label,category\n${X},Some Exchange,exchange\n`)
    await writeFile(join(dir, 'ofac.csv'), `address,label,source\n${T},Lazarus Group,OFAC SDN test\n`)
    const r1 = JSON.parse((await ok(['rescan', '--json'], { EXPOSURE_LABEL_SOURCES: join(dir, 'labels.csv'), EXPOSURE_SEED_SOURCES: join(dir, 'ofac.csv') })).stdout)
    expect(r1.alerts).toBe(2)
    const alertOf = (hex: string) => r1.alertIds.find((id: string) => receiver.received.some((r) => r.id === id && JSON.parse(r.body).data.address.toLowerCase() === hex))
    await until('both alerts attempted', () => receiver.received.filter((r) => r.path === '/hook' && r.id.startsWith('al_')).length, (c) => c >= 2)
    const wAlert1 = alertOf(W)!
    const yAlert = alertOf(Y)!
    expect(wAlert1).toBeDefined()
    firstW.push(wAlert1)
    // Rescan 2: new blocks in the etl inbox: the seed pays W directly (its second alert: hops 1).
    const inbox = join(dir, 'inbox')
    await mkdir(inbox)
    await writeEtlFolder(inbox, 'later', { transactions: [tx(200, S, W)], traces: [], tokenTransfers: [] })
    const r2 = JSON.parse((await ok(['rescan', '--json'], { EXPOSURE_LABEL_SOURCES: join(dir, 'labels.csv'), EXPOSURE_SEED_SOURCES: join(dir, 'ofac.csv'), EXPOSURE_ETL_INBOX: inbox })).stdout)
    expect(r2.alerts).toBe(1)
    const wAlert2 = r2.alertIds[0] as string
    await new Promise((r) => setTimeout(r, 1_500))
    expect(receiver.received.filter((r) => r.id === wAlert2)).toEqual([])
    holdW = false

    const delivered = await until('three alerts delivered', () => receiver.received.filter((r) => r.path === '/hook' && r.status === 200), (d) => d.length >= 3)
    await new Promise((r) => setTimeout(r, 1_000))
    const hook = receiver.received.filter((r) => r.path === '/hook' && r.id.startsWith('al_'))
    // Every request verified; each alert accepted exactly once, after 3 failures (Y) or more (W's first).
    expect(hook.every((r) => r.verified)).toBe(true)
    expect(receiver.received.filter((r) => r.path === '/hook' && r.status === 200).map((r) => r.id).sort()).toEqual([wAlert1, wAlert2, yAlert].sort())
    expect(hook.filter((r) => r.id === yAlert).map((r) => r.status)).toEqual([500, 500, 500, 200])
    expect(hook.filter((r) => r.id === wAlert2).map((r) => r.status)).toEqual([500, 500, 500, 200])
    // In order per address: W's second alert was first attempted after its first was accepted.
    const w1Done = hook.find((r) => r.id === wAlert1 && r.status === 200)!.at
    expect(Math.min(...hook.filter((r) => r.id === wAlert2).map((r) => r.at))).toBeGreaterThanOrEqual(w1Done)
    // The same bytes and id on every attempt; the body is the alert.
    for (const id of [wAlert1, wAlert2, yAlert]) {
      const bodies = new Set(hook.filter((r) => r.id === id).map((r) => r.body))
      expect(bodies.size).toBe(1)
      expect(JSON.parse([...bodies][0]!)).toMatchObject({ type: 'exposure.alert', data: { id } })
    }
    expect(delivered.length).toBe(3)

    // The receiver's verifier rejects a tampered body, a wrong secret, and a timestamp over 5 minutes old.
    const sample = hook.find((r) => r.id === yAlert && r.status === 200)!
    const headers = sample.headers as Record<string, string>
    expect(() => new Webhook(secret).verify(sample.body, headers)).not.toThrow()
    expect(() => new Webhook(secret).verify(sample.body.replace('"hops":1', '"hops":2'), headers)).toThrow()
    expect(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(sample.body, headers)).toThrow()
    const old = Math.floor(Date.now() / 1000) - 301
    expect(() => new Webhook(secret).verify(sample.body, { ...headers, 'webhook-timestamp': String(old), 'webhook-signature': sign(secret, sample.id, old, sample.body) })).toThrow()
    const now = Math.floor(Date.now() / 1000)
    expect(() => new Webhook(secret).verify(sample.body, { ...headers, 'webhook-timestamp': String(now), 'webhook-signature': sign(secret, sample.id, now, sample.body) })).not.toThrow()
    expect(sign(secret, sample.id, now, sample.body)).toBe(new Webhook(secret).sign(sample.id, new Date(now * 1000), sample.body))

    // 410 Gone disabled the seed-only endpoint: the first rescan's two alerts (both change the nearest
    // seed) went to it at once; the second rescan's alert (queued after) never did.
    const list = JSON.parse((await ok(['webhooks', 'list', '--json'])).stdout)
    const goneNow = list.endpoints.find((e: { id: string }) => e.id === gone.id)
    expect(goneNow.disabledAt).not.toBeNull()
    expect(goneNow.disabledReason).toMatch(/410/)
    const goneRequests = receiver.received.filter((r) => r.path === '/gone')
    expect(goneRequests.length).toBeGreaterThanOrEqual(1)
    expect(goneRequests.map((r) => r.id)).not.toContain(wAlert2)
    expect(goneRequests.every((r) => r.id === wAlert1 || r.id === yAlert)).toBe(true)
    expect(list.endpoints.find((e: { id: string }) => e.id === hookId)).toMatchObject({ delivered: 3, failed: 0 })
  }, 180_000)

  it('a delivery still failing after the retry window is marked failed, visible in webhooks list; the next alert of the address then goes', async () => {
    const prefix = testPrefix('wh')
    const store = createGraphStore(harness.redis, prefix)
    const secret = `whsec_${Buffer.alloc(32, 1).toString('base64')}`
    let down = true
    const receiver = await startReceiver(() => (down ? 503 : 200), () => secret)
    servers.push(receiver.server)
    const endpoint = await createWebhooks(harness.redis, store.keys).add({ url: `${receiver.url}/down`, events: ['risk'], secret, allowPrivate: true })
    const alert = (i: number): Alert => ({
      id: `al_test${i}`,
      address: '0x00000000000000000000000000000000000000AB',
      at: new Date().toISOString(),
      changes: ['risk'],
      before: { risk: 'none', downstream: null, upstream: null, runId: null },
      after: { risk: 'severe', downstream: { hops: 1, seed: '0x0000000000000000000000000000000000005EED' }, upstream: null, runId: 'r', reason: 'test', witness: { downstream: [], upstream: null } },
      cause: { storeVersion: { before: 1, after: 2 }, seedVersion: { before: 1, after: 1 }, labelsVersion: { before: 0, after: 0 }, seedsAdded: [], seedsRemoved: [], imported: [], rescanId: 'test' },
      watchers: { owners: ['cli'], refs: [], screenedBy: null },
    })
    const answer = { summary: { risk: 'severe', downstream: null, upstream: null }, versions: { storeId: 's', storeVersion: 2, labelsVersion: 0, seedVersion: 1 }, runId: 'r', at: new Date().toISOString() }
    await recordAnswers(harness.redis, store.keys, [{ hex: '00000000000000000000000000000000000000ab', answer, alert: alert(1) }])
    await recordAnswers(harness.redis, store.keys, [{ hex: '00000000000000000000000000000000000000ab', answer, alert: alert(2) }])
    const connection = harness.redis.duplicate({ maxRetriesPerRequest: null })
    const queue = createDeliverQueue(connection, store.keys.queuePrefix)
    expect(await dispatch(harness.redis, store.keys, queue)).toBe(2)
    expect(await dispatch(harness.redis, store.keys, queue)).toBe(0)
    const worker = startDeliverWorker({ redisUrl: harness.server.url, prefix, backoffMs: 100, retryForMs: 1_500 })
    try {
      const failures = await until('the first alert given up', () => createWebhooks(harness.redis, store.keys).failures(), (f) => f.length >= 1, 20_000)
      expect(failures[0]).toMatchObject({ endpoint: endpoint.id, alert: 'al_test1', reason: 'HTTP 503' })
      down = false
      await until('the second alert delivered', () => receiver.received.filter((r) => r.status === 200).map((r) => r.id), (ids) => ids.includes('al_test2'), 20_000)
      // The first alert was never attempted after it was given up, and the second not before.
      const firstGiveUp = Math.max(...receiver.received.filter((r) => r.id === 'al_test1').map((r) => r.at))
      expect(Math.min(...receiver.received.filter((r) => r.id === 'al_test2').map((r) => r.at))).toBeGreaterThanOrEqual(firstGiveUp)
      const listed = await runCli(['webhooks', 'list', '--json'], { REDIS_URL: harness.server.url, EXPOSURE_PREFIX: prefix })
      expect(JSON.parse(listed.stdout).endpoints[0]).toMatchObject({ id: endpoint.id, delivered: 1, failed: 1 })
      expect(JSON.parse(listed.stdout).failures).toMatchObject([{ alert: 'al_test1' }])
    } finally {
      await worker.close()
      await queue.close()
      connection.disconnect()
    }
  }, 60_000)
})
