-- openai-ft: follow a job to its end (jobs follow, jobs wait, run) on client:wait_for_job.
--
-- Events are printed once each, oldest first, as they arrive. On a terminal the metrics
-- events ("Step 12/100: training loss=0.83") feed one live line, redrawn in place:
--   step 37/96 ███████░░░░░░░░  38%  train loss 0.812 ▇▆▅▄▄▃  valid 0.901  0:12
-- (--steps prints them as lines too); elsewhere every event is a line. With --json the
-- events are JSON lines and the final job the last line.
local fmt = require("openai.finetunes.cli.table")
local progress = require("openai.finetunes.cli.progress")
local EXIT = require("openai.finetunes.cli.context").EXIT
local one_line = require("openai.finetunes.errors").one_line

local M = {}

-- Options every following command accepts.
M.OPTIONS = {
  { "--poll-interval", "SECONDS", "seconds between status polls (default 2)", type = "number" },
  { "--wait-timeout", "SECONDS", "give up waiting after SECONDS (exit 5; the job goes on)", type = "number" },
}

-- jobs follow / jobs wait: also the job's end from a webhook instead of polls.
M.WAIT_OPTIONS = {
  M.OPTIONS[1], M.OPTIONS[2],
  { "--webhook-port", "N", "no polling: take the job's final webhook event on 127.0.0.1:N (secret: "
    .. "$OPENAI_WEBHOOK_SECRET or --webhook-secret-file); events are not printed", type = "count" },
  { "--webhook-secret-file", "FILE", "the webhook signing secret, for --webhook-port" },
}

-- --webhook-port: a receiver for wait_for_job{events = ...}, or nil.
local function webhook_receiver(ctx)
  local o = ctx.opts
  if not o.webhook_port then return nil end
  local secret = require("openai.finetunes.cli.webhooks").signing_secret(ctx, o.webhook_secret_file, nil,
    "--webhook-port needs the signing secret: set OPENAI_WEBHOOK_SECRET or give --webhook-secret-file")
  local rx, err = require("openai.finetunes").webhook_receiver{ port = o.webhook_port, secret = secret }
  if not rx then ctx:exit(EXIT.failure, tostring(err)) end
  ctx:say("waiting for the job's webhook on %s", rx.url)
  return rx
end

M.DEFAULT_POLL_INTERVAL = 2

local function loss(v)
  return type(v) == "number" and string.format("%.3f", v) or nil
end

-- The live line for the latest metrics.
local function live_text(state, utf8, started)
  local d = state.data
  local parts = {}
  local step, total = d.step, d.total_steps
  if step then
    parts[#parts + 1] = total and string.format("step %d/%d", step, total) or string.format("step %d", step)
    if total and total > 0 then
      parts[#parts + 1] = progress.bar(step, total, 16, utf8) .. string.format(" %3d%%", math.floor(100 * step / total))
    end
  end
  if loss(d.train_loss) then
    local spark = progress.sparkline(state.losses, 12, utf8)
    parts[#parts + 1] = "train loss " .. loss(d.train_loss) .. (spark ~= "" and (" " .. spark) or "")
  end
  local valid = loss(d.full_valid_loss) or loss(state.last_valid)
  if valid then parts[#parts + 1] = "valid " .. valid end
  if loss(d.train_mean_reward) then parts[#parts + 1] = "reward " .. loss(d.train_mean_reward) end
  parts[#parts + 1] = fmt.duration(require("openai.finetunes.core").now() - started)
  return table.concat(parts, "  ")
end

-- One line per event: the server's message on one line and bounded (the
-- --json output has it whole).
local function event_line(ev)
  return string.format("%s  %-5s  %s", os.date("%H:%M:%S", math.floor(tonumber(ev.created_at) or 0)),
    one_line(ev.level or "info", 20), one_line(ev.message or "", 2000))
end

-- printer(ctx, o) -> wait_opts, finish. wait_opts: the on_event / on_status / poll
-- options of client:wait_for_job (client:run takes the same); finish(okc, job, err, id)
-- ends the live line and maps the outcome of a pcall'd wait to exit codes (below).
-- o: history (default true: the events from before too), events = false (none: jobs
-- wait), write(line) (where event lines go; default stdout), json_events = false (with
-- --json, events as lines through write, not JSON), print_job = false (with --json, do
-- not print the final job).
function M.printer(ctx, o)
  o = o or {}
  local write = o.write or function(line) ctx:print(line, "\n") end
  local live = progress.live(ctx)
  local steps_as_lines = ctx.opts.steps or not live.on
  local state = { data = {}, losses = {} }
  local started = require("openai.finetunes.core").now()
  local rx = webhook_receiver(ctx)
  local quiet_events = o.events == false or rx ~= nil

  local function print_line(line)
    live:clear()
    write(line)
    live:redraw()
  end

  local wait_opts = {
    history = (not rx) and o.history ~= false or nil,
    events = rx,
    -- with a receiver, only an explicit --poll-interval polls (a fallback)
    poll_interval = ctx.opts.poll_interval or (not rx and M.DEFAULT_POLL_INTERVAL or nil),
    timeout = ctx.opts.wait_timeout,
    on_event = (not quiet_events) and function(ev)
      if ctx.json and o.json_events ~= false then
        ctx:print_json(ev)
        return
      end
      if ev.type == "metrics" and type(ev.data) == "table" then
        state.data = ev.data
        if type(ev.data.train_loss) == "number" then state.losses[#state.losses + 1] = ev.data.train_loss end
        if type(ev.data.valid_loss) == "number" then state.last_valid = ev.data.valid_loss end
        if not steps_as_lines then
          live:set(live_text(state, live.utf8, started))
          return
        end
      end
      print_line(event_line(ev))
    end or nil,
    on_status = function(new, old)
      if old ~= nil then ctx:say("status: %s -> %s", old, new) else ctx:say("status: %s", new) end
    end,
  }

  -- Stops the command with the right exit code when the job fails, is cancelled, the
  -- wait times out or the API fails; returns the job only when it succeeded.
  local function finish(okc, job, err, id)
    live:done(live.text ~= nil) -- the last loss line stays on screen
    if rx then rx:close() end
    if not okc then
      if tostring(job):find("interrupted!", 1, true) then
        if not id then ctx:exit(EXIT.interrupted, "interrupted") end
        ctx:exit(EXIT.interrupted, string.format("interrupted: %s keeps running on the server ('openai-ft jobs "
          .. "follow %s' to watch it again, 'openai-ft jobs cancel %s' to stop it)", id, id, id))
      end
      error(job, 0)
    end
    if not job then
      if err and err.code == "wait_timeout" then
        ctx:exit(EXIT.timeout, string.format("%s is still %s after %.0f s (it goes on; "
          .. "'openai-ft jobs follow %s' to watch again)", id, err.job and err.job.status or "running",
          err.waited or 0, id))
      end
      ctx:need(nil, err)
    end
    if ctx.json and o.print_job ~= false then ctx:print_json(job) end
    if job.status ~= "succeeded" then
      local why = job.error and job.error.message
      ctx:exit(EXIT.job_failed, string.format("job %s %s%s", job.id, job.status, why and (": " .. why) or ""))
    end
    return job
  end
  return wait_opts, finish
end

-- follow(ctx, job_id, o) -> job (final), o as for printer.
function M.follow(ctx, id, o)
  local wait_opts, finish = M.printer(ctx, o)
  local client = ctx:client()
  local okc, job, err = pcall(client.wait_for_job, client, id, wait_opts)
  return finish(okc, job, err, id)
end

return M
