-- openai-ft: command dispatch. Each subcommand is a module in this directory with
-- `summary` (one line), `usage` (its --help text) and `run(args) -> exit code`.
local M = {}

-- Subcommands, in the order `openai-ft --help` lists them.
M.commands = {
  { name = "fake-server", module = "openai.finetunes.cli.fake_server" },
}

local function load(cmd)
  return require(cmd.module)
end

function M.usage()
  local lines = {
    "usage: openai-ft <command> [options]",
    "",
    "Drive the OpenAI fine-tuning workflow from the command line.",
    "",
    "commands:",
  }
  for _, cmd in ipairs(M.commands) do
    lines[#lines + 1] = string.format("  %-14s %s", cmd.name, load(cmd).summary)
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Run 'openai-ft <command> --help' for a command's options."
  return table.concat(lines, "\n") .. "\n"
end

-- main(argv) -> exit code
function M.main(argv)
  argv = argv or {}
  local name = argv[1]
  if name == nil or name == "-h" or name == "--help" or name == "help" then
    io.stdout:write(M.usage())
    return name == nil and 2 or 0
  end
  for _, cmd in ipairs(M.commands) do
    if cmd.name == name then
      local rest = {}
      for i = 2, #argv do rest[#rest + 1] = argv[i] end
      return load(cmd).run(rest)
    end
  end
  io.stderr:write("openai-ft: unknown command '", tostring(name), "'\n\n", M.usage())
  return 2
end

return M
