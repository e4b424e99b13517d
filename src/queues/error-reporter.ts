/**
 * Worker error events, reported without flooding: BullMQ emits one per failed poll, several a
 * second while something is wrong. Each distinct message is printed once per minute at most.
 */
export function createErrorReporter(name: string, write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): (error: Error) => void {
  const seen = new Map<string, number>()
  return (error) => {
    const message = error.message.split('\n')[0] ?? ''
    const last = seen.get(message)
    if (last !== undefined && Date.now() - last < 60_000) return
    seen.set(message, Date.now())
    write(`${name}: ${message}`)
  }
}
