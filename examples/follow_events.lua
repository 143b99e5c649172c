-- Follow a fine-tuning job: print its events as they arrive, oldest first,
-- each once, with a running loss line from the metrics events.
--
--   OPENAI_API_KEY=sk-... lua5.4 examples/follow_events.lua ftjob-...
--   lua5.4 examples/run-with-fake-server.lua examples/follow_events.lua
--
-- Without a job id it starts one on examples/data/train.jsonl to follow.
-- Exits with 0 when the job succeeded, 1 otherwise.
local ft = require("openai.finetunes")

local poll = tonumber(os.getenv("POLL_INTERVAL") or "") or 5
local client = ft.new{ raise = true }

local job_id = arg and arg[1]
if not job_id then
  local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
  local file = client:upload_file{ file = here .. "/data/train.jsonl", purpose = "fine-tune" }
  client:wait_for_file(file.id, { poll_interval = poll })
  job_id = client:create_job{ model = "gpt-4o-mini-2024-07-18", training_file = file.id }.id
end
print("following " .. job_id)

local job = client:wait_for_job(job_id, {
  poll_interval = poll,
  on_event = function(event)
    local d = event.data
    if event.type == "metrics" and type(d) == "table" and d.step then
      -- the numbers behind "Step 12/100: training loss=0.83"
      print(string.format("  step %4d/%-4d  loss %.4f  accuracy %.3f%s", d.step, d.total_steps or 0,
        d.train_loss or 0, d.train_mean_token_accuracy or 0,
        d.valid_loss and string.format("  valid loss %.4f", d.valid_loss) or ""))
    else
      print(string.format("  [%s] %-5s %s", os.date("!%H:%M:%S", event.created_at), event.level, event.message))
    end
  end,
})

print(string.format("job %s %s", job.id, job.status))
os.exit(job.status == "succeeded" and 0 or 1)
