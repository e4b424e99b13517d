/**
 * GraphSense's confidence scale for attribution tags (graphsense-tagpack-tool,
 * `src/tagpack/db/confidence.csv`): an id per kind of evidence and a level 0–100.
 * Seeds carry the level as a decimal string in `extra.confidence` and the id in
 * `extra.confidenceKind`.
 */

export const CONFIDENCE_LEVELS = {
  override: 100,
  ownership: 100,
  ledger_immanent: 100,
  manual_transaction: 90,
  service_api: 70,
  /** known victim or perpetrator address found in a forensic investigation */
  forensic_investigation: 70,
  /** public authorities, e.g. OFAC, FBI */
  authority_data: 60,
  trusted_provider: 50,
  service_data: 50,
  /** somewhat trusted reports, e.g. academic papers */
  forensic: 50,
  untrusted_transaction: 40,
  web_crawl: 20,
  heuristic: 10,
  unknown: 5,
} as const satisfies Record<string, number>

export type ConfidenceKind = keyof typeof CONFIDENCE_LEVELS

export function isConfidenceKind(value: string): value is ConfidenceKind {
  return Object.hasOwn(CONFIDENCE_LEVELS, value)
}

/** `{ confidence: '60', confidenceKind: 'authority_data' }` for a seed's `extra`. */
export function confidenceExtra(kind: ConfidenceKind): { confidence: string; confidenceKind: ConfidenceKind } {
  return { confidence: String(CONFIDENCE_LEVELS[kind]), confidenceKind: kind }
}
