/**
 * ForceAtlas2 in a web worker that settles and stops: it runs the layout in rounds, posts the
 * positions after each, and stops once the mean movement per node and iteration falls below 0.05 % of
 * the layout's extent (or after a bounded number of iterations), then says so.
 */
import Graph from 'graphology'
import forceAtlas2 from 'graphology-layout-forceatlas2'

export interface LayoutRequest {
  nodes: { key: string; x: number; y: number; size: number; fixed?: boolean }[]
  edges: { source: string; target: string; weight: number }[]
  maxIterations?: number
}

export type LayoutMessage =
  | { type: 'positions'; keys: string[]; xy: Float64Array; iterations: number }
  | { type: 'settled'; keys: string[]; xy: Float64Array; iterations: number; reason: 'converged' | 'limit'; computeMs: number }

const scope = self as unknown as { onmessage: ((e: MessageEvent<LayoutRequest>) => void) | null; postMessage(message: LayoutMessage, transfer?: Transferable[]): void }
let generation = 0

scope.onmessage = (event) => {
  const mine = ++generation
  const { nodes, edges } = event.data
  const graph = new Graph({ type: 'directed', multi: false, allowSelfLoops: false })
  for (const n of nodes) graph.addNode(n.key, { x: n.x, y: n.y, size: n.size, fixed: n.fixed === true })
  for (const e of edges) if (e.source !== e.target && !graph.hasEdge(e.source, e.target)) graph.addEdge(e.source, e.target, { weight: e.weight })
  const settings = { ...forceAtlas2.inferSettings(graph), barnesHutOptimize: graph.order > 500, adjustSizes: false, slowDown: 1 + Math.log10(1 + graph.order) }
  const maxIterations = event.data.maxIterations ?? (graph.order > 2_000 ? 200 : 400)
  const keys = graph.nodes()
  const chunk = graph.order > 2_000 ? 10 : graph.order > 500 ? 25 : 50
  let iterations = 0
  let computeMs = 0
  // Positions go to the page every 150 ms (small graphs) to 1 s (large ones): redrawing, not the
  // layout, is the slow part, and a page busy redrawing would see the end of the layout late.
  const postEvery = graph.order > 2_000 ? 1_000 : graph.order > 500 ? 400 : 150
  let posted = Date.now()
  const snapshot = () => {
    const xy = new Float64Array(keys.length * 2)
    keys.forEach((k, i) => {
      xy[2 * i] = graph.getNodeAttribute(k, 'x') as number
      xy[2 * i + 1] = graph.getNodeAttribute(k, 'y') as number
    })
    return xy
  }
  const round = () => {
    if (mine !== generation) return
    const roundStarted = performance.now()
    const before = snapshot()
    if (graph.order > 1) forceAtlas2.assign(graph, { iterations: chunk, settings, getEdgeWeight: 'weight' })
    iterations += chunk
    const after = snapshot()
    let moved = 0
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity
    for (let i = 0; i < keys.length; i++) {
      const x = after[2 * i]!, y = after[2 * i + 1]!
      moved += Math.hypot(x - before[2 * i]!, y - before[2 * i + 1]!)
      if (x < minX) minX = x
      if (x > maxX) maxX = x
      if (y < minY) minY = y
      if (y > maxY) maxY = y
    }
    const extent = Math.max(maxX - minX, maxY - minY, 1e-9)
    const meanShare = moved / Math.max(1, keys.length) / chunk / extent
    computeMs += performance.now() - roundStarted
    if (graph.order <= 1 || meanShare < 5e-4 || iterations >= maxIterations) {
      scope.postMessage({ type: 'settled', keys, xy: after, iterations, reason: iterations >= maxIterations ? 'limit' : 'converged', computeMs }, [after.buffer])
      return
    }
    // Rounds run back to back; the worker yields only when it posts (a new layout terminates it).
    if (Date.now() - posted >= postEvery) {
      posted = Date.now()
      scope.postMessage({ type: 'positions', keys, xy: after, iterations }, [after.buffer])
      setTimeout(round, 0)
    } else round()
  }
  round()
}
