-- Everything exposed value (walk/value-inputs.ts) reads for one address, in one round trip, on one
-- server: its node string, its incoming transfers whole (incoming.lua's search, for every distinct
-- sender, position and asset of its in-list), and for every counterparty of the wanted directions
-- its label in the run, its counterparty count, whether it is a seed and its service label. A
-- screening answer made these reads in five round trips; on a Redis Cluster the caller still does
-- (the keys lie on many masters). Node and label keys of other addresses are derived from their
-- hexes under their partition tags ('{' .. name .. ':p' .. first two hex digits .. '}'), as in
-- incoming.lua and counterparties.lua: one server serves any partitions in one call.
-- KEYS[1] the published walk's pointer (hash with runId): read first, so that the answer is for
--         run ARGV[2] or for none
-- KEYS[2] seeds hash ('0x' .. hex40 -> seed JSON)
-- KEYS[3] service labels hash ('0x' .. hex40 -> label JSON)
-- KEYS[4] the address's node string
-- ARGV[1] the store's partition name (the prefix without braces)
-- ARGV[2] run id
-- ARGV[3] wanted counterparties: 'd' (senders, for downstream value), 'u' (recipients, upstream), or both
-- ARGV[4] with incoming transfers: '1' or '0' (downstream value needs them)
-- ARGV[5] the address, hex40 (KEYS[4] is its node)
-- Returns -1 when run ARGV[2] is not the published walk; else { node (or ''), incoming (one list of
-- 74-byte out-records per distinct (sender, position, asset) of the in-list, in the in-list's
-- order, each as { sender hex40, records… }), counterparties (flat: 'd' or 'u', hex40, label or
-- false, counterparty count, 1 when a seed else 0, service label JSON or false) }.
if redis.call('HGET', KEYS[1], 'runId') ~= ARGV[2] then return -1 end
local name, run, wanted, withIncoming = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1'
local IN_RECORD = 35

local node = redis.call('GET', KEYS[4])
if not node or #node < NODE_HEADER then return { '', {}, {} } end
local outCount = struct.unpack('>I4', node, 5)
local inFrom = NODE_HEADER + outCount * OUT_RECORD + 1

-- Hexes of 20-byte addresses in one format call (a gsub calling a function per byte took a third
-- of the script's time on a hub).
local HEX40 = string.rep('%02x', 20)
local function hexOf(bytes) return string.format(HEX40, string.byte(bytes, 1, 20)) end
local function tagOf(hex) return '{' .. name .. ':p' .. string.sub(hex, 1, 2) .. '}' end
local selfBytes = (string.gsub(ARGV[5], '..', function(pair) return string.char(tonumber(pair, 16)) end))

-- Incoming transfers: the senders' out-records to this address at the in-record's position and asset.
local incoming = {}
if withIncoming then
  local asked = {}
  for at = inFrom, #node - IN_RECORD + 1, IN_RECORD do
    local query = string.sub(node, at, at + 26) -- position, sender, asset
    if not asked[query] then
      asked[query] = true
      local senderHex = hexOf(string.sub(query, 7, 26))
      local asset = string.byte(query, 27)
      local found = { senderHex }
      findOutAt(tagOf(senderHex) .. ':n:' .. senderHex, recordPosition(query), function(record)
        if string.sub(record, 7, 26) == selfBytes and string.byte(record, 27) == asset then found[#found + 1] = record end
        return false
      end)
      incoming[#incoming + 1] = found
    end
  end
end

-- Counterparties: senders from the in-list (downstream), recipients from the out-list (upstream),
-- each once per direction.
local counterparties = {}
local described = {}
local function describe(direction, bytes)
  if described[direction .. bytes] then return end
  described[direction .. bytes] = true
  local hex = hexOf(bytes)
  local tag = tagOf(hex)
  local head = redis.call('GETRANGE', tag .. ':n:' .. hex, 0, 3)
  local n = #counterparties
  counterparties[n + 1] = direction
  counterparties[n + 2] = hex
  counterparties[n + 3] = redis.call('HGET', tag .. ':walk:r:' .. run .. (direction == 'd' and ':downstream' or ':upstream') .. ':labels', hex)
  counterparties[n + 4] = #head == 4 and struct.unpack('>I4', head) or 0
  counterparties[n + 5] = redis.call('HEXISTS', KEYS[2], '0x' .. hex)
  counterparties[n + 6] = redis.call('HGET', KEYS[3], '0x' .. hex)
end
if string.find(wanted, 'd', 1, true) then
  for at = inFrom + 6, #node - IN_RECORD + 7, IN_RECORD do describe('d', string.sub(node, at, at + 19)) end
end
if string.find(wanted, 'u', 1, true) then
  for at = NODE_HEADER + 7, inFrom - OUT_RECORD + 6, OUT_RECORD do describe('u', string.sub(node, at, at + 19)) end
end
return { node, incoming, counterparties }
