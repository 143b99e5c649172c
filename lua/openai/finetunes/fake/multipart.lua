-- Streaming multipart/form-data parser (RFC 7578).
--
-- Bytes are pulled from a body reader (:read() -> chunk | nil) and each part's data
-- is pushed into a sink the caller opens per part, as it arrives: a 512 MB file part
-- goes straight to disk and never sits in memory. The delimiter search keeps the last
-- (#delimiter - 1) bytes of a chunk back, so a boundary split across two network
-- reads is still found.
local M = {}

local find, sub, lower = string.find, string.sub, string.lower

local MAX_PART_HEAD = 16 * 1024

-- boundary(content_type) -> boundary string or nil
function M.boundary(content_type)
  if not content_type then return nil end
  if not lower(content_type):find("^%s*multipart/form%-data") then return nil end
  local b = content_type:match('[Bb][Oo][Uu][Nn][Dd][Aa][Rr][Yy]="([^"]+)"')
    or content_type:match("[Bb][Oo][Uu][Nn][Dd][Aa][Rr][Yy]=([^;%s]+)")
  if b and #b >= 1 and #b <= 200 then
    return b
  end
  return nil
end

local function unquote(s)
  return (s:gsub("\\(.)", "%1"))
end

-- A parameter of a Content-Disposition value (quoted-string or token), or nil.
-- The leading ";" keeps "name" from matching inside "filename".
local function disposition_param(value, key)
  local q = value:match(';%s*' .. key .. '%s*=%s*"(.-[^\\])"')
  if q then return unquote(q) end
  if value:match(';%s*' .. key .. '%s*=%s*""') then return "" end
  return value:match(';%s*' .. key .. '%s*=%s*([^;%s"]+)')
end

local function parse_part_head(text)
  local headers = {}
  for line in (text .. "\r\n"):gmatch("(.-)\r\n") do
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name then
      headers[lower(name)] = value
    end
  end
  local part = { headers = headers, content_type = headers["content-type"] }
  local cd = headers["content-disposition"]
  if cd then
    part.name = disposition_param(cd, "name")
    part.filename = disposition_param(cd, "filename")
  end
  return part
end

-- parse(reader, boundary, open_part) -> true | nil, err
--   reader:read() -> next chunk of the request body, nil at its end
--   open_part(part) -> sink with sink:write(data) and sink:close(); part has
--     name, filename, content_type, headers
function M.parse(reader, boundary, open_part)
  local dash = "--" .. boundary
  local delim = "\r\n" .. dash
  local keep = #delim - 1
  local buf = ""
  local state = "preamble"
  local sink
  local ended = false

  local function more()
    if ended then return false end
    local data, err = reader:read()
    if not data then
      ended = true
      if err then return nil, err end
      return false
    end
    buf = buf .. data
    return true
  end

  while true do
    if state == "preamble" then
      -- The body normally starts with the delimiter itself (no leading CRLF).
      local s = find(buf, dash, 1, true)
      if s and (s == 1 or sub(buf, s - 2, s - 1) == "\r\n") and #buf >= s + #dash + 1 then
        buf = sub(buf, s + #dash)
        state = "after_delim"
      else
        if #buf > 64 * 1024 then return nil, "multipart: no opening boundary" end
        local ok, err = more()
        if not ok then return nil, err or "multipart: no opening boundary" end
      end
    elseif state == "after_delim" then
      if #buf < 2 then
        local ok, err = more()
        if not ok then return nil, err or "multipart: truncated after boundary" end
      elseif sub(buf, 1, 2) == "--" then
        return true -- closing delimiter; ignore the epilogue
      else
        local e = find(buf, "\r\n", 1, true)
        if e then
          if not find(sub(buf, 1, e - 1), "^[ \t]*$") then
            return nil, "multipart: garbage after boundary"
          end
          buf = sub(buf, e + 2)
          state = "head"
        elseif #buf > 1024 then
          return nil, "multipart: garbage after boundary"
        else
          local ok, err = more()
          if not ok then return nil, err or "multipart: truncated after boundary" end
        end
      end
    elseif state == "head" then
      local e
      if sub(buf, 1, 2) == "\r\n" then
        e = -1 -- part with no headers at all
      else
        e = find(buf, "\r\n\r\n", 1, true)
      end
      if e then
        local head = e == -1 and "" or sub(buf, 1, e - 1)
        buf = sub(buf, e == -1 and 3 or e + 4)
        local part = parse_part_head(head)
        sink = open_part(part)
        state = "data"
      elseif #buf > MAX_PART_HEAD then
        return nil, "multipart: part headers too large"
      else
        local ok, err = more()
        if not ok then return nil, err or "multipart: truncated part headers" end
      end
    else -- data
      local s = find(buf, delim, 1, true)
      local after = s and sub(buf, s + #delim, s + #delim + 1)
      if s and #after < 2 and not ended then
        -- cannot tell a delimiter from data yet: keep it and read on
        if s > 1 then
          sink:write(sub(buf, 1, s - 1))
          buf = sub(buf, s)
        end
        local ok, err = more()
        if not ok then
          sink:close(true)
          return nil, err or "multipart: body ended inside a part"
        end
      elseif s and (after == "--" or find(after, "^[ \t\r]")) then
        if s > 1 then sink:write(sub(buf, 1, s - 1)) end
        sink:close()
        sink = nil
        buf = sub(buf, s + #delim)
        state = "after_delim"
      elseif s then
        -- "--boundary" followed by other bytes is data, not a delimiter
        sink:write(sub(buf, 1, s))
        buf = sub(buf, s + 1)
      else
        local n = #buf - keep
        if n > 0 then
          sink:write(sub(buf, 1, n))
          buf = sub(buf, n + 1)
        end
        local ok, err = more()
        if not ok then
          sink:close(true)
          return nil, err or "multipart: body ended inside a part"
        end
      end
    end
  end
end

return M
