-- Answers one address from the published walk in a single round trip, atomically: a walk being
-- published (publish-walk.lua) is seen wholly or not at all. Returns the walk's basis, the store's
-- versions now (so the caller can say whether the answer is stale, and why), and per direction
-- the witness path: it follows hop labels from the address back to a seed and, for every step,
-- returns the transfer's full out-record (with its tx hash) and its block time, plus the seed's
-- provenance.
--
-- At each address it takes the label with the fewest hops whose cost fits the transfer that leads
-- on (a label's cost c is the transfer's position downstream, minus it upstream; the next label
-- must have cost <= c): the path is time-respecting by construction. A label's key names the
-- predecessor and the record the walk used by its position, asset and kind/sub-index or amount
-- (labels.ts), so records inserted by later imports do not move it; should it be gone, the step is
-- found again by position and recipient among records at or above the walk's dust floor.
--
-- The label and node keys it reads are derived from the published run and the labels, so they
-- cannot all be declared in KEYS; each lives under its address's partition tag (keys.ts), so the
-- witness path crosses partitions: legal on one server only. On a Redis Cluster check.ts walks the
-- same path client-side instead, one slot per step (walk/answer-stepwise.ts); keep the two alike.
-- KEYS[1] walk current hash (runId, directions, dustIds "assetId=hex24,…", and the basis)
-- KEYS[2] seeds hash (0x-address -> JSON)
-- KEYS[3] store meta hash (version, labelsVersion, storeId)
-- KEYS[4] seed set version string
-- ARGV[1] address hex40
-- ARGV[2] the store's partition name (the prefix without braces): an address's keys are under
--         '{' .. name .. ':p' .. its first two hex digits .. '}' (node key tag .. ':n:' .. hex40:
--         header u32 counterparties, u32 outCount, then outCount 74-byte out-records, then
--         35-byte in-records; records.ts; labels tag .. ':walk:r:' .. run .. ':' .. dir .. ':labels')
-- ARGV[3] blocks per bucket of per-block state: a block's time is in field block of
--         '{' .. name .. ':p' .. hex2(bucket mod 256) .. '}:bt:' .. bucket (keys.ts, partitions.ts)
-- Returns { current (flat field/value list, empty when no walk is published),
--           { store version, labels version, store id, seed version },
--           downstream, upstream }
-- where a direction is {} (not walked, or the address is not reached), the error string
-- 'BROKEN_PATH …', or { seedJson or false, then per step from the address to the seed: hex40,
-- hops, cost, neighbour hex40, out-record (74 bytes) or false, block time or false }.
local name = ARGV[2]
local perBucket = tonumber(ARGV[3])
local function tag(hex) return '{' .. name .. ':p' .. string.sub(hex, 1, 2) .. '}' end
local function nodeKey(hex) return tag(hex) .. ':n:' .. hex end

local current = redis.call('HGETALL', KEYS[1])
local versions = {
  redis.call('HGET', KEYS[3], 'version') or '0',
  redis.call('HGET', KEYS[3], 'labelsVersion') or '0',
  redis.call('HGET', KEYS[3], 'storeId') or '',
  redis.call('GET', KEYS[4]) or '0',
}
if #current == 0 then return { current, versions, {}, {} } end
local basis = {}
for i = 1, #current, 2 do basis[current[i]] = current[i + 1] end

-- Dust floors of the walk by asset id, as the 12 big-endian bytes an out-record's amount has.
local floors = {}
for id, hex in string.gmatch(basis.dustIds or '', '(%d+)=(%x+)') do
  floors[tonumber(id)] = (string.gsub(hex, '..', function(pair) return string.char(tonumber(pair, 16)) end))
end

-- Byte-wise order of equal-length strings (Lua's < follows the locale).
local function bytesLess(a, b)
  for i = 1, #a do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return false
end

local function counts(record)
  local floor = floors[string.byte(record, 27)]
  return floor == nil or not bytesLess(string.sub(record, 28, 39), floor)
end

-- The 8 amount bytes an in-record holds for an out-record's 12 (saturated at 2^64-1).
local function inAmount(record)
  if string.sub(record, 28, 31) ~= '\0\0\0\0' then return string.rep('\255', 8) end
  return string.sub(record, 32, 39)
end

-- First out-record of the node at key with position `pos` for which accept(record) holds
-- (lib/out-records.lua).
local findOut = findOutAt

local function hexToBytes(hex)
  return (string.gsub(hex, '..', function(pair) return string.char(tonumber(pair, 16)) end))
end

local function witness(labelsKeyOf, start, up)
  local out = {}
  local limit = nil
  local addr = start
  for _ = 1, 64 do
    local text = redis.call('HGET', labelsKeyOf(addr), addr)
    if not text then
      if #out == 0 then return {} end
      return 'BROKEN_PATH no labels at ' .. addr
    end
    local best = nil
    for h, c, key in string.gmatch(text, '(%d+),(%-?%d+),([^;]*)') do
      h, c = tonumber(h), tonumber(c)
      if (limit == nil or c <= limit) and (best == nil or h < best.h) then best = { h = h, c = c, key = key } end
    end
    if best == nil then return 'BROKEN_PATH no label of ' .. addr .. ' fits the path' end
    if #out == 0 then out[1] = false end
    if best.h == 0 then
      out[1] = redis.call('HGET', KEYS[2], '0x' .. addr)
      for _, v in ipairs({ addr, 0, string.format('%.0f', best.c), '', false, false }) do out[#out + 1] = v end
      return out
    end
    local neighbour = string.sub(best.key, 1, 40)
    -- The key names the record (labels.ts): position (12 hex), asset (2 hex), then kind/sub-index
    -- (6 hex, downstream: the predecessor's out-record) or the in-record's amount (16 hex, upstream).
    local tag = hexToBytes(string.sub(best.key, 41))
    local pos = up and -best.c or best.c
    local record = false
    if up then
      -- The transfer addr -> neighbour sits in addr's out-list.
      local to = hexToBytes(neighbour)
      local asset = string.sub(tag, 7, 7)
      local amount = string.sub(tag, 8, 15)
      record = findOut(nodeKey(addr), pos, function(r) return string.sub(r, 7, 26) == to and string.sub(r, 27, 27) == asset and inAmount(r) == amount end)
      if not record then
        record = findOut(nodeKey(addr), pos, function(r) return string.sub(r, 7, 26) == to and counts(r) end)
      end
    else
      -- The transfer neighbour -> addr sits in neighbour's out-list.
      local neighbourKey = nodeKey(neighbour)
      local to = hexToBytes(addr)
      local asset = string.sub(tag, 7, 7)
      local kindSub = string.sub(tag, 8, 10)
      record = findOut(neighbourKey, pos, function(x) return string.sub(x, 7, 26) == to and string.sub(x, 27, 27) == asset and string.sub(x, 72, 74) == kindSub end)
      if not record then
        record = findOut(neighbourKey, pos, function(x) return string.sub(x, 7, 26) == to and counts(x) end)
      end
    end
    local time = false
    if record then
      local block = struct.unpack('>I4', record)
      local bucket = math.floor(block / perBucket)
      time = redis.call('HGET', '{' .. name .. ':p' .. string.format('%02x', bucket % 256) .. '}:bt:' .. string.format('%d', bucket), string.format('%d', block))
    end
    for _, v in ipairs({ addr, best.h, string.format('%.0f', best.c), neighbour, record, time }) do out[#out + 1] = v end
    limit = best.c
    addr = neighbour
  end
  return 'BROKEN_PATH longer than 64 hops from ' .. start
end

local replies = {}
for _, d in ipairs({ 'downstream', 'upstream' }) do
  if string.find(',' .. (basis.directions or '') .. ',', ',' .. d .. ',', 1, true) then
    local suffix = ':walk:r:' .. basis.runId .. ':' .. d .. ':labels'
    replies[#replies + 1] = witness(function(hex) return tag(hex) .. suffix end, ARGV[1], d == 'upstream')
  else
    replies[#replies + 1] = {}
  end
end
return { current, versions, replies[1], replies[2] }
