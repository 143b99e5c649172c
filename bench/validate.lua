-- Throughput and peak memory of ft.validate_training_file on a big JSONL file.
--
--   lua5.4 bench/validate.lua                  512 MiB supervised file, 5 runs, lua5.4
--   BENCH_LUA=luajit lua5.4 bench/validate.lua the validator on LuaJIT (make LUA=luajit first)
--   VALIDATE_MB=64 VALIDATE_RUNS=1 lua5.4 bench/validate.lua   smaller / quicker
--   VALIDATE_METHOD=dpo lua5.4 bench/validate.lua              a DPO file instead
--
-- Writes a realistic training file into $VALIDATE_DIR (default /tmp/openai-ft-bench-validate,
-- removed afterwards unless VALIDATE_KEEP=1), then validates it VALIDATE_RUNS times, each
-- in a fresh child process, and prints a Markdown table: wall time of the call (median and
-- best), the CPU time it used (user + system, os.clock: what one core can do whatever
-- else the machine runs), MB/s for each, and the child's peak RSS (VmHWM) before and
-- after the call. Floors for context: `wc -l`
-- (the cheapest full read and line split) and `cat > /dev/null`.
--
-- The file: examples drawn from a seeded generator, cycling over 4096 distinct lines
-- (~6 MB) until the size is reached: system + user + assistant chats of 200-3000
-- characters (a third with non-ASCII text: accents, CJK, emoji, escapes), multi-turn
-- chats with weight 0/1, and tool-calling examples (tools, tool_calls with JSON
-- arguments, tool results). Every line is valid, so the run measures the full check
-- of every line, not an early exit.
local root = arg[0]:match("^(.*)/bench/[^/]*$") or "."
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path

local LUA = os.getenv("BENCH_LUA") or "lua5.4"
local MB = tonumber(os.getenv("VALIDATE_MB") or "512")
local RUNS = tonumber(os.getenv("VALIDATE_RUNS") or "5")
local METHOD = os.getenv("VALIDATE_METHOD") or "supervised"
local DIR = os.getenv("VALIDATE_DIR") or "/tmp/openai-ft-bench-validate"
local KEEP = os.getenv("VALIDATE_KEEP") == "1"
local CPATH = root .. "/build/" .. LUA .. "/?.so;;"

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- A small seeded generator (same file on every machine and Lua version).
local seed = 12345
local function rnd(n)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % n + 1
end

local WORDS = {}
for w in ([[the a model answer question data train token file loss step epoch batch
  assistant user system tool call function value table string number array object
  quickly carefully returns prints reads writes opens closes counts checks keeps
  Lua C curl JSON line example message content weight role lesson fine tune job
  parser buffer stream memory arena node tree byte offset limit error warning]]):gmatch("%S+") do
  WORDS[#WORDS + 1] = w
end
local NONASCII = { "café", "naïve", "Größe", "日本語", "中文字符", "😀", "façade", "ñandú", "Ελληνικά",
  "\\\"quoted\\\"", "line\\nbreak", "tab\\tsep" }

local function sentence(chars, foreign)
  local out, n = {}, 0
  while n < chars do
    local w = (foreign and rnd(4) == 1) and NONASCII[rnd(#NONASCII)] or WORDS[rnd(#WORDS)]
    out[#out + 1] = w
    n = n + #w + 1
  end
  return table.concat(out, " ") .. "."
end

local SYSTEM = "You are Marv, a concise assistant that answers questions about Lua and C."

local function chat()
  local foreign = rnd(3) == 1
  return string.format('{"messages":[{"role":"system","content":"%s"},{"role":"user","content":"%s"},'
    .. '{"role":"assistant","content":"%s"}]}', SYSTEM, sentence(40 + rnd(400), foreign),
    sentence(150 + rnd(2600), foreign))
end

local function multi_turn()
  return string.format('{"messages":[{"role":"user","content":"%s"},{"role":"assistant","content":"%s",'
    .. '"weight":0},{"role":"user","content":"%s"},{"role":"assistant","content":"%s","weight":1}]}',
    sentence(60 + rnd(200)), sentence(100 + rnd(500)), sentence(40 + rnd(200)), sentence(100 + rnd(900)))
end

local function tool_call()
  local id = "call_" .. rnd(1000000)
  return string.format('{"messages":[{"role":"user","content":"%s"},{"role":"assistant","tool_calls":[{"id":"%s",'
    .. '"type":"function","function":{"name":"lookup_doc","arguments":"{\\"query\\":\\"%s\\",\\"limit\\":%d}"}}]},'
    .. '{"role":"tool","tool_call_id":"%s","content":"%s"},{"role":"assistant","content":"%s"}],'
    .. '"tools":[{"type":"function","function":{"name":"lookup_doc","description":"Search the manual",'
    .. '"parameters":{"type":"object","properties":{"query":{"type":"string"},"limit":{"type":"integer"}},'
    .. '"required":["query"]}}}],"parallel_tool_calls":false}',
    sentence(40 + rnd(200)), id, sentence(20), rnd(10), id, sentence(200 + rnd(800)), sentence(80 + rnd(600)))
end

local function dpo()
  return string.format('{"input":{"messages":[{"role":"system","content":"%s"},{"role":"user","content":"%s"}]},'
    .. '"preferred_output":[{"role":"assistant","content":"%s"}],'
    .. '"non_preferred_output":[{"role":"assistant","content":"%s"}]}',
    SYSTEM, sentence(40 + rnd(400)), sentence(150 + rnd(1500)), sentence(50 + rnd(600)))
end

local function example()
  if METHOD == "dpo" then return dpo() end
  local r = rnd(10)
  if r <= 6 then return chat() elseif r <= 8 then return multi_turn() end
  return tool_call()
end

local function generate(path, bytes)
  local pool = {}
  for i = 1, 4096 do pool[i] = example() .. "\n" end
  local f = assert(io.open(path, "wb"))
  f:setvbuf("full", 1 << 20)
  local written, i, lines = 0, 0, 0
  while written < bytes do
    i = i % #pool + 1
    local line = pool[i]
    f:write(line)
    written = written + #line
    lines = lines + 1
  end
  f:close()
  return written, lines
end

-- The measured child: validates once, prints "seconds cpu_seconds bytes hwm_before hwm_after examples errors".
local CHILD = [[
local ft = require("openai.finetunes")
local core = require("openai.finetunes.core")
local function hwm()
  for l in io.lines("/proc/self/status") do
    local kb = l:match("^VmHWM:%s*(%d+)")
    if kb then return tonumber(kb) end
  end
end
local before = hwm()
local t0, c0 = core.now(), os.clock()
local r = assert(ft.validate_training_file(arg[1], {method = arg[2], max_problems = 10}))
local dt, cpu = core.now() - t0, os.clock() - c0
io.write(string.format("%.4f %.4f %d %d %d %d %d\n", dt, cpu, r.bytes, before, hwm(), r.examples, r.errors))
]]

local function measure(path)
  local script = DIR .. "/child.lua"
  local f = assert(io.open(script, "w"))
  f:write(CHILD)
  f:close()
  local cmd = string.format("LUA_PATH=%s LUA_CPATH=%s %s %s %s %s", quote(root .. "/lua/?.lua;" .. root
    .. "/lua/?/init.lua;;"), quote(CPATH), LUA, quote(script), quote(path), METHOD)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  local dt, cpu, bytes, before, after, examples, errors = out:match("(%S+) (%S+) (%d+) (%d+) (%d+) (%d+) (%d+)")
  if not dt then error("child failed: " .. out) end
  return tonumber(dt), tonumber(cpu), tonumber(bytes), tonumber(before), tonumber(after), tonumber(examples),
    tonumber(errors)
end

local function time_cmd(cmd)
  local core = package.loadlib(root .. "/build/lua5.4/openai/finetunes/core.so", "luaopen_openai_finetunes_core")
  local now = core and core().now or os.clock
  local t0 = now()
  assert(sh(cmd), cmd)
  return now() - t0
end

sh("mkdir -p " .. quote(DIR))
local path = DIR .. "/train.jsonl"
io.stderr:write(string.format("writing %d MiB %s file to %s ...\n", MB, METHOD, path))
local bytes, lines = generate(path, MB * 1024 * 1024)
io.stderr:write(string.format("%d bytes, %d lines\n", bytes, lines))

local rows = {}
for run = 1, RUNS do
  local dt, cpu, b, before, after, examples, errors = measure(path)
  assert(b == bytes, "validator read " .. b .. " of " .. bytes .. " bytes")
  assert(examples == lines and errors == 0, "expected every line valid")
  rows[#rows + 1] = { dt = dt, cpu = cpu, before = before, after = after }
  io.stderr:write(string.format("run %d: %.3f s (cpu %.3f s), %.0f MB/s, VmHWM %d -> %d kB\n", run, dt, cpu,
    bytes / dt / 1e6, before, after))
end
local wc = time_cmd("wc -l " .. quote(path) .. " >/dev/null")
local cat = time_cmd("cat " .. quote(path) .. " >/dev/null")
if not KEEP then os.remove(path); os.remove(DIR .. "/child.lua"); os.remove(DIR) end

local function median(key)
  table.sort(rows, function(a, b) return a[key] < b[key] end)
  return rows[math.floor((#rows + 1) / 2)][key], rows[1][key]
end
local wall, best = median("dt")
local cpu = median("cpu")
local hwm_before, hwm_after = median("before"), median("after")
local function mbs(t) return bytes / t / 1e6 end
print("| interpreter | method | file | lines | runs | wall, median (best) | CPU time, median "
  .. "| VmHWM before → after the call |")
print("|---|---|---|---|---|---|---|---|")
print(string.format("| %s | %s | %d MiB | %d | %d | %.2f s = **%.0f MB/s** (%.2f s = %.0f MB/s) "
  .. "| %.2f s = **%.0f MB/s** | %.1f MB → %.1f MB |", LUA, METHOD, MB, lines, RUNS, wall, mbs(wall), best,
  mbs(best), cpu, mbs(cpu), hwm_before / 1024, hwm_after / 1024))
print(string.format("\nfloors on the same file: `wc -l` %.2f s (%.0f MB/s), `cat > /dev/null` %.2f s (%.0f MB/s)",
  wc, bytes / wc / 1e6, cat, bytes / cat / 1e6))
