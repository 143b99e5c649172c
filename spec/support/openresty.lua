-- Start Debian's nginx with lua-nginx-module on loopback, for the specs.
--
--   local openresty = require("spec.support.openresty")
--   local srv = openresty.start{
--     http = "...",          -- extra http{} directives (e.g. init_worker_by_lua_block)
--     server = "...",        -- the server{} body: locations
--     vars = { name = v },   -- `set $name "v";` in the server (read with ngx.var.name)
--   }
--   srv.port, srv:url("/path"), srv:error_log(), srv:stop()
--
-- spec/support/nginx.lua starts plain nginx (TLS, HTTP/2 in front of the fake
-- server); this one adds the Lua module, package paths and the LuaJIT core.
--
-- nginx runs as a non-daemon child (`nginx -p <tmp> -c <conf> -g 'daemon off;'`)
-- with one worker and its own generated config; lua_package_path points at this
-- tree's lua/ and spec/support/, lua_package_cpath at build/luajit (the C core
-- built for LuaJIT, which start() builds with `make LUA=luajit` first).
local socket = require("socket")
local util = require("openai.finetunes.fake.util")

local quote, read, write = util.shell_quote, util.read_file, util.write_file

local M = {}

M.NGINX = os.getenv("NGINX") or "/usr/sbin/nginx"
M.MODULES = os.getenv("NGINX_MODULES") or "/usr/lib/nginx/modules"

local function sh(cmd)
  local ok, how, code = os.execute(cmd)
  if type(ok) == "number" then return ok == 0 end -- Lua 5.1: the status
  return ok == true and how == "exit" and code == 0
end

-- The repository root: this file is spec/support/openresty.lua.
local function repo_root()
  local src = debug.getinfo(1, "S").source:gsub("^@", "")
  local dir = src:match("^(.*)/spec/support/[^/]*$")
  if not dir or dir == "" then dir = "." end
  local pipe = io.popen("cd " .. quote(dir) .. " && pwd")
  local abs = pipe:read("*l")
  pipe:close()
  return abs
end

M.ROOT = repo_root()

-- A port nobody listens on right now (nginx cannot be told to pick one).
function M.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local function is_root()
  local p = io.popen("id -u")
  local uid = p:read("*l")
  p:close()
  return uid == "0"
end

--- Build the C core for LuaJIT (a no-op when it is up to date).
function M.build_core()
  local log = os.tmpname()
  if not sh("cd " .. quote(M.ROOT) .. " && make -s LUA=luajit >" .. log .. " 2>&1") then
    local out = read(log) or ""
    os.remove(log)
    error("building the C core for LuaJIT failed:\n" .. out, 2)
  end
  os.remove(log)
  return M.ROOT .. "/build/luajit"
end

function M.config(o)
  local lines = {
    "load_module " .. M.MODULES .. "/ndk_http_module.so;",
    "load_module " .. M.MODULES .. "/ngx_http_lua_module.so;",
    "worker_processes 1;",
    is_root() and "user root;" or "",
    "error_log logs/error.log " .. (o.log_level or "info") .. ";",
    "pid logs/nginx.pid;",
    "events { worker_connections 256; }",
    "http {",
    "  access_log off;",
    "  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fastcgi;",
    "  uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;",
    string.format('  lua_package_path "%s/lua/?.lua;%s/lua/?/init.lua;%s/spec/support/?.lua;;";',
      M.ROOT, M.ROOT, M.ROOT),
    string.format('  lua_package_cpath "%s/?.so;;";', o.cpath_dir),
    o.http or "",
    "  server {",
    string.format("    listen 127.0.0.1:%d;", o.port),
  }
  if o.tls then
    lines[#lines + 1] = string.format("    listen 127.0.0.1:%d ssl;", o.tls_port)
    lines[#lines + 1] = string.format("    ssl_certificate %s; ssl_certificate_key %s;", o.tls.cert, o.tls.key)
  end
  for name, value in pairs(o.vars or {}) do
    lines[#lines + 1] = string.format('    set $%s "%s";', name, (tostring(value):gsub('[\\"$]', "\\%0")))
  end
  lines[#lines + 1] = o.server or ""
  lines[#lines + 1] = "  }"
  lines[#lines + 1] = "}"
  return table.concat(lines, "\n") .. "\n"
end

local Server = {}
Server.__index = Server

function Server.url(self, path)
  return "http://127.0.0.1:" .. self.port .. (path or "/")
end

function Server.error_log(self)
  return read(self.prefix .. "/logs/error.log") or ""
end

-- Running (a zombie nobody has reaped yet counts as gone).
M.alive = util.pid_alive

function Server.alive(self)
  return M.alive(self.pid)
end

function Server.stop(self)
  if not self.pid then return end
  sh("kill -TERM " .. self.pid .. " 2>/dev/null")
  for _ = 1, 100 do
    if not self:alive() then break end
    socket.sleep(0.05)
  end
  if self:alive() then sh("kill -KILL " .. self.pid .. " 2>/dev/null") end
  self.pid = nil
  if not os.getenv("OFT_KEEP_NGINX") then util.rm_rf(self.prefix) end
end

local function try_start(o)
  local prefix = os.tmpname()
  os.remove(prefix)
  assert(util.mkdir_p(prefix .. "/logs"))
  assert(util.mkdir_p(prefix .. "/tmp"))
  local port = M.free_port()
  local tls_port = o.tls and M.free_port()
  local conf = M.config({
    port = port, tls_port = tls_port, tls = o.tls, http = o.http, server = o.server, vars = o.vars,
    log_level = o.log_level, cpath_dir = o.cpath_dir,
  })
  assert(write(prefix .. "/nginx.conf", conf))
  -- nginx in the background; a watchdog stops it if this process dies first
  local cmd = string.format("%s -p %s -c nginx.conf -g 'daemon off;' >%s 2>&1 & n=$!; echo $n; "
    .. "(p=$PPID; while kill -0 $p 2>/dev/null && kill -0 $n 2>/dev/null; do sleep 1; done; "
    .. "kill -TERM $n 2>/dev/null) >/dev/null 2>&1 &",
    quote(M.NGINX), quote(prefix), quote(prefix .. "/logs/stdout"))
  local p = io.popen(cmd)
  local pid = tonumber(p:read("*l"))
  p:close()
  local srv = setmetatable({ pid = pid, port = port, tls_port = tls_port, prefix = prefix, conf = conf }, Server)
  local deadline = socket.gettime() + 10
  while socket.gettime() < deadline do
    local c = socket.tcp()
    c:settimeout(0.2)
    local ok = c:connect("127.0.0.1", port)
    c:close()
    if ok and srv:alive() then return srv end
    if not srv:alive() then break end
    socket.sleep(0.02)
  end
  local why = (read(prefix .. "/logs/stdout") or "") .. (read(prefix .. "/logs/error.log") or "")
  srv:stop()
  return nil, why
end

--- start{ http, server, vars, log_level, tls = { cert, key } } -> server (raises when
-- nginx cannot start). With `tls`, the server also listens with TLS on srv.tls_port.
function M.start(o)
  o = o or {}
  -- OFT_LUAJIT_BUILD names a ready build dir (…/openai/finetunes/core.so) to use instead
  o.cpath_dir = o.cpath_dir or os.getenv("OFT_LUAJIT_BUILD") or M.build_core()
  local why
  for _ = 1, 5 do -- another process may take the port between our probe and nginx's bind
    local srv
    srv, why = try_start(o)
    if srv then return srv end
    if not why:find("Address already in use", 1, true) then break end
  end
  error("nginx did not start:\n" .. tostring(why), 2)
end

--- A self-signed certificate for "localhost" in `dir`: { cert = path, key = path }.
function M.self_signed(dir)
  local cert, key = dir .. "/cert.pem", dir .. "/key.pem"
  local ok = sh(string.format("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 2 "
    .. "-subj /CN=localhost -addext subjectAltName=DNS:localhost >/dev/null 2>&1", quote(key), quote(cert)))
  if not ok then error("openssl could not make a test certificate", 2) end
  return { cert = cert, key = key }
end

--- Run `cmd` in the background, stopped when this process exits; returns its pid.
function M.spawn(cmd)
  local p = io.popen(cmd .. " & n=$!; echo $n; "
    .. "(p=$PPID; while kill -0 $p 2>/dev/null && kill -0 $n 2>/dev/null; do sleep 1; done; "
    .. "kill -TERM $n 2>/dev/null) >/dev/null 2>&1 &")
  local pid = tonumber(p:read("*l"))
  p:close()
  return pid
end

--- Stop a spawned process: TERM, wait up to 5 s, then KILL.
function M.kill(pid)
  if not pid then return end
  sh("kill -TERM " .. pid .. " 2>/dev/null")
  for _ = 1, 100 do
    if not M.alive(pid) then return end
    socket.sleep(0.05)
  end
  sh("kill -KILL " .. pid .. " 2>/dev/null")
end

--- A minimal HTTP/1.1 request over LuaSocket (the spec side talks to nginx with it).
-- Returns status, body, headers, elapsed seconds; or nil, err.
function M.get(url, timeout, method)
  local host, port, path = url:match("^http://([^:/]+):(%d+)(.*)$")
  local c = socket.tcp()
  c:settimeout(timeout or 30)
  local t0 = socket.gettime()
  local ok, err = c:connect(host, tonumber(port))
  if not ok then return nil, err end
  c:send((method or "GET") .. " " .. (path ~= "" and path or "/") .. " HTTP/1.1\r\nHost: " .. host
    .. "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
  local data, rerr, partial = c:receive("*a")
  c:close()
  data = data or partial
  if not data or data == "" then return nil, rerr or "empty answer" end
  local elapsed = socket.gettime() - t0
  local http1 = require("openai.finetunes.http1")
  local res, perr = http1.parse(data)
  if not res then return nil, perr end
  return res.status, res.body, res.headers, elapsed
end

return M
