-- The five cases of issue 6, each a list of contenders doing the same work:
-- curl (the floor), the official Node SDK, and this module.
local sh = require("runner.sh")
local data = require("runner.data")

local M = {}

local function says_ok(expected, note)
  return function(stdout, contender)
    local n = stdout:match("^ok (%d+)")
    if tonumber(n) == expected then
      if note then note(contender, stdout) end
      return true
    end
    return false, ("expected 'ok %d', got %q"):format(expected, stdout:sub(1, 200))
  end
end

local function exit_code_only() return true end

-- ctx: base, slow (base URLs), blob, blob_size, out, scratch, server,
-- lua(script, ...) / node(script, ...) -> command, curl(args) -> command,
-- uploaded() -> bytes the sink has read so far.
function M.all(ctx)
  local q = sh.q
  local N1, N5, PAGE = ctx.n_jobs, ctx.n_polls, ctx.page_size
  local cfg1 = data.write_curl_config(ctx.scratch .. "/jobs.cfg", data.job_urls(ctx.base, N1))
  local cfg4 = data.write_curl_config(ctx.scratch .. "/pages.cfg", data.page_urls(ctx.base, PAGE))
  local cfg5 = data.write_curl_config(ctx.scratch .. "/slow.cfg", data.job_urls(ctx.slow, N5))

  -- Upload checks: the sink must have read the whole body (every byte of the file).
  local mark = 0
  local function before_upload() mark = ctx.uploaded() end
  local function sink_read_all(inner)
    return function(stdout)
      local got = ctx.uploaded() - mark
      if got < ctx.blob_size then
        return false, ("the sink read %d bytes, the file has %d"):format(got, ctx.blob_size)
      end
      return inner(stdout)
    end
  end
  local function uploaded_ok(stdout)
    local n = tonumber(stdout:match("^ok (%d+)") or stdout:match('"bytes":(%d+)'))
    if n and n >= ctx.blob_size then return true end
    return false, "no file object with the full size in the answer"
  end

  -- Download: start from no file and a clean page cache writeback state.
  local function before_download()
    os.remove(ctx.out)
    os.execute("sync")
  end
  local function downloaded_all()
    local n = sh.size(ctx.out)
    if n == ctx.blob_size then return true end
    return false, ("%s has %s bytes, expected %d"):format(ctx.out, tostring(n), ctx.blob_size)
  end

  local file_id = "file-bench"
  return {
    {
      id = 1, title = ("%d sequential job retrievals over keep-alive"):format(N1),
      targets = { { kind = "ratio", of = "lua", over = "curl", max = 1.3 } },
      contenders = {
        { name = "curl", label = "curl -K (one process)",
          cmd = ctx.curl("-K " .. q(cfg1)), check = exit_code_only },
        { name = "lua", label = "openai-finetunes",
          cmd = ctx.lua("jobs.lua", ctx.base, N1), check = says_ok(N1) },
        { name = "node", label = "Node SDK",
          cmd = ctx.node("jobs.mjs", ctx.base, N1), check = says_ok(N1) },
      },
    },
    {
      id = 2, title = ("upload a %d MiB file (multipart)"):format(ctx.blob_size // 1048576),
      targets = { { kind = "ratio", of = "lua", over = "curl", max = 1.2 },
                  { kind = "rss", of = "lua", max_mb = 30 } },
      contenders = {
        { name = "curl", label = "curl -F", before = before_upload,
          cmd = ctx.curl("-F purpose=fine-tune -F " .. q("file=@" .. ctx.blob) .. " " .. q(ctx.base .. "/files")),
          check = sink_read_all(uploaded_ok) },
        { name = "lua", label = "openai-finetunes", before = before_upload,
          cmd = ctx.lua("upload.lua", ctx.base, ctx.blob), check = sink_read_all(uploaded_ok) },
        { name = "node", label = "Node SDK", before = before_upload,
          cmd = ctx.node("upload.mjs", ctx.base, ctx.blob), check = sink_read_all(uploaded_ok) },
        -- the SDK's other two ways (node/upload_ways.mjs): does either keep the file out of memory?
        { name = "node-tofile", label = "Node SDK toFile(stream)", before = before_upload,
          cmd = ctx.node("upload_ways.mjs", ctx.base, ctx.blob, "tofile"), check = sink_read_all(uploaded_ok) },
        { name = "node-streaming", label = "Node SDK toStreamingFile", before = before_upload,
          cmd = ctx.node("upload_ways.mjs", ctx.base, ctx.blob, "streaming"), check = sink_read_all(uploaded_ok) },
      },
    },
    {
      id = 3, title = ("download a %d MiB file to disk"):format(ctx.blob_size // 1048576),
      targets = { { kind = "ratio", of = "lua", over = "curl", max = 1.2 },
                  { kind = "rss", of = "lua", max_mb = 30 } },
      contenders = {
        { name = "curl", label = "curl -o", before = before_download,
          cmd = ctx.curl("-o " .. q(ctx.out) .. " " .. q(ctx.base .. "/files/" .. file_id .. "/content")),
          check = downloaded_all },
        { name = "lua", label = "openai-finetunes", before = before_download,
          cmd = ctx.lua("download.lua", ctx.base, file_id, ctx.out), check = downloaded_all },
        { name = "node", label = "Node SDK (streamed)", before = before_download,
          cmd = ctx.node("download.mjs", ctx.base, file_id, ctx.out), check = downloaded_all },
      },
    },
    {
      id = 4, title = ("list %d jobs through pagination (limit=%d)"):format(data.JOBS, PAGE),
      targets = {},
      contenders = {
        { name = "curl", label = "curl -K (page URLs known in advance)",
          cmd = ctx.curl("-K " .. q(cfg4)), check = exit_code_only },
        { name = "lua", label = "openai-finetunes each_job",
          cmd = ctx.lua("list.lua", ctx.base, PAGE), check = says_ok(data.JOBS, function(c, stdout)
            -- list.lua pages by hand while the client has no each_job: say so
            c.label = "openai-finetunes " .. (stdout:match("^ok %d+ (%S+)") or "each_job")
          end) },
        { name = "node", label = "Node SDK auto-pagination",
          cmd = ctx.node("list.mjs", ctx.base, PAGE), check = says_ok(data.JOBS) },
      },
    },
    {
      id = 5, title = ("%d job polls, each answered after 50 ms"):format(N5),
      targets = { { kind = "speedup", of = "lua-batch", over = "lua-seq", min = 10 } },
      contenders = {
        { name = "curl-seq", label = "curl -K sequential",
          cmd = ctx.curl("-K " .. q(cfg5)), check = exit_code_only },
        { name = "curl-par", label = "curl -K --parallel",
          cmd = ctx.curl("--parallel --parallel-max " .. N5 .. " -K " .. q(cfg5)), check = exit_code_only },
        { name = "lua-seq", label = "openai-finetunes sequential",
          cmd = ctx.lua("poll.lua", ctx.slow, N5, "seq"), check = says_ok(N5) },
        { name = "lua-batch", label = "openai-finetunes batch",
          cmd = ctx.lua("poll.lua", ctx.slow, N5, "batch"), check = says_ok(N5) },
        { name = "node-seq", label = "Node SDK sequential",
          cmd = ctx.node("poll.mjs", ctx.slow, N5, "seq"), check = says_ok(N5) },
        { name = "node-all", label = "Node SDK Promise.all",
          cmd = ctx.node("poll.mjs", ctx.slow, N5, "all"), check = says_ok(N5) },
      },
    },
  }
end

return M
