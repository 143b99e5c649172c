-- Benchmark of client:upload_large_file (issue 4): a large generated file
-- through the Uploads API of the local fake server, as separate client
-- processes under GNU time: wall time, throughput, client CPU, peak RSS.
--
--   make && lua5.4 bench/large_upload.lua          # 1 GiB, 3 runs per setting; rewrites bench/large_upload.md
--   BENCH_LARGE_MB=256 BENCH_RUNS=1 BENCH_WRITE=0 lua5.4 bench/large_upload.lua   # quick look, printed only
--   BENCH_LUA=luajit lua5.4 bench/large_upload.lua  # the client on LuaJIT (make LUA=luajit first)
--
-- The file (random bytes) and the server's data live under $BENCH_DIR
-- (default /tmp/openai-ft-bench-large) and are deleted at the end. Every run
-- is checked: the upload completes, with the file's size and the MD5 that
-- md5sum computes (the fake server checks it again at completion).
--
-- `lua5.4 bench/large_upload.lua client BASE_URL FILE PART_SIZE PARALLEL MD5`
-- is one contender (what the runner starts): it prints one result line.
local MB = 1024 * 1024

local function sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- The contender ---------------------------------------------------------------------

local function client_main(base_url, path, part_size, parallel, md5)
  local ft = require("openai.finetunes")
  local core = require("openai.finetunes.core")
  local codec = require("openai.finetunes.codec")
  local c = ft.new{ api_key = "sk-bench", base_url = base_url }
  if os.getenv("BENCH_HASH_SLICE") then -- for tuning experiments only
    require("openai.finetunes.workflow.large_upload").HASH_SLICE = tonumber(os.getenv("BENCH_HASH_SLICE"))
  end
  local spec = { file = path, purpose = "fine-tune", part_size = tonumber(part_size), parallel = tonumber(parallel) }
  if md5 == "off" then spec.md5 = false end -- default: computed by the client while the parts go
  local t0 = core.now()
  local file, info = c:upload_large_file(spec)
  local t1 = core.now()
  if not file then
    io.stderr:write("upload failed: ", tostring(info), "\n")
    os.exit(1)
  end
  local hwm = (read_file("/proc/self/status") or ""):match("VmHWM:%s*(%d+)")
  -- wall, client CPU, bytes, md5, VmHWM kB, body bytes the nginx sink read (-1 from the fake server)
  print(string.format("ok %.3f %.3f %d %s %s %d", t1 - t0, os.clock(), file.bytes, tostring(info.md5), hwm or "?",
    info.upload.read or -1))
  c:close()
end

if arg and arg[1] == "client" then
  client_main(arg[2], arg[3], arg[4], arg[5], arg[6])
  return
end

-- The runner ------------------------------------------------------------------------

package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
local fake = require("openai.finetunes.fake")
local socket = require("socket")

local SIZE_MB = tonumber(os.getenv("BENCH_LARGE_MB") or "") or 1024
local RUNS = tonumber(os.getenv("BENCH_RUNS") or "") or 3
local WRITE = os.getenv("BENCH_WRITE") ~= "0"
local LUA = os.getenv("BENCH_LUA") or "lua5.4"
local DIR = os.getenv("BENCH_DIR") or "/tmp/openai-ft-bench-large"
local RESULTS = "bench/large_upload.md"

-- target: "fake" (the fake server: stores every part on disk, joins and
-- MD5-checks them at completion), "sink" (nginx reading every byte and
-- keeping none: what the client can push when the server is not the limit) or
-- "slow" (the sink answering each part 250 ms after its last byte, like a
-- server far away that also works on each part: where parts in flight pay).
local SETTINGS = {
  { target = "fake", label = "64 MiB parts, parallel 4 (defaults)", part = 64 * MB, parallel = 4, md5 = "on" },
  { target = "fake", label = "64 MiB parts, parallel 1 (one part at a time, like openai-python's "
    .. "upload_file_chunked)", part = 64 * MB, parallel = 1, md5 = "on" },
  { target = "fake", label = "16 MiB parts, parallel 8", part = 16 * MB, parallel = 8, md5 = "on" },
  { target = "sink", label = "64 MiB parts, parallel 4 (defaults)", part = 64 * MB, parallel = 4, md5 = "on" },
  { target = "sink", label = "64 MiB parts, parallel 1", part = 64 * MB, parallel = 1, md5 = "on" },
  { target = "sink", label = "64 MiB parts, parallel 4, md5 = false (no checksum)", part = 64 * MB, parallel = 4,
    md5 = "off" },
  { target = "slow", label = "64 MiB parts, parallel 4, 250 ms per part (a distant server)", part = 64 * MB,
    parallel = 4, md5 = "on" },
  { target = "slow", label = "64 MiB parts, parallel 1, 250 ms per part (a distant server)", part = 64 * MB,
    parallel = 1, md5 = "on" },
}

-- The nginx sink for the Uploads API: one worker on loopback; parts are read
-- to the last byte (through ngx.req.socket, 64 KB at a time) and dropped.
local SINK_CONF = [[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
daemon off;
worker_processes 1;
@USER@
pid @PREFIX@/nginx.pid;
error_log @PREFIX@/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  keepalive_requests 100000;
  client_max_body_size 0;
  client_body_temp_path @PREFIX@/body;
  lua_shared_dict sink 1m;
  lua_socket_buffer_size 64k;
  server {
    listen 127.0.0.1:@PORT@;
    location ~ ^(/slow)?/v1/uploads$ {
      content_by_lua_block {
        ngx.req.read_body()
        local bytes = tonumber((ngx.req.get_body_data() or ""):match('"bytes":%s*(%d+)'))
        ngx.shared.sink:set("expected", bytes)
        ngx.shared.sink:set("read", 0)
        ngx.header["Content-Type"] = "application/json"
        ngx.print(string.format('{"id":"upload_sink","object":"upload","bytes":%d,"status":"pending",'
          .. '"filename":"large.jsonl","purpose":"fine-tune","created_at":1,"expires_at":3601}', bytes or 0))
      }
    }
    location ~ ^(/slow)?/v1/uploads/[^/]+/parts$ {
      content_by_lua_block {
        local sock = assert(ngx.req.socket())
        local left = tonumber(ngx.var.content_length) or 0
        local data = 0
        while left > 0 do
          local chunk = assert(sock:receive(left < 65536 and left or 65536))
          left = left - #chunk
          data = data + #chunk
        end
        if ngx.var[1] == "/slow" then ngx.sleep(0.25) end
        local n = ngx.shared.sink:incr("parts", 1, 0)
        ngx.shared.sink:incr("read", data, 0)
        ngx.header["Content-Type"] = "application/json"
        ngx.print(string.format('{"id":"part_%d","object":"upload.part","created_at":1,"upload_id":"upload_sink"}', n))
      }
    }
    location ~ ^(/slow)?/v1/uploads/[^/]+/(complete|cancel)$ {
      content_by_lua_block {
        ngx.req.read_body()
        local done = ngx.var[2] == "complete"
        ngx.header["Content-Type"] = "application/json"
        ngx.print(string.format('{"id":"upload_sink","object":"upload","status":"%s","bytes":%d,"file":'
          .. '{"id":"file-sink","object":"file","bytes":%d,"filename":"large.jsonl","purpose":"fine-tune",'
          .. '"status":"processed","created_at":1},"read":%d}', done and "completed" or "cancelled",
          ngx.shared.sink:get("expected") or 0, ngx.shared.sink:get("expected") or 0,
          ngx.shared.sink:get("read") or 0))
      }
    }
  }
}
]]

local function run(cmd)
  local ok = os.execute(cmd)
  if ok ~= true and ok ~= 0 then error("failed: " .. cmd, 2) end
end

local function capture(cmd)
  local p = assert(io.popen(cmd))
  local s = p:read("*a")
  p:close()
  return s
end

local function median(list)
  local s = {}
  for i, v in ipairs(list) do s[i] = v end
  table.sort(s)
  local n = #s
  local mid = math.floor((n + 1) / 2)
  if n % 2 == 1 then return s[mid] end
  return (s[mid] + s[mid + 1]) / 2
end

local function timed(cmd)
  local t0 = socket.gettime()
  run(cmd)
  return socket.gettime() - t0
end

local function free_port()
  local sock = assert(socket.bind("127.0.0.1", 0))
  local _, port = sock:getsockname()
  sock:close()
  return tonumber(port)
end

local function start_sink()
  local prefix = DIR .. "/nginx"
  run("mkdir -p " .. sh_quote(prefix))
  local port = free_port()
  local vars = { PREFIX = prefix, PORT = tostring(port),
    USER = capture("id -u"):match("^0") and "user root root;" or "" }
  local conf = SINK_CONF:gsub("@(%u+)@", vars)
  local f = assert(io.open(prefix .. "/nginx.conf", "wb"))
  f:write(conf)
  f:close()
  local pid = tonumber(capture(string.format("nginx -p %s -c %s > %s 2>&1 & echo $!", sh_quote(prefix),
    sh_quote(prefix .. "/nginx.conf"), sh_quote(prefix .. "/stderr.log"))))
  local deadline = socket.gettime() + 10
  repeat
    local c = socket.tcp()
    c:settimeout(0.2)
    if c:connect("127.0.0.1", port) then
      c:close()
      return { pid = pid, base_url = "http://127.0.0.1:" .. port .. "/v1" }
    end
    c:close()
    socket.sleep(0.05)
  until socket.gettime() > deadline
  os.execute("kill " .. pid)
  error("nginx did not start: " .. (read_file(prefix .. "/error.log") or "")
    .. (read_file(prefix .. "/stderr.log") or ""))
end

local function stop_sink(sink)
  os.execute("kill -QUIT " .. sink.pid .. " 2>/dev/null")
  for _ = 1, 100 do
    if not os.execute("kill -0 " .. sink.pid .. " 2>/dev/null") then return end
    socket.sleep(0.05)
  end
  os.execute("kill -KILL " .. sink.pid .. " 2>/dev/null")
end

local function machine(env)
  local cpu = capture("grep -m1 'model name' /proc/cpuinfo"):match(":%s*(.-)%s*$") or "?"
  local cores = capture("nproc"):match("%d+") or "?"
  local mem = capture("grep MemTotal /proc/meminfo"):match("(%d+)")
  local kernel = capture("uname -r"):match("%S+") or "?"
  local fs = capture("df -T " .. sh_quote(DIR) .. " | tail -1"):match("^%S+%s+(%S+)") or "?"
  local lua_version = capture(sh_quote(LUA) .. " -v 2>&1"):match("^(%S+%s+%S+)") or LUA
  local curl = capture(env .. " " .. sh_quote(LUA) .. " -e \"print(require('openai.finetunes.core').curl_version())\"")
  return string.format("%s, %s cores, %.0f GB RAM, Linux %s; files on %s under %s; client %s, libcurl %s", cpu, cores,
    (tonumber(mem) or 0) / 1024 / 1024, kernel, fs, DIR, lua_version, curl:match("%S+") or "?")
end

-- One client process: its result line parsed, checked, with GNU time's maxrss.
local function client_run(env, server, path, size, expected, setting)
  local out, rss = DIR .. "/client.out", DIR .. "/client.rss"
  run(string.format("%s /usr/bin/time -f %%M -o %s %s bench/large_upload.lua client %s %s %d %d %s > %s", env,
    sh_quote(rss), sh_quote(LUA), sh_quote(server.base_url), sh_quote(path), setting.part, setting.parallel,
    setting.md5, sh_quote(out)))
  local line = read_file(out)
  local wall, cpu, bytes, md5, _, read = line:match("^ok (%S+) (%S+) (%d+) (%S+) (%S+) (%-?%d+)")
  assert(wall, "unexpected client output: " .. tostring(line))
  assert(tonumber(bytes) == size, "uploaded " .. bytes .. " bytes, expected " .. size)
  assert(setting.md5 == "off" or md5 == expected, "md5 " .. md5 .. " ~= " .. expected)
  if setting.target ~= "fake" then
    assert(tonumber(read) >= size, "the sink read only " .. read .. " bytes")
  end
  return { wall = tonumber(wall), cpu = tonumber(cpu), rss = tonumber(read_file(rss):match("(%d+)%s*$")) }
end

local function main()
  run("mkdir -p " .. sh_quote(DIR))
  local path = DIR .. "/large.jsonl"
  local size = SIZE_MB * MB
  io.stderr:write(string.format("writing %d MiB of random bytes to %s\n", SIZE_MB, path))
  run(string.format("head -c %d /dev/urandom > %s", size, sh_quote(path)))
  local env = string.format("LUA_PATH=%s LUA_CPATH=%s", sh_quote("lua/?.lua;lua/?/init.lua;;"),
    sh_quote("build/" .. LUA .. "/?.so;;"))
  local about = machine(env)
  local load_before = (read_file("/proc/loadavg") or "?"):match("^(%S+)")

  -- baselines: the MD5 alone, ours (C, RFC 1321) and coreutils'
  run("cat " .. sh_quote(path) .. " > /dev/null") -- warm the page cache for both
  local md5sum_times, core_md5_times = {}, {}
  for r = 1, RUNS do
    md5sum_times[r] = timed("md5sum " .. sh_quote(path) .. " > " .. sh_quote(DIR .. "/md5sum.out"))
    core_md5_times[r] = timed(string.format("%s %s -e %s > %s", env, sh_quote(LUA),
      sh_quote("print(require('openai.finetunes.codec').md5_file(" .. string.format("%q", path) .. "))"),
      sh_quote(DIR .. "/core_md5.out")))
  end
  local md5sum_time, core_md5_time = median(md5sum_times), median(core_md5_times)
  local expected = read_file(DIR .. "/md5sum.out"):match("^(%x+)")
  assert(read_file(DIR .. "/core_md5.out"):match("^(%x+)") == expected, "codec.md5_file disagrees with md5sum")

  local servers = {}
  local rows = {}
  local ok, err = pcall(function()
    servers.fake = fake.spawn{ data_dir = DIR .. "/fake", quiet = true }
    servers.sink = start_sink()
    servers.slow = { base_url = servers.sink.base_url:gsub("/v1$", "/slow/v1") }
    for _, setting in ipairs(SETTINGS) do
      local server = servers[setting.target]
      local samples = { wall = {}, parts = {}, complete = {}, cpu = {}, rss = {} }
      for r = 1, RUNS do
        if setting.target == "fake" then fake.control_request(servers.fake.port, "POST", "/_fake/reset", "{}") end
        local one = client_run(env, server, path, size, expected, setting)
        local complete = 0
        if setting.target == "fake" then
          -- the complete call's share, as the server timed it (it joins and checks the parts)
          local _, log = fake.control_request(servers.fake.port, "GET", "/_fake/requests?path=complete")
          complete = (tonumber(log:match('"duration_ms":%s*(%d+)')) or 0) / 1000
        end
        samples.wall[r], samples.cpu[r], samples.rss[r] = one.wall, one.cpu, one.rss
        samples.complete[r], samples.parts[r] = complete, one.wall - complete
        io.stderr:write(string.format("%-4s %-56s run %d: %.2f s (complete %.2f s), cpu %.2f s, %d kB\n",
          setting.target, setting.label:sub(1, 56), r, one.wall, complete, one.cpu, one.rss))
      end
      rows[#rows + 1] = { setting = setting, wall = median(samples.wall), parts = median(samples.parts),
        complete = median(samples.complete), cpu = median(samples.cpu), rss = median(samples.rss) }
    end
    -- the floor: curl streaming the whole file as one body into the same sink
    local samples = { wall = {}, cpu = {}, rss = {} }
    for r = 1, RUNS do
      local rss = DIR .. "/curl.rss"
      local t0 = socket.gettime()
      run(string.format("/usr/bin/time -f '%%M %%U %%S' -o %s curl -sS --fail -o /dev/null -X POST -T %s %s",
        sh_quote(rss), sh_quote(path), sh_quote(servers.sink.base_url .. "/uploads/upload_sink/parts")))
      samples.wall[r] = socket.gettime() - t0
      local kb, user, sys = read_file(rss):match("(%d+) (%S+) (%S+)%s*$")
      samples.rss[r], samples.cpu[r] = tonumber(kb), tonumber(user) + tonumber(sys)
      io.stderr:write(string.format("curl -T (one stream) run %d: %.2f s, cpu %.2f s, %d kB\n", r, samples.wall[r],
        samples.cpu[r], samples.rss[r]))
    end
    rows[#rows + 1] = { setting = { target = "sink", label = "reference: `curl -T FILE` (the whole file as one "
      .. "streamed body, no parts, no MD5)" }, wall = median(samples.wall), parts = median(samples.wall),
      complete = 0, cpu = median(samples.cpu), rss = median(samples.rss) }
  end)
  if servers.fake then servers.fake:stop() end
  if servers.sink then stop_sink(servers.sink) end
  run("rm -rf " .. sh_quote(DIR))
  if not ok then error(err, 0) end

  local load_after = (read_file("/proc/loadavg") or "?"):match("^(%S+)")
  local lines = {
    string.format("%d MiB file (random bytes), %d run(s) per setting, medians. Machine: %s. Load average "
      .. "(1 min) %s at the start, %s at the end.", SIZE_MB, RUNS, about, load_before,
      load_after),
    "",
    "| server | setting | wall | throughput | create + parts | complete (server) | client CPU | client peak RSS |",
    "|---|---|---|---|---|---|---|---|",
  }
  local names = { fake = "fake server", sink = "nginx sink", slow = "nginx sink, slow" }
  for _, r in ipairs(rows) do
    lines[#lines + 1] = string.format("| %s | %s | %.2f s | %.0f MB/s | %.2f s | %s | %.2f s | %.1f MB |",
      names[r.setting.target], r.setting.label, r.wall, size / 1e6 / r.wall, r.parts,
      r.setting.target == "fake" and string.format("%.2f s", r.complete) or "-", r.cpu, r.rss / 1024)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = string.format("MD5 of the %d MiB file alone (page cache warm, medians): `codec.md5_file` %.2f s "
    .. "(%.0f MB/s, whole process), `md5sum` %.2f s (%.0f MB/s).", SIZE_MB, core_md5_time,
    size / 1e6 / core_md5_time, md5sum_time, size / 1e6 / md5sum_time)
  local text = table.concat(lines, "\n")
  print(text)
  if WRITE then
    local doc = assert(read_file(RESULTS), RESULTS .. " is missing")
    local _, e = doc:find("<!-- large_upload:results -->\n", 1, true)
    local s2 = doc:find("<!-- /large_upload:results -->", 1, true)
    assert(e and s2, "markers missing in " .. RESULTS)
    doc = doc:sub(1, e) .. text .. "\n" .. doc:sub(s2)
    local f = assert(io.open(RESULTS, "wb"))
    f:write(doc)
    f:close()
    io.stderr:write("wrote " .. RESULTS .. "\n")
  end
end

main()
