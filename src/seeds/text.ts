/**
 * Bounds on the text that seed and label files carry (labels, sources, provenance fields). The
 * text is stored with every seed and label and printed in every listing, so a file must not be
 * able to put a megabyte into each. The bounds sit far above real data: the shipped defaults'
 * longest label is 85 characters, their longest single source 131.
 */
import type { Seed } from '../types.ts'
import { provenancesOf, SOURCE_SEPARATOR } from './merge.ts'

/** Longest label, name tag or provenance field (actor, incident, role, …), in UTF-16 code units. */
export const MAX_LABEL_LENGTH = 256
/** Longest single source: a URL, a repository path with its commit, a file name with its label slugs. */
export const MAX_SOURCE_LENGTH = 1024
/** Longest merged text: sources joined by " | ", or the JSON list of a merged seed's provenances. */
export const MAX_MERGED_LENGTH = 16 * 1024

/** What is wrong with a text field, the field's name and the value cut for messages. */
export interface TextProblem {
  field: string
  reason: string
  value: string
}

/** A long value as messages show it: its start and its length. */
export function shortText(value: string, keep = 60): string {
  return value.length <= keep ? value : `${value.slice(0, keep)}… (${value.length} characters)`
}

/** Why a label or provenance field is out of bounds, or undefined. */
export function labelProblem(value: string): string | undefined {
  return value.length > MAX_LABEL_LENGTH ? `too long: ${value.length} characters, at most ${MAX_LABEL_LENGTH}` : undefined
}

/** Why a source (possibly several joined by " | ") is out of bounds, or undefined. */
export function sourceProblem(value: string): string | undefined {
  if (value.length > MAX_MERGED_LENGTH) return `too long: ${value.length} characters, at most ${MAX_MERGED_LENGTH}`
  if (value.length <= MAX_SOURCE_LENGTH) return undefined
  for (const part of value.split(SOURCE_SEPARATOR)) {
    if (part.length > MAX_SOURCE_LENGTH) return `too long: a source of ${part.length} characters, at most ${MAX_SOURCE_LENGTH}`
  }
  return undefined
}

/**
 * The first text field of a seed that is out of bounds: its label, source, every `extra` value,
 * and, for a merged seed (an exported seed set read back), every field of every provenance.
 */
export function seedTextProblem(seed: Seed): TextProblem | undefined {
  const problem = (field: string, value: string, reason: string | undefined): TextProblem | undefined =>
    reason === undefined ? undefined : { field, reason, value: shortText(value) }
  const own =
    problem('label', seed.label, labelProblem(seed.label)) ??
    problem('source', seed.source, sourceProblem(seed.source))
  if (own !== undefined) return own
  for (const [key, value] of Object.entries(seed.extra ?? {})) {
    if (key === 'sources') {
      const found = problem(key, value, value.length > MAX_MERGED_LENGTH ? `too long: ${value.length} characters, at most ${MAX_MERGED_LENGTH}` : undefined)
      if (found !== undefined) return found
      continue
    }
    const found = problem(key, value, labelProblem(value))
    if (found !== undefined) return found
  }
  if (seed.extra?.sources === undefined) return undefined
  // Each provenance of the list is what `seeds list --json` shows: the same bounds apply to it.
  for (const p of provenancesOf(seed)) {
    const found =
      problem('sources', p.label, labelProblem(p.label)) ??
      problem('sources', p.source, sourceProblem(p.source)) ??
      Object.entries(p.extra ?? {}).reduce<TextProblem | undefined>((first, [key, value]) => first ?? (key === 'sources' ? undefined : problem('sources', value, labelProblem(value))), undefined)
    if (found !== undefined) return found
  }
  return undefined
}
