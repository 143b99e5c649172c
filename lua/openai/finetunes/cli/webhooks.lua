-- openai-ft webhooks: manage webhook endpoints (list, get, create, update, delete,
-- rotate, test, event-types) and `listen`, a local receiver for development.
--
-- The signing secret comes back only from create and rotate; it is never printed
-- unless asked: --secret-file F writes it to F (mode 0600), --show-secret prints it.
local fmt = require("openai.finetunes.cli.table")
local EXIT = require("openai.finetunes.cli.context").EXIT

local M = { summary = "manage webhook endpoints and receive their events" }

local COLUMNS = {
  { "ID", "id" },
  { "URL", "url" },
  { "EVENTS", function(e) return table.concat(e.event_types or {}, ",") end },
  { "NAME", "name" },
  { "CREATED", function(e) return fmt.time(e.created_at) end },
}

local FIELD_ORDER = { "id", "object", "url", "name", "event_types", "signing_secret_hint", "created_at", "updated_at" }

local SECRET_OPTIONS = {
  { "--secret-file", "FILE", "write the signing secret to FILE (created with mode 0600)" },
  { "--show-secret", nil, "print the signing secret (it is shown only this once)" },
}

local function endpoint_id(ctx)
  local id = ctx:arg(1, "webhook endpoint ID")
  ctx:max_args(1)
  return id
end

-- --events a,b --events c -> {"a", "b", "c"}
local function event_list(ctx, required)
  local list = setmetatable({}, require("openai.finetunes.codec").array_mt)
  for _, v in ipairs(ctx.opts.events or {}) do
    for t in tostring(v):gmatch("[^,%s]+") do list[#list + 1] = t end
  end
  if required and #list == 0 then ctx:usage("give at least one --events TYPE (e.g. fine_tuning.job.succeeded)") end
  return #list > 0 and list or nil
end

local function check_secret_flags(ctx)
  if not ctx.opts.secret_file and not ctx.opts.show_secret then
    ctx:usage("the signing secret is returned only now: give --secret-file FILE or --show-secret")
  end
end

local function write_secret(ctx, path, secret)
  local q = "'" .. path:gsub("'", "'\\''") .. "'"
  -- created 0600 before the secret goes in
  os.execute("umask 077 && : > " .. q)
  local f, err = io.open(path, "wb")
  if not f then ctx:exit(EXIT.failure, "cannot write " .. path .. ": " .. tostring(err)) end
  f:write(secret, "\n")
  f:close()
end

-- An endpoint with its secret: the secret goes where the flags say, never elsewhere.
local function show_with_secret(ctx, ep)
  local secret = ep.signing_secret
  ep.signing_secret = nil
  if ctx.opts.secret_file and secret then
    write_secret(ctx, ctx.opts.secret_file, secret)
    ctx:say("signing secret written to %s", ctx.opts.secret_file)
  end
  if ctx.opts.show_secret then ep.signing_secret = secret end
  if ctx.json then return ctx:print_json(ep) end
  local order = {}
  for i, k in ipairs(FIELD_ORDER) do order[i] = k end
  if ctx.opts.show_secret then order[#order + 1] = "signing_secret" end
  ctx:print(fmt.fields(ep, order))
end

local function show(ctx, ep)
  if ctx.json then return ctx:print_json(ep) end
  ctx:print(fmt.fields(ep, FIELD_ORDER))
end

-- listen -----------------------------------------------------------------------

local function event_line(event, delivery)
  local data = type(event.data) == "table" and event.data or {}
  return string.format("%s %s %s %s (webhook-id %s)", fmt.time(event.created_at), tostring(event.type),
    tostring(data.id or "-"), tostring(event.id), tostring(delivery.id))
end

local function forward(ctx, url, delivery)
  local core = require("openai.finetunes.core")
  ctx._forwarder = ctx._forwarder or core.new{ timeout = 30 }
  local headers = { ["Content-Type"] = "application/json" }
  for _, name in ipairs({ "webhook-id", "webhook-timestamp", "webhook-signature" }) do
    local v = delivery.headers[name]
    headers[name] = type(v) == "table" and table.concat(v, ", ") or v
  end
  local res, err = ctx._forwarder:request{ method = "POST", url = url, headers = headers, body = delivery.body }
  if not res then
    ctx:warn("forward to %s failed: %s", url, tostring(err.message or err.kind))
  elseif res.status < 200 or res.status > 299 then
    ctx:warn("forward to %s answered HTTP %d", url, res.status)
  end
end

-- The signing secret a receiver verifies with: the contents of `file` when given,
-- else `given`, else $OPENAI_WEBHOOK_SECRET; none is a usage error (`missing` says
-- what to do). Shared with cli/follow.lua (--webhook-port).
function M.signing_secret(ctx, file, given, missing)
  local secret = given or ctx.env("OPENAI_WEBHOOK_SECRET")
  if file then
    local f, err = io.open(file, "rb")
    if not f then ctx:exit(EXIT.failure, "cannot read " .. file .. ": " .. tostring(err)) end
    secret = (f:read("*a") or ""):match("^%s*(.-)%s*$")
    f:close()
  end
  if not secret or secret == "" then ctx:usage(missing) end
  return secret
end

local function listen(ctx)
  ctx:max_args(0)
  local o = ctx.opts
  local ft = require("openai.finetunes")
  local secret = M.signing_secret(ctx, o.secret_file, o.secret,
    "no signing secret: set OPENAI_WEBHOOK_SECRET, or give --secret-file FILE (or --secret)")
  local count, limit = 0, o.count
  local rx, err = ft.webhook_receiver{
    host = o.host or "127.0.0.1", port = o.port or 0, path = o.path, secret = secret,
    tolerance = o.tolerance,
    on_event = function(event, delivery)
      count = count + 1
      if ctx.json then
        ctx:print_json(event)
      else
        ctx:print(event_line(event, delivery), "\n")
      end
      ctx.stdout:flush()
      if o.forward then forward(ctx, o.forward, delivery) end
    end,
    on_refused = function(e) ctx:warn("refused a delivery (HTTP 400): %s", tostring(e)) end,
  }
  if not rx then ctx:exit(EXIT.failure, tostring(err)) end
  ctx:say("listening on %s (Ctrl-C to stop)", rx.url)
  if o.port_file then
    local f = io.open(o.port_file .. ".tmp", "wb")
    if f then
      f:write(rx.port, "\n")
      f:close()
      os.rename(o.port_file .. ".tmp", o.port_file)
    end
  end
  -- Ctrl-C raises "interrupted!" out of the wait (cli.main answers 130); SIGTERM ends
  -- the process as it does for every command
  while not limit or count < limit do
    rx:step(1)
  end
  rx:close()
  return EXIT.ok
end

M.commands = {
  {
    name = "list", summary = "list webhook endpoints",
    options = {
      { "--limit", "N", "show at most N endpoints (default 20)", type = "count", short = "-n" },
      { "--all", nil, "show every endpoint" },
    },
    run = function(ctx)
      ctx:max_args(0)
      local c = ctx:client()
      local limit, page = ctx:list_limit(20, 100)
      local items = ctx:collect(function() return c:each_webhook_endpoint{ limit = page } end, limit)
      if ctx.json then return ctx:print_json(items) end
      if #items == 0 then return ctx:say("no webhook endpoints") end
      ctx:print(fmt.render(COLUMNS, items))
    end,
  },
  {
    name = "get", synopsis = "ID", summary = "show a webhook endpoint",
    run = function(ctx)
      show(ctx, ctx:need(ctx:client():webhook_endpoint(endpoint_id(ctx))))
    end,
  },
  {
    name = "create", synopsis = "URL", summary = "register an endpoint (--events TYPE ...)",
    options = {
      { "--events", "TYPE", "event type to deliver (repeat, or comma-separated); see event-types", list = true },
      { "--name", "NAME", "a name for the endpoint (default openai-ft)" },
      SECRET_OPTIONS[1], SECRET_OPTIONS[2],
    },
    run = function(ctx)
      local url = ctx:arg(1, "endpoint URL")
      ctx:max_args(1)
      local events = event_list(ctx, true)
      check_secret_flags(ctx)
      local ep = ctx:need(ctx:client():create_webhook_endpoint{
        url = url, event_types = events, name = ctx.opts.name or "openai-ft" })
      show_with_secret(ctx, ep)
    end,
  },
  {
    name = "update", synopsis = "ID", summary = "change an endpoint's URL, events or name",
    options = {
      { "--url", "URL", "the new URL" },
      { "--events", "TYPE", "the complete new set of event types (repeat, or comma-separated)", list = true },
      { "--name", "NAME", "the new name" },
    },
    run = function(ctx)
      local id = endpoint_id(ctx)
      local body = { url = ctx.opts.url, event_types = event_list(ctx, false), name = ctx.opts.name }
      if next(body) == nil then ctx:usage("nothing to change: give --url, --events or --name") end
      show(ctx, ctx:need(ctx:client():update_webhook_endpoint(id, body)))
    end,
  },
  {
    name = "delete", synopsis = "ID", summary = "delete a webhook endpoint",
    run = function(ctx)
      local id = endpoint_id(ctx)
      local r = ctx:need(ctx:client():delete_webhook_endpoint(id))
      if ctx.json then return ctx:print_json(r) end
      ctx:print(string.format("deleted %s\n", r.id or id))
    end,
  },
  {
    name = "rotate", synopsis = "ID", summary = "rotate an endpoint's signing secret",
    options = {
      { "--keep-old", nil, "keep the previous secret valid for 24 hours" },
      SECRET_OPTIONS[1], SECRET_OPTIONS[2],
    },
    run = function(ctx)
      local id = endpoint_id(ctx)
      check_secret_flags(ctx)
      local ep = ctx:need(ctx:client():rotate_webhook_secret(id, {
        keep_old_secret_active_for_24_hours = ctx.opts.keep_old or nil }))
      show_with_secret(ctx, ep)
    end,
  },
  {
    name = "test", synopsis = "ID", summary = "send a sample event to an endpoint",
    options = {
      { "--event", "TYPE", "event type of the sample (default fine_tuning.job.succeeded)" },
    },
    run = function(ctx)
      local id = endpoint_id(ctx)
      local r = ctx:need(ctx:client():test_webhook_endpoint(id,
        { event_type = ctx.opts.event or "fine_tuning.job.succeeded" }))
      if ctx.json then return ctx:print_json(r) end
      ctx:print(string.format("%s answered HTTP %s to a %s test event\n", tostring(r.webhook_endpoint_id or id),
        tostring(r.status_code), tostring(r.event_type)))
      if type(r.status_code) == "number" and (r.status_code < 200 or r.status_code > 299) then
        return EXIT.failure
      end
    end,
  },
  {
    name = "event-types", summary = "list the event types an endpoint can subscribe to",
    run = function(ctx)
      ctx:max_args(0)
      local r = ctx:need(ctx:client():webhook_event_types())
      if ctx.json then return ctx:print_json(r.data or {}) end
      for _, t in ipairs(r.data or {}) do ctx:print(t, "\n") end
    end,
  },
  {
    name = "listen", summary = "run a local receiver: verify and print each event",
    description = "Run a webhook receiver on this machine (development): every delivery is verified with\n"
      .. "the signing secret ($OPENAI_WEBHOOK_SECRET, --secret-file or --secret), answered 200 when\n"
      .. "valid and 400 otherwise, and printed as one line (or one JSON document with --json).\n"
      .. "--forward URL also POSTs each verified delivery, headers and body unchanged, to URL.\n"
      .. "Runs until Ctrl-C (exit 130) or SIGTERM.",
    options = {
      { "--port", "N", "port to listen on (default 0: a free one, printed on stderr)", type = "count" },
      { "--host", "HOST", "address to listen on (default 127.0.0.1)" },
      { "--path", "PATH", "serve only this request path (default any)" },
      { "--forward", "URL", "POST each verified delivery on to URL" },
      { "--secret-file", "FILE", "read the signing secret from FILE" },
      { "--secret", "SECRET", "the signing secret (visible to other users in ps; prefer the others)" },
      { "--tolerance", "SECONDS", "accepted clock difference (default 300)", type = "number" },
      { "--count", "N", "exit after N events", type = "count" },
      { "--port-file", "FILE", "write the port to FILE once listening" },
    },
    run = listen,
  },
}

return M
