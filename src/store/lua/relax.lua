-- Offers candidate hop labels to addresses and keeps, per address, only the non-dominated ones:
-- "lower this address's labels if a new one dominates", atomically with queuing the address for
-- expansion (so a crash between the two can never lose a wake-up).
-- A label is (h, c, key): h hops, c cost (downstream: arrival position; upstream: minus the
-- departure position; smaller is better), key = predecessor hex40 .. record hex (ties: smaller key
-- wins, so the witness path does not depend on the order jobs ran in).
-- (h1,c1) dominates (h2,c2) when h1 <= h2 and c1 <= c2.
-- All keys are one partition's (keys.ts): the candidates must all be addresses of that partition.
-- KEYS[1] labels hash of the run in the partition (hex40 -> "h,c,key;h,c,key")
-- KEYS[2] frontier zset of the run in the partition (hex40 -> least hops still to expand)
-- KEYS[3] the partition's walk guard (the running run id): nothing is written unless it names this
--         run (the partition's copy of the walk meta, so the script stays in one slot)
-- ARGV[1] run id
-- ARGV[2] maxHops: labels with h >= maxHops are stored but never expanded
-- ARGV[3] candidates, each 'hex40,h,c,key;' (one argument: thousands of small ones cost the
--         caller more than this script's parsing)
-- ARGV[4] how many candidates ARGV[3] holds. A candidate the pattern skipped would be a label
--         silently lost, so unless the matches cover ARGV[3] whole and their count is this one,
--         the call is an error (before anything is written)
-- Returns { labels changed, addresses queued for expansion, least hops queued (-1: none) }, or
-- { -1, -1, -1 } when the run is not running
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return { -1, -1, -1 } end
local maxHops = tonumber(ARGV[2])

-- Byte-wise string order (Lua's < follows the server's locale collation).
local function less(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local function parse(text)
  local list = {}
  if not text then return list end
  for h, c, key in string.gmatch(text, '(%d+),(%-?%d+),([^;]*)') do
    list[#list + 1] = { h = tonumber(h), c = tonumber(c), key = key }
  end
  return list
end

local function serialize(list)
  table.sort(list, function(a, b) return a.h < b.h end)
  local parts = {}
  for i, l in ipairs(list) do parts[i] = string.format('%d,%.0f,%s', l.h, l.c, l.key) end
  return table.concat(parts, ';')
end

local cache, dirty, order = {}, {}, {}
local changed, queued, least = 0, 0, -1

local candidates, covered = {}, 0
for whole, addr, h, c, key in string.gmatch(ARGV[3], '((' .. string.rep('%x', 40) .. '),(%d+),(%-?%d+),(%x*);)') do
  candidates[#candidates + 1] = { addr, tonumber(h), tonumber(c), key }
  covered = covered + #whole
end
if #candidates ~= tonumber(ARGV[4]) or covered ~= #ARGV[3] then
  return redis.error_reply('relax: ' .. #candidates .. ' candidates parsed of ' .. ARGV[4] .. ' sent (' .. covered .. ' of ' .. #ARGV[3] .. ' bytes)')
end

for _, candidate in ipairs(candidates) do
  local addr, h, c, key = candidate[1], candidate[2], candidate[3], candidate[4]
  local list = cache[addr]
  if not list then
    list = parse(redis.call('HGET', KEYS[1], addr))
    cache[addr] = list
  end
  local dominated, sameCost = false, false
  for _, l in ipairs(list) do
    if l.h <= h and l.c <= c then
      if l.h == h and l.c == c and less(key, l.key) then
        sameCost = true -- an equally good label with a larger key: replace it, no new expansion
      else
        dominated = true
        break
      end
    end
  end
  if not dominated then
    local kept = {}
    for _, l in ipairs(list) do
      if not (h <= l.h and c <= l.c) then kept[#kept + 1] = l end
    end
    kept[#kept + 1] = { h = h, c = c, key = key }
    cache[addr] = kept
    if not dirty[addr] then
      dirty[addr] = true
      order[#order + 1] = addr
    end
    changed = changed + 1
    if not sameCost and h < maxHops then
      redis.call('ZADD', KEYS[2], 'LT', h, addr)
      queued = queued + 1
      if least < 0 or h < least then least = h end
    end
  end
end

for _, addr in ipairs(order) do
  redis.call('HSET', KEYS[1], addr, serialize(cache[addr]))
end
return { changed, queued, least }
