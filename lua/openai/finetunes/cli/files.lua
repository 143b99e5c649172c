-- openai-ft files: list, upload, get, delete, download.
local args = require("openai.finetunes.cli.args")
local fmt = require("openai.finetunes.cli.table")
local progress = require("openai.finetunes.cli.progress")
local context = require("openai.finetunes.cli.context")
local EXIT = context.EXIT

local M = { summary = "upload, list, inspect, download and delete files" }

-- What --purpose accepts: the API's list (the library checks the same one), fine-tune first.
local PURPOSES = { "fine-tune" }
for _, p in ipairs(require("openai.finetunes.api.validate").FILE_PURPOSES) do
  if p ~= "fine-tune" then PURPOSES[#PURPOSES + 1] = p end
end

-- Files up to this size go through POST /files; larger ones through the Uploads API.
M.FILES_API_MAX = 512 * 1024 * 1024

local COLUMNS = {
  { "ID", "id" },
  { "BYTES", function(f) return fmt.bytes(f.bytes) end, right = true },
  { "CREATED", function(f) return fmt.time(f.created_at) end },
  { "PURPOSE", "purpose" },
  { "STATUS", "status" },
  { "FILENAME", "filename" },
}

local FIELD_ORDER = { "id", "object", "filename", "bytes", "purpose", "status", "status_details", "created_at",
  "expires_at" }

-- --quiet: the id alone on stdout (FILE=$(openai-ft files upload x.jsonl --quiet)), as `run
-- --quiet` prints only the model.
local function show_file(ctx, file)
  if ctx.json then ctx:print_json(file)
  elseif ctx.quiet then ctx:print(tostring(file.id), "\n")
  else ctx:print(fmt.fields(file, FIELD_ORDER)) end
end

local function file_size(ctx, path)
  local f, err = io.open(path, "rb")
  if not f then ctx:exit(EXIT.failure, "cannot read " .. path .. ": " .. tostring(err):gsub("^[^:]*: ", "")) end
  local size = f:seek("end")
  f:close()
  if not size then ctx:exit(EXIT.failure, "cannot read " .. path .. " (a directory?)") end
  return size
end

-- upload(ctx, path, purpose) -> file object, with a progress bar on a terminal. Shared with run.
function M.upload(ctx, path, purpose)
  local client = ctx:client()
  local size = file_size(ctx, path)
  local name = path:match("([^/]+)$") or path
  local large = ctx.opts.large or size > M.FILES_API_MAX
  local bar = progress.transfer(ctx, "uploading " .. name, size)
  local file = bar:run(function()
    if large then
      return client:upload_large_file({
        file = path, purpose = purpose,
        part_size = ctx.opts.part_size and ctx.opts.part_size * 1024 * 1024 or nil,
        parallel = ctx.opts.parallel,
        on_progress = function(sent, total) bar:update(sent, total) end,
      })
    end
    return client:upload_file({ file = path, purpose = purpose }, { progress = bar:callback("up") })
  end)
  bar:finish(size)
  return file
end

-- wait_processed(ctx, file) -> the processed file; a file the server marked "error" stops
-- with exit 3 (its data was refused). Shared with run.
function M.wait_processed(ctx, file)
  if file.status == "processed" then return file end
  ctx:say("waiting for %s to be processed ...", file.id)
  local done, err = ctx:client():wait_for_file(file.id, {
    poll_interval = ctx.opts.poll_interval or 1, timeout = ctx.opts.wait_timeout,
  })
  if not done and err and err.code == "wait_timeout" then
    ctx:exit(EXIT.timeout, string.format("%s is still %s after %.0f s", file.id,
      err.file and err.file.status or "processing", err.waited or 0))
  end
  ctx:need(done, err)
  if done.status == "error" then
    ctx:exit(EXIT.invalid_data, string.format("%s could not be processed: %s", done.id,
      tostring(done.status_details or "no details")))
  end
  return done
end

M.commands = {
  {
    name = "list", summary = "list files, newest first",
    options = {
      { "--purpose", "PURPOSE", "only files with this purpose (fine-tune, fine-tune-results, batch ...)" },
      args.LIMIT(20, "files"), args.ALL("file"), args.AFTER("file"),
      { "--order", "ORDER", "asc or desc by creation time (default desc)", type = "choice",
        choices = { "asc", "desc" } },
    },
    run = function(ctx)
      ctx:max_args(0)
      local limit, page = ctx:list_limit(20, 10000)
      local client = ctx:client()
      local items, more = ctx:collect(function()
        return client:each_file({ purpose = ctx.opts.purpose, limit = page, order = ctx.opts.order,
          after = ctx.opts.after })
      end, limit)
      if ctx.json then ctx:print_json(items) elseif #items == 0 then ctx:say("no files") else
        ctx:print(fmt.render(COLUMNS, items))
      end
      if more then ctx:more_hint("files", items[#items].id) end
    end,
  },
  {
    name = "upload", synopsis = "FILE", summary = "upload a file (progress bar on a terminal)",
    description = "Upload FILE (purpose fine-tune unless --purpose). Files over 512 MB go through the\n"
      .. "Uploads API in parallel parts automatically (--large forces it). Prints the file object.",
    options = {
      { "--purpose", "PURPOSE", "fine-tune (default), " .. table.concat(PURPOSES, ", ", 2), type = "choice",
        choices = PURPOSES },
      { "--wait", nil, "wait until the file is processed (exit 3 if the server refuses it)" },
      { "--large", nil, "use the Uploads API (parts in parallel) whatever the size" },
      { "--part-size", "MB", "Uploads API part size in MiB (default 64, the maximum)", type = "number" },
      { "--parallel", "N", "Uploads API parts in flight at once (default 4)", type = "count" },
      { "--poll-interval", "SECONDS", "with --wait: seconds between polls (default 1)", type = "number" },
      { "--wait-timeout", "SECONDS", "with --wait: give up after SECONDS (exit 5)", type = "number" },
    },
    run = function(ctx)
      local path = ctx:arg(1, "FILE")
      ctx:max_args(1)
      local file = M.upload(ctx, path, ctx.opts.purpose or "fine-tune")
      if ctx.opts.wait then file = M.wait_processed(ctx, file) end
      show_file(ctx, file)
    end,
  },
  {
    name = "get", synopsis = "ID", summary = "show a file object",
    run = function(ctx)
      local id = ctx:arg(1, "file ID")
      ctx:max_args(1)
      show_file(ctx, ctx:need(ctx:client():file(id)))
    end,
  },
  {
    name = "delete", synopsis = "ID", summary = "delete a file (asks first on a terminal; --yes does not)",
    options = { context.YES_OPTION },
    run = function(ctx)
      local id = ctx:arg(1, "file ID")
      ctx:max_args(1)
      ctx:confirm("delete " .. id, function()
        return "will delete:\n" .. fmt.fields(ctx:need(ctx:client():file(id)), FIELD_ORDER)
      end)
      local r = ctx:need(ctx:client():delete_file(id))
      if ctx.json then return ctx:print_json(r) end
      ctx:print(string.format("deleted %s\n", r.id or id))
    end,
  },
  {
    name = "download", synopsis = "ID", summary = "download a file's content (progress bar on a terminal)",
    description = "Download the content of file ID to -o PATH (default: its filename, in the current\n"
      .. "directory; '-' for stdout). The file is written under a temporary name and renamed when\n"
      .. "complete, so PATH is never left half-written.",
    options = {
      { "--output", "PATH", "where to write it ('-' for stdout)", short = "-o" },
      { "--force", nil, "overwrite PATH if it exists" },
    },
    run = function(ctx)
      local id = ctx:arg(1, "file ID")
      ctx:max_args(1)
      local client = ctx:client()
      local out = ctx.opts.output
      if out == "-" then
        local body = ctx:need(client:file_content(id))
        ctx.stdout:write(body)
        return EXIT.ok
      end
      local file = ctx:need(client:file(id))
      out = out or (file.filename or id):match("([^/]+)$")
      if not ctx.opts.force then
        local f = io.open(out, "rb")
        if f then
          f:close()
          ctx:exit(EXIT.failure, out .. " exists (use --force to overwrite it)")
        end
      end
      local bar = progress.transfer(ctx, "downloading " .. (file.filename or id), file.bytes)
      local r = bar:run(function() return client:download_file(id, out, { progress = bar:callback("down") }) end)
      bar:finish(r.bytes)
      if ctx.json then return ctx:print_json({ id = id, path = out, bytes = r.bytes }) end
      ctx:print(string.format("wrote %s (%s)\n", out, fmt.bytes(r.bytes)))
    end,
  },
}

return M
