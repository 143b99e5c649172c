-- Runs one contender once: wall time (around the whole process, startup
-- included, as a user would see it) and peak RSS (GNU time's %M, the
-- kernel's maxrss of the process). Checks that the work was really done.
local socket = require("socket")
local sh = require("runner.sh")

local M = {}

function M.run_once(contender, scratch)
  if contender.before then contender.before() end
  local out, err, rss = scratch .. "/stdout", scratch .. "/stderr", scratch .. "/rss"
  local cmd = ("/usr/bin/time -f %%M -o %s %s >%s 2>%s"):format(sh.q(rss), contender.cmd, sh.q(out), sh.q(err))
  local t0 = socket.gettime()
  local ok, how, code = os.execute(cmd)
  local wall = socket.gettime() - t0
  if how == "signal" then error("interrupted (signal " .. tostring(code) .. ")", 0) end
  local stdout, stderr = sh.read_file(out), sh.read_file(err)
  if not ok then
    error(("%s failed (exit %s):\n  %s\n%s%s"):format(contender.name, tostring(code), contender.cmd,
      stdout, stderr:sub(-2000)), 0)
  end
  local kb = tonumber((sh.read_file(rss):match("(%d+)%s*$")))
  local good, why = contender.check(stdout, contender)
  if not good then
    error(("%s did not do the work: %s\n  %s\n%s%s"):format(contender.name, tostring(why), contender.cmd,
      stdout, stderr:sub(-2000)), 0)
  end
  return { wall = wall, rss_kb = kb }
end

function M.median(list)
  local s = {}
  for i, v in ipairs(list) do s[i] = v end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end

-- Runs every contender of a case `runs` times, interleaved (A B C A B C …) so
-- drift on the machine (page cache, writeback, CPU clock) hits each alike.
function M.run_case(case, runs, scratch, log)
  local samples = {}
  for _, c in ipairs(case.contenders) do samples[c.name] = { wall = {}, rss_kb = {} } end
  for r = 1, runs do
    for _, c in ipairs(case.contenders) do
      local s = M.run_once(c, scratch)
      table.insert(samples[c.name].wall, s.wall)
      table.insert(samples[c.name].rss_kb, s.rss_kb)
      log(("  [%d/%d] %-28s %8.3f s %8.1f MB"):format(r, runs, c.name, s.wall, s.rss_kb / 1024))
    end
  end
  local results = {}
  for _, c in ipairs(case.contenders) do
    local s = samples[c.name]
    results[c.name] = { wall = M.median(s.wall), rss_mb = M.median(s.rss_kb) / 1024, samples = s }
  end
  return results
end

return M
