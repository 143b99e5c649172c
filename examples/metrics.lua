-- Print a fine-tuning job's step metrics (loss and accuracy per step) from its
-- result file. `openai-ft jobs metrics ID --plot` draws the same as a chart.
--
--   OPENAI_API_KEY=sk-... lua5.4 examples/metrics.lua [ftjob-...]
--   lua5.4 examples/run-with-fake-server.lua examples/metrics.lua
--
-- Without a job id: the newest succeeded job, or (none yet) a job fine-tuned
-- on examples/data/train.jsonl first.
local ft = require("openai.finetunes")

local poll = tonumber(os.getenv("POLL_INTERVAL") or "") or 5
local client = ft.new{ raise = true }

local job_id = arg and arg[1]
if not job_id then
  for job, err in client:each_job() do
    if not job then error(err) end
    if job.status == "succeeded" then
      job_id = job.id
      break
    end
  end
end
if not job_id then
  local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
  local file = client:upload_file{ file = here .. "/data/train.jsonl", purpose = "fine-tune" }
  client:wait_for_file(file.id, { poll_interval = poll })
  local job = client:create_job{ model = "gpt-4o-mini-2024-07-18", training_file = file.id }
  job_id = client:wait_for_job(job.id, { poll_interval = poll }).id
end

-- rows: one table per step, keyed by the file's columns; empty cells are nil
local rows, info = client:job_metrics(job_id)
print(string.format("job %s: %d steps, columns %s (%s result file %s)", job_id, #rows,
  table.concat(info.columns, ","), info.encoding, info.file_id))

local function cell(v) return v and string.format("%10.4f", v) or string.format("%10s", "-") end
print(string.format("%6s %10s %10s %10s %10s", "step", "loss", "accuracy", "val loss", "val acc"))
local every = math.max(1, math.floor(#rows / 10)) -- about ten lines, and the last step
local best
for i, r in ipairs(rows) do
  if i % every == 0 or i == 1 or i == #rows then
    print(string.format("%6d %s %s %s %s", r.step, cell(r.train_loss), cell(r.train_accuracy), cell(r.valid_loss),
      cell(r.valid_mean_token_accuracy)))
  end
  if r.train_loss and (not best or r.train_loss < best.train_loss) then best = r end
end
if best then print(string.format("lowest training loss %.4f at step %d", best.train_loss, best.step)) end
