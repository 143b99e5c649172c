-- Case 5: N job polls against a server that answers each after 50 ms,
-- one after another ("seq") or all at once with client:batch ("batch").
-- lua poll.lua BASE_URL N seq|batch
local b = require("bench_client")

local base, n, mode = arg[1], tonumber(arg[2]), arg[3]
local client = b.client(base)
local ids, jobs = {}, {}
for i = 1, n do ids[i] = b.job_id(i - 1) end
if mode == "batch" then
  local calls = {}
  for i, id in ipairs(ids) do calls[i] = { "job", id } end
  -- all at once, as curl --parallel-max N and Promise.all do (the default is 64)
  for i, r in ipairs(client:batch(calls, { concurrency = n })) do jobs[i] = assert(r[1], r[2]) end
else
  for i, id in ipairs(ids) do jobs[i] = assert(client:job(id)) end
end
local got = 0
for i, job in ipairs(jobs) do
  if job.id == ids[i] then got = got + 1 end
end
b.done(got)
