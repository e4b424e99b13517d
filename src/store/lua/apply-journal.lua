-- Applies one part of an import's journal: the writes its commit decided, made after the commit
-- point. Values are absolute (whole node strings, whole per-block entries), so applying a part
-- twice gives the same store: a commit interrupted after its commit point is finished by running
-- the remaining parts again (store/commit.ts).
-- KEYS[1] journal part (hash: field → value; '' deletes)
-- ARGV[1] store prefix
-- ARGV[2] blocks per bucket of per-block state
-- ARGV[3] the store's partition name (the prefix without braces)
-- Fields: 'n' .. hex40 → node string Q:n:<hex40>, Q = '{' .. name .. ':p' .. first two hex digits .. '}';
--         'v' .. hex40 → the name of a journal part (a string, same partition) holding that node's
--         new value, RENAMEd onto the node;
--         't' .. block → B:txi:<bucket> field block; 'p' .. block → B:ptok:<bucket> field block;
--         'b' .. block → B:bt:<bucket> field block, B = '{' .. name .. ':p' .. hex2(bucket mod 256) .. '}'
--         (partitions.ts partitionOfBlock); 'a' .. id → P:amounts field id.
--         commit.ts writes node strings and per-block state in parts per partition, under its tag
--         (one slot each), and amounts in parts under the prefix's tag.
-- Returns the number of writes made.
-- A large node's new value is a part of its own (a string), moved into place by the hash part
-- that names it ('v' below): applied alone it does nothing, and it is not deleted here.
if redis.call('TYPE', KEYS[1]).ok == 'string' then return 0 end
local entries = redis.call('HGETALL', KEYS[1])
-- Every value part this part names must be there before anything is written: it is unless Redis
-- lost it, and then the commit must fail whole here, not leave some nodes as they were.
for i = 1, #entries, 2 do
  if string.sub(entries[i], 1, 1) == 'v' and redis.call('EXISTS', entries[i + 1]) == 0 then
    return redis.error_reply('JOURNAL_LOST the journal value ' .. entries[i + 1] .. ' of node ' .. string.sub(entries[i], 2) .. ' is gone')
  end
end
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
  elseif kind == 'v' then
    -- Checked above; the part applies atomically and is deleted below, so this runs once.
    redis.call('RENAME', value, '{' .. name .. ':p' .. string.sub(rest, 1, 2) .. '}:n:' .. rest)
  elseif kind == 't' or kind == 'p' or kind == 'b' then
    local bucket = math.floor(tonumber(rest) / perBucket)
    local family = kind == 't' and ':txi:' or (kind == 'p' and ':ptok:' or ':bt:')
    local key = '{' .. name .. ':p' .. string.format('%02x', bucket % 256) .. '}' .. family .. string.format('%d', bucket)
    if value == '' then redis.call('HDEL', key, rest) else redis.call('HSET', key, rest, value) end
  elseif kind == 'a' then
    redis.call('HSET', prefix .. ':amounts', rest, value)
  end
  writes = writes + 1
end
redis.call('DEL', KEYS[1])
return writes
