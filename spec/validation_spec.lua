-- Misuse raises before anything is sent, with a message that names exactly
-- what is wrong; validation = false sends payloads as given (ids are still
-- checked). The fake server's request log proves nothing went out.
local ft = require("openai.finetunes")
local H = require("spec.support.client_helper")

describe("validation", function()
  local server, c, mark
  H.each_test(function(s, client)
    server, c = s, client
    mark = server:mark()
  end)
  after_each(function()
    -- whatever a case raised, nothing reached the server
    assert.equal(0, #server:requests{ since = mark })
  end)

  local function raises(fn, message)
    local ok, err = pcall(fn)
    assert.is_false(ok, "expected an error: " .. message)
    assert.equal("string", type(err))
    local plain = err:gsub("^[^\n]-:%d+: ", "")
    assert.equal(message, plain)
  end

  it("refuses bad ids on every method that takes one", function()
    for _, row in ipairs(ft.endpoints) do
      if #row.params > 0 then
        local args = {}
        for i = 1, #row.params do args[i] = "ok-id" end
        for i, pname in ipairs(row.params) do
          for _, bad in ipairs({ { nil, "nil" }, { "", '""' }, { 7, "7" }, { {}, "table" } }) do
            args[i] = bad[1]
            raises(function() return c[row.name](c, H.unpack(args, 1, #row.params)) end,
              ("bad argument #%d to '%s' (%s must be a non-empty string, got %s)"):format(i, row.name, pname, bad[2]))
          end
          for _, dots in ipairs({ ".", ".." }) do
            args[i] = dots
            raises(function() return c[row.name](c, H.unpack(args, 1, #row.params)) end,
              ("bad argument #%d to '%s' (%s must not be \".\" or \"..\")"):format(i, row.name, pname))
          end
          for _, traversal in ipairs({ "../models", "a/./b", "..\\files" }) do
            args[i] = traversal
            raises(function() return c[row.name](c, H.unpack(args, 1, #row.params)) end,
              ("bad argument #%d to '%s' (%s must not contain \".\" or \"..\" path segments, got %q)")
                :format(i, row.name, pname, traversal))
          end
          args[i] = "ok-id"
        end
      end
    end
  end)

  it("refuses wrong argument types", function()
    raises(function() return c:create_job("gpt-4o-mini") end,
      "bad argument #1 to 'create_job' (table expected, got \"gpt-4o-mini\")")
    raises(function() return c:files("fine-tune") end,
      "bad argument #1 to 'files' (query table expected, got \"fine-tune\")")
    raises(function() return c:job_events("ftjob-1", 5) end,
      "bad argument #2 to 'job_events' (query table expected, got 5)")
    raises(function() return c:job("ftjob-1", "fast") end,
      "bad argument #2 to 'job' (options table expected, got \"fast\")")
    raises(function() return c:job("ftjob-1", { retries = 3 }) end,
      "bad argument #2 to 'job' (unknown option \"retries\")")
    raises(function() return c:models({}, {}) end, "bad argument #2 to 'models' (no value expected, got table)")
    raises(function() return c:download_file("file-1") end,
      "bad argument #2 to 'download_file' (path must be a non-empty string, got nil)")
    raises(function() return c:upload_file() end, "bad argument #1 to 'upload_file' (table expected, got nil)")
  end)

  it("refuses a missing or unreadable upload path", function()
    raises(function() return c:upload_file{ file = "/no/such/train.jsonl", purpose = "fine-tune" } end,
      "bad argument #1 to 'upload_file' (file \"/no/such/train.jsonl\" cannot be read (No such file or directory))")
    raises(function() return c:upload_file{ file = "examples/data", purpose = "fine-tune" } end,
      "bad argument #1 to 'upload_file' (file \"examples/data\" cannot be read (Is a directory))")
    raises(function() return c:upload_file{ purpose = "fine-tune" } end,
      "bad argument #1 to 'upload_file' (file (a path) or data (a string) is required)")
    raises(function() return c:upload_file{ data = "{}", purpose = "fine-tune" } end,
      "bad argument #1 to 'upload_file' (filename is required with data (the API infers the format from its "
      .. "extension))")
    raises(function() return c:upload_file{ data = 5, filename = "a.jsonl", purpose = "fine-tune" } end,
      "bad argument #1 to 'upload_file' (data must be a string, got 5)")
    raises(function() return c:upload_file{ file = H.TRAIN, purpose = "fine-tune", content_type = "a\r\nb" } end,
      "bad argument #1 to 'upload_file' (content_type must not contain CR, LF or NUL)")
  end)

  it("refuses unknown purposes, telling files and uploads apart", function()
    raises(function() return c:upload_file{ file = H.TRAIN, purpose = "finetune" } end,
      "bad argument #1 to 'upload_file' (purpose must be one of \"assistants\", \"batch\", \"fine-tune\", "
      .. "\"vision\", \"user_data\", \"evals\", got \"finetune\")")
    raises(function() return c:upload_file{ file = H.TRAIN } end,
      "bad argument #1 to 'upload_file' (purpose is required, expected one of the file purposes, e.g. \"fine-tune\")")
    raises(function()
      return c:create_upload{ filename = "a.jsonl", purpose = "evals", bytes = 10, mime_type = "text/jsonl" }
    end, "bad argument #1 to 'create_upload' (purpose must be one of \"assistants\", \"batch\", \"fine-tune\", "
      .. "\"vision\", got \"evals\")")
    raises(function()
      return c:upload_file{ file = H.TRAIN, purpose = "fine-tune", expires_after = { anchor = "created_at",
        seconds = 60 } }
    end, "bad argument #1 to 'upload_file' (expires_after.seconds must be an integer from 3600 to 2592000, got 60)")
  end)

  it("checks create_job: required fields, ranges, enums, hyperparameters", function()
    local base = function(extra)
      local t = { model = H.MODEL, training_file = "file-abc" }
      for k, v in pairs(extra) do t[k] = v end
      return t
    end
    local cases = {
      { { model = H.MODEL }, "training_file is required, expected a file id" },
      { { training_file = "file-abc" }, "model is required, expected a base model name such as "
        .. "\"gpt-4o-mini-2024-07-18\"" },
      { base{ suffix = "" }, "suffix must not be empty" },
      { base{ suffix = ("s"):rep(65) }, "suffix must be at most 64 characters, got 65" },
      { base{ seed = 2147483648 }, "seed must be an integer from 0 to 2147483647, got 2147483648" },
      { base{ method = { type = "lora" } }, "method.type must be one of \"supervised\", \"dpo\", "
        .. "\"reinforcement\", got \"lora\"" },
      { base{ method = { type = "supervised", supervised = { hyperparameters = { n_epochs = 0 } } } },
        "method.supervised.hyperparameters.n_epochs must be \"auto\" or an integer from 1 to 50, got 0" },
      { base{ method = { type = "supervised", supervised = { hyperparameters = { batch_size = 257 } } } },
        "method.supervised.hyperparameters.batch_size must be \"auto\" or an integer from 1 to 256, got 257" },
      { base{ method = { type = "supervised", supervised = { hyperparameters = { n_epochs = "max" } } } },
        "method.supervised.hyperparameters.n_epochs must be \"auto\" or an integer from 1 to 50, got \"max\"" },
      { base{ method = { type = "dpo", dpo = { hyperparameters = { beta = 2.5 } } } },
        "method.dpo.hyperparameters.beta must be \"auto\" or a number > 0 and <= 2, got 2.5" },
      { base{ method = { type = "reinforcement", reinforcement = { grader = { type = "python", name = "p",
        source = "x" }, hyperparameters = { reasoning_effort = "max" } } } },
        "method.reinforcement.hyperparameters.reasoning_effort must be one of \"default\", \"low\", \"medium\", "
        .. "\"high\", got \"max\"" },
      { base{ method = { type = "reinforcement", reinforcement = {} } },
        "method.reinforcement.grader is required, expected a grader table" },
      { base{ hyperparameters = { learning_rate_multiplier = -1 } },
        "hyperparameters.learning_rate_multiplier must be \"auto\" or a number > 0, got -1" },
      { base{ integrations = { { type = "slack" } } },
        "integrations[1].type must be one of \"wandb\", got \"slack\"" },
      { base{ metadata = { owner = 5 } }, "metadata.owner must be a string, got 5" },
      { base{ metadata = { note = ("v"):rep(513) } }, "metadata.note must be at most 512 characters, got 513" },
    }
    for _, case in ipairs(cases) do
      raises(function() return c:create_job(case[1]) end, "bad argument #1 to 'create_job' (" .. case[2] .. ")")
    end
  end)

  it("checks list queries", function()
    raises(function() return c:files{ limit = 0 } end,
      "bad argument #1 to 'files' (limit must be an integer from 1 to 10000, got 0)")
    raises(function() return c:files{ order = "newest" } end,
      "bad argument #1 to 'files' (order must be one of \"asc\", \"desc\", got \"newest\")")
    raises(function() return c:jobs{ limit = 2.5 } end,
      "bad argument #1 to 'jobs' (limit must be an integer >= 1, got 2.5)")
    raises(function() return c:job_events("ftjob-1", { after = 3 }) end,
      "bad argument #2 to 'job_events' (after must be a string, got 3)")
    raises(function() return c:job_checkpoints("ftjob-1", { limit = -1 }) end,
      "bad argument #2 to 'job_checkpoints' (limit must be an integer >= 1, got -1)")
  end)

  it("refuses a query key the operation does not take, naming the known ones", function()
    raises(function() return c:files{ limti = 10 } end,
      "bad argument #1 to 'files' (unknown query key \"limti\" (known keys: after, limit, order, purpose))")
    raises(function() return c:jobs{ limit = 5, status = "running" } end,
      "bad argument #1 to 'jobs' (unknown query key \"status\" (known keys: after, limit, metadata))")
    raises(function() return c:job_events("ftjob-1", { order = "asc" }) end,
      "bad argument #2 to 'job_events' (unknown query key \"order\" (known keys: after, limit))")
    raises(function() return c:job_checkpoints("ftjob-1", { [1] = "x" }) end,
      "bad argument #2 to 'job_checkpoints' (unknown query key 1 (known keys: after, limit))")
    raises(function() return c:checkpoint_permissions("ft:x:ckpt", { project = "p" }) end,
      "bad argument #2 to 'checkpoint_permissions' (unknown query key \"project\" "
        .. "(known keys: after, limit, order, project_id))")
    -- two unknown keys: the first in sorted order is named, on every Lua
    raises(function() return c:files{ zz = 1, aa = 2 } end,
      "bad argument #1 to 'files' (unknown query key \"aa\" (known keys: after, limit, order, purpose))")
    -- the paging iterators check the same query before any page
    raises(function() return c:each_file{ limti = 10 } end,
      "bad argument #1 to 'each_file' (unknown query key \"limti\" (known keys: after, limit, order, purpose))")
  end)

  it("accepts every query parameter the API reference lists for each list operation", function()
    -- (the official spec's `in: query` parameters of listFiles,
    -- listPaginatedFineTuningJobs, listFineTuningEvents,
    -- listFineTuningJobCheckpoints and listFineTuningCheckpointPermissions)
    local loose = H.client(server, { validation = true })
    local calls = {
      { "files", { purpose = "fine-tune", limit = 2, order = "asc", after = "file-x" } },
      { "jobs", { after = "ftjob-x", limit = 2, metadata = { team = "a" } } },
      { "jobs", { metadata = ft.null } },
      { "job_events", "ftjob-1", { after = "ftevent-x", limit = 2 } },
      { "job_checkpoints", "ftjob-1", { after = "ftckpt-x", limit = 2 } },
      { "checkpoint_permissions", "ft:x:ckpt", { project_id = "proj_1", after = "cp_x", limit = 2,
        order = "ascending" } },
    }
    for _, call in ipairs(calls) do
      local ok, err = pcall(loose._prepare, loose, H.unpack(call))
      assert.is_true(ok, call[1] .. ": " .. tostring(err))
    end
  end)

  it("points top-level hyperparameters to method.<type>.hyperparameters", function()
    local function base(extra)
      local p = { model = H.MODEL, training_file = "file-abc" }
      for k, v in pairs(extra) do p[k] = v end
      return p
    end
    raises(function() return c:create_job(base{ n_epochs = 3 }) end,
      "bad argument #1 to 'create_job' (n_epochs is not a top-level field: it goes in "
        .. "method.supervised.hyperparameters.n_epochs)")
    raises(function() return c:create_job(base{ batch_size = 8, method = { type = "dpo" } }) end,
      "bad argument #1 to 'create_job' (batch_size is not a top-level field: it goes in "
        .. "method.dpo.hyperparameters.batch_size)")
    raises(function() return c:create_job(base{ beta = 0.1 }) end,
      "bad argument #1 to 'create_job' (beta is not a top-level field: it goes in method.dpo.hyperparameters.beta)")
    raises(function() return c:create_job(base{ eval_interval = 2 }) end,
      "bad argument #1 to 'create_job' (eval_interval is not a top-level field: it goes in "
        .. "method.reinforcement.hyperparameters.eval_interval)")
    -- the deprecated top-level hyperparameters object is still the API's, and checked
    raises(function() return c:create_job(base{ hyperparameters = { n_epochs = 0 } }) end,
      "bad argument #1 to 'create_job' (hyperparameters.n_epochs must be \"auto\" or an integer from 1 to 50, got 0)")
  end)

  it("refuses values that cannot be encoded, even with validation off", function()
    local loose = H.client(server, { validation = false })
    local ok, err = pcall(function() return loose:create_job{ model = H.MODEL, training_file = "f", seed = 0 / 0 } end)
    assert.is_false(ok)
    assert.truthy(err:find("bad argument #1 to 'create_job' (cannot be encoded as JSON: $.seed: cannot encode NaN",
      1, true), err)
    raises(function() return loose:file("..") end, "bad argument #1 to 'file' (id must not be \".\" or \"..\")")
  end)

  it("refuses a query that cannot be encoded, naming the key, even with validation off", function()
    local loose = H.client(server, { validation = false })
    -- the problem text, as codec.encode_query answers it (nil, why)
    local function query_misuse(q)
      local ok, err = pcall(function() return loose:jobs(q) end)
      assert.is_false(ok)
      return (err:gsub("^[^\n]-:%d+: ", ""):gsub("^bad argument #1 to 'jobs' ", "")) -- the query is argument 1
    end
    assert.equal("(cannot be encoded as a query: metadata[k]: cannot encode function)",
      query_misuse({ metadata = { k = print } }))
    assert.equal("(cannot be encoded as a query: query must be a table with string keys, not a list)",
      query_misuse({ "a", "b" }))
    assert.equal("(cannot be encoded as a query: limit: cannot encode NaN or inf)", query_misuse({ limit = 0 / 0 }))
  end)
end)

describe("validation = false", function()
  local server, loose
  H.each_test(function(s, client) server, loose = s, client end, { client = { validation = false } })

  it("sends unknown query keys and top-level hyperparameters as given", function()
    assert.is_table((loose:files{ limti = 10 }))
    assert.equal("limti=10", server:last_request().query)
    local r = loose:create_job{ model = H.MODEL, training_file = "file-abc", n_epochs = 3 }
    assert.is_nil(r)
    assert.equal(3, server:last_request().json.n_epochs)
  end)

  it("sends payloads as given and lets the API answer", function()
    local body = { model = H.MODEL, training_file = "file-abc", suffix = "", some_future_field = { x = 1 } }
    local r, err = loose:create_job(body)
    assert.is_nil(r)
    assert.equal("api", err.kind)
    assert.equal(400, err.status)
    assert.same(body, server:last_request().json)
  end)

  it("sends an unknown purpose to the API, which refuses it", function()
    local r, err = loose:upload_file{ file = H.TRAIN, purpose = "finetune" }
    assert.is_nil(r)
    assert.equal(400, err.status)
    assert.equal("purpose", err.param)
  end)

  it("passes unknown fields through with validation on too", function()
    local strict = H.client(server)
    local r, err = strict:create_job{ model = H.MODEL, training_file = "file-abc", brand_new_option = true }
    assert.is_nil(r)
    assert.is_true(server:last_request().json.brand_new_option)
    assert.equal("api", err.kind)
  end)
end)
