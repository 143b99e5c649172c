-- openai.finetunes.workflow.report: everything a report on one job shows, in one call.
--
--   local data, err = client:job_report("ftjob-abc")
--   -- data.job, data.events (oldest first), data.checkpoints, data.metrics (rows of the
--   -- result file, or of the metrics events while there is none), data.metrics_source
--
-- Requests: the job, its events and checkpoints (all pages), its result file when it
-- has one. A failure of any of them is `nil, err`; a job without a result file is not
-- a failure (data.metrics then comes from its metrics events).
local codec = require("openai.finetunes.codec")
local misuse = require("openai.finetunes.misuse")

local M = {}

local function collect(iter)
  local out = setmetatable({}, codec.array_mt)
  for item, err in iter do
    if not item then return nil, err end
    out[#out + 1] = item
  end
  return out
end

local function job_report(self, id)
  local okp, why = pcall(self._prepare, self, "job", id) -- misuse names job_report
  if not okp then misuse.raise(why, "job_report", 1, 2) end
  local job, err = self:job(id)
  if not job then return nil, err end
  local newest_first, eerr = collect(self:each_event(id, { limit = 100 }))
  if not newest_first then return nil, eerr end
  local events = setmetatable({}, codec.array_mt)
  for i = #newest_first, 1, -1 do events[#events + 1] = newest_first[i] end
  local checkpoints, cerr = collect(self:each_checkpoint(id, { limit = 100 }))
  if not checkpoints then return nil, cerr end
  table.sort(checkpoints, function(a, b) return (a.step_number or 0) < (b.step_number or 0) end)
  local data = { job = job, events = events, checkpoints = checkpoints }
  local file = type(job.result_files) == "table" and job.result_files[1]
  if file then
    local text, ferr = self:file_content(file)
    if not text then return nil, ferr end
    local rows, perr = require("openai.finetunes.workflow.metrics").parse_result_file(text)
    if rows then data.metrics, data.metrics_source = rows, "result file " .. file end
    if not rows then data.metrics_error = perr end
  end
  if not data.metrics then
    local rows = {}
    for _, e in ipairs(events) do
      if e.type == "metrics" and type(e.data) == "table" and type(e.data.step) == "number" then
        rows[#rows + 1] = e.data
      end
    end
    data.metrics, data.metrics_source = rows, "metrics events"
  end
  return data
end

M.methods = { job_report = job_report }

return M
