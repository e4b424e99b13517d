-- What exposed value (walk/value-inputs.ts) needs to know of an address's counterparties that lives
-- under their partitions, in one round trip per partition however many there are (a pipeline of
-- commands each cost a hub ~100 ms in client-side command objects): per counterparty its label in
-- the run and its counterparty count (the node header's first u32). Node and label keys are
-- derived from the hexes under their partition tags ('{' .. name .. ':p' .. first two hex digits
-- .. '}'), as in incoming.lua; on a Redis Cluster every hex of a call is in the partition of
-- KEYS[1], so a call stays in one slot (one server takes any partitions in one call). Seeds and
-- service labels (global) are read apart by the caller.
-- KEYS[1] not read: on a cluster a key under the hexes' partition tag, which routes the call to
--         that partition's node; on one server the store's meta hash
-- ARGV[1] the store's partition name (the prefix without braces)
-- ARGV[2] run id (labels tag .. ':walk:r:' .. run .. ':downstream|upstream:labels')
-- ARGV[3..] pairs: direction ('d' or 'u'), counterparty hex40
-- Returns a flat list, two values per pair: label (or false), counterparty count.
local name, run = ARGV[1], ARGV[2]
local out = {}
for i = 3, #ARGV, 2 do
  local hex = ARGV[i + 1]
  local tag = '{' .. name .. ':p' .. string.sub(hex, 1, 2) .. '}'
  local labels = redis.call('HGET', tag .. ':walk:r:' .. run .. (ARGV[i] == 'd' and ':downstream' or ':upstream') .. ':labels', hex)
  local head = redis.call('GETRANGE', tag .. ':n:' .. hex, 0, 3)
  local count = 0
  if #head == 4 then count = struct.unpack('>I4', head) end
  out[#out + 1] = labels
  out[#out + 1] = count
end
return out
