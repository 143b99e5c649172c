-- openai-ft: a job or a sweep as one self-contained HTML page (jobs report, sweep --report).
-- No script, no font, no request: inline CSS and the SVG charts of svg.lua. The layout
-- folds to one column on a phone; print CSS keeps charts and tables whole on paper.
-- Every string from the server is escaped (svg.escape) before it reaches the page.
local svg = require("openai.finetunes.cli.svg")
local fmt = require("openai.finetunes.cli.table")

local M = {}

local esc = svg.escape
local format, concat = string.format, table.concat

M.CSS = [[
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #d9dde5; --accent: #1f77b4; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  color: var(--ink); background: #f6f7f9; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 16px 48px; }
header h1 { font-size: 1.5rem; margin: 0 0 4px; word-break: break-all; }
header p { margin: 0; color: var(--muted); }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px; margin: 16px 0; }
h2 { font-size: 1.1rem; margin: 0 0 12px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dt { color: var(--muted); } dd { margin: 0; word-break: break-all; }
.table { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
td.num, th.num { text-align: right; }
td.wrap { white-space: normal; word-break: break-word; min-width: 14em; }
tr.best td { background: #eef6ff; font-weight: 600; }
.status { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: .85rem; background: #e8eaef; }
.status-succeeded { background: #dff3e4; color: #17602b; }
.status-failed, .status-cancelled { background: #fde2e1; color: #8a1c17; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
figure { margin: 0; } figure svg { width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: .85rem; margin-top: 4px; }
ol.timeline { list-style: none; padding: 0; margin: 0; }
ol.timeline li { padding: 4px 0 4px 16px; border-left: 3px solid var(--accent); margin-left: 4px; }
.muted { color: var(--muted); }
@media (max-width: 600px) {
  main { padding: 12px 8px 32px; } section { padding: 12px; border-radius: 6px; }
  .charts { grid-template-columns: 1fr; } dl { grid-template-columns: 1fr; } dt { margin-top: 6px; }
  th, td { padding: 4px 6px; font-size: .85rem; }
}
@media print {
  body { background: #fff; font-size: 11pt; } main { max-width: none; padding: 0; }
  section { border: none; padding: 0; margin: 12pt 0; break-inside: avoid; }
  .charts { grid-template-columns: 1fr 1fr; } figure { break-inside: avoid; }
  .table { overflow: visible; } th, td { white-space: normal; padding: 3pt 4pt; }
  tr.best td { background: none; } a { color: inherit; text-decoration: none; }
}
]]

local function page(title, body)
  return concat({
    "<!DOCTYPE html>",
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>" .. esc(title) .. "</title>",
    "<style>" .. M.CSS .. "</style></head>",
    "<body><main>", body, "</main></body></html>", "",
  }, "\n")
end

local function num(v, digits)
  if type(v) ~= "number" then return "-" end
  return format("%." .. (digits or 4) .. "f", v)
end

local function text(v)
  if v == nil then return "-" end
  if type(v) == "table" and next(v) and v[1] == nil then -- metadata: k=v pairs, sorted
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    for i, k in ipairs(keys) do keys[i] = k .. "=" .. tostring(v[k]) end
    return concat(keys, ", ")
  end
  if type(v) == "table" then return require("openai.finetunes.codec").json_encode(v) end
  return tostring(v)
end

local function status_badge(s)
  local safe = tostring(s or "-"):gsub("[^%w_]", "")
  return format('<span class="status status-%s">%s</span>', safe, esc(s or "-"))
end

-- chart(kind, series, o): a figure holding one inline SVG chart, or nothing.
local function chart(kind, series, o)
  if #series == 0 then return "" end
  local doc = svg.render(series, o):gsub("^<%?xml[^\n]*\n", "")
  return format('<figure class="chart" data-chart="%s">%s<figcaption>%s</figcaption></figure>', esc(kind), doc,
    esc(o.caption or ""))
end

-- table_html(columns, rows, o): columns = { {title, getter(row) -> string, num = bool, wrap = bool} }
local function table_html(id, columns, rows, row_class)
  local out = { format('<div class="table"><table id="%s"><thead><tr>', esc(id)) }
  for _, c in ipairs(columns) do
    out[#out + 1] = format('<th%s>%s</th>', c.num and ' class="num"' or "", esc(c[1]))
  end
  out[#out + 1] = "</tr></thead><tbody>"
  for _, r in ipairs(rows) do
    local cls = row_class and row_class(r)
    out[#out + 1] = cls and format('<tr class="%s">', cls) or "<tr>"
    for _, c in ipairs(columns) do
      local v = c[2](r)
      local class = c.num and "num" or (c.wrap and "wrap" or nil)
      out[#out + 1] = format("<td%s>%s</td>", class and (' class="' .. class .. '"') or "",
        c.html and v or esc(v))
    end
    out[#out + 1] = "</tr>"
  end
  out[#out + 1] = "</tbody></table></div>"
  return concat(out)
end

local function section(id, title, inner)
  return format('<section id="%s"><h2>%s</h2>%s</section>', id, esc(title), inner)
end

local function series_of(rows, key, name)
  local pts = {}
  for _, r in ipairs(rows) do
    if type(r.step) == "number" and type(r[key]) == "number" then pts[#pts + 1] = { r.step, r[key] } end
  end
  return #pts > 0 and { name = name, points = pts } or nil
end

local function add(list, s) if s then list[#list + 1] = s end end

-- job(data) -> HTML. data = client:job_report(id): {job, events (oldest first),
-- checkpoints, metrics = rows | nil, metrics_source}
function M.job(data)
  local job = data.job
  local hp = type(job.method) == "table" and type(job.method[job.method.type]) == "table"
    and job.method[job.method.type].hyperparameters or job.hyperparameters or {}
  local parts = {}
  parts[#parts + 1] = format("<header><h1>Fine-tuning job %s</h1><p>%s %s</p></header>", esc(job.id),
    status_badge(job.status), esc(job.fine_tuned_model and ("→ " .. job.fine_tuned_model) or ""))
  local summary = {
    { "model", job.model }, { "fine-tuned model", job.fine_tuned_model },
    { "method", type(job.method) == "table" and job.method.type or "supervised" },
    { "training file", job.training_file }, { "validation file", job.validation_file },
    { "trained tokens", job.trained_tokens }, { "seed", job.seed }, { "suffix", job.user_provided_suffix },
    { "created", fmt.time(job.created_at) }, { "finished", fmt.time(job.finished_at) },
    { "duration", (type(job.finished_at) == "number" and type(job.created_at) == "number")
      and fmt.duration(job.finished_at - job.created_at) or nil },
    { "error", type(job.error) == "table" and job.error.message or nil },
    { "metadata", type(job.metadata) == "table" and next(job.metadata) and job.metadata or nil },
  }
  local dl = { '<dl id="summary-list">' }
  for _, kv in ipairs(summary) do
    if kv[2] ~= nil then dl[#dl + 1] = format("<dt>%s</dt><dd>%s</dd>", esc(kv[1]), esc(text(kv[2]))) end
  end
  dl[#dl + 1] = "</dl>"
  parts[#parts + 1] = section("summary", "Summary", concat(dl))

  local hrows = {}
  local names = {}
  for k in pairs(hp) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do hrows[#hrows + 1] = { k, hp[k] } end
  parts[#parts + 1] = section("hyperparameters", "Hyperparameters", #hrows == 0 and '<p class="muted">none</p>'
    or table_html("hyperparameters-table", { { "name", function(r) return r[1] end },
      { "value", function(r) return text(r[2]) end, num = true } }, hrows))

  local rows = data.metrics or {}
  local loss, acc = {}, {}
  add(loss, series_of(rows, "train_loss", "train loss"))
  add(loss, series_of(rows, "valid_loss", "valid loss"))
  add(loss, series_of(rows, "full_valid_loss", "full valid loss"))
  add(acc, series_of(rows, "train_accuracy", "train accuracy"))
  add(acc, series_of(rows, "train_mean_token_accuracy", "train accuracy"))
  add(acc, series_of(rows, "valid_mean_token_accuracy", "valid accuracy"))
  local charts = chart("loss", loss, { title = "loss", y_label = "loss", caption = #rows .. " steps, from the "
    .. tostring(data.metrics_source or "result file") }) .. chart("accuracy", acc, { title = "mean token accuracy",
    y_label = "accuracy", caption = "from the " .. tostring(data.metrics_source or "result file") })
  parts[#parts + 1] = section("curves", "Training curves", charts ~= "" and ('<div class="charts">' .. charts
    .. "</div>") or '<p class="muted">no step metrics yet</p>')

  local function metric(k) return function(c) return num(type(c.metrics) == "table" and c.metrics[k] or nil) end end
  parts[#parts + 1] = section("checkpoints", "Checkpoints", #data.checkpoints == 0 and
    '<p class="muted">no checkpoints</p>' or table_html("checkpoints-table", {
      { "step", function(c) return text(c.step_number) end, num = true },
      { "train loss", metric("train_loss"), num = true },
      { "valid loss", metric("valid_loss"), num = true },
      { "full valid loss", metric("full_valid_loss"), num = true },
      { "train accuracy", metric("train_mean_token_accuracy"), num = true },
      { "created", function(c) return fmt.time(c.created_at) end },
      { "checkpoint model", function(c) return text(c.fine_tuned_model_checkpoint) end, wrap = true },
    }, data.checkpoints))

  local timeline, others, metrics_events = {}, {}, 0
  for _, ev in ipairs(data.events) do
    if ev.type == "metrics" then
      metrics_events = metrics_events + 1
    else
      others[#others + 1] = ev
      local m = tostring(ev.message or "")
      if m:find("^Created") or m:find("validated") or m:find("started") or m:find("completed") or m:find("failed")
        or m:find("cancel") or m:find("paused") or m:find("resumed") or ev.level == "error" then
        timeline[#timeline + 1] = format("<li><time>%s</time> %s</li>", esc(fmt.time(ev.created_at)), esc(m))
      end
    end
  end
  parts[#parts + 1] = section("timeline", "Status timeline", #timeline == 0 and '<p class="muted">no events</p>'
    or ('<ol class="timeline">' .. concat(timeline) .. "</ol>"))
  parts[#parts + 1] = section("events", "Events", table_html("events-table", {
    { "time", function(e) return fmt.time(e.created_at) end },
    { "level", function(e) return text(e.level) end },
    { "message", function(e) return text(e.message) end, wrap = true },
  }, others) .. format('<p class="muted">%d metrics events are drawn in the charts above.</p>', metrics_events))
  return page("Fine-tuning job " .. tostring(job.id), concat(parts, "\n"))
end

-- sweep(result, o) -> HTML. result = client:sweep's; o.columns = cli/sweep.lua's table
-- columns, o.short_label(row) (the legend), o.model.
function M.sweep(result, o)
  local parts = {}
  local n_ok = 0
  for _, r in ipairs(result.jobs) do if r.status == "succeeded" then n_ok = n_ok + 1 end end
  parts[#parts + 1] = format("<header><h1>Sweep %s</h1><p>%s · %d jobs, %d succeeded%s</p></header>",
    esc(result.id), esc(o.model or ""), #result.jobs, n_ok,
    result.best and (" · best " .. esc(result.best) .. " by " .. esc(result.metric == "valid_loss"
      and "validation loss" or "training loss")) or "")
  local cols = {}
  for _, c in ipairs(o.columns) do
    local get = c[2]
    if type(get) == "string" then
      local key = get
      get = function(r) return text(r[key]) end
    end
    cols[#cols + 1] = { c[1] ~= "" and c[1] or "best", get, num = c.right }
  end
  parts[#parts + 1] = section("comparison", "Comparison", table_html("sweep-table", cols, result.jobs,
    function(r) return r.best and "best" or nil end))
  local loss, valid = {}, {}
  for _, r in ipairs(result.jobs) do
    local tpts, vpts = {}, {}
    for _, p in ipairs(r.curve or {}) do
      if type(p[2]) == "number" then tpts[#tpts + 1] = { p[1], p[2] } end
      if type(p[3]) == "number" then vpts[#vpts + 1] = { p[1], p[3] } end
    end
    local name = (o.short_label or o.label)(r) .. (r.best and " (best)" or "")
    if #tpts > 0 then loss[#loss + 1] = { name = name, points = tpts } end
    if #vpts > 0 then valid[#valid + 1] = { name = name, points = vpts } end
  end
  local charts = chart("train_loss", loss, { title = "training loss", y_label = "loss",
    caption = "one curve per job, from its result file" })
    .. chart("valid_loss", valid, { title = "validation loss", y_label = "loss",
      caption = "one curve per job, from its result file" })
  parts[#parts + 1] = section("curves", "Loss curves", charts ~= "" and ('<div class="charts">' .. charts
    .. "</div>") or '<p class="muted">no curves: no job has a result file</p>')
  return page("Sweep " .. tostring(result.id), concat(parts, "\n"))
end

return M
