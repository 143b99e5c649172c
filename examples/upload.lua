-- Upload a training file and wait until the API has processed it.
--
--   OPENAI_API_KEY=sk-... lua5.4 examples/upload.lua [train.jsonl]
--   lua5.4 examples/run-with-fake-server.lua examples/upload.lua
--
-- Files up to 512 MB go through upload_file (one streamed request); for bigger
-- ones see examples/large_upload.lua. POLL_INTERVAL (seconds, default 5) sets
-- how often the file's status is checked.
local ft = require("openai.finetunes")

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local path = arg and arg[1] or (here .. "/data/train.jsonl")
local poll = tonumber(os.getenv("POLL_INTERVAL") or "") or 5

-- raise = true: every failure raises its error object (one line with tostring)
local client = ft.new{ raise = true }

local file = client:upload_file{ file = path, purpose = "fine-tune" }
print(string.format("uploaded %s as %s (%d bytes, %s)", file.filename, file.id, file.bytes, file.status))

-- A file that fails processing is a result, not an error: look at its status.
file = client:wait_for_file(file.id, { poll_interval = poll, timeout = 30 * 60 })
if file.status ~= "processed" then
  io.stderr:write(string.format("file %s: %s (%s)\n", file.id, file.status, tostring(file.status_details)))
  os.exit(1)
end
print(string.format("file %s is processed: use it as training_file", file.id))
