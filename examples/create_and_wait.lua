-- Upload training data, start a fine-tuning job and wait until it is done,
-- printing each status change.
--
--   OPENAI_API_KEY=sk-... lua5.4 examples/create_and_wait.lua [train.jsonl [model]]
--   lua5.4 examples/run-with-fake-server.lua examples/create_and_wait.lua
--
-- Exits 0 when the job succeeded, 1 when it failed or was cancelled.
-- POLL_INTERVAL (seconds, default 5) sets how often the job is checked.
local ft = require("openai.finetunes")

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local path = arg and arg[1] or (here .. "/data/train.jsonl")
local model = arg and arg[2] or "gpt-4o-mini-2024-07-18"
local poll = tonumber(os.getenv("POLL_INTERVAL") or "") or 5

local client = ft.new{ raise = true }

local file = client:upload_file{ file = path, purpose = "fine-tune" }
file = client:wait_for_file(file.id, { poll_interval = poll })
assert(file.status == "processed", "training file " .. file.id .. " is " .. file.status)

local job = client:create_job{ model = model, training_file = file.id }
print("created job " .. job.id)

-- A failed or cancelled job is returned like a succeeded one; only a time-out
-- (and errors talking to the API) raise here.
job = client:wait_for_job(job.id, {
  poll_interval = poll,
  timeout = 24 * 3600,
  on_status = function(new, old)
    print(string.format("  %s -> %s", old or "(start)", new))
  end,
})

if job.status ~= "succeeded" then
  local why = job.error and job.error.message or "no reason given"
  io.stderr:write(string.format("job %s %s: %s\n", job.id, job.status, why))
  os.exit(1)
end
print(string.format("job %s succeeded after %d trained tokens", job.id, job.trained_tokens or 0))
print("fine-tuned model: " .. job.fine_tuned_model)
