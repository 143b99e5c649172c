-- Check a training file before uploading it: every line against OpenAI's fine-tuning
-- format for the method, each problem with its line number and place in the line, and
-- a summary (examples, messages, estimated tokens, what n_epochs = "auto" would bill).
-- `openai-ft validate FILE` prints the same.
--
--   lua5.4 examples/validate_data.lua                      examples/data/train.jsonl
--   lua5.4 examples/validate_data.lua my.jsonl dpo         supervised | dpo | reinforcement
--
-- Needs no API key and no network. Exits 1 when the file has errors (warnings are fine).
local ft = require("openai.finetunes")

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local path = arg and arg[1] or here .. "/data/train.jsonl"
local method = arg and arg[2] or "supervised"

-- A path that cannot be opened or a bad option raises; a read error half-way returns nil, err.
local report, err = ft.validate_training_file(path, { method = method, max_problems = 20 })
if not report then error(tostring(err)) end

for _, p in ipairs(report.problems) do
  -- line 0 is the file as a whole (e.g. fewer than 10 examples)
  print(string.format("%s:%d: %s: %s%s", path, p.line, p.severity, p.path ~= "" and (p.path .. ": ") or "",
    p.message))
end
if report.errors + report.warnings > #report.problems then
  print(string.format("(%d more not shown)", report.errors + report.warnings - #report.problems))
end

print(string.format("%s: %s %s data, %d errors, %d warnings", path, report.ok and "valid" or "INVALID", report.method,
  report.errors, report.warnings))
print(string.format("  %d examples, %d messages (%d assistant), %d characters", report.examples, report.messages,
  report.assistant_messages, report.characters))
print(string.format("  ~%d tokens (largest example ~%d, %d over the %d-token limit)", report.estimated_tokens,
  report.max_example_tokens, report.over_token_limit, report.token_limit))
print(string.format("  n_epochs=auto: %d epochs, ~%d billed tokens", report.estimated_epochs,
  report.estimated_billed_tokens))

os.exit(report.ok and 0 or 1)
