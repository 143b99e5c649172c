-- openai-ft sweep FILE --model M --grid n_epochs=2,3,4 --grid learning_rate_multiplier=0.5,1,2:
-- one job per grid point on data validated and uploaded once (client:sweep), followed
-- from this process; at the end a table (the best job marked), the loss curves overlaid,
-- --json, --svg FILE and --report FILE (one self-contained HTML page).
local files = require("openai.finetunes.cli.files")
local jobs = require("openai.finetunes.cli.jobs")
local run = require("openai.finetunes.cli.run")
local fmt = require("openai.finetunes.cli.table")
local validate = require("openai.finetunes.cli.validate")
local EXIT = require("openai.finetunes.cli.context").EXIT

local M = {
  name = "sweep", synopsis = "FILE --model MODEL --grid NAME=V1,V2,... [--grid ...]",
  summary = "one job per hyperparameter combination; compare them in a table, a plot and a report",
  description = "Validate and upload FILE once, then create one job per point of the grid (every\n"
    .. "combination of the --grid values; e.g. --grid n_epochs=2,3,4 --grid\n"
    .. "learning_rate_multiplier=0.5,1,2 is 9 jobs), at most --max-active at once: a job the API\n"
    .. "refuses for its active-job limit waits for a free slot. All jobs are polled together.\n"
    .. "Each job carries metadata openai_ft_sweep=<id>. At the end: a table (the best job by\n"
    .. "validation loss, or training loss without --validation-file, marked *), the loss curves\n"
    .. "overlaid, --json (one document), --svg FILE, --report FILE (HTML). With --state PATH a\n"
    .. "killed sweep resumes: no file uploaded twice, no job created twice.",
  exit_codes = "0 every job succeeded, 4 some job failed or was cancelled, 3 invalid data, "
    .. "1 API failure, 2 usage error (a bad --grid)",
}

M.options = jobs.with({
  { "--grid", "NAME=V1,V2", "a hyperparameter and its values (repeatable): n_epochs, batch_size, "
    .. "learning_rate_multiplier, beta (dpo)", list = true },
  { "--validation-file", "FILE", "a local validation file (validated and uploaded too)" },
  { "--max-active", "K", "at most K jobs active at once (default 3)", type = "count" },
  { "--max-jobs", "N", "refuse a grid of more than N points (default 100)", type = "count" },
  { "--state", "PATH", "record each step in PATH; the same command again resumes from it" },
  { "--price", "USD", "training price per 1M tokens, for the cost column (trained tokens x price)",
    type = "number" },
  { "--report", "FILE", "write the comparison as one self-contained HTML page" },
  { "--svg", "FILE", "write the overlaid loss curves as SVG" },
  { "--no-validate", nil, "skip the local check of the data" },
  { "--poll-interval", "SECONDS", "seconds between polls of the active jobs (default 5)", type = "number" },
}, jobs.CREATE_OPTIONS, { validate.OPTIONS[3], validate.OPTIONS[4] })

local function num(v, digits)
  if type(v) ~= "number" then return "-" end
  return string.format("%." .. (digits or 4) .. "f", v)
end

local function hp_value(v)
  if type(v) == "number" then return (string.format("%.6g", v)) end
  return tostring(v)
end

-- The names of the grid, in grid order, from the first row.
local function grid_names(grid)
  local names = {}
  for _, entry in ipairs(grid) do names[#names + 1] = entry[1] end
  return names
end

M.SHORT = { n_epochs = "EPOCHS", batch_size = "BATCH", learning_rate_multiplier = "LR MULT", beta = "BETA" }

function M.cost(row, price)
  if not price or type(row.trained_tokens) ~= "number" then return nil end
  return row.trained_tokens * price / 1e6
end

function M.columns(names, price)
  local cols = {
    { "", function(r) return r.best and "*" or "" end },
    { "#", function(r) return tostring(r.index) end, right = true },
    { "JOB", function(r) return r.id or "-" end },
    { "STATUS", "status" },
  }
  for _, n in ipairs(names) do
    cols[#cols + 1] = { M.SHORT[n] or n:upper(), function(r) return hp_value(r.hyperparameters[n]) end, right = true }
  end
  for _, c in ipairs({
    { "TRAIN LOSS", function(r) return num(r.train_loss) end, right = true },
    { "VALID LOSS", function(r) return num(r.valid_loss) end, right = true },
    { "ACCURACY", function(r) return num(r.train_mean_token_accuracy, 3) end, right = true },
    { "TOKENS", function(r) return type(r.trained_tokens) == "number" and validate.thousands(r.trained_tokens)
      or "-" end, right = true },
    { "COST", function(r)
      local c = M.cost(r, price)
      return c and string.format("$%.2f", c) or "-"
    end, right = true },
    { "DURATION", function(r) return r.duration and fmt.duration(r.duration) or "-" end, right = true },
    { "MODEL / ERROR", function(r) return r.fine_tuned_model or (r.error and ("error: " .. r.error)) or "-" end },
  }) do cols[#cols + 1] = c end
  return cols
end

-- label(row, names): "#3 n_epochs=2 learning_rate_multiplier=0.5"; short: "#3 epochs=2 lr=0.5"
-- (chart legends).
M.LEGEND = { n_epochs = "epochs", batch_size = "batch", learning_rate_multiplier = "lr", beta = "beta" }
function M.label(row, names, short)
  local parts = { "#" .. row.index }
  for _, n in ipairs(names) do
    parts[#parts + 1] = (short and M.LEGEND[n] or n) .. "=" .. hp_value(row.hyperparameters[n])
  end
  return table.concat(parts, " ")
end

-- One series per job: its validation loss where it has one, else its training loss.
function M.series(rows, names, metric)
  local out = {}
  local col = metric == "valid_loss" and 3 or 2
  for _, r in ipairs(rows) do
    local pts = {}
    for _, p in ipairs(r.curve or {}) do
      if type(p[col]) == "number" then pts[#pts + 1] = { p[1], p[col] } end
    end
    if #pts > 0 then
      out[#out + 1] = { name = M.label(r, names, true) .. (r.best and " (best)" or ""), points = pts }
    end
  end
  return out
end

-- The --json document: {"jobs": [...], "best": id, ...}; curves left out.
function M.document(result, price)
  local codec = require("openai.finetunes.codec")
  local list = setmetatable({}, codec.array_mt)
  for _, r in ipairs(result.jobs) do
    list[#list + 1] = {
      index = r.index, id = r.id or codec.null, status = r.status, hyperparameters = r.hyperparameters,
      train_loss = r.train_loss, valid_loss = r.valid_loss, train_mean_token_accuracy = r.train_mean_token_accuracy,
      valid_mean_token_accuracy = r.valid_mean_token_accuracy, trained_tokens = r.trained_tokens,
      estimated_cost = M.cost(r, price), duration = r.duration, fine_tuned_model = r.fine_tuned_model,
      error = r.error, best = r.best == true,
    }
  end
  return { sweep = result.id, jobs = list, best = result.best or codec.null, metric = result.metric }
end

local function write_file(ctx, path, text)
  local f, err = io.open(path, "wb")
  if not f then ctx:exit(EXIT.failure, "cannot write " .. path .. ": " .. tostring(err)) end
  f:write(text)
  f:close()
end

function M.run(ctx)
  local path = ctx:arg(1, "FILE")
  ctx:max_args(1)
  local o = ctx.opts
  if not o.model then ctx:usage("missing --model (e.g. --model gpt-4o-mini-2024-07-18)") end
  if not o.grid or #o.grid == 0 then ctx:usage("missing --grid (e.g. --grid n_epochs=2,3,4)") end
  local sweep = require("openai.finetunes.workflow.sweep")
  local grid = {}
  for _, text in ipairs(o.grid) do
    local name, values = sweep.parse_grid_arg(text)
    if not name then ctx:usage(values) end
    grid[#grid + 1] = { name, values }
  end
  local body = jobs.job_body(ctx, nil)
  -- the grid is checked before anything is read or sent
  local points, gerr = sweep.points(grid, body, o.max_jobs or sweep.DEFAULT_MAX_JOBS)
  if not points then
    ctx:usage(tostring(gerr.message):gsub("max_jobs = (%d+) allows %(raise it", "--max-jobs %1 allows (raise it"))
  end
  local names = grid_names(grid)
  local client = ctx:client()
  local steps = run.step_printer(ctx, o.state)
  local okc, result, err = pcall(client.sweep, client, {
    training_file = path, validation_file = o.validation_file, job = body, state = o.state, grid = grid,
    max_active = o.max_active, max_jobs = o.max_jobs, poll_interval = o.poll_interval,
    validate = not o.no_validate and function(p) return run.check(ctx, p) end,
    upload = function(p) return files.upload(ctx, p, "fine-tune") end,
    on_step = function(step, info)
      steps(step, info)
      if step == "inputs" and not info.resumed then
        ctx:say("sweep %s: %d job%s, at most %d active", info.id, info.points, info.points == 1 and "" or "s",
          o.max_active or sweep.DEFAULT_MAX_ACTIVE)
      end
    end,
    on_status = function(point, new, old)
      ctx:say("%s %s: %s%s", M.label(point, names), point.id or "-", old and (old .. " -> ") or "", new)
    end,
    on_queued = function(point, e)
      ctx:say("#%d waits for a free slot (%s)", point.index, tostring(e.message or e))
    end,
  })
  if not okc then
    if tostring(result):find("interrupted!", 1, true) then
      ctx:exit(EXIT.interrupted, "interrupted: the sweep's jobs keep running on the server ("
        .. (o.state and "run the same command to follow them again" or "'openai-ft jobs list --metadata "
        .. "openai_ft_sweep=ID' lists them") .. ")")
    end
    error(result, 0)
  end
  run.need(ctx, result, err)

  local rows = result.jobs
  if ctx.json then
    ctx:print_json(M.document(result, o.price))
  else
    ctx:print(fmt.render(M.columns(names, o.price), rows))
    if result.best then
      ctx:print(string.format("* best: %s (lowest %s)\n", result.best,
        result.metric == "valid_loss" and "validation loss" or "training loss"))
    end
  end
  local series = M.series(rows, names, result.metric)
  local ylabel = result.metric == "valid_loss" and "validation loss" or "training loss"
  if not ctx.json and #series > 0 then
    local utf8 = ctx:utf8()
    ctx:print(require("openai.finetunes.cli.plot").render(series, {
      width = math.max(20, ctx:width() - 12), height = 15, color = ctx:color_enabled(1), ascii = not utf8,
      x_label = "step", title = "sweep " .. result.id .. (utf8 and " — " or " - ") .. ylabel .. " by step" }))
  end
  if o.svg then
    write_file(ctx, o.svg, require("openai.finetunes.cli.svg").render(series, {
      title = "sweep " .. result.id .. " " .. ylabel, x_label = "step", y_label = ylabel }))
    ctx:say("wrote %s (%d curves)", o.svg, #series)
  end
  if o.report then
    local html = require("openai.finetunes.cli.report_html").sweep(result, {
      names = names, price = o.price, model = o.model, short_label = function(r) return M.label(r, names, true) end,
      columns = M.columns(names, o.price),
    })
    write_file(ctx, o.report, html)
    ctx:say("wrote %s", o.report)
  end
  for _, r in ipairs(rows) do
    if r.status ~= "succeeded" then return EXIT.job_failed end
  end
  return EXIT.ok
end

return M
