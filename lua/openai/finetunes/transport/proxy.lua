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
