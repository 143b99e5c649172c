-- Debian's nginx with lua-nginx-module on loopback, for the specs: the plain
-- nginx of spec/support/nginx.lua plus the Lua module, this tree's package
-- paths and the C core built for LuaJIT.
--
--   local openresty = require("spec.support.openresty")
--   local srv = openresty.start{
--     http = "...",          -- extra http{} directives (e.g. init_worker_by_lua_block)
--     server = "...",        -- the server{} body: locations
--     vars = { name = v },   -- `set $name "v";` in the server (read with ngx.var.name)
--     tls = { cert, key },   -- also listen with TLS (HTTP/1.1) on srv.tls_port
--     log_level = "info",    -- of the error log (default "info")
--   }
--   srv.port, srv:url("/path"), srv:error_log(), srv:stop()
--
-- lua_package_path points at this tree's lua/, spec/support/ and examples/openresty/,
-- lua_package_cpath at build/luajit (the C core built for LuaJIT, which start()
-- builds with `make LUA=luajit` first; OFT_LUAJIT_BUILD names a ready build dir
-- to use instead). openresty.free_port/spawn/kill are nginx.lua's.
local socket = require("socket")
local nginx = require("spec.support.nginx")
local util = require("openai.finetunes.fake.util")

local quote, read = util.shell_quote, util.read_file

local M = {}

M.MODULES = os.getenv("NGINX_MODULES") or "/usr/lib/nginx/modules"
M.free_port, M.spawn, M.kill = nginx.free_port, nginx.spawn, nginx.kill

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

--- Build the C core for LuaJIT (a no-op when it is up to date).
function M.build_core()
  local log = os.tmpname()
  local ok = os.execute("cd " .. quote(M.ROOT) .. " && make -s LUA=luajit >" .. log .. " 2>&1")
  local out = read(log) or ""
  os.remove(log)
  if ok ~= true and ok ~= 0 then error("building the C core for LuaJIT failed:\n" .. out, 2) end
  return M.ROOT .. "/build/luajit"
end

--- start{ http, server, vars, log_level, tls = { cert, key } } -> server (raises when
-- nginx cannot start).
function M.start(o)
  o = o or {}
  local cpath_dir = os.getenv("OFT_LUAJIT_BUILD") or M.build_core()
  return nginx.start{
    main = table.concat({
      "load_module " .. M.MODULES .. "/ndk_http_module.so;",
      "load_module " .. M.MODULES .. "/ngx_http_lua_module.so;",
    }, "\n"),
    http = table.concat({
      ('  lua_package_path "%s/lua/?.lua;%s/lua/?/init.lua;%s/spec/support/?.lua;%s/examples/openresty/?.lua;;";')
        :format(M.ROOT, M.ROOT, M.ROOT, M.ROOT),
      ('  lua_package_cpath "%s/?.so;;";'):format(cpath_dir),
      o.http or "",
    }, "\n"),
    server = o.server, vars = o.vars, log_level = o.log_level or "info",
    tls = o.tls and { cert = o.tls.cert, key = o.tls.key, http2 = false },
  }
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
  local http1 = require("openai.finetunes.transport.http1")
  local res, perr = http1.parse(data)
  if not res then return nil, perr end
  return res.status, res.body, res.headers, elapsed
end

return M
