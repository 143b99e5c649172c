-- openai-ft run FILE --model M: raw file to fine-tuned model in one command.
--   validate -> upload (progress bar) -> wait until processed -> create the job ->
--   follow it (events, live loss line) -> print the fine-tuned model id.
-- Everything but the result goes to stderr, so MODEL=$(openai-ft run ...) works.
local files = require("openai.finetunes.cli.files")
local jobs = require("openai.finetunes.cli.jobs")
local follow = require("openai.finetunes.cli.follow")
local validate = require("openai.finetunes.cli.validate")
local EXIT = require("openai.finetunes.cli.context").EXIT

local M = {
  name = "run", synopsis = "FILE --model MODEL",
  summary = "validate, upload, train and follow: a local file to a fine-tuned model",
  description = "Go from a local training file to a fine-tuned model: validate FILE (stop with exit 3\n"
    .. "on errors), upload it (progress bar on a terminal), wait until the API has processed it,\n"
    .. "create the job, follow its events with a live loss line, and print the fine-tuned model's\n"
    .. "id on stdout (--json: the final job). Progress and events go to stderr. Ctrl-C stops\n"
    .. "following; the job goes on ('openai-ft jobs follow ID' to watch it again).\n"
    .. "With --state PATH every step is recorded in PATH as it is done; after a crash or Ctrl-C\n"
    .. "the same command continues: nothing uploaded twice, no second job, no event printed twice.",
  exit_codes = "0 model ready, 3 invalid data, 4 job failed or cancelled, 5 --wait-timeout, "
    .. "1 API failure, 2 usage error",
}

M.options = jobs.with({
  { "--validation-file", "FILE", "a local validation file (validated and uploaded too)" },
  { "--no-validate", nil, "skip the local check of the data" },
  { "--steps", nil, "print every training step as a line, also on a terminal" },
  { "--state", "PATH", "record each step in PATH; the same command again resumes from it" },
}, jobs.CREATE_OPTIONS, { validate.OPTIONS[3], validate.OPTIONS[4] }, -- --token-limit, --max-problems
  follow.WAIT_OPTIONS)

local function check(ctx, path)
  local report = validate.check(ctx, path)
  local name = path:match("([^/]+)$") or path
  if report.ok then
    ctx:say("%s: valid (%s): %s examples, ~%s tokens, %d warning%s", name, report.method,
      validate.thousands(report.examples), validate.thousands(report.estimated_tokens), report.warnings,
      report.warnings == 1 and "" or "s")
    for _, p in ipairs(report.problems) do
      ctx:say("%s:%s %s: %s%s", name, p.line > 0 and (p.line .. ":") or "", p.severity,
        p.path ~= "" and (p.path .. ": ") or "", p.message)
    end
    return report
  end
  validate.print_report(report, path, function(line) ctx:warn("%s", line) end)
  ctx:exit(EXIT.invalid_data, path .. " is not valid training data: nothing was uploaded "
    .. "(fix it, or pass --no-validate to let the API judge)")
end
M.check = check

-- The workflow's failures as exit codes: refused data 3, a state file we must not use 1
-- (its message says what differs and how to start fresh), the rest as usual.
function M.need(ctx, value, err)
  if value then return value end
  if type(err) == "table" and err.kind == "invalid_data" then
    ctx:exit(EXIT.invalid_data, tostring(err.message))
  end
  if type(err) == "table" and err.kind == "state" then
    ctx:exit(EXIT.failure, tostring(err.message))
  end
  return ctx:need(value, err)
end

-- on_step: the status lines of each step, saying which were found done.
function M.step_printer(ctx, state_path)
  return function(step, info)
    local name = info.path and (info.path:match("([^/]+)$") or info.path)
    if step == "inputs" and info.resumed then
      ctx:say("resuming from %s", state_path)
    elseif step == "validated" and info.resumed then
      ctx:say("%s: checked before, unchanged", name)
    elseif step == "uploaded" then
      ctx:say(info.resumed and "%s: uploaded before as %s" or "uploaded %s as %s", name, info.file_id)
    end
  end
end

function M.run(ctx)
  local path = ctx:arg(1, "FILE")
  ctx:max_args(1)
  if not ctx.opts.model then ctx:usage("missing --model (e.g. --model gpt-4o-mini-2024-07-18)") end
  local method = ctx.opts.method or "supervised"
  local body = jobs.job_body(ctx, nil) -- bad job options are usage errors before any upload
  local client = ctx:client()
  local wait_opts, finish = follow.printer(ctx, {
    write = function(line)
      if not ctx.quiet then ctx.stderr:write(line, "\n") end
    end,
    print_job = false,
    json_events = false,
  })
  local job_id
  local steps = M.step_printer(ctx, ctx.opts.state)
  local okc, job, err = pcall(client.run, client, {
    training_file = path, validation_file = ctx.opts.validation_file, job = body, state = ctx.opts.state,
    validate = not ctx.opts.no_validate and function(p) return check(ctx, p) end,
    upload = function(p) return files.upload(ctx, p, "fine-tune") end,
    on_step = function(step, info)
      steps(step, info)
      if step == "created" then
        job_id = info.job_id
        if info.resumed then
          ctx:say("following %s (created before)", job_id)
        else
          ctx:say("created %s (%s, %s)", job_id, tostring(info.job.model), method)
        end
      end
    end,
    on_event = wait_opts.on_event, on_status = wait_opts.on_status,
    poll_interval = wait_opts.poll_interval, timeout = wait_opts.timeout, events = wait_opts.events,
  })
  if okc and not job and type(err) == "table" and (err.kind == "invalid_data" or err.kind == "state") then
    M.need(ctx, job, err)
  end
  job = finish(okc, job, err, job_id)
  if ctx.json then
    ctx:print_json(job)
  else
    ctx:say("fine-tuned model ready (%s trained tokens):", tostring(job.trained_tokens or "?"))
    ctx:print(tostring(job.fine_tuned_model), "\n")
  end
  return EXIT.ok
end

return M
