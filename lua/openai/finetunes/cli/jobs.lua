-- openai-ft jobs: list, create, get, cancel, pause, resume, events, checkpoints, follow,
-- wait, metrics.
local args = require("openai.finetunes.cli.args")
local fmt = require("openai.finetunes.cli.table")
local follow = require("openai.finetunes.cli.follow")
local context = require("openai.finetunes.cli.context")
local EXIT = context.EXIT

local M = { summary = "create, watch and manage fine-tuning jobs" }

local COLUMNS = {
  { "ID", "id" },
  { "STATUS", "status" },
  { "MODEL", "model" },
  { "CREATED", function(j) return fmt.time(j.created_at) end },
  { "FINE-TUNED MODEL", function(j) return j.fine_tuned_model or "-" end },
}

local FIELD_ORDER = { "id", "object", "status", "model", "fine_tuned_model", "training_file", "validation_file",
  "created_at", "finished_at", "estimated_finish", "trained_tokens", "error", "method", "hyperparameters",
  "result_files", "seed", "suffix", "metadata" }

local function show_job(ctx, job)
  if ctx.json then return ctx:print_json(job) end
  ctx:print(fmt.fields(job, FIELD_ORDER))
end

local function job_id(ctx)
  local id = ctx:arg(1, "job ID")
  ctx:max_args(1)
  return id
end

-- "auto" or a number (an integer when `integer`), for hyperparameters.
local function hyper(ctx, flag, v, integer)
  if v == nil or v == "auto" then return v end
  local n = tonumber(v)
  if not n or n <= 0 or (integer and n ~= math.floor(n)) then
    ctx:usage(string.format("%s must be 'auto' or %s, got '%s'", flag, integer and "a whole number > 0"
      or "a number > 0", v))
  end
  return integer and math.floor(n) or n
end

local function read_json_file(ctx, path)
  local f, err = io.open(path, "rb")
  if not f then ctx:exit(EXIT.failure, "cannot read " .. path .. ": " .. tostring(err)) end
  local text = f:read("*a")
  f:close()
  local v, jerr = require("openai.finetunes.codec").json_decode(text)
  if v == nil then ctx:usage(path .. " is not JSON: " .. tostring(jerr)) end
  return v
end

-- The create_job body from the command line. Shared with run.
function M.job_body(ctx, training_file, validation_file)
  local o = ctx.opts
  local body = {
    model = o.model, training_file = training_file, validation_file = validation_file, suffix = o.suffix,
    seed = o.seed,
  }
  local method = o.method or "supervised"
  local hp = {
    n_epochs = hyper(ctx, "--epochs", o.epochs, true),
    batch_size = hyper(ctx, "--batch-size", o.batch_size, true),
    learning_rate_multiplier = hyper(ctx, "--learning-rate-multiplier", o.learning_rate_multiplier),
    beta = hyper(ctx, "--beta", o.beta),
  }
  if hp.beta and method ~= "dpo" then ctx:usage("--beta is a DPO hyperparameter (add --method dpo)") end
  local section = {}
  if next(hp) then section.hyperparameters = hp end
  if o.grader then section.grader = read_json_file(ctx, o.grader) end
  if method == "reinforcement" and not section.grader then
    ctx:usage("--method reinforcement needs --grader FILE (the grader as JSON)")
  end
  if o.method or next(section) then body.method = { type = method, [method] = next(section) and section or nil } end
  if o.metadata then
    body.metadata = {}
    for _, kv in ipairs(o.metadata) do
      local k, v = kv:match("^([^=]+)=(.*)$")
      if not k then ctx:usage("--metadata takes KEY=VALUE, got '" .. kv .. "'") end
      body.metadata[k] = v
    end
  end
  return body
end

-- Options of job creation, shared with run.
M.CREATE_OPTIONS = {
  { "--model", "MODEL", "base model, e.g. gpt-4o-mini-2024-07-18 (required)" },
  { "--method", "METHOD", "supervised (default), dpo or reinforcement", type = "choice",
    choices = { "supervised", "dpo", "reinforcement" } },
  { "--suffix", "TEXT", "up to 64 characters added to the fine-tuned model's name" },
  { "--epochs", "N", "n_epochs: a number or auto" },
  { "--batch-size", "N", "batch_size: a number or auto" },
  { "--learning-rate-multiplier", "X", "learning_rate_multiplier: a number or auto" },
  { "--beta", "X", "DPO beta: a number or auto" },
  { "--grader", "FILE", "reinforcement: the grader, as a JSON file" },
  { "--seed", "N", "seed for reproducibility", type = "integer" },
  { "--metadata", "KEY=VALUE", "metadata pair (repeatable)", list = true },
}

local function with(list, ...)
  local out = {}
  for _, row in ipairs(list) do out[#out + 1] = row end
  for i = 1, select("#", ...) do
    for _, row in ipairs(select(i, ...)) do out[#out + 1] = row end
  end
  return out
end
M.with = with

-- Step metrics of a job: its result file once it has one, else the metrics events so far.
local function metrics_rows(ctx, id)
  local client = ctx:client()
  local rows, info = client:job_metrics(id)
  if rows then return rows, info.columns, "result file " .. tostring(info.file_id) end
  if not (info and info.kind == "no_result_file") then ctx:need(nil, info) end
  local events = ctx:collect(function() return client:each_event(id, { limit = 100 }) end)
  rows = {}
  for i = #events, 1, -1 do
    local e = events[i]
    if e.type == "metrics" and type(e.data) == "table" and e.data.step then rows[#rows + 1] = e.data end
  end
  table.sort(rows, function(a, b) return a.step < b.step end)
  local columns = {}
  for _, k in ipairs({ "step", "train_loss", "train_mean_token_accuracy", "valid_loss", "valid_mean_token_accuracy",
    "full_valid_loss", "full_valid_mean_token_accuracy", "train_mean_reward", "full_valid_mean_reward" }) do
    for _, r in ipairs(rows) do
      if r[k] ~= nil then
        columns[#columns + 1] = k
        break
      end
    end
  end
  return setmetatable(rows, require("openai.finetunes.codec").array_mt), columns, "metrics events"
end

local LOSS_SERIES = {
  { "train_loss", "train loss" }, { "valid_loss", "valid loss" }, { "full_valid_loss", "full valid loss" },
  { "train_mean_reward", "train reward" },
}

local function loss_series(rows)
  local series = {}
  for _, s in ipairs(LOSS_SERIES) do
    local pts = {}
    for _, r in ipairs(rows) do
      if type(r.step) == "number" and type(r[s[1]]) == "number" then pts[#pts + 1] = { r.step, r[s[1]] } end
    end
    if #pts > 0 then series[#series + 1] = { name = s[2], points = pts } end
  end
  return series
end
M.loss_series = loss_series

-- confirm: ask first (cancel cannot be undone: a cancelled job cannot be resumed)
local function simple(name, method, summary, verb, confirm)
  return {
    name = name, synopsis = "ID", summary = summary,
    options = confirm and { context.YES_OPTION } or nil,
    run = function(ctx)
      local id = job_id(ctx)
      if confirm then
        ctx:confirm(name .. " " .. id, function()
          return "will " .. name .. ":\n" .. fmt.fields(ctx:need(ctx:client():job(id)), FIELD_ORDER)
        end)
      end
      local job = ctx:need(ctx:client()[method](ctx:client(), id))
      if ctx.json then return ctx:print_json(job) end
      ctx:print(string.format("%s %s: %s\n", verb, job.id or id, tostring(job.status)))
    end,
  }
end

M.commands = {
  {
    name = "list", summary = "list jobs, newest first",
    options = {
      args.LIMIT(20, "jobs"), args.ALL("job"), args.AFTER("job"),
      { "--metadata", "KEY=VALUE", "only jobs with this metadata (repeatable)", list = true },
    },
    run = function(ctx)
      ctx:max_args(0)
      local limit, page = ctx:list_limit(20, 100)
      local query = { limit = page, after = ctx.opts.after }
      for _, kv in ipairs(ctx.opts.metadata or {}) do
        local k, v = kv:match("^([^=]+)=(.*)$")
        if not k then ctx:usage("--metadata takes KEY=VALUE, got '" .. kv .. "'") end
        query.metadata = query.metadata or {}
        query.metadata[k] = v
      end
      local client = ctx:client()
      local items, more = ctx:collect(function() return client:each_job(query) end, limit)
      if ctx.json then ctx:print_json(items) elseif #items == 0 then ctx:say("no jobs") else
        ctx:print(fmt.render(COLUMNS, items))
      end
      if more then ctx:more_hint("jobs", items[#items].id) end
    end,
  },
  {
    name = "create", summary = "create a fine-tuning job",
    description = "Create a fine-tuning job on an uploaded training file (see 'openai-ft run' to go from\n"
      .. "a local file to a model in one command).",
    options = with({
      { "--training-file", "ID", "the uploaded training file (required)" },
      { "--validation-file", "ID", "an uploaded validation file" },
      { "--follow", nil, "then follow the job like 'jobs follow'" },
    }, M.CREATE_OPTIONS, follow.OPTIONS),
    run = function(ctx)
      ctx:max_args(0)
      if not ctx.opts.model then ctx:usage("missing --model") end
      if not ctx.opts.training_file then ctx:usage("missing --training-file") end
      local client = ctx:client()
      local job = ctx:need(client:create_job(M.job_body(ctx, ctx.opts.training_file, ctx.opts.validation_file)))
      if not ctx.opts.follow then return show_job(ctx, job) end
      ctx:say("created %s", job.id)
      job = follow.follow(ctx, job.id)
      if not ctx.json then ctx:print("fine-tuned model: ", tostring(job.fine_tuned_model), "\n") end
    end,
  },
  {
    name = "get", synopsis = "ID", summary = "show a job",
    run = function(ctx)
      show_job(ctx, ctx:need(ctx:client():job(job_id(ctx))))
    end,
  },
  simple("cancel", "cancel_job", "cancel a job (asks first on a terminal; --yes does not)", "cancelled", true),
  simple("pause", "pause_job", "pause a running job", "paused"),
  simple("resume", "resume_job", "resume a paused job", "resumed"),
  {
    name = "events", synopsis = "ID", summary = "list a job's events (oldest first)",
    description = "List the events of job ID, oldest first (--json: as the API orders them, newest first).",
    options = {
      args.LIMIT(20, "events", "the N newest events"), args.ALL("event"),
    },
    run = function(ctx)
      local id = job_id(ctx)
      local limit, page = ctx:list_limit(20, 100)
      local client = ctx:client()
      local items, more = ctx:collect(function() return client:each_event(id, { limit = page }) end, limit)
      if ctx.json then
        ctx:print_json(items)
      elseif #items == 0 then
        return ctx:say("no events")
      else
        local rows = {}
        for i = #items, 1, -1 do rows[#rows + 1] = items[i] end
        ctx:print(fmt.render({
          { "TIME", function(e) return fmt.time(e.created_at) end },
          { "LEVEL", "level" },
          { "MESSAGE", "message" },
        }, rows))
      end
      -- shown oldest first: the older ones come with a larger --limit, not a cursor
      if more then ctx:more_hint("older events") end
    end,
  },
  {
    name = "checkpoints", synopsis = "ID", summary = "list a job's checkpoints",
    options = {
      args.LIMIT(10, "checkpoints"), args.ALL("checkpoint"), args.AFTER("checkpoint"),
    },
    run = function(ctx)
      local id = job_id(ctx)
      local limit, page = ctx:list_limit(10, 100)
      local client = ctx:client()
      local items, more = ctx:collect(function()
        return client:each_checkpoint(id, { limit = page, after = ctx.opts.after })
      end, limit)
      if ctx.json then
        ctx:print_json(items)
      elseif #items == 0 then
        return ctx:say("no checkpoints")
      else
        local function metric(k) return function(c) return type(c.metrics) == "table" and c.metrics[k] or nil end end
        ctx:print(fmt.render({
          { "STEP", "step_number", right = true },
          { "TRAIN LOSS", metric("train_loss"), right = true },
          { "VALID LOSS", metric("valid_loss"), right = true },
          { "CREATED", function(c) return fmt.time(c.created_at) end },
          { "CHECKPOINT MODEL", "fine_tuned_model_checkpoint" },
        }, items))
      end
      if more then ctx:more_hint("checkpoints", items[#items].id) end
    end,
  },
  {
    name = "follow", synopsis = "ID", summary = "print a job's events as they arrive, with a live loss line",
    description = "Print every event of job ID (its history first) as it arrives, until the job ends.\n"
      .. "On a terminal the training steps update one live line (step, progress, loss, sparkline);\n"
      .. "elsewhere each event is one line. --json prints the events as JSON lines, then the job.",
    exit_codes = "0 succeeded, 4 failed or cancelled, 5 --wait-timeout, 1 API failure",
    options = with({
      { "--steps", nil, "print every step as a line, also on a terminal" },
      { "--new", nil, "only events from now on, not the history" },
    }, follow.WAIT_OPTIONS),
    run = function(ctx)
      local id = job_id(ctx)
      local job = follow.follow(ctx, id, { history = not ctx.opts.new })
      if not ctx.json then ctx:print("fine-tuned model: ", tostring(job.fine_tuned_model), "\n") end
    end,
  },
  {
    name = "wait", synopsis = "ID", summary = "wait until a job ends; print its fine-tuned model",
    description = "Wait until job ID succeeds, fails or is cancelled; print the fine-tuned model\n"
      .. "(--json: the final job). Status changes go to stderr.",
    exit_codes = "0 succeeded, 4 failed or cancelled, 5 --wait-timeout, 1 API failure",
    options = follow.WAIT_OPTIONS,
    run = function(ctx)
      local id = job_id(ctx)
      local job = follow.follow(ctx, id, { events = false })
      if not ctx.json then ctx:print(tostring(job.fine_tuned_model), "\n") end
    end,
  },
  {
    name = "report", synopsis = "ID", summary = "a job as one self-contained HTML page (-o FILE)",
    description = "Write job ID as one HTML page: hyperparameters, status timeline and events, checkpoints\n"
      .. "with their metrics, loss and accuracy curves from the result file. No script, font or\n"
      .. "request: it opens offline, reads on a phone and prints.",
    options = { { "--output", "FILE", "where to write it (default ID.html)", short = "-o" } },
    run = function(ctx)
      local id = job_id(ctx)
      local out = ctx.opts.output or (id .. ".html")
      local data = ctx:need(ctx:client():job_report(id))
      local f, err = io.open(out, "wb")
      if not f then ctx:exit(EXIT.failure, "cannot write " .. out .. ": " .. tostring(err)) end
      f:write(require("openai.finetunes.cli.report_html").job(data))
      f:close()
      ctx:say("wrote %s (%d events, %d checkpoints, %d steps)", out, #data.events, #data.checkpoints, #data.metrics)
    end,
  },
  {
    name = "metrics", synopsis = "ID", summary = "a job's step metrics: table, --plot, --svg FILE",
    description = "Show the step metrics of job ID: from its result file once it has one (the CSV the\n"
      .. "API writes at the end), else from the metrics events so far. --plot draws the loss curves\n"
      .. "in the terminal; --svg FILE writes them as a standalone SVG chart.",
    options = {
      { "--plot", nil, "draw train/valid loss in the terminal (braille; ASCII outside a UTF-8 locale)" },
      { "--svg", "FILE", "write the loss chart to FILE as SVG" },
      { "--width", "COLS", "plot width in columns, labels included (default: the terminal's)", type = "count",
        min = 20 },
      { "--height", "ROWS", "plot height in rows (default 15)", type = "count" },
    },
    run = function(ctx)
      local id = job_id(ctx)
      local rows, columns, source = metrics_rows(ctx, id)
      local series = loss_series(rows)
      if ctx.opts.svg then
        local text = require("openai.finetunes.cli.svg").render(series, { title = id .. " loss", x_label = "step",
          y_label = "loss" })
        local f, err = io.open(ctx.opts.svg, "wb")
        if not f then ctx:exit(EXIT.failure, "cannot write " .. ctx.opts.svg .. ": " .. tostring(err)) end
        f:write(text)
        f:close()
        ctx:say("wrote %s (%d steps, from the %s)", ctx.opts.svg, #rows, source)
      end
      if ctx.json then return ctx:print_json(rows) end
      if ctx.opts.plot then
        local width = ctx.opts.width or ctx:width()
        local utf8 = ctx:utf8()
        local plot = require("openai.finetunes.cli.plot")
        ctx:print_styled(plot.render(series, { width = width, height = ctx.opts.height or 15,
          color = ctx:color_enabled(1), ascii = not utf8, x_label = "step",
          title = id .. (utf8 and " — " or " - ") .. "loss by step (" .. source .. ")" }))
      elseif not ctx.opts.svg then
        if #rows == 0 then return ctx:say("no metrics yet") end
        local cols = {}
        for _, c in ipairs(columns) do cols[#cols + 1] = { c:upper(), c, right = true } end
        ctx:print(fmt.render(cols, rows))
      end
    end,
  },
}

return M
