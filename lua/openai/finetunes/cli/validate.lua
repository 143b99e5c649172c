-- openai-ft validate FILE: check training data before upload (ft.validate_training_file).
local EXIT = require("openai.finetunes.cli.context").EXIT

local M = {
  name = "validate", synopsis = "FILE",
  summary = "check a training file (JSONL) against OpenAI's formats, offline",
  description = "Check every line of FILE against the fine-tuning format of --method (supervised chat,\n"
    .. "DPO or reinforcement) and print each problem as FILE:LINE: severity: path: message,\n"
    .. "then a summary (examples, messages, characters, estimated tokens, epochs and billed\n"
    .. "tokens of n_epochs=auto). Needs no API key and no network.",
  exit_codes = "0 valid (warnings allowed), 3 errors found, 2 usage error, 1 unreadable file",
}

M.OPTIONS = {
  { "--method", "METHOD", "supervised (default), dpo or reinforcement", type = "choice",
    choices = { "supervised", "dpo", "reinforcement" } },
  { "--model", "MODEL", "base model: sets the per-example token limit" },
  { "--token-limit", "N", "tokens per example above which it is truncated (default 65536)", type = "count" },
  { "--max-problems", "N", "show at most N problems (default 50; all are counted)", type = "count" },
}
M.options = M.OPTIONS

local function thousands(n)
  local s = string.format("%d", n)
  local out = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""))
end
M.thousands = thousands

-- check(ctx, path, opts) -> report; misuse (no such file) becomes exit 1 with the reason.
function M.check(ctx, path, method)
  local ft = require("openai.finetunes")
  local misuse = require("openai.finetunes.misuse")
  local ok, report, err = misuse.capture(ft.validate_training_file, path, {
    method = method or ctx.opts.method, model = ctx.opts.model, token_limit = ctx.opts.token_limit,
    max_problems = ctx.opts.max_problems or 50,
  })
  if not ok then
    if not misuse.is_misuse(report) then error(report, 0) end
    ctx:exit(EXIT.failure, report.problem)
  end
  return ctx:need(report, err)
end

-- print(report, path, write): the problems, then the summary.
function M.print_report(report, path, write)
  for _, p in ipairs(report.problems) do
    write(string.format("%s:%s %s: %s%s", path, p.line > 0 and (p.line .. ":") or "", p.severity,
      p.path ~= "" and (p.path .. ": ") or "", p.message))
  end
  local total = report.errors + report.warnings
  if total > #report.problems then
    write(string.format("... and %d more problem%s not shown (--max-problems N)", total - #report.problems,
      total - #report.problems == 1 and "" or "s"))
  end
  write(string.format("%s: %s (%s): %d error%s, %d warning%s", path, report.ok and "valid" or "invalid", report.method,
    report.errors, report.errors == 1 and "" or "s", report.warnings, report.warnings == 1 and "" or "s"))
  write(string.format("  examples           %s", thousands(report.examples)))
  write(string.format("  messages           %s (%s from the assistant)", thousands(report.messages),
    thousands(report.assistant_messages)))
  write(string.format("  characters         %s", thousands(report.characters)))
  write(string.format("  estimated tokens   ~%s (largest example ~%s; limit %s, %d over)",
    thousands(report.estimated_tokens), thousands(report.max_example_tokens), thousands(report.token_limit),
    report.over_token_limit))
  write(string.format("  n_epochs=auto      %d epochs, ~%s billed tokens", report.estimated_epochs,
    thousands(report.estimated_billed_tokens)))
end

function M.run(ctx)
  local path = ctx:arg(1, "FILE")
  ctx:max_args(1)
  local report = M.check(ctx, path)
  if ctx.json then
    setmetatable(report.problems, require("openai.finetunes.codec").array_mt)
    ctx:print_json(report)
  else
    M.print_report(report, path, function(line) ctx:print(line, "\n") end)
  end
  return report.ok and EXIT.ok or EXIT.invalid_data
end

return M
