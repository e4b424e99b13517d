/**
 * The public JSON of an answer: what `exposure check --json` prints per address and what the
 * HTTP API answers (which adds its own fields around it). One projection, so the two never differ.
 */
import type { Seed } from '../types.ts'
import type { CheckResult, ExposureWithSeed } from './check.ts'
import type { AnsweredBy } from './on-demand-check.ts'

/** The contract's seedInfo: {label, source, incident, listed, confidence}. */
export function seedInfo(seed: Seed | null) {
  if (!seed) return null
  return { label: seed.label, source: seed.source, incident: seed.extra?.incident ?? null, listed: seed.extra?.listed ?? null, confidence: seed.extra?.confidence === undefined ? null : Number(seed.extra.confidence) }
}

function publicExposure(e: ExposureWithSeed | null) {
  if (!e) return null
  return { hops: e.hops, seed: e.seed, path: e.path, seedInfo: seedInfo(e.seedInfo) }
}

export type AnswerInput = CheckResult & { answeredBy?: Record<'downstream' | 'upstream', AnsweredBy> }

/** One answer as `check --json` prints it. */
export function answerJson(r: AnswerInput) {
  return {
    address: r.address,
    risk: r.risk,
    downstream: publicExposure(r.downstream),
    upstream: publicExposure(r.upstream),
    finalBlock: r.finalBlock,
    // Additive: why this risk (walk/risk.ts) and the exposed value per asset and direction.
    reason: r.reason,
    value: r.value,
    // Additive: the walk the answer comes from, and whether it is stale (with the reasons).
    walk: r.walk === null ? null : { runId: r.walk.runId, finishedAt: r.walk.finishedAt, directions: r.walk.directions },
    stale: r.stale,
    staleReasons: r.staleReasons,
    // Additive, with --source rpc|etherscan only: which answers came from the walk, which from a search.
    ...(r.answeredBy ? { answeredBy: r.answeredBy } : {}),
  }
}

export type AnswerJson = ReturnType<typeof answerJson>

export function toJson(results: readonly AnswerInput[]) {
  return results.map(answerJson)
}
