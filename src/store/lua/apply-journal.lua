-- Applies one part of an import's journal: the writes its commit decided, made after the commit
-- point. Values are absolute (whole node strings, whole per-block entries), so applying a part
-- twice gives the same store: a commit interrupted after its commit point is finished by running
-- the remaining parts again (store/commit.ts).
-- KEYS[1] journal part (hash: field → value; '' deletes)
-- ARGV[1] store prefix
-- ARGV[2] blocks per P:txi / P:ptok bucket
-- ARGV[3] the store's partition name (the prefix without braces)
-- Fields: 'n' .. hex40 → node string Q:n:<hex40>, Q = '{' .. name .. ':p' .. first two hex digits .. '}'
--         (commit.ts writes node strings in parts per partition, under its tag: one slot each); 't' .. block → P:txi:<bucket> field block;
--         'p' .. block → P:ptok:<bucket> field block; 'b' .. block → P:blocktime field block;
--         'a' .. id → P:amounts field id.
-- Returns the number of writes made.
local entries = redis.call('HGETALL', KEYS[1])
local prefix = ARGV[1]
local perBucket = tonumber(ARGV[2])
local name = ARGV[3]
local writes = 0
for i = 1, #entries, 2 do
  local field, value = entries[i], entries[i + 1]
  local kind, rest = string.sub(field, 1, 1), string.sub(field, 2)
  if kind == 'n' then
    local key = '{' .. name .. ':p' .. string.sub(rest, 1, 2) .. '}:n:' .. rest
    if value == '' then redis.call('DEL', key) else redis.call('SET', key, value) end
  elseif kind == 't' or kind == 'p' then
    local key = prefix .. (kind == 't' and ':txi:' or ':ptok:') .. tostring(math.floor(tonumber(rest) / perBucket))
    if value == '' then redis.call('HDEL', key, rest) else redis.call('HSET', key, rest, value) end
  elseif kind == 'b' then
    if value == '' then redis.call('HDEL', prefix .. ':blocktime', rest) else redis.call('HSET', prefix .. ':blocktime', rest, value) end
  elseif kind == 'a' then
    redis.call('HSET', prefix .. ':amounts', rest, value)
  end
  writes = writes + 1
end
redis.call('DEL', KEYS[1])
return writes
