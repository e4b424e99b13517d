-- Rebuilds one witness path in a single round trip: follows hop labels from an address back to a
-- seed, and for every step returns the transfer's full out-record (with its tx hash) and its
-- block time, plus the seed's provenance.
--
-- At each address it takes the label with the fewest hops whose cost fits the transfer that leads
-- on (a label's cost c is the transfer's position downstream, minus it upstream; the next label
-- must have cost <= c): the path is time-respecting by construction.
--
-- The adjacency keys it reads are derived from the labels, so they cannot all be declared in
-- KEYS; they share the store's hash tag (one cluster slot) with the declared ones.
-- KEYS[1] labels hash of one direction (hex40 -> "h,c,key;…"; key = pred hex40 .. record index hex8)
-- KEYS[2] seeds hash (0x-address -> JSON)
-- KEYS[3] block times hash (block -> unix seconds)
-- ARGV[1] start hex40
-- ARGV[2] 'down' (key indexes the predecessor's out-list) or 'up' (the successor's in-list)
-- ARGV[3] store prefix (node keys are prefix .. ':n:' .. hex40: header u32 counterparties, u32
--         outCount, then outCount 74-byte out-records, then 35-byte in-records; records.ts)
-- Returns { seedJson or false, then per step from the start to the seed: hex40, hops, cost,
--           neighbour hex40, out-record (74 bytes) or false, block time or false }
--         or {} when the address is unreached.
local HEADER, OUT, IN = 8, 74, 35
local up = ARGV[2] == 'up'
local prefix = ARGV[3]

local function position(record)
  return struct.unpack('>I4', record) * 65536 + struct.unpack('>I2', record, 5)
end

-- Upstream: the in-record names the sender; its out-record (with the tx hash) is found by binary
-- search on the position in the sender's sorted out-records, then a match of position, recipient
-- and asset (the first 27 bytes) and of the amount as in-records keep it (u96 saturated to u64).
local function outCount(key)
  local header = redis.call('GETRANGE', key, 4, 7)
  if #header < 4 then return 0 end
  return struct.unpack('>I4', header)
end

-- The 8 amount bytes an in-record holds for an out-record's 12 (saturated at 2^64-1).
local function inAmount(record)
  if string.sub(record, 28, 31) ~= '\0\0\0\0' then return string.rep('\255', 8) end
  return string.sub(record, 32, 39)
end

local function findOut(key, want, wantAmount)
  local n = outCount(key)
  local wantPos = position(want)
  local lo, hi = 0, n
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local off = HEADER + mid * OUT
    if position(redis.call('GETRANGE', key, off, off + 5)) < wantPos then lo = mid + 1 else hi = mid end
  end
  for i = lo, n - 1 do
    local off = HEADER + i * OUT
    local record = redis.call('GETRANGE', key, off, off + OUT - 1)
    if string.sub(record, 1, 27) == want and inAmount(record) == wantAmount then return record end
    if position(record) ~= wantPos then return false end
  end
  return false
end

local function hexToBytes(hex)
  return (string.gsub(hex, '..', function(pair) return string.char(tonumber(pair, 16)) end))
end

local out = {}
local limit = nil
local addr = ARGV[1]
for _ = 1, 64 do
  local text = redis.call('HGET', KEYS[1], addr)
  if not text then
    if #out == 0 then return {} end
    return redis.error_reply('BROKEN_PATH no labels at ' .. addr)
  end
  local best = nil
  for h, c, key in string.gmatch(text, '(%d+),(%-?%d+),([^;]*)') do
    h, c = tonumber(h), tonumber(c)
    if (limit == nil or c <= limit) and (best == nil or h < best.h) then best = { h = h, c = c, key = key } end
  end
  if best == nil then return redis.error_reply('BROKEN_PATH no label of ' .. addr .. ' fits the path') end
  if #out == 0 then out[1] = false end
  if best.h == 0 then
    out[1] = redis.call('HGET', KEYS[2], '0x' .. addr)
    out[#out + 1] = addr
    out[#out + 1] = 0
    out[#out + 1] = string.format('%.0f', best.c)
    out[#out + 1] = ''
    out[#out + 1] = false
    out[#out + 1] = false
    return out
  end
  local neighbour = string.sub(best.key, 1, 40)
  local index = tonumber(string.sub(best.key, 41), 16)
  local record
  local neighbourKey = prefix .. ':n:' .. neighbour
  if up then
    local off = HEADER + outCount(neighbourKey) * OUT + index * IN
    local inRecord = redis.call('GETRANGE', neighbourKey, off, off + IN - 1)
    if #inRecord == IN then
      -- The out-record starts like the in-record, with the recipient where the sender was.
      local want = string.sub(inRecord, 1, 6) .. hexToBytes(neighbour) .. string.sub(inRecord, 27, 27)
      record = findOut(prefix .. ':n:' .. addr, want, string.sub(inRecord, 28, 35))
    else
      record = false
    end
  else
    local off = HEADER + index * OUT
    record = redis.call('GETRANGE', neighbourKey, off, off + OUT - 1)
    if #record ~= OUT then record = false end
  end
  local time = false
  if record then time = redis.call('HGET', KEYS[3], tostring(struct.unpack('>I4', record))) end
  out[#out + 1] = addr
  out[#out + 1] = best.h
  out[#out + 1] = string.format('%.0f', best.c)
  out[#out + 1] = neighbour
  out[#out + 1] = record
  out[#out + 1] = time
  limit = best.c
  addr = neighbour
end
return redis.error_reply('BROKEN_PATH longer than 64 hops from ' .. ARGV[1])
