/**
 * Transaction hash → transaction index, for joining token transfers (which etl exports without
 * an index) to their transactions. A JS Map of a million 66-character strings costs ~150 MB of
 * small heap objects that the garbage collector must trace on every major collection; this table
 * keeps the 32-byte hashes in one typed array (open addressing, linear probing), exact, with no
 * per-entry objects.
 */
export class TxIndexTable {
  private hashes: Uint8Array
  private values: Int32Array
  private size = 0

  constructor(private capacity = 1 << 16) {
    this.hashes = new Uint8Array(capacity * 32)
    this.values = new Int32Array(capacity).fill(-1)
  }

  get count(): number {
    return this.size
  }

  /** `hash` is 0x + 64 hex (any case). */
  set(hash: string, index: number): void {
    if ((this.size + 1) * 4 > this.capacity * 3) this.grow()
    const bytes = Buffer.from(hash.slice(2), 'hex')
    this.insert(bytes, index)
  }

  get(hash: string): number | undefined {
    const bytes = Buffer.from(hash.slice(2), 'hex')
    let slot = this.slotOf(bytes)
    for (;;) {
      if (this.values[slot] === -1) return undefined
      if (this.equalAt(slot, bytes)) return this.values[slot]
      slot = (slot + 1) & (this.capacity - 1)
    }
  }

  private insert(bytes: Uint8Array, index: number): void {
    let slot = this.slotOf(bytes)
    for (;;) {
      if (this.values[slot] === -1) {
        this.hashes.set(bytes, slot * 32)
        this.values[slot] = index
        this.size++
        return
      }
      if (this.equalAt(slot, bytes)) {
        this.values[slot] = index
        return
      }
      slot = (slot + 1) & (this.capacity - 1)
    }
  }

  /** Transaction hashes are uniformly random: their first four bytes are a good hash already. */
  private slotOf(bytes: Uint8Array): number {
    return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) & (this.capacity - 1)
  }

  private equalAt(slot: number, bytes: Uint8Array): boolean {
    const base = slot * 32
    for (let i = 0; i < 32; i++) if (this.hashes[base + i] !== bytes[i]) return false
    return true
  }

  private grow(): void {
    const { hashes, values, capacity } = this
    this.capacity = capacity * 2
    this.hashes = new Uint8Array(this.capacity * 32)
    this.values = new Int32Array(this.capacity).fill(-1)
    this.size = 0
    for (let slot = 0; slot < capacity; slot++) {
      if (values[slot] !== -1) this.insert(hashes.subarray(slot * 32, slot * 32 + 32), values[slot]!)
    }
  }
}
