-- openai.finetunes.transport.proxy: the `proxy` option read once, for an adapter
-- that opens its own connections (libcurl reads the same option in C).
--
--   proxy.parse(opts.proxy, fname) -> nil | { host, port, username, password, no_proxy }
--   proxy.bypass(host, no_proxy)   -> true when the host is reached directly
--
-- Only http:// proxies: a plain request goes in absolute form, an https target
-- through a CONNECT tunnel. No I/O here.
local http1 = require("openai.finetunes.transport.http1")

local type, tonumber, error = type, tonumber, error
local find, gsub, lower, match, sub, char = string.find, string.gsub, string.lower, string.match, string.sub,
  string.char

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
  return { host = u.host, port = u.port, username = username, password = password or "", no_proxy = p.no_proxy }
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
