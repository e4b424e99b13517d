/** Queue names, in one place. Every store has its own BullMQ prefix (see store/keys.ts). */
export const QUEUES = {
  /** Expands frontier addresses of a walk: claim a batch, relax its transfers, queue what changed. */
  walk: 'walk',
  /** Reads a block range from a node into the store (`exposure sync`). */
  ingest: 'ingest',
  /** Reads etl files into an import's staging area (`exposure import --ingest-workers N`). */
  etlIngest: 'ingest-etl',
  /** Screens one submitted wallet that the store cannot answer exactly yet (on-demand search, `exposure serve`). */
  check: 'check',
  /** Runs one rescan (src/watch/rescan.ts); a job scheduler adds them on EXPOSURE_RESCAN_CRON. */
  rescan: 'rescan',
  /** Delivers one alert to one webhook endpoint (src/watch/delivery.ts). */
  deliver: 'deliver',
} as const

/**
 * Events kept in each queue's events stream (BullMQ keeps 10,000 by default, each with its job's
 * return value): nothing here reads old events, so a short stream bounds the memory it takes.
 */
export const EVENTS_MAX_LEN = 1_000
