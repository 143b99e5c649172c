-- The bench server: nginx with lua-nginx-module, a non-daemon child of the
-- runner on loopback, configured from bench/nginx/nginx.conf.in.
local socket = require("socket")
local sh = require("runner.sh")

local M = {}

local function free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local function render(template, vars)
  return (template:gsub("@(%u+)@", function(name)
    return assert(vars[name], "no value for @" .. name .. "@")
  end))
end

local function wait_ready(port, seconds)
  local deadline = socket.gettime() + seconds
  repeat
    local c = socket.tcp()
    c:settimeout(0.2)
    if c:connect("127.0.0.1", port) then c:close() return true end
    c:close()
    socket.sleep(0.05)
  until socket.gettime() > deadline
  return false
end

-- opts: bench_dir (this directory), work_dir, data_dir, blob (file name in data_dir).
function M.start(opts)
  local prefix = opts.work_dir .. "/nginx"
  sh.run("rm -rf %s && mkdir -p %s", sh.q(prefix), sh.q(prefix))
  local port = free_port()
  local conf = render(sh.read_file(opts.bench_dir .. "/nginx/nginx.conf.in"), {
    PREFIX = prefix,
    PORT = tostring(port),
    LUADIR = opts.bench_dir .. "/nginx",
    DATADIR = opts.data_dir,
    BLOB = opts.blob,
    -- As root, nginx would run its worker as nobody: keep the runner's user.
    USER = sh.capture("id -u") == "0" and "user root root;" or "",
  })
  sh.write_file(prefix .. "/nginx.conf", conf)
  -- A watchdog stops nginx if the runner dies first (Ctrl-C, a crash).
  local pid = sh.capture("nginx -p %s -c %s >%s 2>&1 & n=$!; echo $n; "
    .. "(p=$PPID; while kill -0 $p 2>/dev/null && kill -0 $n 2>/dev/null; do sleep 1; done; "
    .. "kill -QUIT $n 2>/dev/null) >/dev/null 2>&1 &",
    sh.q(prefix), sh.q(prefix .. "/nginx.conf"), sh.q(prefix .. "/stderr.log"))
  local server = { pid = assert(tonumber(pid)), port = port, prefix = prefix,
                   base = "http://127.0.0.1:" .. port }
  if not wait_ready(port, 10) then
    M.stop(server)
    error("nginx did not start; see " .. prefix .. "/stderr.log and error.log:\n"
      .. (sh.read_file(prefix .. "/error.log", true) or "") .. (sh.read_file(prefix .. "/stderr.log", true) or ""))
  end
  return server
end

-- Bytes the upload sink has read to the end since the server started.
function M.uploaded(server)
  return tonumber(sh.capture("curl -sS %s/_bench/uploaded", server.base))
end

function M.stop(server)
  if not server or server.stopped then return end
  server.stopped = true
  -- QUIT: graceful; the master is our direct child, so wait for it to go.
  os.execute("kill -QUIT " .. server.pid .. " 2>/dev/null")
  for _ = 1, 100 do
    if not sh.ok("kill -0 %d 2>/dev/null", server.pid) then return end
    socket.sleep(0.05)
  end
  os.execute("kill -KILL " .. server.pid .. " 2>/dev/null")
end

return M
