-- openai.finetunes.transport.proxy: the `proxy` option read once, for an adapter
-- that opens its own connections (libcurl reads the same option in C).
--
--   proxy.parse(opts.proxy, fname) -> nil | { host, port, username, password, no_proxy,
--                                             line = "Proxy-Authorization: Basic ...\r\n" | nil }
--   proxy.bypass(host, no_proxy)   -> true when the host is reached directly
--   proxy.tunnel(u, p) -> t        the CONNECT tunnel to an https target: t.head to send,
--                                  t:received(bytes | nil) -> "more" | true | nil, kind, message
--
-- Only http:// proxies: a plain request goes in absolute form, an https target
-- through a CONNECT tunnel. No I/O here: the adapter moves the bytes.
local http1 = require("openai.finetunes.transport.http1")
local base64_encode = require("openai.finetunes.codec").base64_encode

local type, tonumber, error = type, tonumber, error
local find, format, gsub, lower, match, sub, char = string.find, string.format, string.gsub, string.lower,
  string.match, string.sub, string.char

local M = {}

local function percent_decode(s)
  return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

--- parse(p) where p is nil | url | { url, username, password, no_proxy }. Misuse raises
-- at the caller of the adapter's new().
function M.parse(p)
  if p == nil or p == false then return nil end
  if type(p) == "string" then p = { url = p } end
  if type(p) ~= "table" or type(p.url) ~= "string" then
    error("bad argument #1 to 'new' (proxy must be a URL string or a table with a url)", 3)
  end
  local scheme, userinfo, rest = match(p.url, "^(%a+)://([^@/]*)@(.*)$")
  if not scheme then scheme, rest = match(p.url, "^(%a+)://(.*)$") end
  if not scheme then scheme, rest = "http", p.url end
  if lower(scheme) ~= "http" then
    error("bad argument #1 to 'new' (this transport supports http:// proxies only, got " .. scheme .. "://)", 3)
  end
  local u = http1.split_url("http://" .. rest)
  if not u then error("bad argument #1 to 'new' (proxy url is not a valid URL)", 3) end
  local username, password = p.username, p.password
  if userinfo and not username then
    username, password = match(userinfo, "^([^:]*):?(.*)$")
    username, password = percent_decode(username), percent_decode(password)
  end
  if username == "" then username = nil end
  password = password or ""
  -- RFC 7617 Basic credentials, as libcurl sends them for CURLOPT_PROXYUSERNAME/PASSWORD
  local line = username and ("Proxy-Authorization: Basic " .. base64_encode(username .. ":" .. password) .. "\r\n")
  return { host = u.host, port = u.port, username = username, password = password, no_proxy = p.no_proxy,
    line = line }
end

--- tunnel(u, p) -> t: the CONNECT request for target u (http1.split_url) through
-- proxy p (parse), and what its answer means: a 2xx opens the tunnel, anything
-- else is kind "proxy" naming the target.
function M.tunnel(u, p)
  local target = u.host .. ":" .. u.port
  local reader = http1.new({ method = "CONNECT" })
  return {
    head = { "CONNECT ", target, " HTTP/1.1\r\nHost: ", target, "\r\n", p.line or "", "\r\n" },
    received = function(_, data)
      if data then reader:feed(data) else reader:feed_eof() end
      while true do
        local ev, val = reader:next()
        if ev == "head" and (val.status < 200 or val.status >= 300) then
          return nil, "proxy", format("proxy refused CONNECT %s: %d %s", target, val.status, val.reason or "")
        elseif ev == "done" then
          return true
        elseif ev == nil and val then
          return nil, "proxy", "bad answer from the proxy to CONNECT: " .. val
        elseif ev == nil then
          return "more"
        end
      end
    end,
  }
end

--- display(url) -> the proxy's URL without its credentials, for messages:
-- "http://user:secret@proxy:3128" -> "http://proxy:3128".
function M.display(url)
  local scheme, rest = match(url, "^(%a[%w+.-]*)://(.*)$")
  if not scheme then scheme, rest = "http", url end
  rest = gsub(rest, "^[^@/]*@", "")
  return lower(scheme) .. "://" .. gsub(rest, "/.*$", "")
end

--- for_url(url, option, getenv) -> the display name of the proxy a request to
-- `url` goes through, or nil: the `proxy` option (a URL or {url, no_proxy}),
-- else the environment as libcurl reads it (http_proxy for http, https_proxy /
-- HTTPS_PROXY for https, then all_proxy / ALL_PROXY; no_proxy / NO_PROXY).
function M.for_url(url, option, getenv)
  local u = http1.split_url(url)
  if not u then return nil end
  local function env(name)
    local v = getenv and getenv(name)
    return v ~= nil and v ~= "" and v or nil
  end
  local purl, no_proxy
  if type(option) == "string" then
    purl = option
  elseif type(option) == "table" and type(option.url) == "string" then
    purl, no_proxy = option.url, option.no_proxy
  else
    purl = u.scheme == "https" and (env("https_proxy") or env("HTTPS_PROXY")) or env("http_proxy")
    purl = purl or env("all_proxy") or env("ALL_PROXY")
    no_proxy = env("no_proxy") or env("NO_PROXY")
  end
  if not purl or M.bypass(u.host, no_proxy) then return nil end
  return M.display(purl)
end

--- bypass(host, no_proxy): no_proxy holds comma- or space-separated host names,
-- domain suffixes (".x.com" or "x.com" also covers "api.x.com") and IP literals;
-- "*" bypasses every proxy. The rules of libcurl's CURLOPT_NOPROXY.
function M.bypass(host, no_proxy)
  if not no_proxy or no_proxy == "" then return false end
  host = gsub(gsub(host, "^%[", ""), "%]$", "")
  for entry in no_proxy:gmatch("[^,%s]+") do
    entry = lower(entry)
    local v6 = match(entry, "^%[(.-)%]")
    if v6 then
      entry = v6
    elseif not find(entry, ":.*:") then
      entry = gsub(entry, ":%d+$", "") -- "host:port"; a bare IPv6 address keeps its colons
    end
    entry = gsub(entry, "^%.", "")
    if entry == "*" or host == entry then return true end
    if #host > #entry and sub(host, -#entry - 1) == "." .. entry then return true end
  end
  return false
end

return M
