-- Follows hop labels back from an address to a seed and returns the labels on the way: the
-- witness path. At each address it takes the label with the fewest hops whose cost fits the
-- transfer that leads on: a label's cost c is the transfer's position (downstream) or minus it
-- (upstream), and the predecessor's label must have cost <= c (arrived no later / leaves no
-- earlier), so the path is time-respecting by construction.
-- KEYS[1] labels hash of one direction (hex40 -> "h,c,key;…", key = pred hex40 .. record index hex8)
-- ARGV[1] start hex40
-- Returns a flat list hex40, h, c, key, … from the start to the seed ({} when unreached).
local limit = nil
local addr = ARGV[1]
local out = {}
for _ = 1, 64 do
  local text = redis.call('HGET', KEYS[1], addr)
  if not text then
    if #out == 0 then return out end
    return redis.error_reply('BROKEN_PATH no labels at ' .. addr)
  end
  local best = nil
  for h, c, key in string.gmatch(text, '(%d+),(%-?%d+),([^;]*)') do
    h, c = tonumber(h), tonumber(c)
    if (limit == nil or c <= limit) and (best == nil or h < best.h) then best = { h = h, c = c, key = key } end
  end
  if best == nil then return redis.error_reply('BROKEN_PATH no label of ' .. addr .. ' fits the path') end
  out[#out + 1] = addr
  out[#out + 1] = best.h
  out[#out + 1] = string.format('%.0f', best.c)
  out[#out + 1] = best.key
  if best.h == 0 then return out end
  limit = best.c
  addr = string.sub(best.key, 1, 40)
end
return redis.error_reply('BROKEN_PATH longer than 64 hops from ' .. ARGV[1])
