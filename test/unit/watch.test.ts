import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import { buildOptions } from '../../src/config.ts'
import { alertId, changesBetween, type AnswerSummary } from '../../src/watch/alerts.ts'
import { webhookBackoff } from '../../src/watch/delivery.ts'
import { checkUrl, isNonPublicIp, newSecret, parseEvents, parseSecret, sign } from '../../src/watch/webhooks.ts'
import { parseExpires } from '../../src/watch/watchlist.ts'

const seed = '0x098B716B8Aaf21512996dC57EB0615e2383E2f96'
const other = '0x47666Fab8bd0Ac7003bce3f5C3585383F09486E2'
const exposed: AnswerSummary = { risk: 'high', downstream: { hops: 2, seed }, upstream: null }

describe('alerts', () => {
  it('a change of risk, hops in either direction or the nearest seed is a change; nothing else is', () => {
    expect(changesBetween(exposed, { ...exposed })).toEqual([])
    expect(changesBetween(exposed, { ...exposed, downstream: { hops: 2, seed: seed.toLowerCase() } })).toEqual([])
    expect(changesBetween(exposed, { ...exposed, risk: 'severe' })).toEqual(['risk'])
    expect(changesBetween(exposed, { ...exposed, downstream: { hops: 3, seed } })).toEqual(['hops'])
    expect(changesBetween(exposed, { ...exposed, upstream: { hops: 4, seed } })).toEqual(['hops', 'seed'])
    expect(changesBetween(exposed, { ...exposed, downstream: { hops: 2, seed: other } })).toEqual(['seed'])
    expect(changesBetween(exposed, { risk: 'none', downstream: null, upstream: null })).toEqual(['risk', 'hops', 'seed'])
  })

  it('alert ids depend on the address, both answers and the new basis, not on spelling or the walk run', () => {
    const versions = { storeId: 's', storeVersion: 3, labelsVersion: 1, seedVersion: 2 }
    const after: AnswerSummary = { risk: 'none', downstream: null, upstream: null }
    const id = alertId(other, exposed, after, versions)
    expect(id).toMatch(/^al_[0-9a-f]{32}$/)
    expect(alertId(other.toLowerCase(), { ...exposed, downstream: { hops: 2, seed: seed.toLowerCase() } }, after, versions)).toBe(id)
    expect(alertId(other, exposed, after, { ...versions, storeVersion: 4 })).not.toBe(id)
    expect(alertId(other, exposed, { ...after, risk: 'low' }, versions)).not.toBe(id)
    expect(alertId(seed, exposed, after, versions)).not.toBe(id)
  })
})

describe('webhook signatures and targets', () => {
  it('signatures are the Standard Webhooks ones: the standardwebhooks package verifies them and signs the same', () => {
    const secret = newSecret()
    expect(parseSecret(secret)).toHaveLength(32)
    const body = JSON.stringify({ type: 'exposure.alert', data: { id: 'al_1' } })
    const ts = Math.floor(Date.now() / 1000)
    const signature = sign(secret, 'al_1', ts, body)
    expect(signature).toBe(new Webhook(secret).sign('al_1', new Date(ts * 1000), body))
    expect(new Webhook(secret).verify(body, { 'webhook-id': 'al_1', 'webhook-timestamp': String(ts), 'webhook-signature': signature })).toEqual(JSON.parse(body))
    expect(() => new Webhook(secret).verify(body, { 'webhook-id': 'al_2', 'webhook-timestamp': String(ts), 'webhook-signature': signature })).toThrow()
  })

  it('private, loopback, link-local and reserved addresses are not public; public ones are', () => {
    for (const ip of ['127.0.0.1', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', '::', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::ffff:10.1.1.1'])
      expect(isNonPublicIp(ip), ip).toBe(true)
    for (const ip of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) expect(isNonPublicIp(ip), ip).toBe(false)
  })

  it('endpoint URLs: only http(s), no credentials, no private target unless allowed', async () => {
    await expect(checkUrl('ftp://example.com/', false)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: 'url' } })
    await expect(checkUrl('http://user:pw@example.com/', true)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(checkUrl('http://127.0.0.1:8080/hook', false)).rejects.toThrow(/--allow-private/)
    await expect(checkUrl('http://[::1]/hook', false)).rejects.toThrow(/--allow-private/)
    await expect(checkUrl('http://169.254.169.254/latest/meta-data', false)).rejects.toThrow(/private/)
    expect((await checkUrl('http://127.0.0.1:8080/hook', true)).port).toBe('8080')
    expect((await checkUrl('https://93.184.215.14/hook', false)).protocol).toBe('https:')
  })

  it('bad events, secrets and expiries are refused naming the field', () => {
    expect(parseEvents(undefined)).toEqual(['risk', 'hops', 'seed'])
    expect(parseEvents('seed,risk,seed')).toEqual(['seed', 'risk'])
    expect(() => parseEvents('price')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', details: expect.objectContaining({ field: 'events' }) }))
    expect(() => parseSecret('whsec_AAAA')).toThrow(expect.objectContaining({ details: expect.objectContaining({ field: 'secret' }) }))
    expect(() => parseSecret('secret')).toThrow()
    expect(parseExpires(undefined)).toBeNull()
    expect(parseExpires('never')).toBeNull()
    expect(parseExpires('90d')).toBe(90 * 86_400_000)
    expect(() => parseExpires('0d')).toThrow(expect.objectContaining({ details: expect.objectContaining({ field: 'expires' }) }))
    expect(() => parseExpires('soon')).toThrow()
  })

  it('backoff doubles from the base up to an hour', () => {
    const backoff = webhookBackoff(1_000)
    expect([1, 2, 3, 4].map(backoff)).toEqual([1_000, 2_000, 4_000, 8_000])
    expect(backoff(30)).toBe(3_600_000)
  })
})

describe('configuration', () => {
  it('rescan settings: defaults, 0 turns screened watching off, bad values named', () => {
    const d = buildOptions({}, {})
    expect(d).toMatchObject({ watchScreenedMs: 90 * 86_400_000, rescanCron: '', seedSources: [], labelSources: [], etlInbox: '', webhookBackoffMs: 1_000, webhookRetryForMs: 86_400_000 })
    expect(buildOptions({}, { EXPOSURE_WATCH_SCREENED: '0' }).watchScreenedMs).toBe(0)
    expect(buildOptions({}, { EXPOSURE_SEED_SOURCES: 'a.xml, b.csv', EXPOSURE_RESCAN_CRON: '*/15 * * * *' })).toMatchObject({ seedSources: ['a.xml', 'b.csv'], rescanCron: '*/15 * * * *' })
    expect(() => buildOptions({}, { EXPOSURE_RESCAN_CRON: 'hourly' })).toThrow(/EXPOSURE_RESCAN_CRON/)
    expect(() => buildOptions({}, { EXPOSURE_WEBHOOK_BACKOFF: '5ms' })).toThrow(/EXPOSURE_WEBHOOK_BACKOFF/)
    expect(() => buildOptions({}, { EXPOSURE_WATCH_SCREENED: '90' })).toThrow(/EXPOSURE_WATCH_SCREENED/)
  })
})
