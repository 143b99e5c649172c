-- OpenAI's error envelope: {"error": {"message", "type", "param", "code"}}, with the
-- types, codes and wording the real API uses. Handlers raise these with
-- errors.raise(...) (caught by the router) or return them.
local M = {}

local error_mt = { __name = "fake.api_error" }

-- new(status, message, type, param, code)
function M.new(status, message, etype, param, code, headers)
  return setmetatable({
    status = status,
    message = message,
    type = etype or "invalid_request_error",
    param = param,
    code = code,
    headers = headers,
  }, error_mt)
end

function M.is(v)
  return getmetatable(v) == error_mt
end

-- raise(...) aborts the current handler with an API error.
function M.raise(...)
  error(M.new(...), 0)
end

function M.body(e)
  -- param and code are always present (null when unset), as on the wire.
  local json = require("openai.finetunes.fake.json")
  return '{"error":{"message":' .. json.encode(e.message)
    .. ',"type":' .. json.encode(e.type)
    .. ',"param":' .. json.encode(e.param)
    .. ',"code":' .. json.encode(e.code) .. "}}"
end

-- Common cases -------------------------------------------------------------------

function M.not_found(what, id, param)
  M.raise(404, "No such " .. what .. ": " .. tostring(id), "invalid_request_error", param or "id", nil)
end

function M.missing(param)
  M.raise(400, "Missing required parameter: '" .. param .. "'.", "invalid_request_error", param,
    "missing_required_parameter")
end

function M.invalid_type(param, expected, got)
  M.raise(400, string.format("Invalid type for '%s': expected %s, but got %s instead.", param, expected, got),
    "invalid_request_error", param, "invalid_type")
end

function M.invalid_value(param, value, supported)
  local msg = string.format("Invalid value: '%s'.", tostring(value))
  if supported then
    local quoted = {}
    for i, v in ipairs(supported) do quoted[i] = "'" .. v .. "'" end
    local list
    if #quoted > 1 then
      list = table.concat(quoted, ", ", 1, #quoted - 1) .. ", and " .. quoted[#quoted]
    else
      list = quoted[1]
    end
    msg = msg .. " Supported values are: " .. list .. "."
  end
  M.raise(400, msg, "invalid_request_error", param, "invalid_value")
end

function M.below_min(param, min, got)
  M.raise(400, string.format("Invalid '%s': integer below minimum value. Expected a value >= %s, but got %s instead.",
    param, tostring(min), tostring(got)), "invalid_request_error", param, "integer_below_min_value")
end

function M.above_max(param, max, got)
  M.raise(400, string.format("Invalid '%s': integer above maximum value. Expected a value <= %s, but got %s instead.",
    param, tostring(max), tostring(got)), "invalid_request_error", param, "integer_above_max_value")
end

function M.unknown_parameter(param)
  M.raise(400, "Unrecognized request argument supplied: " .. param, "invalid_request_error", param,
    "unknown_parameter")
end

function M.invalid_json(detail)
  M.raise(400, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
    .. "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. "
    .. "If you have trouble figuring out how to fix this, please contact us through our help center at "
    .. "help.openai.com.)" .. (detail and (" [" .. detail .. "]") or ""), "invalid_request_error", nil, nil)
end

function M.unknown_url(method, path)
  return M.new(404, "Unknown request URL: " .. method .. " " .. path
    .. ". Please check the URL for typos, or see the docs at https://platform.openai.com/docs/api-reference/.",
    "invalid_request_error", nil, "unknown_url")
end

function M.bad_method(method, path, allowed)
  return M.new(405, "Invalid method for URL (" .. method .. " " .. path .. ")", "invalid_request_error", nil,
    "method_not_allowed", { { "Allow", allowed } })
end

function M.missing_key()
  return M.new(401, "You didn't provide an API key. You need to provide your API key in an Authorization header "
    .. "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from "
    .. "https://platform.openai.com/account/api-keys.", "invalid_request_error", nil, "invalid_api_key")
end

function M.wrong_key()
  -- The real API echoes a masked key; the fake never echoes any part of it.
  return M.new(401, "Incorrect API key provided. You can find your API key at "
    .. "https://platform.openai.com/account/api-keys.", "invalid_request_error", nil, "invalid_api_key")
end

return M
