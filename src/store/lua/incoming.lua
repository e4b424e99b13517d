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
-- Returns one list of 74-byte out-records per query (the search is lib/out-records.lua's findOutAt).
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

local replies = {}
for q = 2, #ARGV, 4 do
  local key = '{' .. name .. ':p' .. string.sub(ARGV[q], 1, 2) .. '}:n:' .. ARGV[q]
  local recipient = toBytes(ARGV[q + 1])
  local asset = tonumber(ARGV[q + 3])
  local found = {}
  findOutAt(key, tonumber(ARGV[q + 2]), function(record)
    if string.sub(record, 7, 26) == recipient and string.byte(record, 27) == asset then found[#found + 1] = record end
    return false
  end)
  replies[#replies + 1] = found
end
return replies
