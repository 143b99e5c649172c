-- bin/openai-ft, run for real as a child process against the fake server: every
-- subcommand's happy path and --json shape, usage errors and exit codes, `run` from a raw
-- file to a model id, validate, the metrics plot and SVG, and the progress bar only on a
-- terminal (a pty from `script`).
local H = require("spec.support.client_helper")
local C = require("spec.support.cli_child")
local fake = require("openai.finetunes.fake")
local fake_server = require("spec.support.fake_server")
local core = require("openai.finetunes.core")
local codec = require("openai.finetunes.codec")
local logged = require("openai.finetunes.fake.reqlog").redact_credential

local MODEL = H.MODEL
local TRAIN = H.TRAIN

local server, dir

local exit_code = C.exit_code

-- What steers openai-ft, unset in its children; the rest of the spec's environment
-- is kept (spec/support/cli_child.lua, how.inherit).
local UNSET = { "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID",
  "OPENAI_CUSTOM_HEADERS", "OPENAI_FT_TTY", "NO_COLOR", "COLUMNS", "LC_ALL", "LC_CTYPE", "LANG",
  "OPENAI_API_TYPE", "OPENAI_API_VERSION", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY",
  "AZURE_OPENAI_AD_TOKEN" }

-- The shell command running openai-ft with `args` (a list); `env` as cli_child's.
local function command(args, env)
  local vars = { LANG = "C.UTF-8" }
  for k, v in pairs(env or {}) do vars[k] = v end
  return C.command(server, args, vars, { inherit = true, unset = UNSET })
end

-- cli(args, env) -> exit code, stdout, stderr
local function cli(args, env)
  local out, err = dir .. "/stdout", dir .. "/stderr"
  local code = exit_code(os.execute(command(args, env) .. " </dev/null >" .. out .. " 2>" .. err))
  return code, H.read(out), H.read(err)
end

-- on a pseudo-terminal: exit code, everything it wrote (stdout and stderr together)
local function cli_tty(args, env)
  local out = dir .. "/tty"
  local code = exit_code(os.execute("script -qefc " .. H.shell_quote(command(args, env)) .. " /dev/null >" .. out
    .. " 2>&1 </dev/null"))
  return code, H.read(out)
end

-- on a pseudo-terminal, `input` typed on it and `setup` (shell words, e.g. "stty cols 45")
-- run on it first: exit code, everything it showed
local function cli_typed(args, input, env, setup)
  local out = dir .. "/tty"
  local inner = (setup and (setup .. " && ") or "") .. command(args, env)
  local code = exit_code(os.execute("printf %s " .. H.shell_quote(input or "") .. " | script -qefc "
    .. H.shell_quote(inner) .. " /dev/null >" .. out .. " 2>&1"))
  return code, H.read(out)
end

-- `s` as a Lua pattern matching itself
local function lit(s)
  return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

local function json(text)
  local v, err = codec.json_decode(text)
  assert(v ~= nil, "not JSON: " .. tostring(err) .. "\n" .. text)
  return v
end

local function ok(code, out, err)
  assert(code == 0, "exit " .. tostring(code) .. "\nstdout: " .. out .. "\nstderr: " .. err)
  return out, err
end

local function upload()
  local out = ok(cli({ "files", "upload", TRAIN, "--json" }))
  return json(out)
end

-- A job that ran to the end on the fake clock.
local function finished_job()
  local file = upload()
  local job = json(ok(cli({ "jobs", "create", "--model", MODEL, "--training-file", file.id, "--json" })))
  server:advance(3600)
  return job
end

setup(function()
  server = fake_server.start({ speed = 50 })
  dir = H.tmpdir()
end)

teardown(function()
  H.rmdir(dir)
end)

before_each(function() server:reset{ speed = 50 } end)

describe("openai-ft --help", function()
  it("answers on every level, exit 0", function()
    local code, out = cli({ "--help" })
    assert.equal(0, code)
    assert.truthy(out:find("^usage: openai%-ft"))
    for _, word in ipairs({ "files", "jobs", "models", "validate", "run", "fake-server", "exit codes:",
      "--json", "--base-url", "--api-key", "--timeout", "--quiet" }) do
      assert.truthy(out:find(word, 1, true), word)
    end
    local cli_mod = require("openai.finetunes.cli")
    for _, entry in ipairs(cli_mod.commands) do
      code, out = cli({ entry.name, "--help" })
      assert.equal(0, code, entry.name)
      assert.truthy(out:find("usage: openai%-ft " .. lit(entry.name)), out)
      for _, cmd in ipairs(require(entry.module).commands or {}) do
        code, out = cli({ entry.name, cmd.name, "--help" })
        assert.equal(0, code, entry.name .. " " .. cmd.name)
        assert.truthy(out:find("usage: openai%-ft " .. lit(entry.name) .. " " .. lit(cmd.name), 1), out)
        assert.truthy(out:find("global options:", 1, true))
      end
    end
  end)

  it("prints the usage on stderr with exit 2 when no command is given", function()
    local code, out, err = cli({})
    assert.equal(2, code)
    assert.equal("", out)
    assert.truthy(err:find("usage: openai%-ft"))
    code, out = cli({ "jobs" })
    assert.equal(2, code)
    assert.equal("", out)
  end)

  it("prints the version", function()
    local code, out = cli({ "--version" })
    assert.equal(0, code)
    assert.equal("openai-ft " .. require("openai.finetunes")._VERSION .. "\n", out)
  end)
end)

describe("openai-ft usage errors (exit 2)", function()
  local cases = {
    { { "bogus" }, "unknown command 'bogus'" },
    { { "jobs", "bogus" }, "unknown subcommand 'bogus'" },
    { { "files", "list", "--bogus" }, "unknown option '--bogus'" },
    { { "files", "list", "--limit", "many" }, "--limit needs a whole number" },
    { { "jobs", "get" }, "missing job ID" },
    { { "jobs", "get", "a", "b" }, "unexpected argument 'b'" },
    { { "files", "upload" }, "missing FILE" },
    { { "jobs", "create", "--training-file", "file-x" }, "missing --model" },
    { { "jobs", "create", "--model", MODEL, "--training-file", "file-x", "--epochs", "-3" }, "--epochs must be" },
    { { "run", TRAIN }, "missing --model" },
    { { "validate", TRAIN, "--method", "sft" }, "--method must be one of" },
    { { "jobs", "get", ".." }, "bad argument #1 to 'job'" },
  }
  for _, case in ipairs(cases) do
    it(table.concat(case[1], " "), function()
      local code, out, err = cli(case[1])
      assert.equal(2, code, err)
      assert.equal("", out)
      assert.truthy(err:find(case[2], 1, true), err)
    end)
  end

  it("reports a missing API key", function()
    local code, _, err = cli({ "files", "list" }, { OPENAI_API_KEY = false })
    assert.equal(2, code)
    assert.truthy(err:find("missing API key: set OPENAI_API_KEY or pass --api-key", 1, true), err)
    code = cli({ "--api-key", "sk-flag", "files", "list" }, { OPENAI_API_KEY = false })
    assert.equal(0, code)
    assert.equal(logged("Bearer sk-flag"), server:last_request().headers.authorization)
  end)
end)

describe("openai-ft --provider azure", function()
  local azure
  setup(function() azure = fake_server.start({ azure = true, speed = 50 }) end)
  before_each(function() azure:reset{ speed = 50 } end)

  it("reaches Azure's v1 and dated APIs with the key in api-key, from flags or the environment", function()
    local code, out, err = cli({ "--provider", "azure", "--endpoint", azure.endpoint, "--api-key", "az-key-1",
      "--json", "models", "list" }, { OPENAI_API_KEY = false })
    ok(code, out, err)
    local entry = azure:last_request()
    assert.equal("/openai/v1/models", entry.path)
    assert.equal(logged("az-key-1"), entry.headers["api-key"])
    assert.is_nil(entry.headers.authorization)
    code, out, err = cli({ "files", "list", "--api-version", "2024-10-21" }, { OPENAI_API_TYPE = "azure",
      AZURE_OPENAI_ENDPOINT = azure.endpoint, AZURE_OPENAI_API_KEY = "az-key-2" })
    ok(code, out, err)
    entry = azure:last_request()
    assert.equal("/openai/files", entry.path)
    assert.equal("2024-10-21", entry.params["api-version"])
    assert.equal(logged("az-key-2"), entry.headers["api-key"])
    -- an OpenAI key in the environment is never sent to Azure
    assert.is_nil(entry.headers.authorization)
  end)

  it("says what is missing or misplaced, exit 2", function()
    local cases = {
      { { "--provider", "azure", "files", "list" }, {},
        "missing Azure OpenAI endpoint: set AZURE_OPENAI_ENDPOINT or pass --endpoint" },
      { { "--provider", "azure", "--endpoint", azure.endpoint, "files", "list" }, {},
        "missing Azure OpenAI credentials: set AZURE_OPENAI_API_KEY (or AZURE_OPENAI_AD_TOKEN) or pass --api-key" },
      { { "--endpoint", azure.endpoint, "files", "list" }, {},
        "endpoint is an Azure OpenAI option: add --provider azure" },
      { { "--provider", "bedrock", "files", "list" }, {}, "--provider must be one of openai, azure" },
      { { "files", "list" }, { OPENAI_API_TYPE = "azure_ad" }, 'OPENAI_API_TYPE must be "openai" or "azure"' },
    }
    for _, case in ipairs(cases) do
      local code, out, err = cli(case[1], case[2])
      assert.equal(2, code, err)
      assert.equal("", out)
      assert.truthy(err:find(case[3], 1, true), err)
    end
    assert.equal(0, #azure:requests())
  end)

  it("fails with Azure's error message and request id, exit 1", function()
    local code, _, err = cli({ "--provider", "azure", "--endpoint", azure.endpoint, "--api-key", "k",
      "files", "get", "file-nope" })
    assert.equal(1, code)
    local entry = azure:last_request()
    assert.truthy(err:find("api error 404", 1, true), err)
    assert.truthy(err:find("[request " .. entry.request_id .. "]", 1, true), err)
  end)
end)

describe("openai-ft global options", function()
  it("takes them before or after the command, --base-url over the environment", function()
    local code, out, err = cli({ "--json", "--base-url", server.base_url, "models", "list" },
      { OPENAI_BASE_URL = "http://127.0.0.1:9/v1" })
    ok(code, out, err)
    assert.is_true(#json(out) > 0)
    code, out = cli({ "models", "list", "--base-url=" .. server.base_url, "--json" },
      { OPENAI_BASE_URL = "http://127.0.0.1:9/v1" })
    assert.equal(0, code)
    assert.is_true(#json(out) > 0)
  end)

  it("exits 1 with the error when the API cannot be reached", function()
    local code, out, err = cli({ "files", "list", "--max-retries", "0", "--timeout", "5" },
      { OPENAI_BASE_URL = "http://127.0.0.1:9/v1" })
    assert.equal(1, code)
    assert.equal("", out)
    assert.truthy(err:find("^openai%-ft files list: connect error"), err)
  end)
end)

describe("openai-ft files", function()
  it("upload, list, get, download, delete (table and --json)", function()
    local file = upload()
    assert.equal("file", file.object)
    assert.equal("fine-tune", file.purpose)
    assert.equal(#H.read(TRAIN), file.bytes)
    assert.equal("train.jsonl", file.filename)

    local out = ok(cli({ "files", "list" }))
    assert.truthy(out:find("^ID%s+BYTES%s+CREATED%s+PURPOSE%s+STATUS%s+FILENAME\n"), out)
    assert.truthy(out:find(file.id, 1, true))
    local list = json(ok(cli({ "files", "list", "--json", "--purpose", "fine-tune" })))
    assert.equal(1, #list)
    assert.equal(file.id, list[1].id)

    out = ok(cli({ "files", "get", file.id }))
    assert.truthy(out:find("^id%s+" .. lit(file.id) .. "\n"), out)
    assert.equal(file.id, json(ok(cli({ "files", "get", file.id, "--json" }))).id)

    local target = dir .. "/copy.jsonl"
    out = ok(cli({ "files", "download", file.id, "-o", target }))
    assert.truthy(out:find("wrote " .. target, 1, true))
    assert.equal(H.read(TRAIN), H.read(target))
    local code, _, err = cli({ "files", "download", file.id, "-o", target })
    assert.equal(1, code)
    assert.truthy(err:find("exists (use --force", 1, true))
    local r = json(ok(cli({ "files", "download", file.id, "-o", target, "--force", "--json" })))
    assert.same({ id = file.id, path = target, bytes = file.bytes }, r)
    out = ok(cli({ "files", "download", file.id, "-o", "-" }))
    assert.equal(H.read(TRAIN), out)

    local del = json(ok(cli({ "files", "delete", file.id, "--json", "--yes" })))
    assert.is_true(del.deleted)
    code, out, err = cli({ "files", "get", file.id })
    assert.equal(1, code)
    assert.equal("", out)
    assert.truthy(err:find("404"), err)
  end)

  it("upload --wait exits 3 when the server marks the file as error", function()
    server:next_file{ status = "uploaded", ready_after = 0.2, final_status = "error",
      final_status_details = "Invalid file format." }
    local code, _, err = cli({ "files", "upload", TRAIN, "--wait", "--poll-interval", "0.1" })
    assert.equal(3, code, err)
    assert.truthy(err:find("could not be processed: Invalid file format.", 1, true), err)
  end)

  it("uploads through the Uploads API with --large", function()
    local f = json(ok(cli({ "files", "upload", TRAIN, "--large", "--json" })))
    assert.equal(#H.read(TRAIN), f.bytes)
    assert.equal(1, #server:requests{ path = "^/v1/uploads$", method = "POST" })
  end)
end)

describe("openai-ft jobs", function()
  it("create, list, get, events, checkpoints, metrics (table and --json)", function()
    local job = finished_job()
    assert.equal("fine_tuning.job", job.object)
    assert.equal(MODEL, job.model)

    local list = json(ok(cli({ "jobs", "list", "--json" })))
    assert.equal(job.id, list[1].id)
    local out = ok(cli({ "jobs", "list" }))
    assert.truthy(out:find("^ID%s+STATUS%s+MODEL%s+CREATED%s+FINE%-TUNED MODEL\n"), out)
    assert.truthy(out:find(lit(job.id) .. "%s+succeeded"), out)

    local got = json(ok(cli({ "jobs", "get", job.id, "--json" })))
    assert.equal("succeeded", got.status)
    assert.truthy(got.fine_tuned_model:find("^ft:"))

    local events = json(ok(cli({ "jobs", "events", job.id, "--all", "--json" })))
    assert.equal("fine_tuning.job.event", events[1].object)
    assert.truthy(events[#events].message:find("^Created fine%-tuning job"))  -- newest first, as the API
    out = ok(cli({ "jobs", "events", job.id, "-n", "3" }))
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(4, #lines)
    assert.truthy(lines[4]:find("The job has successfully completed", 1, true), out) -- oldest first

    local ckpts = json(ok(cli({ "jobs", "checkpoints", job.id, "--json" })))
    assert.is_true(#ckpts >= 1)
    assert.equal("fine_tuning.job.checkpoint", ckpts[1].object)
    out = ok(cli({ "jobs", "checkpoints", job.id }))
    assert.truthy(out:find("ckpt%-step%-"), out)

    local rows = json(ok(cli({ "jobs", "metrics", job.id, "--json" })))
    assert.is_true(#rows > 10)
    assert.equal(1, rows[1].step)
    assert.equal("number", type(rows[1].train_loss))
    out = ok(cli({ "jobs", "metrics", job.id }))
    assert.truthy(out:find("^%s*STEP%s+TRAIN_LOSS"), out)
  end)

  it("create with hyperparameters, suffix and metadata", function()
    local file = upload()
    local job = json(ok(cli({ "jobs", "create", "--model", MODEL, "--training-file", file.id, "--epochs", "2",
      "--batch-size", "auto", "--learning-rate-multiplier", "0.5", "--suffix", "demo", "--seed", "7",
      "--metadata", "team=ml", "--json" })))
    local sent = server:requests{ path = "^/v1/fine_tuning/jobs$", method = "POST" }
    local body = sent[#sent].json
    assert.same({ n_epochs = 2, batch_size = "auto", learning_rate_multiplier = 0.5 },
      body.method.supervised.hyperparameters)
    assert.equal("supervised", body.method.type)
    assert.equal("demo", body.suffix)
    assert.equal(7, body.seed)
    assert.same({ team = "ml" }, body.metadata)
    assert.equal("ml", job.metadata.team)
  end)

  it("pause, resume, cancel", function()
    local file = upload()
    server:next_job{ steps = 400, step_seconds = 1 }
    local job = json(ok(cli({ "jobs", "create", "--model", MODEL, "--training-file", file.id, "--json" })))
    server:advance(5)
    assert.equal("paused", json(ok(cli({ "jobs", "pause", job.id, "--json" }))).status)
    local out = ok(cli({ "jobs", "resume", job.id }))
    assert.equal("resumed " .. job.id .. ": queued\n", out)
    assert.equal("cancelled", json(ok(cli({ "jobs", "cancel", job.id, "--json", "--yes" }))).status)
  end)

  it("follow prints every event once, oldest first, and exits 0 with the model", function()
    local file = upload()
    local job = json(ok(cli({ "jobs", "create", "--model", MODEL, "--training-file", file.id, "--json" })))
    local code, out, err = cli({ "jobs", "follow", job.id, "--poll-interval", "0.1" })
    ok(code, out, err)
    local created = out:find("Created fine-tuning job", 1, true)
    local step1 = out:find("Step 1/", 1, true)
    local done = out:find("The job has successfully completed", 1, true)
    assert.truthy(created and step1 and done, out)
    assert.is_true(created < step1 and step1 < done)
    local _, n = out:gsub("Step 1/", "")
    assert.equal(1, n)
    assert.truthy(out:find("\nfine%-tuned model: ft:" .. lit(MODEL) .. ":"), out)
    assert.truthy(err:find("status: ", 1, true))
    assert.falsy(out:find("\r", 1, true)) -- no live line off a terminal
  end)

  it("follow --json prints events as JSON lines, then the job", function()
    local file = upload()
    local job = json(ok(cli({ "jobs", "create", "--model", MODEL, "--training-file", file.id, "--json" })))
    local out = ok(cli({ "jobs", "follow", job.id, "--poll-interval", "0.1", "--json" }))
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = json(l) end
    assert.equal("fine_tuning.job.event", lines[1].object)
    assert.equal("fine_tuning.job", lines[#lines].object)
    assert.equal("succeeded", lines[#lines].status)
  end)

  it("follow and wait exit 4 on a failed job", function()
    local file = upload()
    local job = json(ok(cli({ "jobs", "create", "--model", MODEL, "--training-file", file.id,
      "--metadata", "fake_outcome=failed", "--json" })))
    local code, _, err = cli({ "jobs", "follow", job.id, "--poll-interval", "0.1" })
    assert.equal(4, code, err)
    assert.truthy(err:find("job " .. job.id .. " failed", 1, true), err)
    code = cli({ "jobs", "wait", job.id, "--poll-interval", "0.1" })
    assert.equal(4, code)
  end)

  it("wait prints the model (or the job with --json) and exits 5 on --wait-timeout", function()
    local job = finished_job()
    local out = ok(cli({ "jobs", "wait", job.id }))
    assert.truthy(out:match("^ft:[^\n]+\n$"), out)
    assert.equal("succeeded", json(ok(cli({ "jobs", "wait", job.id, "--json" }))).status)
    local file = upload()
    server:next_job{ steps = 1000, step_seconds = 10 }
    local long = json(ok(cli({ "jobs", "create", "--model", MODEL, "--training-file", file.id, "--json" })))
    local code, _, err = cli({ "jobs", "wait", long.id, "--wait-timeout", "0.3", "--poll-interval", "0.1" })
    assert.equal(5, code)
    assert.truthy(err:find("is still", 1, true), err)
  end)
end)

-- A small XML well-formedness check: every tag closed in order, one root.
local function xml_root(text)
  local body = text:gsub("^<%?xml[^>]*%?>%s*", "")
  local stack, root = {}, nil
  for close, name, rest in body:gmatch("<(/?)([%w:_-]+)([^>]*)>") do
    if close == "/" then
      assert.equal(stack[#stack], name, "closing " .. name)
      stack[#stack] = nil
    elseif rest:sub(-1) ~= "/" then
      root = root or name
      stack[#stack + 1] = name
    end
  end
  assert.equal(0, #stack, "unclosed: " .. table.concat(stack, ","))
  return root
end

describe("openai-ft jobs metrics --plot / --svg", function()
  it("draws the loss curve in braille and writes a standalone SVG chart", function()
    local file = upload()
    local job = json(ok(cli({ "jobs", "create", "--model", MODEL, "--training-file", file.id,
      "--validation-file", file.id, "--json" })))
    server:advance(3600)
    local rows = json(ok(cli({ "jobs", "metrics", job.id, "--json" })))
    local train, valid = 0, 0
    for _, r in ipairs(rows) do
      if r.train_loss then train = train + 1 end
      if r.valid_loss then valid = valid + 1 end
    end
    assert.is_true(train > 10 and valid > 0)

    local out = ok(cli({ "jobs", "metrics", job.id, "--plot", "--width", "60", "--height", "10" }))
    assert.truthy(out:find("\226[\160-\163][\128-\191]"), "braille characters") -- U+2800-U+28FF
    assert.truthy(out:find("train loss (" .. train .. " points)", 1, true), out)
    assert.truthy(out:find("valid loss (" .. valid .. " points)", 1, true), out)
    assert.falsy(out:find("\27[", 1, true)) -- no colors off a terminal

    -- outside a UTF-8 locale the same chart in ASCII: the same lines, the same cells inked
    for _, env in ipairs({ { LANG = "C" }, { LANG = "C.UTF-8", LC_ALL = "POSIX" }, { LANG = false } }) do
      local ascii = ok(cli({ "jobs", "metrics", job.id, "--plot", "--width", "60", "--height", "10" }, env))
      assert.falsy(ascii:find("[\128-\255]"), ascii)
      assert.truthy(ascii:find("train loss (" .. train .. " points)", 1, true), ascii)
      assert.truthy(ascii:find("\n *%+%-%-%-%-%-%-%-%-%-%-+\n"), ascii) -- the x axis
      for line in ascii:gmatch("[^\n]+") do assert.is_true(#line <= 60, line) end -- --width: margins included
      local a_lines, u_lines = {}, {}
      for line in ascii:gmatch("(.-)\n") do a_lines[#a_lines + 1] = line end
      for line in out:gmatch("(.-)\n") do u_lines[#u_lines + 1] = line end
      assert.equal(#u_lines, #a_lines)
      for i = 2, 11 do -- the 10 rows of the plot, under the title
        assert.matches(" |", a_lines[i], 1, true)
        local a_cells = a_lines[i]:match(" |(.*)$")
        local u_cells = u_lines[i]:match(" \226\148\164(.*)$") -- after "┤"
        assert.equal(select(2, u_cells:gsub("\226[\160-\163][\128-\191]", "")), select(2, a_cells:gsub("[.':]", "")))
      end
    end

    local svg = dir .. "/loss.svg"
    local _, err = ok(cli({ "jobs", "metrics", job.id, "--svg", svg }))
    assert.truthy(err:find("wrote " .. svg, 1, true))
    local text = H.read(svg)
    assert.truthy(text:find('^<%?xml version="1.0" encoding="UTF%-8"%?>\n<svg xmlns="http://www.w3.org/2000/svg"'))
    assert.equal("svg", xml_root(text))
    local counts = {}
    for name, points in text:gmatch('<polyline[^>]- data%-name="([^"]+)"[^>]- points="([^"]*)"') do
      local n = 0
      for x, y in points:gmatch("(%-?[%d.]+),(%-?[%d.]+)") do
        assert.is_true(tonumber(x) >= 0 and tonumber(x) <= 800 and tonumber(y) >= 0 and tonumber(y) <= 450)
        n = n + 1
      end
      counts[name] = n
    end
    assert.same({ ["train loss"] = train, ["valid loss"] = valid }, counts)
    assert.truthy(text:find(">step</text>", 1, true))
    assert.truthy(text:find(">loss</text>", 1, true))
  end)

  it("uses the metrics events while a job has no result file yet", function()
    local file = upload()
    server:next_job{ steps = 400, step_seconds = 1 }
    local job = json(ok(cli({ "jobs", "create", "--model", MODEL, "--training-file", file.id, "--json" })))
    server:advance(40)
    local rows = json(ok(cli({ "jobs", "metrics", job.id, "--json" })))
    assert.is_true(#rows > 0)
    for i = 2, #rows do assert.is_true(rows[i].step > rows[i - 1].step) end
    ok(cli({ "jobs", "cancel", job.id, "--yes" }))
  end)
end)

describe("openai-ft models", function()
  it("list, get, delete", function()
    local job = finished_job()
    local ftm = json(ok(cli({ "jobs", "get", job.id, "--json" }))).fine_tuned_model
    local list = json(ok(cli({ "models", "list", "--json" })))
    assert.is_true(#list > 1)
    local only = json(ok(cli({ "models", "list", "--fine-tuned", "--json" })))
    assert.equal(1, #only)
    assert.equal(ftm, only[1].id)
    local out = ok(cli({ "models", "list" }))
    assert.truthy(out:find("^ID%s+CREATED%s+OWNED BY%s+SHUTS DOWN\n"), out)
    assert.equal(ftm, json(ok(cli({ "models", "get", ftm, "--json" }))).id)
    assert.is_true(json(ok(cli({ "models", "delete", ftm, "--json", "--yes" }))).deleted)
    local code = cli({ "models", "get", ftm })
    assert.equal(1, code)
  end)
end)

describe("openai-ft validate", function()
  it("exits 0 on valid data with a summary", function()
    local out = ok(cli({ "validate", TRAIN }))
    assert.truthy(out:find(TRAIN .. ": valid (supervised): 0 errors, 0 warnings", 1, true), out)
    assert.truthy(out:find("examples%s+12\n"), out)
    assert.truthy(out:find("estimated tokens%s+~"), out)
  end)

  it("exits 3 and prints FILE:LINE: severity: path: message", function()
    local bad = dir .. "/bad.jsonl"
    local lines = {}
    for i = 1, 10 do lines[i] = H.read(TRAIN):match("[^\n]+") end
    lines[3] = '{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y","weight":2}]}'
    H.write(bad, table.concat(lines, "\n") .. "\n")
    local code, out = cli({ "validate", bad })
    assert.equal(3, code)
    assert.truthy(out:find(bad .. ":3: error: messages[1].weight: weight must be 0 or 1, got 2\n", 1, true), out)
    assert.truthy(out:find("invalid (supervised): 1 error, 0 warnings", 1, true), out)
    local report = json(select(2, cli({ "validate", bad, "--json" })))
    assert.is_false(report.ok)
    assert.equal(1, report.errors)
    assert.same({ line = 3, path = "messages[1].weight", severity = "error",
      message = "weight must be 0 or 1, got 2" }, report.problems[1])
  end)

  it("exits 1 for a file it cannot read, and validates other methods", function()
    local code, _, err = cli({ "validate", dir .. "/none.jsonl" })
    assert.equal(1, code)
    assert.truthy(err:find("cannot be read (No such file or directory)", 1, true), err)
    local dpo = dir .. "/dpo.jsonl"
    local line = '{"input":{"messages":[{"role":"user","content":"Hi"}]},'
      .. '"preferred_output":[{"role":"assistant","content":"Hello!"}],'
      .. '"non_preferred_output":[{"role":"assistant","content":"hi"}]}\n'
    H.write(dpo, line:rep(10))
    assert.equal(0, (cli({ "validate", dpo, "--method", "dpo" })))
    assert.equal(3, (cli({ "validate", dpo })))
  end)
end)

describe("openai-ft run", function()
  it("goes from the raw file to the fine-tuned model (the acceptance command)", function()
    local code, out, err = cli({ "run", "examples/data/train.jsonl", "--model", "gpt-4o-mini-2024-07-18" })
    ok(code, out, err)
    assert.truthy(out:match("^ft:gpt%-4o%-mini%-2024%-07%-18:personal::%w+\n$"), out) -- only the model on stdout
    for _, step in ipairs({ "train.jsonl: valid (supervised): 12 examples", "uploaded train.jsonl as file-",
      "created ftjob-", "Created fine-tuning job", "Step 1/", "New fine-tuned model created",
      "fine-tuned model ready" }) do
      assert.truthy(err:find(step, 1, true), step .. "\n" .. err)
    end
    local model = out:match("^(%S+)")
    assert.equal(model, json(ok(cli({ "models", "get", model, "--json" }))).id)
  end)

  it("--json prints the final job; --quiet leaves stderr empty", function()
    local code, out, err = cli({ "run", TRAIN, "--model", MODEL, "--json", "--quiet", "--poll-interval", "0.1" })
    ok(code, out, err)
    assert.equal("", err)
    local job = json(out)
    assert.equal("succeeded", job.status)
    assert.truthy(job.fine_tuned_model:find("^ft:"))
  end)

  it("refuses invalid data with exit 3 and uploads nothing", function()
    local bad = dir .. "/bad.jsonl"
    H.write(bad, '{"messages":[{"role":"user","content":"x"}]}\n')
    local mark = server:mark()
    local code, out, err = cli({ "run", bad, "--model", MODEL })
    assert.equal(3, code)
    assert.equal("", out)
    assert.truthy(err:find("no assistant message", 1, true), err)
    assert.truthy(err:find("nothing was uploaded", 1, true), err)
    assert.equal(0, #server:requests{ since = mark })
  end)

  it("exits 4 when the job fails", function()
    local code, out, err = cli({ "run", TRAIN, "--model", MODEL, "--metadata", "fake_outcome=failed",
      "--poll-interval", "0.1" })
    assert.equal(4, code)
    assert.equal("", out)
    assert.truthy(err:find("failed", 1, true), err)
  end)
end)

describe("openai-ft on Ctrl-C", function()
  -- One SIGINT, as a terminal sends it (--foreground: timeout signals the child only; a
  -- second SIGINT kills the interpreter at once, as lua.c intends).
  it("stops following with exit 130 and says the job goes on", function()
    server:next_job{ steps = 1000, step_seconds = 10 }
    local out, err = dir .. "/int.out", dir .. "/int.err"
    local cmd = command({ "run", TRAIN, "--model", MODEL, "--poll-interval", "0.2" })
    local code = exit_code(os.execute("timeout --foreground --preserve-status -s INT 3 " .. cmd .. " </dev/null >"
      .. out .. " 2>" .. err))
    local text = H.read(err)
    assert.equal(130, code, text)
    assert.equal("", H.read(out))
    local job = text:match("created (ftjob%-%w+)")
    assert.truthy(job, text)
    assert.truthy(text:find("interrupted: " .. job .. " keeps running on the server", 1, true), text)
    assert.equal("running", json(ok(cli({ "jobs", "get", job, "--json" }))).status)
  end)
end)

describe("openai-ft progress", function()
  it("draws the upload bar and the live loss line on a terminal only", function()
    local code, out = cli_tty({ "run", TRAIN, "--model", MODEL, "--poll-interval", "0.1" }, { COLUMNS = "120" })
    assert.equal(0, code, out)
    local bar = out:match("\r\27%[Kuploading train%.jsonl [^\r]*")
    assert.truthy(bar, out)
    assert.truthy(out:find("uploading train.jsonl [^\r\n]- 100%%  3%.7 kB / 3%.7 kB  [^\r\n]-/s  in %d+:%d%d"), out)
    assert.truthy(out:find("\r\27%[Kstep %d+/%d+ [^\r\n]-train loss %d"), out) -- the live line
    assert.truthy(out:find("ft:" .. lit(MODEL), 1), out)

    local _, err
    code, _, err = cli({ "files", "upload", TRAIN })
    assert.equal(0, code)
    assert.falsy(err:find("\r", 1, true))
    assert.falsy(err:find("%d%%  "))
    assert.truthy(err:find("uploading train.jsonl: 3.7 kB in", 1, true), err) -- one summary line instead

    code, out = cli_tty({ "files", "upload", TRAIN, "--no-progress" })
    assert.equal(0, code)
    assert.falsy(out:find("%d%%  "))
    assert.truthy(out:find("uploading train.jsonl: 3.7 kB in", 1, true), out)
    code, out = cli_tty({ "files", "download", json(select(2, cli({ "files", "list", "--json" })))[1].id,
      "-o", dir .. "/dl.jsonl", "--force" })
    assert.equal(0, code)
    assert.truthy(out:find("downloading train.jsonl [^\r\n]- 100%%"), out)
  end)
end)

describe("openai-ft fake-server", function()
  it("still serves the API", function()
    local code, out = cli({ "fake-server", "--help" })
    assert.equal(0, code)
    assert.truthy(out:find("usage: openai%-ft fake%-server"))
    local port_file = dir .. "/port"
    os.execute(command({ "fake-server", "--port", "0", "--port-file", port_file, "--idle-timeout", "2", "--quiet" })
      .. " >" .. dir .. "/fake.log 2>&1 &")
    local deadline = core.now() + 10
    local port
    repeat
      port = tonumber((io.open(port_file) and H.read(port_file) or ""):match("%d+"))
      if not port then core.sleep(0.05) end
    until port or core.now() > deadline
    assert.truthy(port, "the fake server did not start")
    local status, body = fake.control_request(port, "GET", "/_fake/health")
    assert.equal(200, status)
    assert.truthy(body:find("true"))
    fake.control_request(port, "POST", "/_fake/shutdown", "{}")
  end)
end)

describe("openai-ft: nothing irreversible on a typo", function()
  it("files delete asks on a terminal, refuses without one, and --yes skips the question", function()
    local file = upload()
    local code, out, err = cli({ "files", "delete", file.id })
    assert.equal(2, code)
    assert.equal("", out)
    assert.truthy(err:find("refusing to delete " .. file.id .. " without confirmation: no terminal to ask on", 1, true),
      err)
    assert.truthy(err:find("--yes", 1, true), err)
    ok(cli({ "files", "get", file.id })) -- still there

    local shown
    code, shown = cli_typed({ "files", "delete", file.id }, "n\n")
    assert.equal(1, code, shown)
    assert.truthy(shown:find("will delete:", 1, true), shown)
    assert.truthy(shown:find("filename%s+train%.jsonl"), shown)
    assert.truthy(shown:find("Delete " .. file.id .. "? This cannot be undone. [y/N]", 1, true), shown)
    assert.truthy(shown:find("nothing done", 1, true), shown)
    ok(cli({ "files", "get", file.id }))

    code, shown = cli_typed({ "files", "delete", file.id }, "y\n")
    assert.equal(0, code, shown)
    assert.truthy(shown:find("deleted " .. file.id, 1, true), shown)
    assert.equal(1, (cli({ "files", "get", file.id })))

    -- a mistyped id fails on the lookup, before any question
    code, shown = cli_typed({ "files", "delete", "file-typo" }, "y\n")
    assert.equal(1, code, shown)
    assert.truthy(shown:find("No such File object: file-typo", 1, true), shown)
    assert.falsy(shown:find("[y/N]", 1, true), shown)

    local other = upload()
    assert.equal(other.id, json(ok(cli({ "files", "delete", other.id, "--yes", "--json" }))).id)
  end)

  it("models delete wants the model's id typed back", function()
    local job = finished_job()
    local ftm = json(ok(cli({ "jobs", "get", job.id, "--json" }))).fine_tuned_model
    local code, out, err = cli({ "models", "delete", ftm, "--json" })
    assert.equal(2, code, out)
    assert.truthy(err:find("refusing to delete " .. ftm, 1, true), err)

    local shown
    code, shown = cli_typed({ "models", "delete", ftm }, "y\n")
    assert.equal(1, code, shown)
    assert.truthy(shown:find("will delete:\r?\nid%s+" .. lit(ftm)), shown)
    assert.truthy(shown:find("This cannot be undone. Type " .. ftm .. " to delete " .. ftm .. ": ", 1, true), shown)
    assert.truthy(shown:find("'y' is not " .. ftm .. ": nothing done", 1, true), shown)
    ok(cli({ "models", "get", ftm }))

    code, shown = cli_typed({ "models", "delete", ftm }, ftm .. "\n")
    assert.equal(0, code, shown)
    assert.truthy(shown:find("deleted " .. ftm, 1, true), shown)
    assert.equal(1, (cli({ "models", "get", ftm })))
  end)

  it("jobs cancel asks too", function()
    local file = upload()
    server:next_job{ steps = 400, step_seconds = 1 }
    local job = json(ok(cli({ "jobs", "create", "--model", MODEL, "--training-file", file.id, "--json" })))
    assert.equal(2, (cli({ "jobs", "cancel", job.id })))
    local code, shown = cli_typed({ "jobs", "cancel", job.id }, "\n")
    assert.equal(1, code, shown)
    assert.truthy(shown:find("will cancel:", 1, true), shown)
    assert.truthy(shown:find("Cancel " .. job.id .. "? This cannot be undone. [y/N]", 1, true), shown)
    assert.are_not.equal("cancelled", json(ok(cli({ "jobs", "get", job.id, "--json" }))).status)
    code, shown = cli_typed({ "jobs", "cancel", job.id }, "yes\n")
    assert.equal(0, code, shown)
    assert.equal("cancelled", json(ok(cli({ "jobs", "get", job.id, "--json" }))).status)
  end)
end)

describe("openai-ft: rough edges", function()
  it("--purpose lists the valid purposes in the command's wording", function()
    local code, out, err = cli({ "files", "upload", TRAIN, "--purpose", "finetune" })
    assert.equal(2, code, out)
    assert.truthy(err:find("openai-ft files upload: --purpose must be one of fine-tune, ", 1, true), err)
    for _, p in ipairs(require("openai.finetunes.api.validate").FILE_PURPOSES) do
      assert.truthy(err:find(p, 1, true), p)
    end
    assert.truthy(err:find("got 'finetune'", 1, true), err)
    assert.falsy(err:find("bad argument", 1, true), err)
  end)

  it("refuses --limit 0 and says the range", function()
    for _, words in ipairs({ { "files", "list" }, { "jobs", "list" } }) do
      words[#words + 1] = "--limit"
      words[#words + 1] = "0"
      local code, out, err = cli(words)
      assert.equal(2, code, out)
      assert.truthy(err:find("--limit needs a whole number >= 1, got '0' (--all shows every one)", 1, true), err)
    end
  end)

  it("help COMMAND [SUBCOMMAND] shows that command's help", function()
    assert.equal(select(2, cli({ "jobs", "--help" })), ok(cli({ "help", "jobs" })))
    assert.equal(select(2, cli({ "jobs", "list", "--help" })), ok(cli({ "help", "jobs", "list" })))
    assert.equal(select(2, cli({ "validate", "--help" })), ok(cli({ "help", "validate" })))
    assert.truthy(ok(cli({ "help", "jobs" })):find("^usage: openai%-ft jobs <subcommand>"))
    assert.truthy(ok(cli({ "help" })):find("^usage: openai%-ft %[global options%]"))
    assert.equal(2, (cli({ "help", "nope" })))
  end)

  it("a list cut at --limit says how to get the next page", function()
    local ids = {}
    for i = 1, 3 do ids[i] = upload().id end
    local out, err = ok(cli({ "files", "list", "--limit", "2" }))
    local _, rows = out:gsub("\nfile%-", "")
    assert.equal(2, rows, out)
    assert.truthy(err:find("more files: add --after " .. ids[2] .. " for the next page, or --all for every one",
      1, true), err)
    out, err = ok(cli({ "files", "list", "--limit", "2", "--after", ids[2] }))
    assert.truthy(out:find(ids[1], 1, true), out)
    assert.equal("", err)
    assert.equal("", select(2, ok(cli({ "files", "list", "--limit", "3" })))) -- exactly all: no hint
    local _, jerr = ok(cli({ "jobs", "events", finished_job().id, "--limit", "3" }))
    assert.truthy(jerr:find("more older events: --limit 6 shows more, --all every one", 1, true), jerr)
  end)

  it("files upload --quiet prints only the id", function()
    local code, out, err = cli({ "files", "upload", TRAIN, "--quiet" })
    assert.equal(0, code, err)
    assert.truthy(out:match("^file%-%w+\n$"), out)
    assert.equal("", err)
    assert.equal(out:sub(1, -2), json(ok(cli({ "files", "get", out:sub(1, -2), "--json" }))).id)
  end)

  it("the terminal plot fits COLUMNS and the tty's width, margins included", function()
    local job = finished_job()
    local function widest(text)
      local w = 0
      for line in text:gsub("\27%[[%d;]*m", ""):gmatch("[^\r\n]+") do
        w = math.max(w, #line - select(2, line:gsub("[\128-\191]", "")))
      end
      return w
    end
    for _, cols in ipairs({ 40, 72, 100 }) do
      local out = ok(cli({ "jobs", "metrics", job.id, "--plot" }, { COLUMNS = tostring(cols) }))
      assert.is_true(widest(out) <= cols, cols .. " columns:\n" .. out)
      assert.is_true(widest(out) >= cols - 2, cols .. " columns:\n" .. out) -- and uses them
    end
    local code, shown = cli_typed({ "jobs", "metrics", job.id, "--plot" }, "", { COLUMNS = false }, "stty cols 45")
    assert.equal(0, code, shown)
    assert.truthy(shown:find("train loss", 1, true), shown)
    assert.is_true(widest(shown) <= 45, shown)
  end)

  it("in the SVG the legend is outside the plot and the curve keeps off the top edge", function()
    local job = finished_job()
    local svg = dir .. "/edges.svg"
    ok(cli({ "jobs", "metrics", job.id, "--svg", svg }))
    local text = H.read(svg)
    local grid = text:match('<g stroke="#e5e5e5"[^>]*>(.-)</g>')
    local plot_top = math.huge
    for y in grid:gmatch('y1="([%d.]+)"') do plot_top = math.min(plot_top, tonumber(y)) end
    local legend = text:match('<g class="legend">(.-)</g>')
    assert.truthy(legend, text)
    for y in legend:gmatch(' y="([%d.]+)"') do assert.is_true(tonumber(y) + 8 < plot_top, y) end
    for y in legend:gmatch(' y1="([%d.]+)"') do assert.is_true(tonumber(y) + 8 < plot_top, y) end
    local highest = math.huge
    for points in text:gmatch('<polyline[^>]- points="([^"]*)"') do
      for y in points:gmatch(",([%d.]+)") do highest = math.min(highest, tonumber(y)) end
    end
    assert.is_true(highest >= plot_top + 10, "curve at y=" .. highest .. ", plot top at " .. plot_top)
  end)
end)
