-- The out-records of one node at one position, in the node's order (one step of a witness path
-- walked client-side on a Redis Cluster: walk/answer-stepwise.ts; answer.lua does the same inside
-- its single call on one server). The search is lib/out-records.lua's findOutAt.
-- KEYS[1] node string (header u32 counterparties, u32 outCount, then outCount 74-byte out-records)
-- ARGV[1] position (block * 65536 + tx index)
local found = {}
findOutAt(KEYS[1], tonumber(ARGV[1]), function(record)
  found[#found + 1] = record
  return false
end)
return found
