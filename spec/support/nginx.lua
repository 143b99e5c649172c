-- Debian's nginx on loopback with a config the spec writes: TLS termination,
-- HTTP/2, gzip and client certificates in front of the fake server
-- (spec/support/openresty.lua adds the Lua module on top).
--
--   local nginx = require("spec.support.nginx")
--   local srv = nginx.start{
--     server = nginx.proxy_to(fake:url()),   -- the server{} body (locations)
--     http = "gzip on;",                      -- extra http{} directives
--     main = "load_module ...;",              -- extra main-context directives, first
--     vars = { name = v },                    -- `set $name "v";` in the server (ngx.var.name)
--     log_level = "info",                     -- of the error log (default "error")
--     tls = { cert = path, key = path,        -- also listen with TLS on srv.tls_port
--             http2 = true,                   -- offer h2 through ALPN (default true)
--             client_ca = path },             -- ask for client certificates signed by it
--   }
--   srv.port, srv.tls_port, srv:url(path), srv:tls_url(path [, host]), srv:error_log(), srv:stop()
--
-- nginx runs as a non-daemon child (`nginx -p <tmp> -c nginx.conf -g 'daemon off;'`)
-- in its own temp prefix (error.log there; what it prints before reading the
-- config goes to stderr.log); a shell watchdog stops it if this process dies
-- first, and stop() kills it by pid and removes the prefix (OFT_KEEP_NGINX=1
-- keeps it).
local socket = require("socket")
local util = require("openai.finetunes.fake.util")

local M = {}

M.NGINX = os.getenv("NGINX") or "/usr/sbin/nginx"

local quote, read = util.shell_quote, util.read_file

local function sh(cmd)
  local ok, how, code = os.execute(cmd)
  if type(ok) == "number" then return ok == 0 end -- Lua 5.1
  return ok == true and how == "exit" and code == 0
end

--- A port nobody listens on right now (nginx cannot be told to pick one).
function M.free_port()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end

local function running_as_root()
  local p = io.popen("id -u")
  local uid = p:read("*l")
  p:close()
  return uid == "0"
end

--- Running (a zombie nobody has reaped yet counts as gone).
M.alive = util.pid_alive

--- Run the shell command `cmd` in the background, stopped when this process
-- exits; returns its pid.
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

--- A server{} body that passes every request to `upstream` ("http://127.0.0.1:PORT"),
-- streaming request bodies, with `extra` directives inside the location.
function M.proxy_to(upstream, extra)
  return table.concat({
    "location / {",
    "  proxy_pass " .. upstream .. ";",
    "  proxy_http_version 1.1;",
    "  proxy_set_header Connection \"\";",
    "  proxy_request_buffering off;",
    "  proxy_buffering off;",
    "  client_max_body_size 0;",
    "  " .. (extra or ""),
    "}",
  }, "\n")
end

function M.config(o)
  local tls = o.tls
  local lines = {
    o.main or "",
    "worker_processes 1;",
    running_as_root() and "user root;" or "",
    "error_log error.log " .. (o.log_level or "error") .. ";",
    "pid nginx.pid;",
    "events { worker_connections 256; }",
    "http {",
    "  access_log off;",
    "  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fastcgi;",
    "  uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;",
    "  " .. (o.http or ""),
    "  server {",
    ("    listen 127.0.0.1:%d;"):format(o.port),
  }
  if tls then
    lines[#lines + 1] = ("    listen 127.0.0.1:%d ssl%s;"):format(o.tls_port, tls.http2 == false and "" or " http2")
    lines[#lines + 1] = ("    ssl_certificate %s;"):format(tls.cert)
    lines[#lines + 1] = ("    ssl_certificate_key %s;"):format(tls.key)
    if tls.client_ca then
      -- optional: a location decides (`if ($ssl_client_verify != SUCCESS) { return 403; }`)
      lines[#lines + 1] = ("    ssl_client_certificate %s;"):format(tls.client_ca)
      lines[#lines + 1] = "    ssl_verify_client optional;"
    end
  end
  for name, value in pairs(o.vars or {}) do
    lines[#lines + 1] = ('    set $%s "%s";'):format(name, (tostring(value):gsub('[\\"$]', "\\%0")))
  end
  lines[#lines + 1] = o.server or ""
  lines[#lines + 1] = "  }"
  lines[#lines + 1] = "}"
  return table.concat(lines, "\n") .. "\n"
end

local Server = {}
Server.__index = Server

function Server:url(path)
  return "http://127.0.0.1:" .. self.port .. (path or "/")
end

function Server:tls_url(path, host)
  return "https://" .. (host or "localhost") .. ":" .. self.tls_port .. (path or "/")
end

function Server:error_log()
  return read(self.prefix .. "/error.log") or ""
end

function Server:alive()
  return self.pid ~= nil and M.alive(self.pid)
end

function Server:stop()
  if not self.pid then return end
  M.kill(self.pid)
  self.pid = nil
  if not os.getenv("OFT_KEEP_NGINX") then util.rm_rf(self.prefix) end
end

local function listening(port)
  local c = socket.tcp()
  c:settimeout(0.2)
  local ok = c:connect("127.0.0.1", port)
  c:close()
  return ok ~= nil
end

local function try_start(o)
  local prefix = os.tmpname()
  os.remove(prefix)
  assert(util.mkdir_p(prefix .. "/tmp"))
  local port, tls_port = M.free_port(), o.tls and M.free_port() or nil
  local conf = M.config({ port = port, tls_port = tls_port, tls = o.tls, http = o.http, server = o.server,
    main = o.main, vars = o.vars, log_level = o.log_level })
  assert(util.write_file(prefix .. "/nginx.conf", conf))
  local pid = M.spawn(("%s -p %s -c nginx.conf -g 'daemon off;' >%s 2>&1")
    :format(quote(M.NGINX), quote(prefix), quote(prefix .. "/stderr.log")))
  local srv = setmetatable({ pid = pid, port = port, tls_port = tls_port, prefix = prefix, conf = conf }, Server)
  local deadline = socket.gettime() + 10
  while socket.gettime() < deadline and srv:alive() do
    if listening(port) and (not tls_port or listening(tls_port)) then return srv end
    socket.sleep(0.02)
  end
  local why = (read(prefix .. "/stderr.log") or "") .. srv:error_log()
  srv:stop()
  return nil, why
end

--- start{server, http, main, vars, log_level, tls} -> server; raises when nginx cannot start.
function M.start(o)
  o = o or {}
  local why
  for _ = 1, 5 do -- another process may take the port between our probe and nginx's bind
    local srv
    srv, why = try_start(o)
    if srv then return srv end
    if not tostring(why):find("Address already in use", 1, true) then break end
  end
  error("nginx did not start:\n" .. tostring(why), 2)
end

return M
