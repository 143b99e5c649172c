-- Case 4: walk every job through cursor pagination: each_job when the client
-- has it, else page by hand with `after` (what each_job does underneath).
-- lua list.lua BASE_URL PAGE_SIZE
local b = require("bench_client")

local base, limit = arg[1], tonumber(arg[2])
local client = b.client(base)
local n, via = 0, "each_job"
if client.each_job then
  for job in client:each_job{ limit = limit } do
    if job.object == "fine_tuning.job" then n = n + 1 end
  end
else
  via = "jobs+after"
  local after
  repeat
    local page = assert(client:jobs{ limit = limit, after = after })
    for _, job in ipairs(page.data) do
      if job.object == "fine_tuning.job" then n = n + 1 end
    end
    local last = page.data[#page.data]
    after = last and last.id
  until not page.has_more or not after
end
b.done(n .. " " .. via)
