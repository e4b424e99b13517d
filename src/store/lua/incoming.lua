-- An address's incoming transfers, whole, from the senders' out-records: in-records keep amounts
-- saturated at 2^64-1 and no tx hash or sub-index (records.ts), and two transfers that agree in
-- everything an in-record holds (two equal internal calls of one transaction) share one in-record.
-- For each query (sender, position, asset) returns every out-record of the sender at that
-- position to the recipient in that asset: one round trip for a batch of an address's in-list.
-- The node keys are derived from the queries ('{' .. name .. ':p' .. first two hex digits ..
-- '}:n:' .. hex40): the senders' partitions. On a Redis Cluster callers send one call per
-- partition (every sender of a call in the partition of KEYS[1]), so a call stays in one slot; one
-- server takes queries of any partitions in one call.
-- KEYS[1] not read: on a cluster a key under the senders' partition tag, which routes the call to
--         that partition's node; on one server the store's meta hash
-- ARGV[1] the store's partition name (the prefix without braces)
-- ARGV[2..] queries as quadruples: sender hex40, recipient hex40, position (block * 65536 + tx
--           index), asset id (one call serves the in-lists of many addresses)
-- Returns one list of 74-byte out-records per query.
local HEADER, OUT = 8, 74
local name = ARGV[1]
local bytes = {}
local function toBytes(hex)
  local b = bytes[hex]
  if not b then
    b = (string.gsub(hex, '..', function(pair) return string.char(tonumber(pair, 16)) end))
    bytes[hex] = b
  end
  return b
end

local function position(record)
  return struct.unpack('>I4', record) * 65536 + struct.unpack('>I2', record, 5)
end

local replies = {}
for q = 2, #ARGV, 4 do
  local key = '{' .. name .. ':p' .. string.sub(ARGV[q], 1, 2) .. '}:n:' .. ARGV[q]
  local recipient = toBytes(ARGV[q + 1])
  local want = tonumber(ARGV[q + 2])
  local asset = tonumber(ARGV[q + 3])
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
    if string.sub(record, 7, 26) == recipient and string.byte(record, 27) == asset then found[#found + 1] = record end
  end
  replies[#replies + 1] = found
end
return replies
