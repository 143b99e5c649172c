-- Route table: "METHOD /files/{file_id}/content" templates matched segment by segment
-- on the raw path, so an escaped "/" (%2F) inside an id never reaches another route.
-- Captured segments are percent-decoded.
local util = require("openai.finetunes.fake.util")

local Router = {}
Router.__index = Router

function Router.new()
  return setmetatable({ routes = {} }, Router)
end

local function split(path)
  local segs = {}
  for seg in path:gmatch("[^/]+") do
    segs[#segs + 1] = seg
  end
  return segs
end

-- add("GET", "/files/{file_id}", handler, {body = "json"|"multipart"|"none"})
function Router:add(method, template, handler, opts)
  local segs = split(template)
  local pattern = {}
  for i, seg in ipairs(segs) do
    local name = seg:match("^{([%w_]+)}$")
    pattern[i] = name and { param = name } or { literal = seg }
  end
  self.routes[#self.routes + 1] = {
    method = method, template = template, segs = pattern, handler = handler, opts = opts or {},
  }
end

local function match_segs(route, segs)
  if #route.segs ~= #segs then return nil end
  local params = {}
  for i, p in ipairs(route.segs) do
    if p.literal then
      if p.literal ~= segs[i] then return nil end
    else
      params[p.param] = util.unescape(segs[i])
    end
  end
  return params
end

-- match(method, path) -> route, params | nil, "not_found" | nil, "bad_method", allowed
function Router:match(method, path)
  local segs = split(path)
  local allowed = {}
  for _, route in ipairs(self.routes) do
    local params = match_segs(route, segs)
    if params then
      if route.method == method then
        return route, params
      end
      allowed[#allowed + 1] = route.method
    end
  end
  if #allowed > 0 then
    return nil, "bad_method", table.concat(allowed, ", ")
  end
  return nil, "not_found"
end

return Router
