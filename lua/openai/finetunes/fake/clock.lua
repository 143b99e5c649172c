-- The server's virtual clock: Unix seconds that run `speed` times faster than real
-- time and can be pushed forward (POST /_fake/clock). Every timestamp the fake
-- hands out and every job's progress reads it, so a spec can fast-forward a job.
local socket = require("socket")

local Clock = {}
Clock.__index = Clock

function Clock.new(speed)
  local now = socket.gettime()
  return setmetatable({ real_base = now, virtual_base = now, speed = speed or 1 }, Clock)
end

-- now() -> virtual Unix time (float seconds)
function Clock:now()
  return self.virtual_base + (socket.gettime() - self.real_base) * self.speed
end

-- time() -> virtual Unix time, whole seconds (what the API puts in created_at)
function Clock:time()
  return math.floor(self:now())
end

function Clock:set_speed(speed)
  local v = self:now()
  self.real_base = socket.gettime()
  self.virtual_base = v
  self.speed = speed
end

function Clock:advance(seconds)
  self.virtual_base = self.virtual_base + seconds
end

-- Real seconds until the virtual clock reaches t (for sleeping).
function Clock:real_delay(t)
  local d = (t - self:now()) / self.speed
  return d > 0 and d or 0
end

function Clock:state()
  return { now = self:now(), speed = self.speed }
end

return Clock
