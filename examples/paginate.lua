-- Walk every page of the list endpoints with the each_* iterators: all files,
-- all jobs, and the events and checkpoints of the newest succeeded job.
--
--   OPENAI_API_KEY=sk-... lua5.4 examples/paginate.lua [page_size]
--   lua5.4 examples/run-with-fake-server.lua examples/paginate.lua
--
-- Pages are fetched as the loop needs them (`after` = the last id seen), so a
-- `break` costs no further request. A page that fails ends the loop with one
-- last pair `false, err`.
local ft = require("openai.finetunes")

local page_size = tonumber(arg and arg[1] or "") or 20
local client = ft.new() -- plain client: failures come back as values

local function fail(err)
  io.stderr:write("listing failed: ", tostring(err), "\n")
  os.exit(1)
end

local files, bytes = 0, 0
for file, err in client:each_file{ limit = page_size } do
  if not file then fail(err) end
  files, bytes = files + 1, bytes + (file.bytes or 0)
end
print(string.format("%d files, %d bytes in all", files, bytes))

-- Jobs come newest first: stop at the first that succeeded.
local jobs, newest
for job, err in client:each_job{ limit = page_size } do
  if not job then fail(err) end
  jobs = (jobs or 0) + 1
  if job.status == "succeeded" then
    newest = job
    break
  end
end
if not newest then
  print(string.format("no succeeded job among %d job(s)", jobs or 0))
  return
end
print(string.format("newest succeeded job: %s (%s), found after %d job(s)", newest.id, newest.fine_tuned_model, jobs))

local events, metrics = 0, 0
for event, err in client:each_event(newest.id, { limit = page_size }) do
  if not event then fail(err) end
  events = events + 1
  if event.type == "metrics" then metrics = metrics + 1 end
end
print(string.format("  %d events (%d with metrics)", events, metrics))

for ckpt, err in client:each_checkpoint(newest.id, { limit = page_size }) do
  if not ckpt then fail(err) end
  print(string.format("  checkpoint at step %d: %s", ckpt.step_number, ckpt.fine_tuned_model_checkpoint))
end
