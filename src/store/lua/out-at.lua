-- The out-records of one node at one position, in the node's order (one step of a witness path
-- walked client-side on a Redis Cluster: walk/answer-stepwise.ts; answer.lua does the same inside
-- its single call on one server).
-- KEYS[1] node string (header u32 counterparties, u32 outCount, then outCount 74-byte out-records)
-- ARGV[1] position (block * 65536 + tx index)
local HEADER, OUT = 8, 74
local key = KEYS[1]
local want = tonumber(ARGV[1])
local function position(record)
  return struct.unpack('>I4', record) * 65536 + struct.unpack('>I2', record, 5)
end
local header = redis.call('GETRANGE', key, 4, 7)
local n = #header == 4 and struct.unpack('>I4', header) or 0
local lo, hi = 0, n
while lo < hi do
  local mid = math.floor((lo + hi) / 2)
  local off = HEADER + mid * OUT
  if position(redis.call('GETRANGE', key, off, off + 5)) < want then lo = mid + 1 else hi = mid end
end
local found = {}
for i = lo, n - 1 do
  local off = HEADER + i * OUT
  local record = redis.call('GETRANGE', key, off, off + OUT - 1)
  if position(record) ~= want then break end
  found[#found + 1] = record
end
return found
