-- Turns the medians into markdown: the machine, the results table, the
-- targets; and writes them between the markers in bench/README.md.
local sh = require("runner.sh")
local measure = require("runner.measure")

local M = {}

local function try(fmt, ...)
  local ok, out = pcall(sh.capture, fmt, ...)
  return ok and out ~= "" and out or "n/a"
end

local function cpuinfo()
  local text = sh.read_file("/proc/cpuinfo", true) or ""
  local n = select(2, text:gsub("\nprocessor%s*:", "")) + (text:match("^processor%s*:") and 1 or 0)
  return ("%s, %d logical CPUs, %s MHz, cache %s, flags include %s"):format(
    text:match("model name%s*:%s*([^\n]+)") or "?", n,
    text:match("cpu MHz%s*:%s*([^\n]+)") or "?",
    text:match("cache size%s*:%s*([^\n]+)") or "?",
    table.concat((function()
      local flags, keep = text:match("\nflags%s*:%s*([^\n]+)") or "", {}
      for _, f in ipairs({ "avx2", "avx512f", "sha_ni", "aes" }) do
        if (" " .. flags .. " "):find(" " .. f .. " ", 1, true) then keep[#keep + 1] = f end
      end
      return keep
    end)(), " "))
end

function M.machine(ctx)
  local mem = (sh.read_file("/proc/meminfo", true) or ""):match("MemTotal:%s*(%d+)")
  local sdk = (sh.read_file(ctx.bench_dir .. "/node_modules/openai/package.json", true) or "")
    :match('"version"%s*:%s*"([^"]+)"') or "?"
  local rev = try("git -C %s rev-parse --short HEAD", sh.q(ctx.repo))
  local dirty = try("git -C %s status --porcelain --untracked-files=no | head -1", sh.q(ctx.repo))
  return table.concat({
    "- CPU: " .. cpuinfo(),
    ("- Memory: %.1f GiB"):format((tonumber(mem) or 0) / 1048576),
    "- Kernel: `" .. try("uname -a") .. "`",
    "- OS: " .. ((sh.read_file("/etc/os-release", true) or ""):match('PRETTY_NAME="([^"]+)"') or "?"),
    "- Lua: " .. try("%s -v 2>&1", ctx.lua_bin):gsub("%s+Copyright.*$", "") .. "; libcurl (C core): " .. ctx.core_curl,
    "- curl: " .. try("curl -V | head -1"),
    "- nginx: " .. try("nginx -v 2>&1"):gsub("^nginx version: ", "") .. " + lua-nginx-module "
      .. try("dpkg-query -W -f='${Version}' libnginx-mod-http-lua"),
    "- Node: " .. try("node --version") .. ", npm `openai` " .. sdk,
    ("- openai-finetunes: %s%s, built with `make` (-O2)"):format(rev,
      dirty ~= "n/a" and " + uncommitted changes" or ""),
    ("- Runs: %d per contender, interleaved; figures are medians; run on %s"):format(ctx.runs,
      os.date("!%Y-%m-%d %H:%M UTC")),
    ("- Load average (1 min) at the start and the end of the run: %s and %s"):format(ctx.load_start or "?",
      M.load()),
  }, "\n")
end

-- The 1-minute load average: other work on the machine shows in the figures.
function M.load()
  return ((sh.read_file("/proc/loadavg", true) or ""):match("^(%S+)")) or "?"
end

local function ratio(a, b) return a / b end

function M.results(cases, results)
  local out = {
    "| # | case | client | wall time | peak RSS | time vs first row |",
    "|---|---|---|---:|---:|---:|",
  }
  for _, case in ipairs(cases) do
    local r = results[case.id]
    if r then
      local first = r[case.contenders[1].name]
      for i, c in ipairs(case.contenders) do
        local m = r[c.name]
        out[#out + 1] = ("| %s | %s | %s | %.3f s | %.1f MB | %.2f× |"):format(
          i == 1 and tostring(case.id) or "", i == 1 and case.title or "", c.label,
          m.wall, m.rss_mb, ratio(m.wall, first.wall))
      end
    end
  end
  return table.concat(out, "\n")
end

local function label(case, name)
  for _, c in ipairs(case.contenders) do if c.name == name then return c.label end end
  return name
end

-- The median over runs of a/b, each run's pair measured back to back: less
-- sensitive to other load on the machine than the ratio of the two medians.
local function paired(a, b)
  local ratios = {}
  for i, w in ipairs(a.samples.wall) do ratios[i] = w / b.samples.wall[i] end
  return measure.median(ratios)
end

-- Returns the markdown table and the number of targets missed.
function M.targets(cases, results)
  local out = { "| case | target | measured | met |", "|---|---|---:|---|" }
  local missed = 0
  for _, case in ipairs(cases) do
    local r = results[case.id]
    for _, t in ipairs(r and case.targets or {}) do
      local desc, value, met
      if t.kind == "ratio" then
        value = paired(r[t.of], r[t.over])
        desc = ("%s wall time ≤ %.1f× %s"):format(label(case, t.of), t.max, label(case, t.over))
        met, value = value <= t.max, ("%.2f×"):format(value)
      elseif t.kind == "rss" then
        value = r[t.of].rss_mb
        desc = ("%s peak RSS ≤ %d MB"):format(label(case, t.of), t.max_mb)
        met, value = value <= t.max_mb, ("%.1f MB"):format(value)
      elseif t.kind == "speedup" then
        value = paired(r[t.over], r[t.of])
        desc = ("%s ≥ %d× faster than %s"):format(label(case, t.of), t.min, label(case, t.over))
        met, value = value >= t.min, ("%.1f×"):format(value)
      end
      if not met then missed = missed + 1 end
      out[#out + 1] = ("| %d | %s | %s | %s |"):format(case.id, desc, value, met and "yes" or "**no**")
    end
  end
  return table.concat(out, "\n"), missed
end

-- Every sample, for the record (bench/results/last-run.md).
function M.samples(cases, results)
  local out = {}
  for _, case in ipairs(cases) do
    local r = results[case.id]
    if r then
      out[#out + 1] = ("case %d: %s"):format(case.id, case.title)
      for _, c in ipairs(case.contenders) do
        local s, walls, rss = r[c.name].samples, {}, {}
        for i, w in ipairs(s.wall) do walls[i] = ("%.3f"):format(w) end
        for i, k in ipairs(s.rss_kb) do rss[i] = ("%.1f"):format(k / 1024) end
        out[#out + 1] = ("  %-40s wall s: %s   rss MB: %s"):format(c.label, table.concat(walls, " "),
          table.concat(rss, " "))
      end
    end
  end
  return table.concat(out, "\n")
end

-- Replace the text between <!-- bench:NAME --> and <!-- /bench:NAME --> in a file.
function M.splice(path, name, body)
  local text = sh.read_file(path)
  local open, close = "<!-- bench:" .. name .. " -->", "<!-- /bench:" .. name .. " -->"
  local a, b = text:find(open, 1, true)
  local c = text:find(close, b or 1, true)
  if not (a and c) then error(("%s has no %s … %s markers"):format(path, open, close)) end
  sh.write_file(path, text:sub(1, b) .. "\n" .. body .. "\n" .. text:sub(c))
end

return M
