-- openai-ft fake-server: run the offline stand-in for the OpenAI API (or, with
-- --azure, for an Azure OpenAI resource) on loopback.
local M = {}

M.summary = "run a local fake OpenAI API server (offline, stateful)"

M.usage = [[
usage: openai-ft fake-server [options]

Serve a stateful, offline stand-in for the OpenAI fine-tuning API on loopback.
Point a client at the printed base URL with any API key (with --azure: at the
printed endpoint, as an Azure OpenAI resource).

options:
  --host HOST          address to listen on (default 127.0.0.1; ::1 for IPv6)
  --port N             port (default 0: pick a free one)
  --port-file FILE     write the chosen port to FILE once listening
  --data-dir DIR       where uploaded files are stored (default: a temp dir,
                       removed on exit; a server killed by a signal other than
                       Ctrl-C cannot remove it: stop it with /_fake/shutdown,
                       --watch-pid or --idle-timeout, or give --data-dir)
  --speed X            run the job clock X times faster than real time (default 1)
  --api-key KEY        accept only this key (default: any non-empty bearer key;
                       with --azure: the only accepted api-key header)
  --proxy-auth U:P     require Proxy-Authorization for absolute-form (proxy) requests
  --org NAME           organization name used in fine-tuned model ids (default personal)
  --watch-pid PID      exit when process PID is gone
  --idle-timeout S     exit after S seconds without requests
  --keepalive-timeout S  close keep-alive connections idle for S seconds (default 120)
  --log-limit N        request-log entries kept (default 10000)
  --quiet              no log lines on stderr
  --training-unavailable  refuse job creation as OpenAI does for organisations
                       the 2026 wind-down excludes (403 training_not_available;
                       POST /_fake/training {"available": true} lifts it)
  -h, --help           show this help

Azure OpenAI mode:
  --azure              stand in for an Azure OpenAI resource instead: prints the
                       endpoint (http://HOST:PORT); the API is served at
                       /openai/v1/... (api-version optional: preview or latest) and
                       /openai/...?api-version=V; auth with an `api-key` header
                       (any non-empty key, or only --api-key KEY) or
                       `Authorization: Bearer` with the --ad-token; Azure's error
                       bodies ({"error": {"code", "message"}}) and apim-request-id
  --api-version V      the dated api-version served (default 2024-10-21)
  --ad-token T         accept `Authorization: Bearer T` (a Microsoft Entra token;
                       POST /_fake/ad_token {"token": "NEW"} replaces it)

Control API under /_fake/ (request log, faults, clock, reset): see
lua/openai/finetunes/fake/README.md.
]]

local FLAGS = {
  ["--host"] = "host", ["--port"] = "port", ["--port-file"] = "port_file", ["--data-dir"] = "data_dir",
  ["--speed"] = "speed", ["--api-key"] = "api_key", ["--proxy-auth"] = "proxy_auth", ["--org"] = "org",
  ["--watch-pid"] = "watch_pid", ["--idle-timeout"] = "idle_timeout", ["--log-limit"] = "log_limit",
  ["--keepalive-timeout"] = "keepalive_timeout", ["--api-version"] = "api_version", ["--ad-token"] = "ad_token",
}
local NUMERIC = { port = true, speed = true, watch_pid = true, idle_timeout = true, log_limit = true,
  keepalive_timeout = true }

-- parse(args) -> opts | nil, message
function M.parse(args)
  local opts = {}
  local i = 1
  while i <= #args do
    local a = args[i]
    local flag, inline = a:match("^(%-%-[%w-]+)=(.*)$")
    flag = flag or a
    if flag == "-h" or flag == "--help" then
      opts.help = true
    elseif flag == "--quiet" then
      opts.quiet = true
    elseif flag == "--azure" then
      opts.azure = true
    elseif flag == "--training-unavailable" then
      opts.training_unavailable = true
    elseif FLAGS[flag] then
      local v = inline
      if v == nil then
        i = i + 1
        v = args[i]
      end
      if v == nil then return nil, flag .. " needs a value" end
      local key = FLAGS[flag]
      if NUMERIC[key] then
        local n = tonumber(v)
        if not n or n < 0 then return nil, flag .. " needs a number, got '" .. v .. "'" end
        if key == "speed" and n <= 0 then return nil, "--speed must be greater than 0" end
        v = n
      end
      opts[key] = v
    else
      return nil, "unknown option '" .. a .. "'"
    end
    i = i + 1
  end
  -- they would be ignored in OpenAI mode: say so rather than serve something else
  if not opts.azure and (opts.api_version or opts.ad_token) then
    return nil, (opts.api_version and "--api-version" or "--ad-token") .. " needs --azure"
  end
  return opts
end

function M.run(args)
  local opts, err = M.parse(args)
  if not opts then
    io.stderr:write("openai-ft fake-server: ", err, "\n\n", M.usage)
    return 2
  end
  if opts.help then
    io.stdout:write(M.usage)
    return 0
  end
  local fake = require("openai.finetunes.fake")
  opts.on_listen = function(server)
    -- the base URL (OpenAI mode) or the endpoint and api-version (Azure): the mode says
    io.stdout:write(server.mode:describe(server), "\n")
    io.stdout:flush()
  end
  local ok, e = pcall(fake.start, opts)
  if not ok then
    io.stderr:write("openai-ft fake-server: ", tostring(e), "\n")
    return 1
  end
  return 0
end

return M
