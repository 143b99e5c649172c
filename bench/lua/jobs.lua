-- Case 1: N sequential job retrievals over keep-alive.
-- lua jobs.lua BASE_URL N
local b = require("bench_client")

local base, n = arg[1], tonumber(arg[2])
local client = b.client(base)
local got = 0
for i = 0, n - 1 do
  local id = b.job_id(i)
  local job = assert(client:job(id))
  if job.id == id then got = got + 1 end
end
b.done(got)
