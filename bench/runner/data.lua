-- Fixtures: the big training file and the curl URL lists.
local sh = require("runner.sh")

local M = {}

M.JOBS = 10000 -- size of the server's paged job list (see nginx/api.lua)

function M.job_id(i)
  return ("ftjob-bench%05d"):format(i % M.JOBS)
end

-- A supervised chat-format JSONL file of exactly `size` bytes: real training
-- data shape, so a client that looks inside the file sees what it would see.
local function write_jsonl(path, size)
  local f = assert(io.open(path .. ".tmp", "wb"))
  local line = '{"messages":[{"role":"system","content":"You are a terse assistant for the bench."},'
    .. '{"role":"user","content":"Question %08d: what is the status of fine-tuning job ftjob-%08d?"},'
    .. '{"role":"assistant","content":"Job ftjob-%08d finished: %s"}]}\n'
  local filler = ("succeeded after three epochs with a final training loss of 0.1234. "):rep(6)
  local written, i, block = 0, 0, {}
  while true do
    local l = line:format(i, i, i, filler)
    if written + #l > size then break end
    block[#block + 1] = l
    written = written + #l
    i = i + 1
    if #block == 4096 then f:write(table.concat(block)) block = {} end
  end
  f:write(table.concat(block))
  -- Pad with one last valid line to hit the size exactly.
  local left = size - written
  if left > 0 then
    local head = '{"messages":[{"role":"user","content":"'
    local tail = '"},{"role":"assistant","content":"ok"}]}\n'
    assert(left >= #head + #tail, "size too small to pad")
    f:write(head, ("x"):rep(left - #head - #tail), tail)
  end
  assert(f:close())
  assert(os.rename(path .. ".tmp", path))
end

function M.ensure_blob(path, size)
  if sh.size(path) ~= size then
    io.stderr:write(("bench: writing %d MiB of JSONL to %s\n"):format(size // 1048576, path))
    write_jsonl(path, size)
  end
  return path
end

-- A curl config file: one url/output pair per line pair (curl -K).
function M.write_curl_config(path, urls)
  local out = {}
  for i, url in ipairs(urls) do
    out[i] = ('url = "%s"\noutput = "/dev/null"\n'):format(url)
  end
  sh.write_file(path, table.concat(out))
  return path
end

function M.job_urls(base, n)
  local urls = {}
  for i = 1, n do urls[i] = base .. "/fine_tuning/jobs/" .. M.job_id(i - 1) end
  return urls
end

-- The page URLs a cursor walk of the whole list requests, known in advance:
-- the floor for case 4 (no client can do less than fetch these).
function M.page_urls(base, limit)
  local urls, after = {}, nil
  for first = 0, M.JOBS - 1, limit do
    urls[#urls + 1] = base .. "/fine_tuning/jobs?limit=" .. limit .. (after and ("&after=" .. after) or "")
    -- the list is newest first: index k (0-based) holds job JOBS-1-k
    after = M.job_id(M.JOBS - 1 - math.min(first + limit - 1, M.JOBS - 1))
  end
  return urls
end

return M
