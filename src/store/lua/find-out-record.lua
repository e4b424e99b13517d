-- Finds the full out-record (with its tx hash) of a transfer known from the recipient's in-list:
-- binary search on the position in the sender's sorted out-list, then an exact match of
-- position, recipient, asset and amount among the records at that position.
-- KEYS[1] sender's out-list (4-byte header, then 80-byte records sorted by bytes)
-- ARGV[1] the 43-byte prefix to match (position 6, recipient 20, asset 1, amount 16), binary
-- Returns the 80-byte record, or false.
local HEADER, SIZE = 4, 80
local len = redis.call('STRLEN', KEYS[1])
local n = math.floor((len - HEADER) / SIZE)
local want = ARGV[1]
local wantPos = struct.unpack('>I4', want) * 65536 + struct.unpack('>I2', want, 5)
local function posAt(i)
  local off = HEADER + i * SIZE
  local b = redis.call('GETRANGE', KEYS[1], off, off + 5)
  return struct.unpack('>I4', b) * 65536 + struct.unpack('>I2', b, 5)
end
local lo, hi = 0, n
while lo < hi do
  local mid = math.floor((lo + hi) / 2)
  if posAt(mid) < wantPos then lo = mid + 1 else hi = mid end
end
for i = lo, n - 1 do
  local off = HEADER + i * SIZE
  local record = redis.call('GETRANGE', KEYS[1], off, off + SIZE - 1)
  if string.sub(record, 1, 43) == want then return record end
  if struct.unpack('>I4', record) * 65536 + struct.unpack('>I2', record, 5) ~= wantPos then return false end
end
return false
