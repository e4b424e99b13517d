// cluster-key-slot (ioredis' own dependency) ships no types: its default export is the slot of a key.
declare module 'cluster-key-slot' {
  /** The Redis Cluster hash slot (0–16383) of a key, honouring its {hash tag}. */
  function generate(key: string | Buffer): number
  export default generate
}
