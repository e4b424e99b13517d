/**
 * Worker error events, reported without flooding: BullMQ emits one per failed poll, several a
 * second while something is wrong. Each distinct message is printed once per minute at most;
 * messages that differ only in a job id ("Missing key for job <id>. moveToFinished", once per job
 * when a Redis restarted without its data) count as one.
 */
export function createErrorReporter(name: string, write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): (error: Error) => void {
  const seen = new Map<string, number>()
  return (error) => {
    const message = error.message.split('\n')[0] ?? ''
    const kind = message.replace(/\bjob \S+/g, 'job *')
    const last = seen.get(kind)
    if (last !== undefined && Date.now() - last < 60_000) return
    seen.set(kind, Date.now())
    write(`${name}: ${message}`)
  }
}
