/**
 * Failpoints: named places where a test or a drill can make this process die on the spot
 * (SIGKILL, as the OOM killer or a lost host would), to prove that the store recovers from a
 * crash at exactly that point. `EXPOSURE_FAILPOINT=<name>` arms one; nothing happens otherwise.
 * This is the only place outside config.ts that reads the environment: a failpoint must work in
 * any process (CLI, worker) without being threaded through every options object.
 *
 * Names: import:staged (every file read, before the commit), ingest:staged (an etl ingest job
 * staged its files, before its job completes), ingest:prepared (a prepare job wrote its partitions'
 * journal parts, before its job completes), commit:prepared (journal written,
 * before the commit point), commit:point (right after the commit point), commit:half-applied
 * (half the journal applied), walk:before-publish (a walk done, not yet published), walk:published (published, the
 * replaced run's keys not freed yet),
 * rescan:half-recorded (a rescan recorded half the answers of its first batch of watched wallets),
 * rescan:before-dispatch (a rescan recorded every answer and alert, no delivery queued yet).
 */
export type FailpointName = 'import:staged' | 'ingest:staged' | 'ingest:prepared' | 'commit:prepared' | 'commit:point' | 'commit:half-applied' | 'walk:before-publish' | 'walk:published' | 'rescan:half-recorded' | 'rescan:before-dispatch'

const armed = process.env.EXPOSURE_FAILPOINT

export function failpoint(name: FailpointName): void {
  if (armed !== name) return
  process.stderr.write(`failpoint ${name}: killing this process\n`)
  process.kill(process.pid, 'SIGKILL')
}
