-- Upload a big file through the Uploads API: parts sent in parallel straight
-- from the file (memory stays at a few MB whatever its size), a failed part
-- retried alone, the whole checked with its MD5, the upload cancelled if it
-- cannot finish. The way for files over 512 MB (up to 8 GB).
--
--   OPENAI_API_KEY=sk-... lua5.4 examples/large_upload.lua big.jsonl [part_size] [parallel]
--   lua5.4 examples/run-with-fake-server.lua examples/large_upload.lua examples/data/train.jsonl 1K
--
-- part_size: bytes, or with a K / M suffix (default 64M, the API's maximum).
local ft = require("openai.finetunes")

local function size_arg(s)
  if not s then return nil end
  local n, unit = s:match("^(%d+)([KkMm]?)$")
  if not n then error("part_size must be a number of bytes, 512K or 8M: " .. s) end
  local scale = ({ k = 1024, m = 1024 * 1024 })[unit:lower()] or 1
  return tonumber(n) * scale
end

local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local path = arg and arg[1] or (here .. "/data/train.jsonl")
local part_size = size_arg(arg and arg[2]) or 64 * 1024 * 1024
local parallel = tonumber(arg and arg[3] or "") or 4

local client = ft.new()
local started = os.time()

local file, info = client:upload_large_file{
  file = path, purpose = "fine-tune", part_size = part_size, parallel = parallel,
  on_progress = function(sent, total, p)
    io.stderr:write(string.format("\r%5.1f%%  %d/%d bytes  part %d/%d", total > 0 and sent * 100 / total or 100,
      sent, total, p.parts_done, p.parts))
  end,
}
io.stderr:write("\n")
if not file then
  -- the upload was cancelled (err.upload_id); err.part says which part failed
  io.stderr:write("upload failed: ", tostring(info), "\n")
  os.exit(1)
end
print(string.format("uploaded %s as %s: %d bytes in %d part(s), %d retried, md5 %s, %d s",
  file.filename, file.id, file.bytes, info.parts, info.retries, info.md5, os.time() - started))
