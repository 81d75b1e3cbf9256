//! The Lua scripts behind the queue operations that must touch several keys
//! atomically; [`super::JobQueue`] runs them.

pub(super) const ENQUEUE: &str = r"
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return redis.call('LPUSH', KEYS[1], ARGV[2])
";

// Removes the held job and forgets the live delivery only if it is still this
// one: a newer delivery of the same task must stay visible to the reconciler.
pub(super) const ACK: &str = r"
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[1] then
  redis.call('HDEL', KEYS[2], ARGV[2])
end
return removed
";

pub(super) const RETRY_LATER: &str = r"
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[4], ARGV[2])
return removed
";

pub(super) const DEAD_LETTER: &str = r"
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.call('LPUSH', KEYS[2], ARGV[2])
if redis.call('HGET', KEYS[3], ARGV[3]) == ARGV[1] then
  redis.call('HDEL', KEYS[3], ARGV[3])
end
return removed
";

// The dead entry goes away and the fresh delivery becomes ready in one step,
// so a requeue can neither lose the job nor run it twice. The fresh job is
// enqueued even when the dead entry was already gone: the caller owns the new
// run (its guarded database update won), and that run needs a delivery.
pub(super) const REQUEUE_DEAD: &str = r"
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('LPUSH', KEYS[2], ARGV[3])
return removed
";

// Pushed on the consumer's end so a released job is the next one taken.
pub(super) const RELEASE: &str = r"
local removed = redis.call('LREM', KEYS[1], 1, ARGV[1])
if removed > 0 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
end
return removed
";

pub(super) const PROMOTE_DUE: &str = r"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, job in ipairs(due) do
  redis.call('ZREM', KEYS[1], job)
  redis.call('LPUSH', KEYS[2], job)
end
return #due
";

// Processing-list names are derived inside the script from the worker ids it
// finds: the set of dead workers is only known at run time. Fine on a single
// Redis, which is what OpsBox runs.
pub(super) const REAP_DEAD_WORKERS: &str = r"
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local moved = 0
for _, worker in ipairs(dead) do
  local held = ARGV[2] .. ':queue:processing:' .. worker
  while redis.call('LMOVE', held, KEYS[2], 'LEFT', 'RIGHT') do
    moved = moved + 1
  end
  redis.call('ZREM', KEYS[1], worker)
end
return moved
";
