-- openai-ft webhooks: endpoint management against the fake server (the signing secret
-- only where asked), and `listen` as a real child process receiving the fake's
-- deliveries: one line (or JSON document) per verified event, 400 to a forged one,
-- --forward, and its end on --count, SIGTERM and Ctrl-C (SIGINT, exit 130).
local ft = require("openai.finetunes")
local H = require("spec.support.client_helper")
local C = require("spec.support.cli_child")
local nginx = require("spec.support.nginx")
local socket = require("socket")

local server, dir

local exit_code = C.exit_code

-- The shell command running openai-ft with `args`: the spec's environment without
-- OPENAI_WEBHOOK_SECRET (spec/support/cli_child.lua, how.inherit).
local function command(args, env)
  return C.command(server, args, env, { inherit = true, unset = { "OPENAI_WEBHOOK_SECRET" } })
end

local function cli(args, env)
  local out, err = dir .. "/stdout", dir .. "/stderr"
  local code = exit_code(os.execute(command(args, env) .. " </dev/null >" .. out .. " 2>" .. err))
  return code, H.read(out), H.read(err)
end

-- `listen` in the background: returns pid, and a function reading its output and exit code
local function listen(args, env)
  local n = tostring(socket.gettime()):gsub("%.", "")
  local base = dir .. "/listen" .. n
  local cmd = "sh -c " .. H.shell_quote(command(args, env) .. " >" .. base .. ".out 2>" .. base .. ".err; echo $? >"
    .. base .. ".code")
  local pid = nginx.spawn(cmd)
  local function result()
    local f = io.open(base .. ".code")
    local code = f and tonumber(f:read("*l"))
    if f then f:close() end
    return code, H.read(base .. ".out"), H.read(base .. ".err")
  end
  return pid, result
end

local function wait_file(path, seconds)
  local deadline = socket.gettime() + (seconds or 10)
  while socket.gettime() < deadline do
    local f = io.open(path)
    if f then
      local s = f:read("*a")
      f:close()
      if s ~= "" then return s end
    end
    socket.sleep(0.02)
  end
  error("no " .. path)
end

-- the interpreter the spawned shell runs (its only child): signals go to it, by pid
local function child_of(pid)
  local deadline = socket.gettime() + 5
  while socket.gettime() < deadline do
    local p = io.popen("pgrep -P " .. pid)
    local child = tonumber(p:read("*l") or "")
    p:close()
    if child then return child end
    socket.sleep(0.02)
  end
  error("no child of " .. pid)
end

-- Waits (10 s at most) until something accepts connections on 127.0.0.1:port and
-- ready() (when given) says so too.
local function until_listening(port, what, ready)
  local deadline = socket.gettime() + 10
  while true do
    if not ready or ready() then
      local s = socket.tcp()
      s:settimeout(0.2)
      local ok = s:connect("127.0.0.1", port)
      s:close()
      if ok then return end
    end
    assert(socket.gettime() < deadline, what .. " did not get ready to take the webhook")
    socket.sleep(0.05)
  end
end

local function wait_exit(result, seconds)
  local deadline = socket.gettime() + (seconds or 10)
  while socket.gettime() < deadline do
    local code, out, err = result()
    if code then return code, out, err end
    socket.sleep(0.05)
  end
  error("listen did not exit")
end

describe("openai-ft webhooks", function()
  local c
  setup(function()
    server = H.start()
    dir = H.tmpdir()
  end)
  teardown(function() H.rmdir(dir) end)
  before_each(function()
    server:reset()
    c = H.client(server)
  end)

  it("creates an endpoint and writes the secret only to --secret-file (0600)", function()
    local code, out, err = cli({ "webhooks", "create", "http://127.0.0.1:9/hook", "--events",
      "fine_tuning.job.succeeded,fine_tuning.job.failed", "--events", "fine_tuning.job.cancelled" })
    assert.equal(2, code)
    assert.matches("give %-%-secret%-file FILE or %-%-show%-secret", err)
    assert.equal("", out)

    local secret_file = dir .. "/secret"
    code, out, err = cli({ "webhooks", "create", "http://127.0.0.1:9/hook", "--events",
      "fine_tuning.job.succeeded,fine_tuning.job.failed", "--events", "fine_tuning.job.cancelled",
      "--secret-file", secret_file, "--json" })
    assert.equal(0, code, err)
    local ep = assert(require("openai.finetunes.codec").json_decode(out))
    assert.same({ "fine_tuning.job.succeeded", "fine_tuning.job.failed", "fine_tuning.job.cancelled" },
      ep.event_types)
    assert.is_nil(ep.signing_secret)
    local secret = H.read(secret_file):match("^(whsec_%S+)\n$")
    assert.is_string(secret)
    assert.not_matches(secret:sub(7), out .. err, 1, true)
    local p = io.popen("stat -c %a " .. H.shell_quote(secret_file))
    assert.equal("600", p:read("*l"))
    p:close()

    code, out = cli({ "webhooks", "list" })
    assert.equal(0, code)
    assert.matches(ep.id, out, 1, true)
    assert.matches("fine_tuning.job.succeeded,fine_tuning.job.failed", out, 1, true)
    code, out = cli({ "webhooks", "get", ep.id })
    assert.equal(0, code)
    assert.matches("signing_secret_hint", out, 1, true)
    code, out = cli({ "webhooks", "update", ep.id, "--name", "renamed", "--json" })
    assert.equal(0, code)
    assert.equal("renamed", require("openai.finetunes.codec").json_decode(out).name)
    code, out = cli({ "webhooks", "rotate", ep.id, "--keep-old", "--show-secret" })
    assert.equal(0, code)
    local rotated = out:match("(whsec_%S+)")
    assert.is_string(rotated)
    assert.not_equal(secret, rotated)
    code, out = cli({ "webhooks", "event-types" })
    assert.equal(0, code)
    assert.matches("\nfine_tuning.job.cancelled\n", "\n" .. out, 1, true)
    code, out = cli({ "webhooks", "delete", ep.id })
    assert.equal(0, code)
    assert.equal("deleted " .. ep.id .. "\n", out)
    code, out, err = cli({ "webhooks", "get", ep.id })
    assert.equal(1, code)
    assert.equal("", out)
    assert.matches("404", err)
  end)

  it("listen prints each verified event, answers 400 to a forged one, forwards, and ends on --count", function()
    -- a second receiver for --forward, in this process
    local forwarded = {}
    local fwd = assert(ft.webhook_receiver{ tolerance = 1e9, on_event = function(e) forwarded[#forwarded + 1] = e end })
    finally(function() fwd:close() end)
    local ep = assert(c:create_webhook_endpoint{ url = "http://127.0.0.1:9/", name = "cli",
      event_types = ft.array{ "fine_tuning.job.succeeded" } })
    fwd.verify_opts.secret = ep.signing_secret
    H.write(dir .. "/listen.secret", ep.signing_secret .. "\n")
    local port_file = dir .. "/listen.port"
    os.remove(port_file)
    local pid, result = listen({ "webhooks", "listen", "--port-file", port_file, "--secret-file",
      dir .. "/listen.secret", "--count", "2", "--forward", fwd.url })
    finally(function() nginx.kill(pid) end)
    local port = tonumber(wait_file(port_file))
    assert(c:update_webhook_endpoint(ep.id, { url = ("http://127.0.0.1:%d/"):format(port) }))

    -- a forged delivery: 400, and a line on stderr naming the check
    local status = require("spec.support.openresty").get(("http://127.0.0.1:%d/"):format(port), 5, "POST")
    assert.equal(400, status)

    -- the test event (synchronous in the fake), then a real job's event
    local r = assert(c:test_webhook_endpoint(ep.id, { event_type = "fine_tuning.job.succeeded" }))
    assert.same({ object = "webhook_endpoint.test", event_type = "fine_tuning.job.succeeded", status_code = 200,
      success = true, webhook_endpoint_id = ep.id }, r)
    local file = H.training_file(c)
    local job = assert(c:create_job{ model = H.MODEL, training_file = file.id })
    server:advance(3600)
    local deadline = socket.gettime() + 10
    while #forwarded < 2 and socket.gettime() < deadline do fwd:step(0.05) end
    local code, out, err = wait_exit(result)
    assert.equal(0, code, err)
    local lines = {}
    for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
    assert.equal(2, #lines, out)
    assert.matches("fine_tuning.job.succeeded ftjob%-test_%x+ evt_", lines[1])
    assert.matches("fine_tuning.job.succeeded " .. job.id .. " evt_", lines[2], 1, true)
    assert.matches("refused a delivery %(HTTP 400%): webhook error %(missing_header%)", err)
    assert.not_matches(ep.signing_secret:sub(7), out .. err, 1, true)
    assert.equal(2, #forwarded)
    assert.equal(job.id, forwarded[2].data.id)
    local d = server:control("GET", "/_fake/webhook_deliveries").data
    assert.equal("test", d[1].kind)
    assert.equal("delivered", d[2].status)
  end)

  it("listen --json prints one JSON document per event; SIGTERM and Ctrl-C end it", function()
    local ep = assert(c:create_webhook_endpoint{ url = "http://127.0.0.1:9/", name = "cli",
      event_types = ft.array{ "fine_tuning.job.cancelled" } })
    local port_file = dir .. "/json.port"
    os.remove(port_file)
    local pid, result = listen({ "webhooks", "listen", "--json", "--port-file", port_file },
      { OPENAI_WEBHOOK_SECRET = ep.signing_secret })
    finally(function() nginx.kill(pid) end)
    local port = tonumber(wait_file(port_file))
    assert(c:update_webhook_endpoint(ep.id, { url = ("http://127.0.0.1:%d/"):format(port) }))
    assert(c:test_webhook_endpoint(ep.id, { event_type = "fine_tuning.job.cancelled" }))
    os.execute("kill -TERM " .. child_of(pid))
    local code, out = wait_exit(result)
    assert.equal(128 + 15, code) -- ended by the signal
    local event = require("openai.finetunes.codec").json_decode(out:match("^[^\n]+"))
    assert.equal("fine_tuning.job.cancelled", event.type)

    os.remove(port_file)
    local pid2, result2 = listen({ "webhooks", "listen", "--port-file", port_file },
      { OPENAI_WEBHOOK_SECRET = ep.signing_secret })
    finally(function() nginx.kill(pid2) end)
    wait_file(port_file)
    os.execute("kill -INT " .. child_of(pid2))
    local code2, _, err2 = wait_exit(result2)
    assert.equal(130, code2, err2)
    assert.matches("interrupted", err2)
  end)

  it("jobs wait --webhook-port takes the final event instead of polling", function()
    local port = nginx.free_port()
    local ep = assert(c:create_webhook_endpoint{ url = ("http://127.0.0.1:%d/"):format(port), name = "wait",
      event_types = ft.array{ "fine_tuning.job.succeeded", "fine_tuning.job.failed" } })
    local file = H.training_file(c)
    local job = assert(c:create_job{ model = H.MODEL, training_file = file.id })
    local mark = server:mark()
    local pid, result = listen({ "jobs", "wait", job.id, "--webhook-port", tostring(port) },
      { OPENAI_WEBHOOK_SECRET = ep.signing_secret })
    finally(function() nginx.kill(pid) end)
    until_listening(port, "jobs wait") -- then let the job end
    server:advance(3600)
    local code, out, err = wait_exit(result)
    assert.equal(0, code, err)
    assert.matches("^ft:", out)
    assert.matches("waiting for the job's webhook on http://127.0.0.1:" .. port, err, 1, true)
    local reqs = server:requests{ since = mark }
    assert.equal(1, #reqs) -- the one fetch after the event
    assert.equal("/v1/fine_tuning/jobs/" .. job.id, reqs[1].path)
  end)

  it("run --webhook-port uploads, creates, and takes the job's end from its webhook: no status polls", function()
    local port = nginx.free_port()
    local ep = assert(c:create_webhook_endpoint{ url = ("http://127.0.0.1:%d/"):format(port), name = "run",
      event_types = ft.array{ "fine_tuning.job.succeeded", "fine_tuning.job.failed" } })
    local mark = server:mark()
    local pid, result = listen({ "run", H.TRAIN, "--model", H.MODEL, "--webhook-port", tostring(port) },
      { OPENAI_WEBHOOK_SECRET = ep.signing_secret })
    finally(function() nginx.kill(pid) end)
    until_listening(port, "run", function() -- and its job exists: then let the job end
      for _, r in ipairs(server:requests{ since = mark, method = "POST" }) do
        if r.path == "/v1/fine_tuning/jobs" and r.status == 200 then return true end
      end
    end)
    server:advance(3600)
    local code, out, err = wait_exit(result)
    assert.equal(0, code, err)
    assert.matches("^ft:", out)
    assert.matches("waiting for the job's webhook on http://127.0.0.1:" .. port, err, 1, true)
    local job_reads = 0
    for _, r in ipairs(server:requests{ since = mark, method = "GET" }) do
      assert.is_nil(r.path:find("/events", 1, true), "run read events: " .. r.path)
      if r.path:find("^/v1/fine_tuning/jobs/") then job_reads = job_reads + 1 end
    end
    assert.equal(1, job_reads) -- the one fetch after the event
  end)

  it("listen without a secret is a usage error", function()
    local code, _, err = cli({ "webhooks", "listen", "--count", "1" })
    assert.equal(2, code)
    assert.matches("no signing secret: set OPENAI_WEBHOOK_SECRET", err)
  end)
end)
