-- What exposed value (walk/value-inputs.ts) needs to know of an address's counterparties, in one
-- round trip however many there are (a pipeline of four commands each cost a hub ~100 ms in
-- client-side command objects): per counterparty its label in the run, whether it is a seed, its
-- service label and its counterparty count (the node header's first u32). Node and label keys are
-- derived from the hexes under their partition tags ('{' .. name .. ':p' .. first two hex digits
-- .. '}'), as in incoming.lua: the counterparties' partitions, so not Redis Cluster-ready.
-- KEYS[1] seeds                           KEYS[2] service labels
-- ARGV[1] the store's partition name (the prefix without braces)
-- ARGV[2] run id (labels tag .. ':walk:r:' .. run .. ':downstream|upstream:labels')
-- ARGV[3..] pairs: direction ('d' or 'u'), counterparty hex40
-- Returns a flat list, four values per pair: label (or false), 1/0 seed, service label JSON (or
-- false), counterparty count.
local name, run = ARGV[1], ARGV[2]
local out = {}
for i = 3, #ARGV, 2 do
  local hex = ARGV[i + 1]
  local address = '0x' .. hex
  local tag = '{' .. name .. ':p' .. string.sub(hex, 1, 2) .. '}'
  local labels = redis.call('HGET', tag .. ':walk:r:' .. run .. (ARGV[i] == 'd' and ':downstream' or ':upstream') .. ':labels', hex)
  local seed = redis.call('HEXISTS', KEYS[1], address)
  local service = redis.call('HGET', KEYS[2], address)
  local head = redis.call('GETRANGE', tag .. ':n:' .. hex, 0, 3)
  local count = 0
  if #head == 4 then count = struct.unpack('>I4', head) end
  out[#out + 1] = labels
  out[#out + 1] = seed
  out[#out + 1] = service
  out[#out + 1] = count
end
return out
