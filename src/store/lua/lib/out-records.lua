-- Shared by the scripts that read out-records at one position (answer, incoming, out-at):
-- scripts.ts puts this file before them. A node string is a u32 counterparties, a u32 outCount,
-- then outCount 74-byte out-records sorted by their bytes, so by position first (records.ts).
local NODE_HEADER, OUT_RECORD = 8, 74

-- Position of a record (or of the 6 bytes at `at`): block * 65536 + tx index.
local function recordPosition(record, at)
  at = at or 1
  return struct.unpack('>I4', record, at) * 65536 + struct.unpack('>I2', record, at + 4)
end

-- Visits the out-records of the node at `key` whose position is `pos`, in the node's order (a
-- binary search on the positions, then GETRANGE record by record). Returns the first record for
-- which visit(record) is true, or false when none is.
local function findOutAt(key, pos, visit)
  local header = redis.call('GETRANGE', key, 4, 7)
  local n = #header == 4 and struct.unpack('>I4', header) or 0
  local lo, hi = 0, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local off = NODE_HEADER + mid * OUT_RECORD
    if recordPosition(redis.call('GETRANGE', key, off, off + 5)) < pos then lo = mid + 1 else hi = mid end
  end
  for i = lo, n - 1 do
    local off = NODE_HEADER + i * OUT_RECORD
    local record = redis.call('GETRANGE', key, off, off + OUT_RECORD - 1)
    if recordPosition(record) ~= pos then return false end
    if visit(record) then return record end
  end
  return false
end

