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
    .. "following; the job goes on ('openai-ft jobs follow ID' to watch it again).",
  exit_codes = "0 model ready, 3 invalid data, 4 job failed or cancelled, 5 --wait-timeout, "
    .. "1 API failure, 2 usage error",
}

M.options = jobs.with({
  { "--validation-file", "FILE", "a local validation file (validated and uploaded too)" },
  { "--no-validate", nil, "skip the local check of the data" },
  { "--steps", nil, "print every training step as a line, also on a terminal" },
}, jobs.CREATE_OPTIONS, { validate.OPTIONS[3], validate.OPTIONS[4] }, follow.OPTIONS) -- --token-limit, --max-problems

local function check(ctx, path)
  if ctx.opts.no_validate then return end
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
    return
  end
  validate.print_report(report, path, function(line) ctx:warn("%s", line) end)
  ctx:exit(EXIT.invalid_data, path .. " is not valid training data: nothing was uploaded "
    .. "(fix it, or pass --no-validate to let the API judge)")
end

local function upload(ctx, path)
  local file = files.upload(ctx, path, "fine-tune")
  ctx:say("uploaded %s as %s", path:match("([^/]+)$") or path, file.id)
  return files.wait_processed(ctx, file)
end

function M.run(ctx)
  local path = ctx:arg(1, "FILE")
  ctx:max_args(1)
  if not ctx.opts.model then ctx:usage("missing --model (e.g. --model gpt-4o-mini-2024-07-18)") end
  local method = ctx.opts.method or "supervised"
  jobs.job_body(ctx, "file-pending") -- bad job options are usage errors before any upload

  check(ctx, path)
  if ctx.opts.validation_file then check(ctx, ctx.opts.validation_file) end
  local client = ctx:client()
  local train = upload(ctx, path)
  local valid = ctx.opts.validation_file and upload(ctx, ctx.opts.validation_file) or nil
  local job = ctx:need(client:create_job(jobs.job_body(ctx, train.id, valid and valid.id)))
  ctx:say("created %s (%s, %s)", job.id, tostring(job.model), method)
  job = follow.follow(ctx, job.id, {
    history = true,
    write = function(line)
      if not ctx.quiet then ctx.stderr:write(line, "\n") end
    end,
    print_job = false,
    json_events = false,
  })
  if ctx.json then
    ctx:print_json(job)
  else
    ctx:say("fine-tuned model ready (%s trained tokens):", tostring(job.trained_tokens or "?"))
    ctx:print(tostring(job.fine_tuned_model), "\n")
  end
  return EXIT.ok
end

return M
