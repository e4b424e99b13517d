/** Queue names, in one place. Every store has its own BullMQ prefix (see store/keys.ts). */
export const QUEUES = {
  /** Expands frontier addresses of a walk: claim a batch, relax its transfers, queue what changed. */
  walk: 'walk',
  /** Reads a block range from a node into the store (`exposure sync`). */
  ingest: 'ingest',
} as const
