-- each_file / each_job / each_event / each_checkpoint / each_checkpoint_permission:
-- every item across pages in a generic for, lazily, with failures reported as a
-- last `false, err` pair; over real HTTP against the fake server (a scripted
-- transport only for answers the fake never gives: an empty page that claims
-- more, a repeated cursor).
local ft = require("openai.finetunes")
local H = require("spec.support.client_helper")

-- Upload n small files (newest is the last one uploaded); returns their ids, oldest first.
local function files(c, n)
  local ids = {}
  for i = 1, n do
    local file = assert(c:upload_file{ data = '{"i":' .. i .. '}\n', filename = "f" .. i .. ".jsonl",
      purpose = "batch" })
    ids[i] = file.id
  end
  return ids
end

local function reversed(list)
  local out = {}
  for i = #list, 1, -1 do out[#out + 1] = list[i] end
  return out
end

local function collect(iter)
  local items = {}
  for item, err in iter do
    assert(item, tostring(err))
    items[#items + 1] = item
  end
  return items
end

local function ids_of(items)
  local out = {}
  for i, item in ipairs(items) do out[i] = item.id end
  return out
end

-- A transport that answers GETs from a list of canned bodies, for shapes the
-- fake server never produces. Records every URL it was asked for.
local function scripted(bodies)
  local t = { urls = {} }
  function t.request(_, req)
    t.urls[#t.urls + 1] = req.url
    local body = bodies[#t.urls]
    if not body then return nil, { kind = "connect", message = "no more canned answers" } end
    return { status = 200, headers = { ["content-type"] = "application/json" }, body = body }
  end
  function t.now() return os.clock() end
  function t.sleep() end
  return t
end

describe("pagination", function()
  local server, c
  H.each_test(function(s, client) server, c = s, client end)

  describe("each_file", function()
    it("walks every page with after = the last id, in the API's order, and stops on has_more = false", function()
      local ids = files(c, 7)
      local mark = server:mark()
      local got = collect(c:each_file{ limit = 3 })
      assert.same(reversed(ids), ids_of(got)) -- newest first, like the API
      local reqs = server:requests{ since = mark, path = "^/v1/files$" }
      assert.equal(3, #reqs) -- 3 + 3 + 1, the last says has_more = false
      assert.is_nil(reqs[1].params.after)
      assert.equal(got[3].id, reqs[2].params.after)
      assert.equal(got[6].id, reqs[3].params.after)
      for _, r in ipairs(reqs) do assert.equal("3", r.params.limit) end
    end)

    it("sends nothing until the loop starts, and nothing more after a break", function()
      files(c, 5)
      local mark = server:mark()
      local iter = c:each_file{ limit = 2 }
      assert.equal(mark, server:mark())
      local n = 0
      for file in iter do
        n = n + 1
        assert.truthy(file.id)
        if n == 3 then break end -- the first item of page 2
      end
      assert.equal(2, #server:requests{ since = mark, path = "^/v1/files$" })
      -- the abandoned iterator is never resumed by the for loop: still 2
      assert.equal(2, #server:requests{ since = mark })
    end)

    it("keeps the caller's query as is and starts after a given id", function()
      local ids = files(c, 4)
      local query = { limit = 2, after = ids[3] } -- newest first: after ids[3] come ids[2], ids[1]
      local got = collect(c:each_file(query))
      assert.same({ ids[2], ids[1] }, ids_of(got))
      assert.same({ limit = 2, after = ids[3] }, query)
    end)

    it("applies opts to every page request", function()
      files(c, 3)
      local mark = server:mark()
      collect(c:each_file({ limit = 1 }, { headers = { ["X-Trace"] = "each" } }))
      local reqs = server:requests{ since = mark }
      assert.equal(3, #reqs)
      for _, r in ipairs(reqs) do assert.equal("each", r.headers["x-trace"]) end
    end)

    it("yields the items of the pages before a failure, then false, err once, then ends", function()
      files(c, 5)
      server:fault("500", { method = "GET", path = "^/v1/files$", skip = 1, times = 1 })
      local mark = server:mark()
      local items, failures, calls = {}, {}, 0
      for file, err in c:each_file{ limit = 2 } do
        calls = calls + 1
        if not file then
          assert.is_false(file)
          failures[#failures + 1] = err
        else
          items[#items + 1] = file
        end
      end
      assert.equal(2, #items)    -- page 1
      assert.equal(1, #failures) -- page 2 failed, reported once
      assert.equal(3, calls)
      local err = failures[1]
      assert.is_true(ft.is_error(err))
      assert.equal("api", err.kind)
      assert.equal(500, err.status)
      assert.equal(2, err.page)
      assert.equal(2, #server:requests{ since = mark }) -- nothing after the failure
    end)

    it("rides over a page failure the client's retries absorb", function()
      local ids = files(c, 5)
      local retrying = H.client(server, { max_retries = 2, retry = { base_delay = 0.01, max_delay = 0.02 } })
      server:fault("503", { method = "GET", path = "^/v1/files$", skip = 1, times = 1 })
      assert.same(reversed(ids), ids_of(collect(retrying:each_file{ limit = 2 })))
    end)

    it("iterates an empty list without a body run", function()
      local n = 0
      for _ in c:each_file() do n = n + 1 end
      assert.equal(0, n)
    end)

    it("yields the error pair on a strict view too", function()
      files(c, 3)
      server:fault("500", { method = "GET", path = "^/v1/files$", times = 1 })
      local strict = c:strict()
      local first, second
      for file, err in strict:each_file{ limit = 2 } do
        first, second = file, err
      end
      assert.is_false(first)
      assert.equal(500, second.status)
    end)
  end)

  describe("misuse", function()
    it("raises at the call, naming the iterator, before any request", function()
      local mark = server:mark()
      assert.has_error(function() c:each_file("x") end,
        "bad argument #1 to 'each_file' (query table expected, got \"x\")")
      assert.has_error(function() c:each_job({}, { nope = true }) end,
        "bad argument #2 to 'each_job' (unknown option \"nope\")")
      assert.has_error(function() c:each_event(nil) end,
        "bad argument #1 to 'each_event' (id must be a non-empty string, got nil)")
      assert.has_error(function() c:each_checkpoint("../x") end)
      assert.has_error(function() c:each_checkpoint_permission("") end,
        "bad argument #1 to 'each_checkpoint_permission' (checkpoint must be a non-empty string, got \"\")")
      assert.has_error(function() c.each_job({}) end)
      assert.equal(mark, server:mark())
    end)

    it("points the message at the caller's line", function()
      local ok, msg = pcall(function() c:each_file(42) end)
      assert.is_false(ok)
      assert.truthy(msg:find("paginate_spec.lua:%d+: bad argument #1 to 'each_file'"), msg)
    end)
  end)

  describe("jobs, events, checkpoints, permissions", function()
    it("each_job pages through every job, newest first", function()
      local file = H.training_file(c)
      local ids = {}
      for i = 1, 5 do
        ids[i] = assert(c:create_job{ model = H.MODEL, training_file = file.id, suffix = "p" .. i }).id
      end
      local mark = server:mark()
      assert.same(reversed(ids), ids_of(collect(c:each_job{ limit = 2 })))
      assert.equal(3, #server:requests{ since = mark, path = "^/v1/fine_tuning/jobs$" })
    end)

    it("each_event and each_checkpoint page a job's lists the way the single-page calls order them", function()
      server:next_job{ steps = 20 }
      local job = H.succeeded_job(c, server)
      local all_events = assert(c:job_events(job.id, { limit = 100 }))
      assert.is_false(all_events.has_more) -- the whole log fits in one big page
      local mark = server:mark()
      local events = collect(c:each_event(job.id, { limit = 7 }))
      assert.same(ids_of(all_events.data), ids_of(events))
      assert.equal(math.ceil(#events / 7), #server:requests{ since = mark })

      local all_ckpts = assert(c:job_checkpoints(job.id, { limit = 100 }))
      assert.is_true(#all_ckpts.data >= 2)
      local ckpts = collect(c:each_checkpoint(job.id, { limit = 1 }))
      assert.same(ids_of(all_ckpts.data), ids_of(ckpts))
    end)

    it("each_checkpoint_permission pages by the body's last_id", function()
      local job = H.succeeded_job(c, server)
      local ckpt = assert(c:job_checkpoints(job.id)).data[1].fine_tuned_model_checkpoint
      local projects = { "proj_a", "proj_b", "proj_c", "proj_d", "proj_e" }
      assert(c:create_checkpoint_permissions(ckpt, { project_ids = projects }))
      local mark = server:mark()
      local got = collect(c:each_checkpoint_permission(ckpt, { limit = 2, order = "ascending" }))
      local names = {}
      for i, p in ipairs(got) do names[i] = p.project_id end
      assert.same(projects, names)
      local reqs = server:requests{ since = mark }
      assert.equal(3, #reqs)
      -- the next `after` is what the previous answer called last_id
      local first = assert(c:checkpoint_permissions(ckpt, { limit = 2, order = "ascending" }))
      assert.equal(first.last_id, reqs[2].params.after)
    end)
  end)

  describe("answers the fake server never gives", function()
    local function page(ids, has_more, extra)
      local items = {}
      for i, id in ipairs(ids) do items[i] = string.format('{"id":"%s","object":"file"}', id) end
      return string.format('{"object":"list","data":[%s],"has_more":%s%s}', table.concat(items, ","),
        tostring(has_more), extra or "")
    end

    it("stops on an empty page even when it claims more", function()
      local t = scripted({ page({ "a", "b" }, true), page({}, true), page({ "never" }, false) })
      local sc = ft.new{ api_key = "sk-x", base_url = "http://127.0.0.1:9/v1", transport = t }
      assert.same({ "a", "b" }, ids_of(collect(sc:each_file())))
      assert.equal(2, #t.urls)
      assert.truthy(t.urls[2]:find("after=b", 1, true))
    end)

    it("reports a server that repeats its cursor instead of looping", function()
      local t = scripted({ page({ "a" }, true), page({ "b", "a" }, true), page({ "a" }, true) })
      local sc = ft.new{ api_key = "sk-x", base_url = "http://127.0.0.1:9/v1", transport = t }
      local items, err = {}, nil
      for f, e in sc:each_file() do
        if not f then err = e else items[#items + 1] = f.id end
      end
      assert.same({ "a", "b", "a" }, items)
      assert.equal("invalid_response", err.kind)
      assert.truthy(err.message:find("again"))
      assert.equal(2, #t.urls)
    end)

    it("stops the permissions list when last_id is missing or empty", function()
      local t = scripted({ page({ "cp_1" }, true, ',"last_id":"cp_1"'), page({ "cp_2" }, true, ',"last_id":""') })
      local sc = ft.new{ api_key = "sk-x", base_url = "http://127.0.0.1:9/v1", transport = t }
      assert.same({ "cp_1", "cp_2" }, ids_of(collect(sc:each_checkpoint_permission("ft:x:ckpt-step-1"))))
      assert.equal(2, #t.urls)
      assert.truthy(t.urls[2]:find("after=cp_1", 1, true))
    end)

    it("reports has_more without an id to continue after", function()
      local t = scripted({ '{"object":"list","data":[{"object":"file"}],"has_more":true}' })
      local sc = ft.new{ api_key = "sk-x", base_url = "http://127.0.0.1:9/v1", transport = t }
      local last, err
      for f, e in sc:each_file() do last, err = f, e end
      assert.is_false(last)
      assert.equal("invalid_response", err.kind)
    end)
  end)
end)
