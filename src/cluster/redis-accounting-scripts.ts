import { LUA_NOW } from './redis-connection.js';

/**
 * The Lua of RedisAccounting. Every script gets the key prefix as ARGV[1] and the time as ARGV[2]
 * ('' = Redis's own clock, TIME; a number only where a test injects its clock), so that all nodes
 * judge leases by one clock. Keys under the prefix:
 *   s            hash  session id -> record JSON (dates as epoch ms)
 *   u:<userId>   hash  session id -> kind (what acquire counts)
 *   ns:<node>    set   the node's session ids
 *   lease        hash  node -> lease expiry (ms); a node's sessions live while its lease does
 *   seen         hash  node -> last renewal (ms)
 *   epoch        string, written once per Redis lifetime: its absence means Redis lost its data
 *   recover      string, until when (ms) logons wait for the nodes to re-register after a loss
 */
const PRELUDE = `${LUA_NOW}
local P = ARGV[1]
local now = now_ms(ARGV[2])

local function drop_session(sid)
  local raw = redis.call('HGET', P .. 's', sid)
  if not raw then return nil end
  local rec = cjson.decode(raw)
  redis.call('HDEL', P .. 's', sid)
  redis.call('HDEL', P .. 'u:' .. tostring(rec.userId), sid)
  redis.call('SREM', P .. 'ns:' .. rec.node, sid)
  return raw
end

local function drop_node(node)
  local freed = {}
  for _, sid in ipairs(redis.call('SMEMBERS', P .. 'ns:' .. node)) do
    local raw = drop_session(sid)
    if raw then table.insert(freed, raw) end
  end
  redis.call('DEL', P .. 'ns:' .. node)
  redis.call('HDEL', P .. 'lease', node)
  redis.call('HDEL', P .. 'seen', node)
  return freed
end

-- a node whose lease ran out has ended its sessions itself (fencing): free their places
local function drop_expired()
  local l = redis.call('HGETALL', P .. 'lease')
  for i = 1, #l, 2 do
    if tonumber(l[i + 1]) <= now then drop_node(l[i]) end
  end
end
`;

/**
 * ARGV: 3 epoch, 4 id, 5 userId, 6 kind, 7 node, 8 record JSON, 9 all, 10 service, 11 perKind,
 * 12 disabled, 13 victim id or '', 14 idleBefore, 15 '1' when the node must hold a live lease.
 * Checks in the order of checkSessionLimits (src/governor/accounting.ts): all, service, kind.
 */
export const ACQUIRE = `${PRELUDE}
local epoch = redis.call('GET', P .. 'epoch')
if epoch ~= ARGV[3] then return {'epoch'} end
local recover = tonumber(redis.call('GET', P .. 'recover') or '0')
if recover > now then return {'recovering', tostring(recover - now)} end
drop_expired()
if ARGV[15] == '1' and tonumber(redis.call('HGET', P .. 'lease', ARGV[7]) or '0') <= now then return {'fenced'} end
local victim = ARGV[13]
local victimRaw = false
if victim ~= '' then
  local raw = redis.call('HGET', P .. 's', victim)
  if not raw then return {'gone'} end
  local v = cjson.decode(raw)
  if tostring(v.userId) ~= ARGV[5] or v.kind ~= ARGV[6] or v.lastActivity >= tonumber(ARGV[14]) then return {'gone'} end
  victimRaw = raw
end
local all, service, kindn = 0, 0, 0
local held = redis.call('HGETALL', P .. 'u:' .. ARGV[5])
for i = 1, #held, 2 do
  if held[i] ~= victim then
    all = all + 1
    if held[i + 1] ~= 'admin' then service = service + 1 end
    if held[i + 1] == ARGV[6] then kindn = kindn + 1 end
  end
end
local freed = victimRaw and 1 or 0
if ARGV[12] ~= '1' then
  local isService = ARGV[6] ~= 'admin'
  local limAll, limService, limKind = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
  if all >= limAll then return {'all', tostring(limAll), tostring(all + freed)} end
  if isService and service >= limService then return {'service', tostring(limService), tostring(service + freed)} end
  if isService and limKind > 0 and kindn >= limKind then return {'kind', tostring(limKind), tostring(kindn + freed)} end
end
if victimRaw then drop_session(victim) end
redis.call('HSET', P .. 's', ARGV[4], ARGV[8])
redis.call('HSET', P .. 'u:' .. ARGV[5], ARGV[4], ARGV[6])
redis.call('SADD', P .. 'ns:' .. ARGV[7], ARGV[4])
if victimRaw then return {'ok', victimRaw} end
return {'ok'}
`;

/** ARGV: 3 id. Returns the record JSON or nil. */
export const RELEASE = `${PRELUDE}
return drop_session(ARGV[3])
`;

/** ARGV: 3 id, 4 field ('touch' | 'info' | 'open' | 'close'), 5 value, 6 limit. */
export const UPDATE = `${PRELUDE}
local raw = redis.call('HGET', P .. 's', ARGV[3])
if not raw then return -1 end
local rec = cjson.decode(raw)
local op = ARGV[4]
if op == 'touch' then
  local at = tonumber(ARGV[5])
  if at <= rec.lastActivity then return -1 end
  rec.lastActivity = at
elseif op == 'info' then
  rec.clientInfo = ARGV[5]
else
  if type(rec.objects) ~= 'table' then rec.objects = {} end
  local held = tonumber(rec.objects[ARGV[5]] or 0)
  if op == 'open' then
    if held >= tonumber(ARGV[6]) then return held end
    rec.objects[ARGV[5]] = held + 1
  else
    rec.objects[ARGV[5]] = math.max(0, held - 1)
  end
end
redis.call('HSET', P .. 's', ARGV[3], cjson.encode(rec))
return -1
`;

/** ARGV: 3 userId or '' (all), 4 session id or ''. Records JSON. */
export const READ = `${PRELUDE}
drop_expired()
if ARGV[4] ~= '' then
  local raw = redis.call('HGET', P .. 's', ARGV[4])
  if raw then return {raw} end
  return {}
end
if ARGV[3] == '' then return redis.call('HVALS', P .. 's') end
local ids = redis.call('HKEYS', P .. 'u:' .. ARGV[3])
if #ids == 0 then return {} end
local out = {}
for _, raw in ipairs(redis.call('HMGET', P .. 's', unpack(ids))) do
  if raw then table.insert(out, raw) end
end
return out
`;

/** ARGV: 3 userId. Flat kind list of the user's live sessions. */
export const COUNTS = `${PRELUDE}
drop_expired()
return redis.call('HVALS', P .. 'u:' .. ARGV[3])
`;

/**
 * Renews a node's lease. ARGV: 3 epoch, 4 node, 5 lease ms. A node whose lease had run out
 * fenced (ended) its sessions already: what Redis still lists for it is stale and goes.
 */
export const RENEW = `${PRELUDE}
local epoch = redis.call('GET', P .. 'epoch')
if epoch ~= ARGV[3] then return {'epoch'} end
local lease = tonumber(redis.call('HGET', P .. 'lease', ARGV[4]) or '0')
local purged = 0
if lease <= now then purged = #drop_node(ARGV[4]) end
redis.call('HSET', P .. 'lease', ARGV[4], tostring(now + tonumber(ARGV[5])))
redis.call('HSET', P .. 'seen', ARGV[4], tostring(now))
return {'ok', tostring(purged)}
`;

/**
 * After Redis lost its data: ARGV 3 candidate epoch, 4 lease ms. The first node to notice writes a
 * new epoch and opens the recovery window (one lease: every live node renews, and so
 * re-registers, within it, or has fenced itself). Returns the epoch to adopt.
 */
export const ADOPT_EPOCH = `${PRELUDE}
local epoch = redis.call('GET', P .. 'epoch')
if epoch then return epoch end
redis.call('SET', P .. 'epoch', ARGV[3])
redis.call('SET', P .. 'recover', tostring(now + tonumber(ARGV[4])), 'PX', ARGV[4])
return ARGV[3]
`;

/** ARGV: 3 node, 4 lease ms, 5.. record JSON of the node's live sessions (re-registered without limit checks: they were admitted). */
export const REREGISTER = `${PRELUDE}
redis.call('HSET', P .. 'lease', ARGV[3], tostring(now + tonumber(ARGV[4])))
redis.call('HSET', P .. 'seen', ARGV[3], tostring(now))
for i = 5, #ARGV do
  local rec = cjson.decode(ARGV[i])
  redis.call('HSET', P .. 's', rec.id, ARGV[i])
  redis.call('HSET', P .. 'u:' .. tostring(rec.userId), rec.id, rec.kind)
  redis.call('SADD', P .. 'ns:' .. ARGV[3], rec.id)
end
return #ARGV - 4
`;

/** ARGV: 3 node. The freed records. */
export const RELEASE_NODE = `${PRELUDE}
return drop_node(ARGV[3])
`;

/** Flat list node, lastSeen, sessions of the nodes with a live lease. */
export const NODES = `${PRELUDE}
drop_expired()
local out = {}
local l = redis.call('HGETALL', P .. 'lease')
for i = 1, #l, 2 do
  table.insert(out, l[i])
  table.insert(out, redis.call('HGET', P .. 'seen', l[i]) or '0')
  table.insert(out, tostring(redis.call('SCARD', P .. 'ns:' .. l[i])))
end
return out
`;
