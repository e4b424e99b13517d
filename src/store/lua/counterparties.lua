-- What exposed value (walk/value-inputs.ts) needs to know of an address's counterparties, in one
-- round trip however many there are (a pipeline of four commands each cost a hub ~100 ms in
-- client-side command objects): per counterparty its label in the run, whether it is a seed, its
-- service label and its counterparty count (the node header's first u32). Node keys are derived
-- from the hexes (prefix .. ':n:' .. hex40), as in incoming.lua; all share the store's hash tag.
-- KEYS[1] downstream labels of the run   KEYS[2] upstream labels of the run
-- KEYS[3] seeds                           KEYS[4] service labels
-- ARGV[1] store prefix
-- ARGV[2..] pairs: direction ('d' or 'u'), counterparty hex40
-- Returns a flat list, four values per pair: label (or false), 1/0 seed, service label JSON (or
-- false), counterparty count.
local prefix = ARGV[1]
local out = {}
for i = 2, #ARGV, 2 do
  local hex = ARGV[i + 1]
  local address = '0x' .. hex
  local labels = redis.call('HGET', ARGV[i] == 'd' and KEYS[1] or KEYS[2], hex)
  local seed = redis.call('HEXISTS', KEYS[3], address)
  local service = redis.call('HGET', KEYS[4], address)
  local head = redis.call('GETRANGE', prefix .. ':n:' .. hex, 0, 3)
  local count = 0
  if #head == 4 then count = struct.unpack('>I4', head) end
  out[#out + 1] = labels
  out[#out + 1] = seed
  out[#out + 1] = service
  out[#out + 1] = count
end
return out
