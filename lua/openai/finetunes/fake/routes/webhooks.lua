-- Webhook endpoints API: /webhook_endpoints (create, list, retrieve, update, delete,
-- rotate_secret, test) and /webhook_event_types, in the shapes of openai-node 7.59
-- (resources/webhooks/webhooks.ts: WebhookEndpoint, WebhookEndpointWithSecret,
-- WebhookEndpointTestResult, DeletedWebhookEndpoint, WebhookEventTypeList). The
-- deliveries themselves are fake/webhooks.lua.
local json = require("openai.finetunes.fake.json")
local errors = require("openai.finetunes.fake.errors")
local check = require("openai.finetunes.fake.check")
local util = require("openai.finetunes.fake.util")
local Store = require("openai.finetunes.fake.store")
local delivery = require("openai.finetunes.fake.webhooks")

local M = {}

-- WebhookCreateParams.event_types of openai-node 7.59.
M.EVENT_TYPES = {
  "batch.completed", "batch.failed", "batch.expired", "batch.cancelled",
  "response.completed", "response.failed", "response.cancelled", "response.incomplete",
  "eval.run.succeeded", "eval.run.failed", "eval.run.canceled",
  "fine_tuning.job.succeeded", "fine_tuning.job.failed", "fine_tuning.job.cancelled",
  "realtime.call.incoming", "video.completed", "video.failed",
  "agent.environment.ready", "agent.environment.failed", "agent.environment.suspended",
  "agent.environment.expired", "agent.session.created", "agent.session.action_required",
  "agent.session.in_progress", "agent.session.idle", "agent.session.failed", "safety.alert.created",
}
local KNOWN = {}
for _, t in ipairs(M.EVENT_TYPES) do KNOWN[t] = true end

local KEEP_OLD_SECONDS = 24 * 3600

local function bad(message, param, code)
  errors.raise(400, message, "invalid_request_error", param, code)
end

local function engine(ctx)
  local server = ctx.server
  server.webhooks = server.webhooks or delivery.new(server)
  return server.webhooks
end

local function get(store, id)
  local ep = store.webhook_endpoints:get(id)
  if not ep then
    errors.raise(404, "No webhook endpoint found with id '" .. id .. "'.", "invalid_request_error",
      "webhook_endpoint_id", "webhook_endpoint_not_found")
  end
  return ep
end

local function only_keys(body, allowed)
  for k in pairs(body) do
    local ok = false
    for _, a in ipairs(allowed) do if a == k then ok = true end end
    if not ok then errors.unknown_parameter(k) end
  end
end

local function check_url(url)
  if type(url) ~= "string" then errors.invalid_type("url", "a string", check.type_name(url)) end
  local scheme, host = delivery.parse_url(url)
  if not scheme then bad("Invalid 'url': expected an http(s) URL, got '" .. url .. "'.", "url", "invalid_url") end
  if not delivery.is_loopback(host) then
    bad("The fake server delivers webhooks only to loopback URLs (127.0.0.1, ::1, localhost); '" .. host
      .. "' is not one. Start your receiver on loopback.", "url", "invalid_url")
  end
  if scheme == "https" then
    bad("The fake server delivers webhooks over plain http:// on loopback; use http://" .. host .. "/...",
      "url", "invalid_url")
  end
  return url
end

local function check_event_types(v)
  if not json.is_array(v) then errors.invalid_type("event_types", "an array", check.type_name(v)) end
  if #v == 0 then bad("Invalid 'event_types': expected at least one event type.", "event_types", "empty_array") end
  local out = json.array()
  for i, t in ipairs(v) do
    if not KNOWN[t] then
      errors.invalid_value(string.format("event_types[%d]", i - 1), tostring(t), M.EVENT_TYPES)
    end
    out[i] = t
  end
  return out
end

local function check_name(v)
  if type(v) ~= "string" then errors.invalid_type("name", "a string", check.type_name(v)) end
  if v == "" then bad("Invalid 'name': expected a non-empty string.", "name", "empty_string") end
  return v
end

local function hint(secret)
  return "whsec_****" .. secret:sub(-4)
end

local function view(ep, with_secret)
  local out = Store.view(ep)
  if with_secret then out.signing_secret = ep._secrets[#ep._secrets].secret end
  return out
end

local function create(ctx)
  local body = ctx.json or {}
  engine(ctx)
  only_keys(body, { "url", "event_types", "name" })
  if body.url == nil then errors.missing("url") end
  if body.event_types == nil then errors.missing("event_types") end
  if body.name == nil then errors.missing("name") end
  local now = ctx.clock:time()
  local secret = delivery.new_secret()
  local ep = {
    id = "whe_" .. util.random_hex(32), object = "webhook_endpoint", created_at = now, updated_at = now,
    url = check_url(body.url), event_types = check_event_types(body.event_types), name = check_name(body.name),
    signing_secret_hint = hint(secret), _secrets = { { secret = secret } },
  }
  ctx.store.webhook_endpoints:add(ep)
  return { status = 200, body = view(ep, true) }
end

local function list(ctx)
  local coll = ctx.store.webhook_endpoints
  return { status = 200, body = Store.page(coll, coll.list, ctx.query, {
    default_limit = 20, max_limit = 100, ids = true, view = function(ep) return view(ep) end,
  }) }
end

local function retrieve(ctx)
  return { status = 200, body = view(get(ctx.store, ctx.params.webhook_endpoint_id)) }
end

local function update(ctx)
  local ep = get(ctx.store, ctx.params.webhook_endpoint_id)
  local body = ctx.json or {}
  only_keys(body, { "url", "event_types", "name" })
  local changed = false
  if body.url ~= nil then
    local url = check_url(body.url)
    changed = changed or url ~= ep.url
    ep.url = url
  end
  if body.event_types ~= nil then
    local types = check_event_types(body.event_types)
    changed = changed or table.concat(types, ",") ~= table.concat(ep.event_types, ",")
    ep.event_types = types
  end
  if body.name ~= nil then
    local name = check_name(body.name)
    changed = changed or name ~= ep.name
    ep.name = name
  end
  -- "tests and unchanged updates do not advance it"
  if changed then ep.updated_at = ctx.clock:time() end
  return { status = 200, body = view(ep) }
end

local function delete(ctx)
  local ep = get(ctx.store, ctx.params.webhook_endpoint_id)
  ctx.store.webhook_endpoints:remove(ep.id)
  return { status = 200, body = { id = ep.id, object = "webhook_endpoint.deleted", deleted = true } }
end

local function rotate(ctx)
  local ep = get(ctx.store, ctx.params.webhook_endpoint_id)
  local body = ctx.json or {}
  only_keys(body, { "keep_old_secret_active_for_24_hours" })
  local keep = body.keep_old_secret_active_for_24_hours
  if keep ~= nil and type(keep) ~= "boolean" then
    errors.invalid_type("keep_old_secret_active_for_24_hours", "a boolean", check.type_name(keep))
  end
  local now = ctx.clock:now()
  local kept = {}
  if keep then
    local old = ep._secrets[#ep._secrets]
    kept[1] = { secret = old.secret, expires_at = now + KEEP_OLD_SECONDS }
  end
  local secret = delivery.new_secret()
  kept[#kept + 1] = { secret = secret }
  ep._secrets = kept
  ep.signing_secret_hint = hint(secret)
  ep.updated_at = math.floor(now)
  return { status = 200, body = view(ep, true) }
end

local function test(ctx)
  local ep = get(ctx.store, ctx.params.webhook_endpoint_id)
  local body = ctx.json or {}
  only_keys(body, { "event_type" })
  if body.event_type == nil then errors.missing("event_type") end
  if not KNOWN[body.event_type] then errors.invalid_value("event_type", tostring(body.event_type), M.EVENT_TYPES) end
  if not delivery.available then errors.raise(500, delivery.UNAVAILABLE, "server_error") end
  local eng = engine(ctx)
  local now = ctx.clock:now()
  local prefix = body.event_type:match("^fine_tuning") and "ftjob-test_" or "test_"
  local event, text = delivery.event_body(body.event_type, prefix .. util.random_hex(16), now)
  local d = eng:queue(ep, event, text, now, "test")
  local status, err = eng:attempt(d)
  if not status then
    errors.raise(400, "The test delivery to " .. ep.url .. " failed: " .. tostring(err) .. ".",
      "invalid_request_error", nil, "webhook_test_failed")
  end
  return { status = 200, body = {
    object = "webhook_endpoint.test", event_type = body.event_type, status_code = status, success = true,
    webhook_endpoint_id = ep.id,
  } }
end

local function event_types()
  local data = json.array()
  for i, t in ipairs(M.EVENT_TYPES) do data[i] = t end
  return { status = 200, body = { object = "list", data = data } }
end

function M.register(router)
  router:add("POST", "/webhook_endpoints", create)
  router:add("GET", "/webhook_endpoints", list)
  router:add("GET", "/webhook_endpoints/{webhook_endpoint_id}", retrieve)
  router:add("POST", "/webhook_endpoints/{webhook_endpoint_id}", update)
  router:add("DELETE", "/webhook_endpoints/{webhook_endpoint_id}", delete)
  router:add("POST", "/webhook_endpoints/{webhook_endpoint_id}/rotate_secret", rotate)
  router:add("POST", "/webhook_endpoints/{webhook_endpoint_id}/test", test)
  router:add("GET", "/webhook_event_types", event_types)
end

return M
