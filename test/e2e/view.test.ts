/**
 * The graph view end to end in real headless Chromium (Debian's chromium, driven by
 * playwright-core) against a real `exposure serve` on a private redis-server holding the demo's
 * fund flows plus a hub (paid by a Ronin Tornado depositor, paying 450 addresses) whose service
 * label is hostile markup; seeds, labels and a published walk. It follows an investigator: the key
 * handed in the fragment moves to session storage; bad, badly checksummed and unknown addresses
 * get clear messages; a search settles its layout; a real mouse click on a node opens its answer
 * (hops, witness path in chain order with tx hashes); the path is highlighted; the hub pages
 * through all its counterparties; a case is saved and reopened with its positions and notes;
 * GEXF and GraphML downloads read back with their parsers, the PNG export is a PNG; the case report is one HTML file with
 * the witness path and provenance; a screenshot is kept; the hostile
 * label renders as text and runs nothing; no page error and no CSP violation happen.
 */
import { mkdir, readFile, writeFile, rm, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Graph from 'graphology'
import { parse as parseGexf } from 'graphology-gexf'
import { parse as parseGraphml } from 'graphology-graphml'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import { checksumAddress } from '../../src/walk/checksum.ts'
import type { Address, Transfer } from '../../src/types.ts'
import { runCli } from '../support/cli.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { startServe, type ServeProcess } from '../support/serve.ts'

const DEMO = fileURLToPath(new URL('../../fixtures/demo/', import.meta.url))
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url))
const DEPOSITOR = '0xbc25d57412a04956cdd95af07825c5c1f34d29eb' as Address
const EXPLOITER = checksumAddress('0x098b716b8aaf21512996dc57eb0615e2383e2f96')
const HUB = '0x00000000000000000000000000000000000f00d5' as Address
const HUB_ID = checksumAddress(HUB)
const FANOUT = 450
const XSS = '<img src=x onerror=window.__xss=1>'

let server: TestRedis
let redis: Redis
let serve: ServeProcess
let browser: Browser
let page: Page
let key: string
let dir: string
const problems: string[] = []

beforeAll(async () => {
  server = await startRedis()
  redis = await connectRedis(server.url)
  const env = { REDIS_URL: server.url, EXPOSURE_PREFIX: testPrefix('view'), EXPOSURE_DUST: 'none' }
  dir = await mkdtemp(join(tmpdir(), 'view-'))
  for (const args of [['import', DEMO], ['seeds', 'import', `${DEMO}seeds.csv`], ['labels', 'import', `${DEMO}labels.csv`]]) {
    const r = await runCli(args, env)
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
  }
  // The hub: paid by the depositor after it received from the exploiter, paying 450 addresses after that.
  const store = createGraphStore(redis, env.EXPOSURE_PREFIX)
  const transfers: Transfer[] = [{ from: DEPOSITOR, to: HUB, amount: 5n * 10n ** 18n, asset: 'ETH', blockNumber: 1_700_000_000, transactionIndex: 0, txHash: `0x${'c'.repeat(64)}`, kind: 'tx', subIndex: 0 }]
  for (let i = 0; i < FANOUT; i++) transfers.push({ from: HUB, to: `0x${(0xf00000 + i).toString(16).padStart(40, '0')}` as Address, amount: 10n ** 17n, asset: 'ETH', blockNumber: 1_700_000_001 + i, transactionIndex: 0, txHash: `0x${(i + 1).toString(16).padStart(64, 'd')}`, kind: 'tx', subIndex: 0 })
  await store.stage('hub', transfers, await store.internAssets(['ETH']))
  await store.commit('hub')
  await writeFile(join(dir, 'labels.csv'), `address,label,category,source\n${HUB},"${XSS} Hub",other,e2e\n`)
  for (const args of [['labels', 'import', join(dir, 'labels.csv')], ['trace']]) {
    const r = await runCli(args, env)
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
  }
  const created = await runCli(['keys', 'create', '--name', 'analyst', '--scopes', 'investigate', '--json'], env)
  expect(created.code, created.stderr).toBe(0)
  key = (JSON.parse(created.stdout) as { key: string }).key
  serve = await startServe(env)
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] })
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true })
  page = await context.newPage()
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`))
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`csp: ${m.text()}`)
  })
}, 180_000)

afterAll(async () => {
  await browser?.close()
  await serve?.stop('SIGKILL')
  redis?.disconnect()
  await server?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

const view = <T>(f: string) => page.evaluate(`(() => { const v = window.__view; return ${f} })()`) as Promise<T>

async function settled(): Promise<void> {
  await page.waitForSelector('#layoutstate[data-state="settled"]', { timeout: 30_000 })
}

/** A real mouse click on a node, where sigma draws it. */
async function clickNode(node: string): Promise<void> {
  const at = await page.evaluate((n) => {
    const v = (globalThis as any).__view
    const a = v.graph.getNodeAttributes(n)
    return v.renderer.graphToViewport({ x: a.x, y: a.y }) as { x: number; y: number }
  }, node)
  const box = (await page.locator('#graph').boundingBox())!
  await page.mouse.click(box.x + at.x, box.y + at.y)
  await page.waitForSelector(`#panel[data-loaded="${node}"]`)
}

async function fact(name: string): Promise<string> {
  await page.waitForFunction((n) => ((globalThis as any).document.querySelector(`#p-facts dd[data-fact="${n}"]`)?.textContent ?? '') !== '', name)
  return (await page.locator(`#p-facts dd[data-fact="${name}"]`).textContent()) ?? ''
}

describe('graph view in headless Chromium', () => {
  it('the key handed in the fragment moves to session storage and leaves the address bar', async () => {
    await page.goto(`${serve.url}/#key=${encodeURIComponent(key)}`)
    await page.waitForSelector('#search')
    expect(page.url()).not.toContain('key=')
    expect(page.url()).not.toContain(key)
    expect(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('exposure.apiKey'))).toBe(key)
    expect(await page.locator('#keybox').isHidden()).toBe(true)
  })

  it('bad, badly checksummed and unknown addresses get clear messages', async () => {
    const tries: [string, RegExp][] = [
      ['0x1234', /0x must be followed by 40 hex digits, not 4/],
      ['bc25d57412a04956cdd95af07825c5c1f34d29eb', /must start with 0x/],
      ['0x098B716B8Aaf21512996dC57EB0615e2383E2f97', /fails its EIP-55 checksum/],
      [`0x${'1'.repeat(40)}`, /is unknown here: .*is not in the store/],
    ]
    for (const [text, want] of tries) {
      await page.fill('#address', text)
      await page.click('#search button[type=submit]')
      await expect.poll(() => page.locator('#message').textContent()).toMatch(want)
    }
  })

  it('search: the neighbourhood settles; the centre opens with its answer and witness path; a real click on the hub shows 2 hops and its path in chain order; the path highlights', async () => {
    await page.selectOption('#hops', '1')
    await page.fill('#address', DEPOSITOR)
    await page.click('#search button[type=submit]')
    await settled()
    expect(decodeURIComponent(page.url())).toContain(`#/address/${checksumAddress(DEPOSITOR)}`)
    expect(await view<number>('v.layoutIterations')).toBeGreaterThan(0)
    // The layout stopped: positions do not move any more.
    const before = await view<number[]>('v.graph.mapNodes((k, a) => a.x)')
    await page.waitForTimeout(500)
    expect(await view<number[]>('v.graph.mapNodes((k, a) => a.x)')).toEqual(before)
    expect(await view<string[]>('v.graph.nodes()')).toEqual(expect.arrayContaining([checksumAddress(DEPOSITOR), EXPLOITER, HUB_ID]))
    await page.waitForSelector(`#panel[data-loaded="${checksumAddress(DEPOSITOR)}"]`)
    expect(await fact('risk')).toBe('high')
    expect(await fact('downstream')).toBe(`1 hop from ${EXPLOITER}`)

    await clickNode(HUB_ID)
    expect(await fact('downstream')).toBe(`2 hops from ${EXPLOITER}`)
    const rows = await page.locator('#p-path tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)))
    expect(rows.map((r) => [r[0], r[1], r[2]])).toEqual([['1', EXPLOITER, checksumAddress(DEPOSITOR)], ['2', checksumAddress(DEPOSITOR), HUB_ID]])
    expect(rows[1]![3]).toBe(`0x${'c'.repeat(64)}`)
    expect(rows[1]![7]).toBe('5000000000000000000')
    await page.click('#pathbtn')
    await expect.poll(() => view<string[]>('v.path ? [...v.path.edges] : []')).toEqual([`${EXPLOITER}->${checksumAddress(DEPOSITOR)}`, `${checksumAddress(DEPOSITOR)}->${HUB_ID}`])
    expect(await view<string[]>('[...v.path.nodes].sort()')).toEqual([EXPLOITER, checksumAddress(DEPOSITOR), HUB_ID].sort())
    await page.click('#clearpath')
  })

  it('a hostile label renders as text and runs nothing', async () => {
    expect(await page.locator('#p-label').textContent()).toContain(XSS)
    await expect.poll(() => page.locator('#p-facts dd[data-fact="label"]').textContent()).toContain(`${XSS} Hub (other; e2e)`)
    expect(await page.locator('#panel img, #nodelist img, #tooltip img').count()).toBe(0)
    await page.mouse.move(5, 5)
    expect(await page.evaluate(() => (globalThis as any).__xss)).toBeUndefined()
  })

  it('the hub expands and pages through all its counterparties; the value filter hides small flows', async () => {
    await page.click('#expand')
    await settled()
    // 1 (the depositor) + 450 recipients, 200 a page: 251 after the first.
    await expect.poll(() => page.locator('#more').textContent()).toBe('+ 251 more (next page)')
    const shown = async () => view<number>(`v.graph.filterNodes((n) => n.toLowerCase().startsWith('0x0000000000000000000000000000000000f0')).length`)
    const first = await shown()
    await page.click('#more')
    await settled()
    await expect.poll(() => page.locator('#more').textContent()).toBe('+ 51 more (next page)')
    expect(await shown()).toBe(first + 200)
    await page.click('#more')
    await settled()
    await expect.poll(() => page.locator('#more').isHidden()).toBe(true)
    expect(await shown()).toBe(FANOUT)
    expect(await view<number>('v.graph.outDegree(' + JSON.stringify(HUB_ID) + ')')).toBe(FANOUT)
    // Filters: a minimum of 1 ETH hides the hub's 0.1 ETH payments, not the 5 ETH it received.
    const hidden = (edge: string) => view<boolean>(`!!v.renderer.getEdgeDisplayData(${JSON.stringify(edge)})?.hidden`)
    const payment = await view<string>(`v.graph.outEdges(${JSON.stringify(HUB_ID)})[0]`)
    const received = `${checksumAddress(DEPOSITOR)}->${HUB_ID}`
    expect([await hidden(payment), await hidden(received)]).toEqual([false, false])
    await page.fill('#minvalue', '1')
    await expect.poll(() => hidden(payment)).toBe(true)
    expect(await hidden(received)).toBe(false)
    await page.fill('#minvalue', '0')
    await expect.poll(() => hidden(payment)).toBe(false)
  })

  it('a case is saved and reopens with its nodes, positions and notes; exports and the HTML report read back; a screenshot is kept', async () => {
    const note = `${XSS} seen paying 450 fresh addresses`
    await page.fill('#p-note', note)
    await page.fill('#casename', 'Ronin depositor hub')
    await page.click('#savecase')
    await expect.poll(() => page.locator('#message').textContent()).toMatch(/saved as case (case_[A-Za-z0-9_-]{12})/)
    const id = /case_[A-Za-z0-9_-]{12}/.exec((await page.locator('#message').textContent())!)![0]
    const saved = await view<Record<string, [number, number]>>('Object.fromEntries(v.graph.mapNodes((k, a) => [k, [a.x, a.y]]))')

    // Exports of the view, downloaded and read back.
    await mkdir(ARTIFACTS, { recursive: true })
    for (const format of ['gexf', 'graphml'] as const) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(`[data-export="${format}"]`)])
      const file = join(ARTIFACTS, `view.${format}`)
      await download.saveAs(file)
      const text = await readFile(file, 'utf8')
      const g = format === 'gexf' ? parseGexf(Graph, text) : parseGraphml(Graph, text)
      expect(new Set(g.nodes())).toEqual(new Set(Object.keys(saved)))
      expect(g.getNodeAttribute(HUB_ID, 'note')).toBe(note)
      expect(g.getNodeAttribute(HUB_ID, 'downstreamHops')).toBe(2)
      expect(g.getNodeAttribute(HUB_ID, 'x')).toBeCloseTo(saved[HUB_ID]![0], 3)
      expect(g.getEdgeAttribute(g.edge(checksumAddress(DEPOSITOR), HUB_ID)!, 'valueEth')).toBe('5000000000000000000')
    }
    const [png] = await Promise.all([page.waitForEvent('download'), page.click('#png')])
    await png.saveAs(join(ARTIFACTS, 'view-export.png'))
    const bytes = await readFile(join(ARTIFACTS, 'view-export.png'))
    expect(bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a')
    expect(bytes.length).toBeGreaterThan(5_000)
    await page.screenshot({ path: join(ARTIFACTS, 'view.png') })

    // Reopen in the same tab (the key stays in its session storage), from the case's link.
    await page.goto('about:blank')
    await page.goto(`${serve.url}/#/case/${id}`)
    await page.waitForFunction((n) => (globalThis as any).__view?.graph?.order === n, Object.keys(saved).length, { timeout: 30_000 })
    await settled()
    const reopened = await view<Record<string, [number, number]>>('Object.fromEntries(v.graph.mapNodes((k, a) => [k, [a.x, a.y]]))')
    expect(reopened).toEqual(saved)
    // Keyboard: the node list opens the hub's panel, with its note.
    await page.locator('#nodelist').selectOption(HUB_ID)
    await page.locator('#nodelist').press('Enter')
    await page.waitForSelector(`#panel[data-loaded="${HUB_ID}"]`)
    expect(await page.locator('#p-note').inputValue()).toBe(note)
    // The case list names it.
    await page.click('#listcases')
    await expect.poll(() => page.locator(`#cases button[data-case="${id}"]`).textContent()).toContain('Ronin depositor hub')
    expect(await page.evaluate(() => (globalThis as any).__xss)).toBeUndefined()

    // The case report: one self-contained HTML file; the hostile label and note stay text there too.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#report')])
    const reportFile = join(ARTIFACTS, 'report.html')
    await download.saveAs(reportFile)
    const html = await readFile(reportFile, 'utf8')
    expect(html).toContain("default-src 'none'")
    expect(html).toContain('&lt;img src=x onerror=window.__xss=1&gt;')
    expect(html).not.toContain('<img src=x')
    expect(html).toContain(`0x${'c'.repeat(64)}`)
    expect(html).toContain('OFAC SDN')
    expect(html).toMatch(/<img alt="graph snapshot" src="data:image\/png;base64,[A-Za-z0-9+/=]{1000,}">/)
    const reader = await page.context().newPage()
    await reader.goto(`file://${reportFile}`)
    expect(await reader.locator('img').count()).toBe(1)
    expect(await reader.locator('table tr').count()).toBeGreaterThanOrEqual(3)
    expect(await reader.evaluate(() => (globalThis as any).__xss)).toBeUndefined()
    await reader.close()
    expect(problems).toEqual([])
  })
})
