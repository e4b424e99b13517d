/**
 * Ctrl-C and SIGTERM for one-shot commands: the first asks the running command to stop cleanly
 * (an import drops what it staged, a walk is recorded as interrupted and its jobs drained, a sync
 * finishes the range it is writing), the second stops the process at once (exit status 130).
 * Long operations take `interruption.signal` and end with an INTERRUPTED error, which the CLI
 * turns into exit status 130.
 */
export interface Interruption {
  signal: AbortSignal
  /** Removes the handlers (the command is done). */
  dispose(): void
}

export function handleInterruption(onFirst: (signal: NodeJS.Signals) => void = () => undefined): Interruption {
  const controller = new AbortController()
  let count = 0
  const handler = (signal: NodeJS.Signals) => {
    count++
    if (count === 1) {
      onFirst(signal)
      controller.abort(signal)
      return
    }
    process.stderr.write(`\n${signal} again: stopping now\n`)
    process.exit(130)
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    },
  }
}
