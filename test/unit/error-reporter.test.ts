import { describe, expect, it } from 'vitest'
import { createErrorReporter } from '../../src/queues/error-reporter.ts'

describe('worker error reports', () => {
  it('prints each kind of message once a minute: messages differing only in a job id are one kind', () => {
    const lines: string[] = []
    const report = createErrorReporter('walk worker', (line) => lines.push(line))
    report(new Error('Missing key for job a1. moveToFinished'))
    report(new Error('Missing key for job b2. moveToFinished'))
    report(new Error('Missing key for job b2. moveToDelayed'))
    report(new Error('Connection is closed.\nstack'))
    report(new Error('Connection is closed.'))
    expect(lines).toEqual(['walk worker: Missing key for job a1. moveToFinished', 'walk worker: Missing key for job b2. moveToDelayed', 'walk worker: Connection is closed.'])
  })
})
