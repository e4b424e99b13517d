/**
 * The graph view of exposure serve: search an address, see its neighbourhood (sigma.js on a
 * graphology graph, ForceAtlas2 in a worker that settles and stops), click a node for its answer
 * and witness path, expand neighbours (paged for hubs), highlight the path to the nearest seed,
 * filter, export, save and reopen cases. Every label and note is untrusted: set as textContent,
 * never as HTML.
 */
import Graph from 'graphology'
import Sigma from 'sigma'
import { createNodeBorderProgram } from '@sigma/node-border'
import { downloadAsPNG, toBlob } from '@sigma/export-image'
import { getAddress } from 'ethers'
import { exportGraph, type ExportFormat } from '../../src/graph/exports.ts'
import { api, ApiError, forgetKey, getKey, setKey } from './api.ts'
import type { LayoutMessage, LayoutRequest } from './layout.worker.ts'
import { caseReport, type ReportAddress } from './report.ts'

type Attrs = Record<string, unknown>
interface SerializedGraph {
  attributes: { center: string; hops: number; limit: number; offset: number; runId: string; truncated: boolean }
  nodes: { key: string; attributes: Attrs }[]
  edges: { key?: string; source: string; target: string; attributes: Attrs }[]
}
interface PathStep { from: string; to: string; txHash: string; blockNumber: number; transactionIndex: number; asset: string; amount: string; timestamp?: number }
interface AddressView {
  address: string
  answer: { risk: string; reason: string; downstream: { hops: number; seed: string; path: PathStep[]; seedInfo: { label: string; source: string; incident: string | null; listed: string | null } | null } | null; upstream: { hops: number; seed: string; path: PathStep[] } | null; stale: boolean } | null
  seed: { label: string; source: string; incident: string | null; listed: string | null; provenance: Record<string, string> } | null
  label: { label: string; category: string; source: string | null } | null
  transfersIn: number
  transfersOut: number
  counterparties: number
}
interface CaseRecord { id: string; name: string; address: string; hops: number; nodes: { address: string; x: number; y: number; note?: string }[]; filters: { asset?: string; minValueEth?: string; fromTime?: number; toTime?: number }; notes: string; expansions: { address: string; offset: number }[] }

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T
const SERVICE_CATEGORIES = new Set(['exchange', 'mixer', 'bridge', 'dex'])
export const HOP_COLOURS: [string, string][] = [
  ['seed', '#9d0208'],
  ['1 hop', '#e85d04'],
  ['2 hops', '#faa307'],
  ['3 hops', '#ffd166'],
  ['4+ hops', '#90be6d'],
  ['none', '#adb5bd'],
]
const SEED_BORDER = '#000000'
const SERVICE_BORDER = '#1d4ed8'
/** Attributes only the renderer uses: left out of exports. */
const RENDER_ONLY = ['type', 'borderColor', 'borderSize', 'hidden', 'forceLabel', 'zIndex', 'highlighted']

const state = {
  graph: new Graph({ type: 'directed', multi: false, allowSelfLoops: true }),
  renderer: null as Sigma | null,
  center: '' as string,
  hops: 2,
  selected: null as string | null,
  view: null as AddressView | null,
  path: null as { nodes: Set<string>; edges: Set<string> } | null,
  /** Every page of counterparties expanded, in order (replayed when a case reopens). */
  expansions: [] as { address: string; offset: number }[],
  layout: 'idle' as 'idle' | 'running' | 'settled',
  layoutIterations: 0,
  worker: null as Worker | null,
  filters: { asset: '', minValueEth: 0, toTime: Number.POSITIVE_INFINITY },
  timeRange: [0, 0] as [number, number],
  /** The last search's phases (ms since it started): answer fetched, graph drawn, layout settled. */
  timings: { fetched: 0, drawn: 0, settled: 0, layoutCompute: 0 },
  searchStarted: 0,
}
;(window as unknown as { __view: typeof state }).__view = state

// ---------- messages and the key ----------

function message(text: string, ok = false): void {
  const m = $('message')
  m.textContent = text
  m.className = ok ? 'ok' : ''
}

/** `#key=…` moves to session storage and leaves the address bar; `#/address/0x…` and `#/case/…` stay. */
function takeKeyFromFragment(): void {
  const parts = location.hash.replace(/^#/, '').split('&')
  const keyPart = parts.find((p) => p.startsWith('key='))
  if (keyPart === undefined) return
  setKey(decodeURIComponent(keyPart.slice(4)))
  const rest = parts.filter((p) => !p.startsWith('key=')).join('&')
  history.replaceState(null, '', `${location.pathname}${location.search}${rest === '' ? '' : `#${rest}`}`)
}

function showKeyBox(show: boolean): void {
  $('keybox').hidden = !show
  if (show) $('key').focus()
}

// ---------- addresses ----------

/** The address in EIP-55, or a message saying what is wrong with the text. */
export function checkAddress(text: string): { address: string } | { problem: string } {
  const value = text.trim()
  if (value === '') return { problem: 'type an address: 0x followed by 40 hex digits' }
  if (!/^0x/i.test(value)) return { problem: `${JSON.stringify(value.slice(0, 50))} is not an address: it must start with 0x` }
  if (!/^0x[0-9a-fA-F]*$/.test(value)) return { problem: `${JSON.stringify(value.slice(0, 50))} is not an address: only hex digits may follow 0x` }
  if (value.length !== 42) return { problem: `${JSON.stringify(value.slice(0, 50))} is not an address: 0x must be followed by 40 hex digits, not ${value.length - 2}` }
  const hex = value.slice(2)
  if (hex !== hex.toLowerCase() && hex !== hex.toUpperCase()) {
    try {
      if (getAddress(value) !== value) throw new Error('checksum')
    } catch {
      return { problem: `${value} fails its EIP-55 checksum (a mixed-case address must match it exactly; type it all lowercase to skip the check)` }
    }
  }
  return { address: getAddress(value.toLowerCase()) }
}

// ---------- graph building ----------

function ethOf(wei: unknown): number {
  if (typeof wei !== 'string' || !/^\d+$/.test(wei)) return 0
  return Number(BigInt(wei) / 10n ** 12n) / 1e6
}

function hopColour(a: Attrs): string {
  if (a.seed === true || a.downstreamHops === 0) return HOP_COLOURS[0]![1]
  const h = Number(a.downstreamHops)
  if (h < 0) return HOP_COLOURS[5]![1]
  return HOP_COLOURS[Math.min(h, 4)]![1]
}

function decorateNode(key: string, a: Attrs): Attrs {
  const service = SERVICE_CATEGORIES.has(String(a.category))
  const seed = a.seed === true
  const base = seed ? `SEED ${String(a.seedLabel)}` : service ? `[${String(a.category)}] ${String(a.serviceLabel)}` : String(a.label ?? key)
  return {
    ...a,
    label: base,
    size: Math.min(22, 4 + 3 * Math.log10(1 + ethOf(a.receivedEth))),
    color: hopColour(a),
    type: 'border',
    borderColor: seed ? SEED_BORDER : service ? SERVICE_BORDER : '#ffffff',
    borderSize: seed ? 0.45 : service ? 0.35 : 0.1,
  }
}

function decorateEdge(a: Attrs): Attrs {
  return { ...a, size: Math.min(8, 0.6 + 0.9 * Math.log10(1 + ethOf(a.valueEth))), color: '#9a9a9a', type: 'arrow' }
}

/** Deterministic start positions: around the node it came from (or the origin), spread by its key. */
function startPosition(key: string, near: { x: number; y: number } | null, spread: number): { x: number; y: number } {
  let h = 2166136261
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619)
  const angle = ((h >>> 0) % 3600) / 3600 * 2 * Math.PI
  const r = spread * (0.5 + (((h >>> 12) % 1000) / 1000))
  return { x: (near?.x ?? 0) + r * Math.cos(angle), y: (near?.y ?? 0) + r * Math.sin(angle) }
}

/** Adds a serialized neighbourhood to the view (nodes it lacks, attributes refreshed, edges it lacks). */
function merge(data: SerializedGraph, around: string | null): void {
  const g = state.graph
  const anchor = around !== null && g.hasNode(around) ? (g.getNodeAttributes(around) as { x: number; y: number }) : null
  for (const n of data.nodes) {
    if (g.hasNode(n.key)) {
      const old = g.getNodeAttributes(n.key)
      // Position, note and distance stay; "more" and "expanded" come from the answer that expanded it.
      const keep = { x: old.x, y: old.y, note: old.note, distance: old.distance, ...(n.attributes.expanded === true ? {} : { expanded: old.expanded, more: old.more }) }
      g.replaceNodeAttributes(n.key, { ...decorateNode(n.key, { ...old, ...n.attributes }), ...keep })
    } else {
      g.addNode(n.key, { ...decorateNode(n.key, n.attributes), ...startPosition(n.key, anchor, anchor === null ? 10 : 3), note: '' })
    }
  }
  for (const e of data.edges) {
    const key = e.key ?? `${e.source}->${e.target}`
    if (!g.hasEdge(key)) g.addDirectedEdgeWithKey(key, e.source, e.target, decorateEdge(e.attributes))
  }
  refreshTimeRange()
  refreshAssets()
  refreshNodeList()
}

function neighbourhoodPath(address: string, hops: number, offset = 0): string {
  return `/v1/graph/${address}?hops=${hops}&limit=200&offset=${offset}`
}

async function search(address: string, hops: number): Promise<void> {
  message(`loading the neighbourhood of ${address}…`, true)
  state.searchStarted = performance.now()
  state.timings = { fetched: 0, drawn: 0, settled: 0, layoutCompute: 0 }
  let data: SerializedGraph
  try {
    data = await api<SerializedGraph>(neighbourhoodPath(address, hops))
  } catch (error) {
    return failed(error, address)
  }
  state.timings.fetched = performance.now() - state.searchStarted
  resetView()
  state.center = data.attributes.center
  state.hops = hops
  merge(data, null)
  state.graph.setNodeAttribute(state.center, 'x', 0)
  state.graph.setNodeAttribute(state.center, 'y', 0)
  if (location.hash !== `#/address/${state.center}`) history.replaceState(null, '', `#/address/${state.center}`)
  const more = Number(state.graph.getNodeAttribute(state.center, 'more') ?? 0)
  message(`${state.graph.order} addresses, ${state.graph.size} flows${data.attributes.truncated ? ' (cut: too many addresses)' : ''}${more > 0 ? `; ${more.toLocaleString('en')} more counterparties of the centre, paged` : ''}${data.attributes.runId === '' ? '; no walk is published: hops unknown' : ''}`, true)
  render()
  state.timings.drawn = performance.now() - state.searchStarted
  startLayout()
  await select(state.center)
}

function failed(error: unknown, address: string): void {
  if (error instanceof ApiError) {
    if (error.status === 401) {
      forgetKey()
      showKeyBox(true)
      return message(`the API key was refused (${error.message}); enter one with the investigate scope`)
    }
    if (error.status === 403) return message(`the key may not do this: ${error.message}`)
    if (error.status === 404) return message(`${address} is unknown here: ${error.message}`)
    if (error.status === 400) return message(`bad input: ${error.message}`)
    return message(`the server answered ${error.status}: ${error.message}`)
  }
  message(`the server could not be reached: ${(error as Error).message}`)
}

function resetView(): void {
  state.worker?.terminate()
  state.worker = null
  state.graph.clear()
  state.expansions = []
  state.selected = null
  state.path = null
  $('panel').hidden = true
}

// ---------- rendering ----------

function render(): void {
  if (state.renderer !== null) {
    state.renderer.refresh()
    return
  }
  const BorderProgram = createNodeBorderProgram({
    borders: [
      { size: { attribute: 'borderSize', defaultValue: 0.1 }, color: { attribute: 'borderColor' } },
      { size: { fill: true }, color: { attribute: 'color' } },
    ],
  })
  const renderer = new Sigma(state.graph, $('graph'), {
    nodeProgramClasses: { border: BorderProgram },
    defaultEdgeType: 'arrow',
    renderEdgeLabels: false,
    labelRenderedSizeThreshold: 8,
    // While the view moves, edges and labels wait: panning a 5,000-node graph stays fluid.
    hideEdgesOnMove: true,
    hideLabelsOnMove: true,
    zIndex: true,
    nodeReducer: (node, data) => {
      const out = { ...data }
      if (state.path !== null && !state.path.nodes.has(node)) {
        out.color = '#e6e6e6'
        out.borderColor = '#e6e6e6'
        out.label = ''
        out.zIndex = 0
      } else if (state.path !== null) {
        out.forceLabel = true
        out.zIndex = 2
      }
      if (node === state.selected) {
        out.highlighted = true
        out.forceLabel = true
      }
      return out
    },
    edgeReducer: (edge, data) => {
      const out = { ...data }
      if (!edgeVisible(edge)) out.hidden = true
      if (state.path !== null) {
        if (state.path.edges.has(edge)) {
          out.color = '#d00000'
          out.size = Math.max(3, Number(data.size ?? 1))
          out.zIndex = 2
          out.hidden = false
        } else out.color = '#f0f0f0'
      }
      return out
    },
  })
  renderer.on('clickNode', ({ node }) => void select(node))
  renderer.on('enterNode', ({ node, event }) => showTooltip(node, event.x, event.y))
  renderer.on('leaveNode', () => ($('tooltip').hidden = true))
  state.renderer = renderer
}

function edgeVisible(edge: string): boolean {
  const a = state.graph.getEdgeAttributes(edge)
  const f = state.filters
  if (f.asset !== '' && !(f.asset in (JSON.parse(String(a.totals ?? '{}')) as Record<string, string>))) return false
  if (f.minValueEth > 0 && ethOf(a.valueEth) < f.minValueEth) return false
  if (Number.isFinite(f.toTime) && Number(a.firstTime) >= 0 && Number(a.firstTime) > f.toTime) return false
  return true
}

function showTooltip(node: string, x: number, y: number): void {
  const a = state.graph.getNodeAttributes(node)
  const box = $('graph').getBoundingClientRect()
  const t = $('tooltip')
  t.textContent = `${node}\n${String(a.label)}\ndownstream ${hopsText(a.downstreamHops)} · upstream ${hopsText(a.upstreamHops)}\n${String(a.counterparties)} counterparties`
  t.style.left = `${box.left + x + 12}px`
  t.style.top = `${box.top + y + 12}px`
  t.hidden = false
}

const hopsText = (h: unknown) => (Number(h) < 0 || h === undefined ? 'none' : Number(h) === 0 ? 'seed' : `${String(h)} hop${Number(h) === 1 ? '' : 's'}`)

function legend(): void {
  const box = $('legend')
  const title = document.createElement('strong')
  title.textContent = 'Downstream hops from a seed'
  box.append(title)
  for (const [name, colour] of HOP_COLOURS) {
    const row = document.createElement('div')
    const swatch = document.createElement('span')
    swatch.className = 'swatch'
    swatch.style.background = colour
    if (name === 'seed') swatch.style.borderColor = SEED_BORDER
    row.append(swatch, document.createTextNode(name))
    box.append(row)
  }
  const service = document.createElement('div')
  const s = document.createElement('span')
  s.className = 'swatch'
  s.style.borderColor = SERVICE_BORDER
  service.append(s, document.createTextNode('service (exchange, mixer, bridge, DEX): blue outline'))
  const size = document.createElement('div')
  size.textContent = 'size: ETH received in view · edge width: ETH sent · arrows: direction'
  box.append(service, size)
}

// ---------- layout ----------

/** A worker started ahead of need: the next layout begins without loading one. */
let spareWorker: Worker | null = null
const newWorker = () => new Worker(new URL('./layout.worker.ts', import.meta.url), { type: 'module' })

function startLayout(maxIterations?: number): void {
  state.worker?.terminate()
  const worker = spareWorker ?? newWorker()
  spareWorker = newWorker()
  state.worker = worker
  setLayout('running', 0)
  const g = state.graph
  const request: LayoutRequest = {
    nodes: g.mapNodes((key, a) => ({ key, x: Number(a.x), y: Number(a.y), size: Number(a.size) })),
    edges: g.mapEdges((_e, a, source, target) => ({ source, target, weight: 1 + Math.log10(1 + Number(a.transfers ?? 1)) })),
    ...(maxIterations === undefined ? {} : { maxIterations }),
  }
  worker.onmessage = (event: MessageEvent<LayoutMessage>) => {
    if (state.worker !== worker) return
    const { keys, xy } = event.data
    const index = new Map(keys.map((k, i) => [k, i]))
    // One update event for all positions: the renderer refreshes once, not once per node.
    g.updateEachNodeAttributes((k, a) => {
      const i = index.get(k)
      return i === undefined ? a : { ...a, x: xy[2 * i]!, y: xy[2 * i + 1]! }
    }, { attributes: ['x', 'y'] })
    if (event.data.type === 'settled') {
      worker.terminate()
      state.worker = null
      if (state.timings.settled === 0) {
        state.timings.settled = performance.now() - state.searchStarted
        state.timings.layoutCompute = event.data.computeMs
      }
      setLayout('settled', event.data.iterations)
    } else setLayout('running', event.data.iterations)
  }
  worker.postMessage(request)
}

function setLayout(layout: 'running' | 'settled', iterations: number): void {
  state.layout = layout
  state.layoutIterations = iterations
  const p = $('layoutstate')
  p.dataset.state = layout
  p.textContent = layout === 'running' ? `layout: running (${iterations} iterations)` : `layout: settled after ${iterations} iterations`
}

// ---------- the panel ----------

async function select(node: string): Promise<void> {
  state.selected = node
  state.renderer?.refresh()
  const panel = $('panel')
  panel.hidden = false
  // Nothing of the previous address stays on screen while this one loads.
  delete panel.dataset.loaded
  $('p-facts').replaceChildren()
  $('p-seed').replaceChildren()
  $('p-path').querySelector('tbody')!.replaceChildren()
  const a = state.graph.getNodeAttributes(node)
  $('p-title').textContent = node
  $('p-label').textContent = String(a.label)
  ;($('p-note') as HTMLTextAreaElement).value = String(a.note ?? '')
  const more = Number(a.more ?? 0)
  const moreButton = $('more')
  moreButton.hidden = !(a.expanded === true && more > 0)
  moreButton.textContent = `+ ${more.toLocaleString('en')} more (next page)`
  $('expand').textContent = a.expanded === true ? 'Expanded' : 'Expand neighbours'
  ;($('expand') as HTMLButtonElement).disabled = a.expanded === true
  topCounterparties(node)
  ;($('nodelist') as HTMLSelectElement).value = node
  let view: AddressView
  try {
    view = await api<AddressView>(`/v1/addresses/${node}`)
  } catch (error) {
    return failed(error, node)
  }
  if (state.selected !== node) return
  state.view = view
  const facts: [string, string][] = [
    ['risk', view.answer?.risk ?? 'unknown (no walk)'],
    ['reason', view.answer?.reason ?? ''],
    ['downstream', view.answer?.downstream ? `${hopsText(view.answer.downstream.hops)} from ${view.answer.downstream.seed}` : 'none'],
    ['upstream', view.answer?.upstream ? `${hopsText(view.answer.upstream.hops)} to ${view.answer.upstream.seed}` : 'none'],
    ['label', view.label ? `${view.label.label} (${view.label.category}${view.label.source ? `; ${view.label.source}` : ''})` : '—'],
    ['transfers', `${view.transfersOut} out, ${view.transfersIn} in, ${view.counterparties} counterparties`],
    ['stale', view.answer?.stale ? 'yes: the store changed after the walk' : 'no'],
  ]
  fillDl($('p-facts'), facts, 'fact')
  const seedInfo = view.seed ?? (view.answer?.downstream?.seedInfo ? { ...view.answer.downstream.seedInfo, provenance: {} } : null)
  fillDl($('p-seed'), seedInfo === null ? [['seed', 'none']] : [['label', seedInfo.label], ['source', seedInfo.source], ['incident', seedInfo.incident ?? '—'], ['listed', seedInfo.listed ?? '—'], ...Object.entries(seedInfo.provenance)], 'seed')
  const body = $('p-path').querySelector('tbody')!
  body.replaceChildren()
  const path = view.answer?.downstream?.path ?? []
  path.forEach((s, i) => {
    const row = document.createElement('tr')
    const cells = [String(i + 1), s.from, s.to, s.txHash, String(s.blockNumber), s.timestamp === undefined ? '—' : new Date(s.timestamp * 1000).toISOString().replace('.000Z', 'Z'), s.asset, s.amount]
    for (const c of cells) {
      const td = document.createElement('td')
      td.textContent = c
      row.append(td)
    }
    body.append(row)
  })
  panel.dataset.loaded = node
  ;($('pathbtn') as HTMLButtonElement).disabled = path.length === 0 && view.answer?.downstream?.hops !== 0
}

function fillDl(dl: HTMLElement, rows: [string, string][], name: string): void {
  dl.replaceChildren()
  for (const [k, v] of rows) {
    const dt = document.createElement('dt')
    dt.textContent = k
    const dd = document.createElement('dd')
    dd.textContent = v
    dd.dataset[name] = k
    dl.append(dt, dd)
  }
}

function topCounterparties(node: string): void {
  const g = state.graph
  const list = $('p-top')
  list.replaceChildren()
  const rows = g.mapEdges((_e, a, source, target) => ({ other: source === node ? target : source, dir: source === node ? 'to' : 'from', a, mine: source === node || target === node })).filter((r) => r.mine)
  rows.sort((x, y) => ethOf(y.a.valueEth) - ethOf(x.a.valueEth) || Number(y.a.transfers) - Number(x.a.transfers))
  for (const r of rows.slice(0, 10)) {
    const li = document.createElement('li')
    li.textContent = `${r.dir} ${String(g.getNodeAttribute(r.other, 'label'))} (${r.other.slice(0, 10)}…): ${String(r.a.transfers)} transfers, ${ethOf(r.a.valueEth).toLocaleString('en')} ETH`
    list.append(li)
  }
}

async function expand(node: string, offset: number): Promise<void> {
  message(`expanding ${node}…`, true)
  let data: SerializedGraph
  try {
    data = await api<SerializedGraph>(neighbourhoodPath(node, 1, offset))
  } catch (error) {
    return failed(error, node)
  }
  state.expansions.push({ address: node, offset })
  const before = state.graph.order
  merge(data, node)
  const more = Number(state.graph.getNodeAttribute(node, 'more') ?? 0)
  message(`${node}: ${state.graph.order - before} addresses added${more > 0 ? `; ${more.toLocaleString('en')} more, paged` : ''}`, true)
  render()
  startLayout()
  await select(node)
}

async function highlightPath(): Promise<void> {
  const view = state.view
  const down = view?.answer?.downstream
  if (!view || !down) return
  const g = state.graph
  const nodes = new Set<string>([down.seed])
  const edges = new Set<string>()
  // Path nodes outside the view are brought in (their own attributes, no neighbours).
  for (const step of down.path) {
    for (const a of [step.from, step.to]) {
      nodes.add(a)
      if (!g.hasNode(a)) {
        try {
          merge(await api<SerializedGraph>(neighbourhoodPath(a, 0)), view.address)
        } catch (error) {
          return failed(error, a)
        }
      }
    }
    const key = `${step.from}->${step.to}`
    if (!g.hasEdge(key)) g.addDirectedEdgeWithKey(key, step.from, step.to, decorateEdge({ transfers: 1, totals: JSON.stringify({ [step.asset]: step.amount }), valueEth: step.asset === 'ETH' ? step.amount : '0', firstBlock: step.blockNumber, lastBlock: step.blockNumber, firstTime: step.timestamp ?? -1, lastTime: step.timestamp ?? -1, fromPath: true }))
    edges.add(key)
  }
  state.path = { nodes, edges }
  $('clearpath').hidden = false
  message(`witness path: ${down.path.length} step${down.path.length === 1 ? '' : 's'} from ${down.seed}, in chain order (see the table)`, true)
  state.renderer?.refresh()
}

// ---------- filters ----------

function refreshTimeRange(): void {
  const times = state.graph.mapEdges((_e, a) => Number(a.firstTime)).filter((t) => t >= 0)
  state.timeRange = times.length === 0 ? [0, 0] : [Math.min(...times), Math.max(...times)]
  applyTimeSlider()
}

function applyTimeSlider(): void {
  const slider = $('time') as HTMLInputElement
  const [lo, hi] = state.timeRange
  const v = Number(slider.value)
  state.filters.toTime = v >= 1000 || hi === lo ? Number.POSITIVE_INFINITY : lo + ((hi - lo) * v) / 1000
  $('timeout').textContent = Number.isFinite(state.filters.toTime) ? new Date(state.filters.toTime * 1000).toISOString().slice(0, 16).replace('T', ' ') : 'all'
}

function refreshAssets(): void {
  const select = $('asset') as HTMLSelectElement
  const assets = new Set<string>()
  state.graph.forEachEdge((_e, a) => Object.keys(JSON.parse(String(a.totals ?? '{}')) as object).forEach((x) => assets.add(x)))
  const current = select.value
  select.replaceChildren(new Option('all', ''))
  for (const a of [...assets].sort()) select.append(new Option(a, a))
  select.value = assets.has(current) ? current : ''
}

function refreshNodeList(): void {
  const list = $('nodelist') as HTMLSelectElement
  list.replaceChildren()
  const nodes = state.graph.mapNodes((key, a) => ({ key, a })).sort((x, y) => Number(x.a.distance) - Number(y.a.distance) || (x.key < y.key ? -1 : 1))
  for (const { key, a } of nodes) list.append(new Option(`${String(a.label)} · ${hopsText(a.downstreamHops)}`, key))
}

// ---------- exports and cases ----------

function viewGraph(): Graph {
  const copy = state.graph.copy()
  copy.forEachNode((n, a) => copy.replaceNodeAttributes(n, Object.fromEntries(Object.entries(a).filter(([k]) => !RENDER_ONLY.includes(k)))))
  copy.forEachEdge((e, a) => copy.replaceEdgeAttributes(e, Object.fromEntries(Object.entries(a).filter(([k]) => !RENDER_ONLY.includes(k) && k !== 'color' && k !== 'size'))))
  copy.replaceAttributes({ center: state.center, hops: state.hops })
  return copy
}

function download(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }))
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

async function saveCase(): Promise<void> {
  const name = ($('casename') as HTMLInputElement).value.trim()
  if (name === '') return message('name the case first')
  if (state.center === '') return message('search an address first')
  const body = {
    name,
    address: state.center,
    hops: state.hops,
    nodes: state.graph.mapNodes((key, a) => ({ address: key, x: Number(a.x), y: Number(a.y), ...(a.note ? { note: String(a.note) } : {}) })),
    filters: { ...(state.filters.asset ? { asset: state.filters.asset } : {}), ...(state.filters.minValueEth > 0 ? { minValueEth: String(state.filters.minValueEth) } : {}), ...(Number.isFinite(state.filters.toTime) ? { toTime: Math.floor(state.filters.toTime) } : {}) },
    notes: '',
    expansions: state.expansions,
  }
  try {
    const saved = await api<CaseRecord>('/v1/cases', { method: 'POST', body })
    message(`saved as case ${saved.id}; share it as #/case/${saved.id}`, true)
    history.replaceState(null, '', `#/case/${saved.id}`)
  } catch (error) {
    failed(error, state.center)
  }
}

async function listCases(): Promise<void> {
  const list = $('cases')
  list.replaceChildren()
  try {
    const { cases } = await api<{ cases: { id: string; name: string; address: string; nodes: number; createdAt: string }[] }>('/v1/cases')
    if (cases.length === 0) message('no cases saved yet', true)
    for (const c of cases) {
      const li = document.createElement('li')
      const b = document.createElement('button')
      b.type = 'button'
      b.dataset.case = c.id
      b.textContent = `${c.name} — ${c.address.slice(0, 10)}… (${c.nodes} nodes, ${c.createdAt.slice(0, 16)})`
      b.addEventListener('click', () => void openCase(c.id))
      li.append(b)
      list.append(li)
    }
  } catch (error) {
    failed(error, '')
  }
}

async function openCase(id: string): Promise<void> {
  let c: CaseRecord
  try {
    c = await api<CaseRecord>(`/v1/cases/${encodeURIComponent(id)}`)
    message(`opening case ${c.name}…`, true)
    const first = await api<SerializedGraph>(neighbourhoodPath(c.address, c.hops))
    resetView()
    state.center = first.attributes.center
    state.hops = c.hops
    merge(first, null)
    for (const e of c.expansions) {
      merge(await api<SerializedGraph>(neighbourhoodPath(e.address, 1, e.offset)), e.address)
      state.expansions.push(e)
    }
  } catch (error) {
    return failed(error, id)
  }
  const keep = new Map(c.nodes.map((n) => [n.address, n]))
  for (const node of state.graph.nodes()) if (!keep.has(node)) state.graph.dropNode(node)
  for (const [address, n] of keep) {
    if (!state.graph.hasNode(address)) continue
    state.graph.mergeNodeAttributes(address, { x: n.x, y: n.y, note: n.note ?? '' })
  }
  state.filters.asset = c.filters.asset ?? ''
  state.filters.minValueEth = Number(c.filters.minValueEth ?? 0)
  ;($('asset') as HTMLSelectElement).value = state.filters.asset
  ;($('minvalue') as HTMLInputElement).value = String(state.filters.minValueEth)
  ;($('casename') as HTMLInputElement).value = c.name
  refreshNodeList()
  history.replaceState(null, '', `#/case/${c.id}`)
  render()
  setLayout('settled', 0)
  message(`case ${c.name} (${c.id}): ${state.graph.order} addresses as saved`, true)
  await select(state.center)
}

/** The case report: the centre, the selected address and every address with a note (at most 50). */
async function report(): Promise<void> {
  if (state.center === '' || state.renderer === null) return message('search an address first')
  const g = state.graph
  const wanted = [...new Set([state.center, ...(state.selected ? [state.selected] : []), ...g.filterNodes((_n, a) => typeof a.note === 'string' && a.note !== '')])].slice(0, 50)
  const addresses: ReportAddress[] = []
  try {
    for (const address of wanted) {
      const v = await api<AddressView>(`/v1/addresses/${address}`)
      const seed = v.seed ? { label: v.seed.label, source: v.seed.source, incident: v.seed.incident ?? '', listed: v.seed.listed ?? '', ...v.seed.provenance } : v.answer?.downstream?.seedInfo ? { label: v.answer.downstream.seedInfo.label, source: v.answer.downstream.seedInfo.source, incident: v.answer.downstream.seedInfo.incident ?? '', listed: v.answer.downstream.seedInfo.listed ?? '' } : null
      addresses.push({ address, label: String(g.getNodeAttribute(address, 'label') ?? ''), note: String(g.getNodeAttribute(address, 'note') ?? ''), risk: v.answer?.risk ?? 'unknown', reason: v.answer?.reason ?? '', downstream: v.answer?.downstream ?? null, upstream: v.answer?.upstream ?? null, seed })
    }
  } catch (error) {
    return failed(error, state.center)
  }
  const blob = await toBlob(state.renderer, { format: 'png', backgroundColor: '#ffffff' })
  const snapshot = await new Promise<string>((resolve) => {
    const reader = new FileReader()
    reader.onload = () => resolve(String(reader.result))
    reader.readAsDataURL(blob)
  })
  const caseId = /^#\/case\/([^&]+)/.exec(location.hash)?.[1] ?? null
  const title = ($('casename') as HTMLInputElement).value.trim() || `Exposure of ${state.center}`
  download(`${state.center}-report.html`, caseReport({ title, center: state.center, hops: state.hops, caseId, generatedAt: new Date().toISOString(), snapshot, nodes: g.order, edges: g.size, addresses }), 'text/html')
}

// ---------- wiring ----------

function route(): void {
  const hash = location.hash.replace(/^#/, '')
  const address = /^\/address\/([^&]+)/.exec(hash)
  const caseId = /^\/case\/([^&]+)/.exec(hash)
  if (address) {
    const checked = checkAddress(decodeURIComponent(address[1]!))
    if ('problem' in checked) return message(checked.problem)
    if (checked.address === state.center) return
    ;($('address') as HTMLInputElement).value = checked.address
    void search(checked.address, Number(($('hops') as HTMLSelectElement).value))
  } else if (caseId) void openCase(decodeURIComponent(caseId[1]!))
}

function init(): void {
  spareWorker = newWorker()
  takeKeyFromFragment()
  legend()
  showKeyBox(getKey() === null)
  $('keyform').addEventListener('submit', (e) => {
    e.preventDefault()
    const input = $('key') as HTMLInputElement
    if (input.value.trim() === '') return message('enter an API key with the investigate scope')
    setKey(input.value)
    input.value = ''
    showKeyBox(false)
    message('key kept for this tab', true)
    route()
  })
  $('search').addEventListener('submit', (e) => {
    e.preventDefault()
    if (getKey() === null) return showKeyBox(true)
    const checked = checkAddress(($('address') as HTMLInputElement).value)
    if ('problem' in checked) return message(checked.problem)
    void search(checked.address, Number(($('hops') as HTMLSelectElement).value))
  })
  $('expand').addEventListener('click', () => state.selected && void expand(state.selected, 0))
  $('more').addEventListener('click', () => {
    const node = state.selected
    if (node === null) return
    void expand(node, Math.max(0, ...state.expansions.filter((e) => e.address === node).map((e) => e.offset)) + 200)
  })
  $('pathbtn').addEventListener('click', () => void highlightPath())
  $('clearpath').addEventListener('click', () => {
    state.path = null
    $('clearpath').hidden = true
    state.renderer?.refresh()
  })
  $('closepanel').addEventListener('click', () => {
    $('panel').hidden = true
    state.selected = null
    state.renderer?.refresh()
  })
  $('p-note').addEventListener('input', () => {
    if (state.selected !== null) state.graph.setNodeAttribute(state.selected, 'note', ($('p-note') as HTMLTextAreaElement).value)
  })
  $('asset').addEventListener('change', () => {
    state.filters.asset = ($('asset') as HTMLSelectElement).value
    state.renderer?.refresh()
  })
  $('minvalue').addEventListener('input', () => {
    state.filters.minValueEth = Math.max(0, Number(($('minvalue') as HTMLInputElement).value) || 0)
    state.renderer?.refresh()
  })
  $('time').addEventListener('input', () => {
    applyTimeSlider()
    state.renderer?.refresh()
  })
  const nodelist = $('nodelist') as HTMLSelectElement
  nodelist.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && nodelist.value) void select(nodelist.value)
  })
  nodelist.addEventListener('dblclick', () => nodelist.value && void select(nodelist.value))
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-export]')) {
    b.addEventListener('click', () => {
      if (state.center === '') return message('search an address first')
      const format = b.dataset.export as ExportFormat
      const types: Record<ExportFormat, string> = { gexf: 'application/gexf+xml', graphml: 'application/graphml+xml', json: 'application/json', csv: 'text/csv' }
      download(`${state.center}-view.${format}`, exportGraph(viewGraph(), format), types[format])
    })
  }
  $('png').addEventListener('click', () => state.renderer && void downloadAsPNG(state.renderer, { fileName: `${state.center}-view`, backgroundColor: '#ffffff' }))
  $('savecase').addEventListener('click', () => void saveCase())
  $('report').addEventListener('click', () => void report())
  $('listcases').addEventListener('click', () => void listCases())
  window.addEventListener('hashchange', () => {
    takeKeyFromFragment()
    route()
  })
  if (getKey() !== null) route()
}

init()
