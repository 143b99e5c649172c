-- The whole fine-tuning workflow with the plain client methods:
-- upload training data, wait until it is processed, start a job, print its
-- events as they arrive, list checkpoints, show the fine-tuned model, clean up.
--
--   OPENAI_API_KEY=sk-... lua5.4 examples/workflow.lua [train.jsonl]
--   lua5.4 examples/run-with-fake-server.lua examples/workflow.lua   (against the local fake server)
--
-- POLL_INTERVAL (seconds, default 5) sets how often it asks for news.
local ft = require("openai.finetunes")
local sleep = require("openai.finetunes.core").sleep

local MODEL = "gpt-4o-mini-2024-07-18"
local POLL = tonumber(os.getenv("POLL_INTERVAL") or "") or 5
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local data = arg and arg[1] or (here .. "/data/train.jsonl")

-- Key and base URL from OPENAI_API_KEY / OPENAI_BASE_URL. On Azure OpenAI this
-- line is the only change: ft.new{ provider = "azure" } (AZURE_OPENAI_ENDPOINT,
-- AZURE_OPENAI_API_KEY; README "After January 2027").
local client = ft.new()

-- Every call returns result, meta or nil, err; this stops the script on err.
local function must(result, err_or_meta)
  if result == nil then
    io.stderr:write("workflow failed: ", tostring(err_or_meta), "\n")
    os.exit(1)
  end
  return result, err_or_meta
end

local function say(fmt, ...)
  io.write(string.format(fmt, ...), "\n")
  io.flush()
end

-- 1. Upload the training data.
local file = must(client:upload_file{ file = data, purpose = "fine-tune" })
say("uploaded %s as %s (%d bytes)", file.filename, file.id, file.bytes)

-- 2. Wait until the file is processed.
while file.status ~= "processed" do
  if file.status == "error" then
    must(nil, "file " .. file.id .. " failed processing: " .. tostring(file.status_details))
  end
  sleep(POLL)
  file = must(client:file(file.id))
end
say("file %s is processed", file.id)

-- 3. Start the job.
local job = must(client:create_job{ model = MODEL, training_file = file.id, suffix = "workflow-demo" })
say("created job %s on %s (%s)", job.id, job.model, job.status)

-- 4. Follow the job. The API lists events newest first, so read pages back
-- until one we have already printed, then print the new ones oldest first.
local seen = {}
local function print_new_events()
  local fresh, after = {}, nil
  repeat
    local page = must(client:job_events(job.id, { limit = 50, after = after }))
    local reached_seen = false
    for _, event in ipairs(page.data) do
      if seen[event.id] then
        reached_seen = true
        break
      end
      fresh[#fresh + 1] = event
    end
    after = #page.data > 0 and page.data[#page.data].id or nil
  until reached_seen or not page.has_more or not after
  for i = #fresh, 1, -1 do
    local event = fresh[i]
    seen[event.id] = true
    say("  [%s] %s", os.date("!%H:%M:%S", event.created_at), event.message)
  end
end

local TERMINAL = { succeeded = true, failed = true, cancelled = true }
local last_status
while true do
  print_new_events()
  if job.status ~= last_status then
    say("job %s is %s", job.id, job.status)
    last_status = job.status
  end
  if TERMINAL[job.status] then break end
  sleep(POLL)
  job = must(client:job(job.id))
end
print_new_events()
if job.status ~= "succeeded" then
  local why = job.error and job.error.message or "no reason given"
  must(nil, string.format("job %s ended %s: %s", job.id, job.status, why))
end

-- 5. Checkpoints.
local checkpoints = must(client:job_checkpoints(job.id))
say("%d checkpoint(s):", #checkpoints.data)
for _, ckpt in ipairs(checkpoints.data) do
  local loss = ckpt.metrics and ckpt.metrics.train_loss
  say("  step %-5d %s%s", ckpt.step_number, ckpt.fine_tuned_model_checkpoint,
    loss and string.format("  train_loss=%.4f", loss) or "")
end

-- 6. The fine-tuned model.
local model, meta = must(client:model(job.fine_tuned_model))
say("model %s, owned by %s, created %s (request %s)", model.id, model.owned_by,
  os.date("!%Y-%m-%d %H:%M:%S", model.created), tostring(meta.request_id))

-- 7. Clean up: the model, the training file and the job's result files.
local deleted = must(client:delete_model(model.id))
say("deleted model %s: %s", deleted.id, tostring(deleted.deleted))
for _, id in ipairs(job.result_files or {}) do
  must(client:delete_file(id))
  say("deleted result file %s", id)
end
must(client:delete_file(file.id))
say("deleted file %s", file.id)
client:close()

say("fine-tuned model: %s", model.id)
