/**
 * A case as one self-contained HTML file an investigator can attach to a filing: the graph
 * snapshot (PNG as a data URL), each reported address's answer with its witness path as a table
 * (tx hashes, blocks, times, amounts) and its seed's provenance, the notes. Every value is escaped,
 * and the file carries a policy that runs no script and loads nothing from anywhere, so even
 * hostile labels stay text.
 */
export interface ReportStep { from: string; to: string; txHash: string; blockNumber: number; asset: string; amount: string; timestamp?: number }
export interface ReportAddress {
  address: string
  label: string
  note: string
  risk: string
  reason: string
  downstream: { hops: number; seed: string; path: ReportStep[] } | null
  upstream: { hops: number; seed: string } | null
  seed: Record<string, string> | null
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')
}

const when = (t: number | undefined) => (t === undefined || t < 0 ? '—' : new Date(t * 1000).toISOString().replace('.000Z', 'Z'))

export function caseReport(input: { title: string; center: string; hops: number; caseId: string | null; generatedAt: string; snapshot: string | null; nodes: number; edges: number; addresses: ReportAddress[] }): string {
  const e = escapeHtml
  const parts: string[] = []
  parts.push('<!doctype html><html lang="en"><head><meta charset="utf-8">')
  parts.push(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">`)
  parts.push(`<title>${e(input.title)}</title>`)
  parts.push('<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1b1b1b}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #bbb;padding:2px 6px;font-size:12px;word-break:break-all}img{max-width:100%;border:1px solid #ddd}dt{font-weight:600}section{margin-top:1.5em}</style></head><body>')
  parts.push(`<h1>${e(input.title)}</h1>`)
  parts.push(`<p>Neighbourhood of <code>${e(input.center)}</code>, ${input.hops} hop${input.hops === 1 ? '' : 's'}: ${input.nodes} addresses, ${input.edges} aggregated flows. ${input.caseId ? `Case <code>${e(input.caseId)}</code>. ` : ''}Generated ${e(input.generatedAt)} by exposure-tracer.</p>`)
  if (input.snapshot !== null) parts.push(`<img alt="graph snapshot" src="${e(input.snapshot)}">`)
  for (const a of input.addresses) {
    parts.push(`<section><h2><code>${e(a.address)}</code></h2><p>${e(a.label)}</p><dl>`)
    parts.push(`<dt>risk</dt><dd>${e(a.risk)}: ${e(a.reason)}</dd>`)
    parts.push(`<dt>downstream</dt><dd>${a.downstream ? `${a.downstream.hops} hop(s) from <code>${e(a.downstream.seed)}</code>` : 'none'}</dd>`)
    parts.push(`<dt>upstream</dt><dd>${a.upstream ? `${a.upstream.hops} hop(s) to <code>${e(a.upstream.seed)}</code>` : 'none'}</dd>`)
    if (a.note !== '') parts.push(`<dt>note</dt><dd>${e(a.note)}</dd>`)
    parts.push('</dl>')
    if (a.seed !== null) parts.push(`<h3>Seed provenance</h3><dl>${Object.entries(a.seed).map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`).join('')}</dl>`)
    if (a.downstream && a.downstream.path.length > 0) {
      parts.push('<h3>Witness path (chain order)</h3><table><tr><th>#</th><th>from</th><th>to</th><th>tx</th><th>block</th><th>time</th><th>asset</th><th>amount (base units)</th></tr>')
      a.downstream.path.forEach((s, i) => parts.push(`<tr><td>${i + 1}</td><td>${e(s.from)}</td><td>${e(s.to)}</td><td>${e(s.txHash)}</td><td>${s.blockNumber}</td><td>${when(s.timestamp)}</td><td>${e(s.asset)}</td><td>${e(s.amount)}</td></tr>`))
      parts.push('</table>')
    }
    parts.push('</section>')
  }
  parts.push('</body></html>\n')
  return parts.join('\n')
}
