-- openai-ft: command dispatch, global options, --help at every level, exit codes.
--
-- A command group module (files, jobs, models) returns { summary = "...", commands = {
-- <command>, ... } }; a command is { name, summary, synopsis = "ID [options]",
-- description, options = { <args.lua rows> }, run = function(ctx) -> exit code }.
-- A leaf module (validate, run) returns one command. fake-server keeps its own parser
-- (`raw`: it gets the words after its name as they are).
local args = require("openai.finetunes.cli.args")
local context = require("openai.finetunes.cli.context")
local inert = require("openai.finetunes.errors").inert

local M = {}

M.EXIT = context.EXIT

-- Top-level commands, in the order `openai-ft --help` lists them.
M.commands = {
  { name = "files", module = "openai.finetunes.cli.files" },
  { name = "jobs", module = "openai.finetunes.cli.jobs" },
  { name = "models", module = "openai.finetunes.cli.models" },
  { name = "webhooks", module = "openai.finetunes.cli.webhooks" },
  { name = "validate", module = "openai.finetunes.cli.validate" },
  { name = "run", module = "openai.finetunes.cli.run" },
  { name = "sweep", module = "openai.finetunes.cli.sweep" },
  { name = "fake-server", module = "openai.finetunes.cli.fake_server", raw = true },
}

-- The provider flags' names, variables and defaults come from the providers'
-- tables (api/provider.lua).
local providers = require("openai.finetunes.api.provider")
local PROVIDER_NAMES, KEY_VARS = {}, {}
for i, p in ipairs(providers.LIST) do
  PROVIDER_NAMES[i] = p.name
  if p.name ~= providers.DEFAULT then
    KEY_VARS[#KEY_VARS + 1] = "with --provider " .. p.name .. " $" .. p.env.api_key
  end
end
local DEFAULT_PROVIDER = providers.NAMES[providers.DEFAULT]

-- Accepted before or after the command words; the providers' own flags (their
-- flag_help in api/provider.lua) follow --provider.
M.GLOBAL_OPTIONS = {
  { "--api-key", "KEY", "API key (default $" .. DEFAULT_PROVIDER.env.api_key
    .. (#KEY_VARS > 0 and "; " .. table.concat(KEY_VARS, "; ") or "") .. ")" },
  { "--base-url", "URL", "API base URL (default $" .. DEFAULT_PROVIDER.env.base_url .. " or "
    .. DEFAULT_PROVIDER.base_url .. ")" },
  { "--provider", "NAME", table.concat(PROVIDER_NAMES, " or ") .. " (default $" .. providers.ENV .. " or "
    .. providers.DEFAULT .. ")", type = "choice", choices = PROVIDER_NAMES },
  { "--timeout", "SECONDS", "timeout of each HTTP request (default 600)", type = "number" },
  { "--max-retries", "N", "retries of each request on 429/5xx/network errors (default 2)", type = "count" },
  { "--json", nil, "print the result as JSON on stdout (for scripts)" },
  { "--quiet", nil, "no status lines or progress on stderr", short = "-q" },
  { "--no-progress", nil, "no progress bars or live lines, even on a terminal" },
  { "--no-color", nil, "no colors (also when NO_COLOR is set)" },
  { "--help", nil, "show help for the command", short = "-h" },
}

do
  local at = 4 -- after --provider
  for _, p in ipairs(providers.LIST) do
    for _, h in ipairs(p.flag_help or {}) do
      local option, metavar, what, note = h[1], h[2], h[3], h[4]
      table.insert(M.GLOBAL_OPTIONS, at, { p.flags[option], metavar,
        what .. " (default $" .. p.env[option] .. (note and "; " .. note or "") .. ")" })
      at = at + 1
    end
  end
end

local EXIT_HELP = [[
exit codes:
  0    success
  1    the API or the network failed, or a local file could not be read or written
  2    usage error (unknown command or option, missing argument, no API key)
  3    training data invalid (validate found errors; run refused the file; the
       server marked an uploaded file as error)
  4    the job failed or was cancelled (jobs follow, jobs wait, run)
  5    --wait-timeout expired before the job or file was done
  130  interrupted (Ctrl-C); a job keeps running on the server]]

local function load(entry)
  return require(entry.module)
end

local function find(list, name)
  for _, c in ipairs(list) do
    if c.name == name then return c end
  end
  return nil
end

function M.usage()
  local lines = {
    "usage: openai-ft [global options] <command> [<subcommand>] [options] [arguments]",
    "",
    "Drive the OpenAI fine-tuning workflow from the command line: check training data,",
    "upload it, start a job, follow it to the fine-tuned model, plot its loss.",
    "",
    "commands:",
  }
  for _, entry in ipairs(M.commands) do
    local mod = load(entry)
    lines[#lines + 1] = string.format("  %-12s %s", entry.name, mod.summary)
    for _, cmd in ipairs(mod.commands or {}) do
      lines[#lines + 1] = string.format("    %-20s %s", cmd.name .. (cmd.synopsis and (" " .. cmd.synopsis) or ""),
        cmd.summary)
    end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "global options:"
  local top = { { "--version", nil, "print the version" } }
  for i, row in ipairs(M.GLOBAL_OPTIONS) do top[i + 1] = row end
  lines[#lines + 1] = args.help(top)
  lines[#lines + 1] = ""
  lines[#lines + 1] = EXIT_HELP
  lines[#lines + 1] = ""
  lines[#lines + 1] = "example (against the offline fake server):"
  lines[#lines + 1] = "  openai-ft fake-server --port 8080 --speed 20 &"
  lines[#lines + 1] = "  export OPENAI_BASE_URL=http://127.0.0.1:8080/v1 OPENAI_API_KEY=sk-fake"
  lines[#lines + 1] = "  openai-ft run examples/data/train.jsonl --model gpt-4o-mini-2024-07-18"
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Run 'openai-ft <command> --help' for a command's options."
  return table.concat(lines, "\n") .. "\n"
end

local function group_usage(name, mod)
  local lines = { "usage: openai-ft " .. name .. " <subcommand> [options]", "", mod.summary:gsub("^%l", string.upper)
    .. ".", "", "subcommands:" }
  for _, cmd in ipairs(mod.commands) do
    lines[#lines + 1] = string.format("  %-22s %s", cmd.name .. (cmd.synopsis and (" " .. cmd.synopsis) or ""),
      cmd.summary)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Run 'openai-ft " .. name .. " <subcommand> --help' for its options; 'openai-ft --help' for"
  lines[#lines + 1] = "the global options and exit codes."
  return table.concat(lines, "\n") .. "\n"
end

local function command_usage(path, cmd)
  local lines = { "usage: openai-ft " .. path .. (cmd.synopsis and (" " .. cmd.synopsis) or "") .. " [options]", "",
    cmd.description or (cmd.summary:gsub("^%l", string.upper) .. ".") }
  if cmd.options and #cmd.options > 0 then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "options:"
    lines[#lines + 1] = args.help(cmd.options)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "global options:"
  lines[#lines + 1] = args.help(M.GLOBAL_OPTIONS)
  if cmd.exit_codes then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "exit codes: " .. cmd.exit_codes
  end
  return table.concat(lines, "\n") .. "\n"
end

local GLOBAL_INDEX = args.index(M.GLOBAL_OPTIONS)

-- The command words: the first `want` words that are not options (skipping the
-- values of global options), and every other word in order.
local function split_words(argv, want)
  local words, rest = {}, {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if #words < want and a:sub(1, 1) ~= "-" then
      words[#words + 1] = a
    else
      rest[#rest + 1] = a
      if args.takes_value(GLOBAL_INDEX, a) and #words < want then
        i = i + 1
        rest[#rest + 1] = argv[i]
      end
      if a == "--" then
        for j = i + 1, #argv do rest[#rest + 1] = argv[j] end
        break
      end
    end
    i = i + 1
  end
  return words, rest
end

local function has_flag(list, ...)
  for _, a in ipairs(list) do
    if a == "--" then return false end
    for i = 1, select("#", ...) do
      if a == select(i, ...) then return true end
    end
  end
  return false
end

local function run_command(path, cmd, rest, env)
  if has_flag(rest, "-h", "--help") then
    io.stdout:write(command_usage(path, cmd))
    return M.EXIT.ok
  end
  local opts, pos = args.parse(rest, args.index(cmd.options, M.GLOBAL_OPTIONS))
  local ctx = context.new{ opts = opts or {}, args = pos, command = path, env = env }
  if not opts then ctx:usage(pos) end
  return cmd.run(ctx) or M.EXIT.ok
end

local dispatch

function dispatch(argv, env)
  local first = split_words(argv, 1)
  local name = first[1]
  if name == nil then
    if has_flag(argv, "--version") then
      io.stdout:write("openai-ft ", require("openai.finetunes")._VERSION, "\n")
      return M.EXIT.ok
    end
    local help = has_flag(argv, "-h", "--help", "help")
    io[help and "stdout" or "stderr"]:write(M.usage())
    return help and M.EXIT.ok or M.EXIT.usage
  end
  if name == "help" then -- `help jobs [list]` is `jobs [list] --help`
    local words = split_words(argv, 3)
    if not words[2] then
      io.stdout:write(M.usage())
      return M.EXIT.ok
    end
    table.remove(words, 1)
    words[#words + 1] = "--help"
    return dispatch(words, env)
  end
  local entry = find(M.commands, name)
  if not entry then
    context.new{ command = nil }:usage("unknown command '" .. name .. "'")
  end
  if entry.raw then
    local rest = {}
    local seen = false
    for _, a in ipairs(argv) do
      if seen then rest[#rest + 1] = a elseif a == name then seen = true end
    end
    return load(entry).run(rest)
  end
  local mod = load(entry)
  if mod.run then -- a leaf command (validate, run)
    local _, rest = split_words(argv, 1)
    return run_command(name, mod, rest, env)
  end
  local words, rest = split_words(argv, 2)
  local sub = words[2]
  if sub == nil or sub == "help" then
    local help = sub == "help" or has_flag(rest, "-h", "--help")
    io[help and "stdout" or "stderr"]:write(group_usage(name, mod))
    return help and M.EXIT.ok or M.EXIT.usage
  end
  local cmd = find(mod.commands, sub)
  if not cmd then
    context.new{ command = name }:usage("unknown subcommand '" .. sub .. "'")
  end
  return run_command(name .. " " .. sub, cmd, rest, env)
end

-- What a raised error means for the user: message and exit code.
local function report(e)
  if context.is_exit(e) then
    if e.message and e.message ~= "" then
      local prefix = "openai-ft" .. (e.command and (" " .. e.command) or "") .. ": "
      io.stderr:write(prefix, inert(e.message, nil, true), "\n")
      if e.usage then
        io.stderr:write("Run 'openai-ft", e.command and (" " .. e.command) or "", " --help' for usage.\n")
      end
    end
    return e.code
  end
  local msg = tostring(e)
  if msg:find("interrupted!", 1, true) then
    io.stderr:write("\nopenai-ft: interrupted\n")
    return M.EXIT.interrupted
  end
  if require("openai.finetunes.misuse").is_misuse(e) then
    io.stderr:write("openai-ft: ", msg, "\n")
    return M.EXIT.usage
  end
  io.stderr:write("openai-ft: internal error: ", msg, "\n")
  return M.EXIT.failure
end

-- main(argv [, env]) -> exit code. env: a getenv function (tests).
function M.main(argv, env)
  argv = argv or {}
  local copy = {}
  for i = 1, #argv do copy[i] = argv[i] end
  local traceback
  -- misuse of the library comes back as its value (report prints it): never parsed from text
  local misuse = require("openai.finetunes.misuse")
  local ok, code = misuse.xcapture(function() return dispatch(copy, env) end, function(e)
    if not context.is_exit(e) and (os.getenv("OPENAI_FT_DEBUG") or "") ~= "" then
      traceback = debug.traceback(tostring(e), 2)
    end
    return e
  end)
  if traceback then io.stderr:write(traceback, "\n") end
  if not ok then code = report(code) end
  io.stdout:flush()
  return code
end

return M
