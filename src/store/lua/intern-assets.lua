-- Interns assets into the store's asset table, keeping existing ids stable.
-- KEYS[1] asset table (list; index = asset id; 0 is always 'ETH')
-- ARGV    assets to intern ('ETH' or lowercase token addresses)
-- Returns the whole table after interning.
local table_ = redis.call('LRANGE', KEYS[1], 0, -1)
if #table_ == 0 then
  redis.call('RPUSH', KEYS[1], 'ETH')
  table_ = { 'ETH' }
end
local known = {}
for _, asset in ipairs(table_) do known[asset] = true end
for _, asset in ipairs(ARGV) do
  if not known[asset] then
    if #table_ >= 256 then return redis.error_reply('ASSET_TABLE_FULL at most 256 assets per store') end
    redis.call('RPUSH', KEYS[1], asset)
    table_[#table_ + 1] = asset
    known[asset] = true
  end
end
return table_
