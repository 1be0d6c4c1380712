"""The Lua scripts of the named-channel store (:mod:`realtime.layers.named`).

Each runs atomically on one Redis node. An entry starts with a fixed header that the scripts
read with ``string.sub``: 13 digits of expiry time (Unix ms), a 28-character message id, two
digits giving the number of copy nodes, then 8 characters per copy node (its tag).
"""

# KEYS: queue, marker. ARGV: entry, capacity, queue ttl ms.
# Returns {1 stored or 0 full, expired entries dropped}.
ADD = """
if redis.call('EXISTS', KEYS[2]) == 1 then return {1, 0} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = 0
while true do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head or tonumber(string.sub(head, 1, 13)) >= now then break end
  redis.call('LPOP', KEYS[1])
  expired = expired + 1
end
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then return {0, expired} end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, expired}
"""

# KEYS: queue. ARGV: marker prefix, this node's tag, marker ttl ms.
# Returns {expired} when empty, {expired, entry, claimed_here} otherwise.
TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = 0
while true do
  local entry = redis.call('LPOP', KEYS[1])
  if not entry then return {expired} end
  if tonumber(string.sub(entry, 1, 13)) < now then
    expired = expired + 1
  elseif tonumber(string.sub(entry, 42, 43)) == 1 then
    return {expired, entry, 1}
  else
    local marker = ARGV[1] .. string.sub(entry, 14, 41)
    if string.sub(entry, 44, 51) == ARGV[2] then
      if redis.call('SET', marker, '1', 'NX', 'PX', ARGV[3]) then
        return {expired, entry, 1}
      end
    elseif redis.call('EXISTS', marker) == 0 then
      return {expired, entry, 0}
    end
  end
end
"""

# KEYS: queue, marker. ARGV: entry, marker ttl ms. 1 won, 0 someone else has it.
CLAIM = """
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then
  redis.call('LREM', KEYS[1], 1, ARGV[1])
  return 1
end
return 0
"""

# ARGV: key pattern. Deletes this layer's stored channels and markers.
FLUSH = """
local keys = redis.call('KEYS', ARGV[1])
for i = 1, #keys, 500 do
  redis.call('DEL', unpack(keys, i, math.min(i + 499, #keys)))
end
return #keys
"""
