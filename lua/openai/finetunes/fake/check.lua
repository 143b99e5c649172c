-- Request-parameter checks that raise the API's own 400 errors (missing required
-- parameter, invalid type, invalid value, unknown parameter).
local json = require("openai.finetunes.fake.json")
local errors = require("openai.finetunes.fake.errors")

local M = {}

local function type_name(v)
  if v == json.null then return "null" end
  local t = type(v)
  if t == "table" then return json.is_array(v) and "an array" or "an object" end
  if t == "number" then
    return math.floor(v) == v and "an integer" or "a decimal"
  end
  if t == "string" then return "a string" end
  if t == "boolean" then return "a boolean" end
  return t
end
M.type_name = type_name

-- body(ctx) -> the decoded JSON object of the request (raises on a missing or bad body)
function M.body(ctx, allow_empty)
  if ctx.req.json_error then
    errors.invalid_json(ctx.req.json_error)
  end
  local b = ctx.json
  if b == nil then
    if allow_empty then return {} end
    if ctx.req.body and ctx.req.body ~= "" then errors.invalid_json() end
    errors.raise(400, "You must provide a JSON body (Content-Type: application/json).", "invalid_request_error",
      nil, nil)
  end
  if type(b) ~= "table" or json.is_array(b) or b == json.null then
    errors.raise(400, "Invalid type for request body: expected an object, but got " .. type_name(b) .. " instead.",
      "invalid_request_error", nil, "invalid_type")
  end
  return b
end

function M.only(b, allowed, prefix)
  local set = {}
  for _, k in ipairs(allowed) do set[k] = true end
  local unknown = {}
  for k in pairs(b) do
    if not set[k] then unknown[#unknown + 1] = k end
  end
  if #unknown > 0 then
    table.sort(unknown)
    errors.unknown_parameter((prefix or "") .. unknown[1])
  end
end

-- present(b, key, required, param) -> value, param | nil (absent or null; raises when
-- required)
local function present(b, key, required, param)
  local v = b[key]
  param = param or key
  if v == nil or v == json.null then
    if required then errors.missing(param) end
    return nil
  end
  return v, param
end

function M.string(b, key, required, param)
  local v
  v, param = present(b, key, required, param)
  if v == nil then return nil end
  if type(v) ~= "string" then errors.invalid_type(param, "a string", type_name(v)) end
  return v
end

function M.integer(b, key, required, min, max, param)
  local v
  v, param = present(b, key, required, param)
  if v == nil then return nil end
  if type(v) ~= "number" or math.floor(v) ~= v then errors.invalid_type(param, "an integer", type_name(v)) end
  if min and v < min then errors.below_min(param, min, v) end
  if max and v > max then errors.above_max(param, max, v) end
  return v
end

function M.enum(b, key, values, required, param)
  local v = M.string(b, key, required, param)
  if v == nil then return nil end
  for _, ok in ipairs(values) do
    if v == ok then return v end
  end
  errors.invalid_value(param or key, v, values)
end

function M.object(b, key, required, param)
  local v
  v, param = present(b, key, required, param)
  if v == nil then return nil end
  if type(v) ~= "table" or json.is_array(v) then errors.invalid_type(param, "an object", type_name(v)) end
  return v
end

function M.array(b, key, required, param)
  local v
  v, param = present(b, key, required, param)
  if v == nil then return nil end
  if type(v) ~= "table" or (not json.is_array(v) and next(v) ~= nil) then
    errors.invalid_type(param, "an array", type_name(v))
  end
  return v
end

-- "auto" or a number within (min, max]; integer when int is set.
function M.auto_number(v, param, min, max, int, exclusive_min)
  if v == nil or v == json.null or v == "auto" then return end
  if type(v) ~= "number" or (int and math.floor(v) ~= v) then
    errors.invalid_type(param, int and "'auto' or an integer" or "'auto' or a number", type_name(v))
  end
  if min and (v < min or (exclusive_min and v == min)) then
    errors.raise(400, string.format("Invalid '%s': expected a value %s %s, but got %s instead.", param,
      exclusive_min and ">" or ">=", tostring(min), tostring(v)), "invalid_request_error", param,
      int and "integer_below_min_value" or "decimal_below_min_value")
  end
  if max and v > max then
    errors.raise(400, string.format("Invalid '%s': expected a value <= %s, but got %s instead.", param,
      tostring(max), tostring(v)), "invalid_request_error", param,
      int and "integer_above_max_value" or "decimal_above_max_value")
  end
end

return M
