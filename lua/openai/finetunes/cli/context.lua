-- openai-ft: what every subcommand gets: its options and arguments, the client (built
-- on first use from --api-key / --base-url / --provider / --endpoint / --api-version /
-- --timeout / --max-retries and the same environment variables as the library),
-- output helpers and the exit codes.
--
-- Output rules: results go to stdout (a table, or JSON with --json); status lines,
-- progress bars and problems go to stderr, so `openai-ft ... --json | jq` and
-- `MODEL=$(openai-ft run ...)` see only the result. --quiet drops the status lines;
-- progress bars are drawn only when stderr is a terminal (and not with --no-progress).
local inert = require("openai.finetunes.errors").inert
local args = require("openai.finetunes.cli.args")
local unpack = rawget(table, "unpack") or rawget(_G, "unpack")

local M = {}

-- Exit codes scripts can rely on (repeated in `openai-ft --help` and the README).
M.EXIT = {
  ok = 0,
  failure = 1,      -- the API or the network failed, a file could not be read or written
  usage = 2,        -- bad command line: unknown command or option, missing argument
  invalid_data = 3, -- `validate` found errors; `run` refused the data; the server rejected a file
  job_failed = 4,   -- the job ended failed or cancelled (follow, wait, run)
  timeout = 5,      -- --wait-timeout expired before the job or file was done
  interrupted = 130,
}

local Context = {}
Context.__index = Context

-- Raised by ctx:usage / ctx:need / ctx:exit and caught by cli.main, which prints and exits.
local Exit = {}
Exit.__index = Exit
M.Exit = Exit

function M.is_exit(x) return getmetatable(x) == Exit end

-- new{opts =, args =, command = "files list", usage = text} -> ctx
function M.new(fields)
  local self = setmetatable(fields, Context)
  self.opts = self.opts or {}
  self.args = self.args or {}
  self.json = self.opts.json == true
  self.quiet = self.opts.quiet == true
  self.stdout = self.stdout or io.stdout
  self.stderr = self.stderr or io.stderr
  self.env = self.env or os.getenv
  return self
end

-- Stops the command: code and message (printed to stderr by cli.main).
function Context:exit(code, message)
  error(setmetatable({ code = code, message = message, command = self.command }, Exit), 0)
end

-- A usage error (exit 2): the message and a pointer to --help.
function Context:usage(message)
  error(setmetatable({ code = M.EXIT.usage, message = message, usage = true, command = self.command }, Exit), 0)
end

-- value, err -> value, or stop with exit 1 and err (the library's error object).
function Context:need(value, err, ...)
  if value == nil or value == false then
    error(setmetatable({ code = M.EXIT.failure, message = tostring(err), err = err, command = self.command }, Exit), 0)
  end
  return value, err, ...
end

-- The positional argument `i` or a usage error naming it.
function Context:arg(i, name)
  local v = self.args[i]
  if v == nil or v == "" then self:usage("missing " .. name) end
  return v
end

-- No more positional arguments than `n`.
function Context:max_args(n)
  if #self.args > n then self:usage("unexpected argument '" .. self.args[n + 1] .. "'") end
end

function Context:client()
  if not self._client then
    local ft = require("openai.finetunes")
    local o = self.opts
    local config = {
      api_key = o.api_key, base_url = o.base_url, timeout = o.timeout, max_retries = o.max_retries,
      provider = o.provider, user_agent = "openai-ft",
    }
    -- each provider's own flags (api/provider.lua flag_help) under the option they name
    for _, p in ipairs(require("openai.finetunes.api.provider").LIST) do
      for _, h in ipairs(p.flag_help or {}) do config[h[1]] = o[args.key_of(p.flags[h[1]])] end
    end
    local c, bad = ft.try_new(config)
    if not c then self:usage(M.configuration_message(bad, o.provider)) end
    self._client = c
  end
  return self._client
end

-- What the command says about a configuration error of the library (its
-- misuse value: code, field, problem): in flags and variables, from the
-- provider's table (api/provider.lua); other problems as the library words them.
function M.configuration_message(bad, provider_name)
  local providers = require("openai.finetunes.api.provider")
  local p = providers.NAMES[provider_name or ""] or providers.NAMES[providers.DEFAULT]
  local code, field = bad.code, bad.field
  if code == "missing_credentials" then
    local vars = p.env.api_key
    if p.env.azure_ad_token then vars = vars .. " (or " .. p.env.azure_ad_token .. ")" end
    local what = p == providers.NAMES[providers.DEFAULT] and "API key" or (p.label .. " credentials")
    return string.format("missing %s: set %s or pass %s", what, vars, p.flags.api_key)
  elseif code == "missing_endpoint" then
    return string.format("missing %s endpoint: set %s or pass %s", p.label, p.env.endpoint, p.flags.endpoint)
  elseif code == "wrong_provider" and providers.OPTIONS[field] then
    local owner = providers.OPTIONS[field]
    return string.format("%s is an %s option: add --provider %s", field, owner.label, owner.name)
  end
  return bad.problem
end

-- The items of an each_* iterator (`make` returns it), at most `limit` (nil: all of them),
-- and whether there were more; a page that fails stops the command with exit 1. A JSON
-- array (empty encodes as []).
function Context:collect(make, limit)
  local codec = require("openai.finetunes.codec")
  local items = setmetatable({}, codec.array_mt)
  for item, err in make() do
    if not item then self:need(nil, err) end
    if limit and #items >= limit then return items, true end
    items[#items + 1] = item
  end
  return items, false
end

-- --limit N / --all -> the number of items to show (nil = all), and the page size to ask:
-- one more than shown, so `collect` knows whether the list goes on without another request.
function Context:list_limit(default, max_page)
  if self.opts.all then return nil, max_page end
  local n = self.opts.limit or default
  return n, math.max(1, math.min(n + 1, max_page))
end

-- After a list cut at --limit: how to see the rest (on stderr, so stdout stays the table
-- or the JSON). `after`: the last id shown, for commands that take --after.
function Context:more_hint(noun, after)
  if after then
    self:say("more %s: add --after %s for the next page, or --all for every one", noun, after)
  else
    self:say("more %s: --limit %d shows more, --all every one", noun, (self.opts.limit or 20) * 2)
  end
end

-- Every line the command writes may carry server text (a job's status, an
-- event's message, an error): control bytes are escaped on the way out, LF and
-- TAB kept (errors.inert), so a server cannot retitle or clear the terminal.
local function inert_all(...)
  local n = select("#", ...)
  local out = { ... }
  for i = 1, n do out[i] = inert(out[i], nil, true) end
  return out, n
end

-- Writes to stdout, made inert.
function Context:print(...)
  local out, n = inert_all(...)
  self.stdout:write(unpack(out, 1, n))
end

-- Writes our own styled text (the plot's colours) unchanged: no server text in it.
function Context:print_styled(...)
  self.stdout:write(...)
end

-- The result as one JSON document on stdout.
function Context:print_json(value)
  local codec = require("openai.finetunes.codec")
  self.stdout:write(codec.json_encode(value), "\n")
end

-- A status line on stderr (dropped with --quiet). Clears a live line first.
function Context:say(fmt, ...)
  if self.quiet then return end
  if self.live then self.live:clear() end
  self.stderr:write(inert(select("#", ...) > 0 and string.format(fmt, ...) or fmt, nil, true), "\n")
  self.stderr:flush()
  if self.live then self.live:redraw() end
end

-- Always shown (warnings, problems), on stderr.
function Context:warn(fmt, ...)
  if self.live then self.live:clear() end
  self.stderr:write(inert(select("#", ...) > 0 and string.format(fmt, ...) or fmt, nil, true), "\n")
  self.stderr:flush()
  if self.live then self.live:redraw() end
end

-- Is file descriptor fd (1 stdout, 2 stderr) a terminal? Asked once per fd through the
-- shell's `test -t`, which inherits our descriptors (plain Lua has no isatty).
function Context:isatty(fd)
  self._tty = self._tty or {}
  if self._tty[fd] == nil then
    local forced = self.env("OPENAI_FT_TTY") -- "1"/"0": for tests and odd terminals
    if forced == "1" or forced == "0" then
      self._tty[fd] = forced == "1"
    else
      local r = os.execute("test -t " .. fd)
      self._tty[fd] = r == true or r == 0
    end
  end
  return self._tty[fd]
end

-- Terminal width for stderr (COLUMNS, else stty, else 80).
function Context:width()
  if not self._width then
    local w = tonumber(self.env("COLUMNS") or "")
    if not w then
      local p = io.popen("stty size <&2 2>/dev/null")
      local out = p and p:read("*a") or ""
      if p then p:close() end
      w = tonumber(out:match("%d+%s+(%d+)"))
    end
    self._width = (w and w >= 20) and w or 80
  end
  return self._width
end

-- The --yes row of the commands that cannot be undone (delete, cancel).
M.YES_OPTION = { "--yes", nil, "do not ask for confirmation (scripts; needed without a terminal)", short = "-y" }

-- Before an action that cannot be undone: `describe()` -> the lines saying what it will
-- act on (it may ask the API, so a mistyped id fails here, before anything changes).
-- With --yes: go on at once. On a terminal: show them and ask; `typed` (a string) must be
-- typed back exactly, else "y"/"yes". Without a terminal and without --yes: refuse (exit 2),
-- so a script never acts on a typo unnoticed.
function Context:confirm(action, describe, typed)
  if self.opts.yes then return end
  if not (self:isatty(0) and self:isatty(2)) then
    self:usage("refusing to " .. action .. " without confirmation: no terminal to ask on (--yes: "
      .. action:match("^%S+") .. " without asking)")
  end
  local lines = describe()
  if self.live then self.live:clear() end
  self.stderr:write(lines, "\n")
  if typed then
    self.stderr:write("This cannot be undone. Type ", typed, " to ", action, ": ")
  else
    self.stderr:write(action:gsub("^%l", string.upper), "? This cannot be undone. [y/N] ")
  end
  self.stderr:flush()
  local answer = (io.stdin:read("*l") or ""):gsub("^%s+", ""):gsub("%s+$", "")
  local ok
  if typed then ok = answer == typed else ok = answer:lower() == "y" or answer:lower() == "yes" end
  if not ok then
    self:exit(M.EXIT.failure, typed and answer ~= "" and ("'" .. answer .. "' is not " .. typed .. ": nothing done")
      or "nothing done")
  end
end

-- Draw progress bars / live lines? Only on a terminal, never with --quiet, --json
-- (scripts) or --no-progress.
function Context:progress_enabled()
  return not (self.opts.no_progress or self.quiet) and self:isatty(2)
end

-- Does the terminal take UTF-8? The locale decides, as for every other program: the first
-- of LC_ALL, LC_CTYPE and LANG that is set names the character set.
function Context:utf8()
  for _, name in ipairs({ "LC_ALL", "LC_CTYPE", "LANG" }) do
    local loc = self.env(name) or ""
    if loc ~= "" then return loc:upper():find("UTF%-?8") ~= nil end
  end
  return false
end

-- ANSI colors on stdout only for a terminal, and not with NO_COLOR / --no-color.
function Context:color_enabled(fd)
  if self.opts.no_color or (self.env("NO_COLOR") or "") ~= "" then return false end
  return self:isatty(fd or 1)
end

return M
