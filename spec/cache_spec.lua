-- The response cache (ft.new{cache = {ttl = s}}) over the real C core against
-- the fake server: the server's request log shows which calls reached it.
local ft = require("openai.finetunes")
local fake = require("spec.support.fake_server")
local core = require("openai.finetunes.core")
local H = require("spec.support.client_helper")

local KEY = "sk-cache-spec"

local TRAIN = ('{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}\n'):rep(10)

describe("response cache", function()
  local server, dir, train_path

  setup(function()
    server = fake.start()
    dir = H.tmpdir()
    train_path = dir .. "/train.jsonl"
    H.write(train_path, TRAIN)
  end)

  teardown(function()
    if dir then H.rmdir(dir) end
  end)

  -- A literal as a Lua pattern (ids have "-" in them).
  local function lit(s) return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")) end

  -- How many requests for `path` (a Lua pattern) the server saw since `since`.
  local function hits(since, path, method)
    return #server:requests{ since = since, path = path, method = method }
  end

  local function upload(client, name)
    return assert(client:upload_file{ file = train_path, purpose = "fine-tune", filename = name or "c.jsonl" })
  end

  it("is off by default: every read reaches the server", function()
    local client = ft.new{ api_key = KEY, base_url = server.base_url }
    local since = server:mark()
    assert(client:model("gpt-4o-mini"))
    local _, meta = assert(client:model("gpt-4o-mini"))
    assert.is_nil(meta.cached)
    assert.are.equal(2, hits(since, "^/v1/models/gpt%-4o%-mini$"))
    client:close()
  end)

  it("serves model, models, file and files from memory within the TTL", function()
    local client = ft.new{ api_key = KEY, base_url = server.base_url, cache = { ttl = 60 } }
    local file = upload(client)
    local since = server:mark()
    for _ = 1, 3 do
      assert(client:model("gpt-4o-mini"))
      assert(client:models())
      assert(client:file(file.id))
      assert(client:files{ purpose = "fine-tune" })
    end
    assert.are.equal(1, hits(since, "^/v1/models/gpt%-4o%-mini$"))
    assert.are.equal(1, hits(since, "^/v1/models$"))
    assert.are.equal(1, hits(since, "^/v1/files/" .. lit(file.id) .. "$"))
    assert.are.equal(1, hits(since, "^/v1/files$"))
    client:close()
  end)

  it("marks hits in meta and hands out fresh tables the caller may change", function()
    local client = ft.new{ api_key = KEY, base_url = server.base_url, cache = { ttl = 60 } }
    local first, meta1 = assert(client:model("gpt-4o-mini"))
    assert.is_nil(meta1.cached)
    assert.are.equal(1, meta1.attempts)
    first.id = "changed by the caller"
    first.extra = true
    local second, meta2 = assert(client:model("gpt-4o-mini"))
    assert.is_true(meta2.cached)
    assert.are.equal(0, meta2.attempts)
    assert.are.equal(meta1.request_id, meta2.request_id)
    assert.are.equal(200, meta2.status)
    assert.are.equal("gpt-4o-mini", second.id)
    assert.is_nil(second.extra)
    assert.are_not.equal(first, second)
    client:close()
  end)

  it("forgets an answer once the TTL has passed", function()
    local client = ft.new{ api_key = KEY, base_url = server.base_url, cache = { ttl = 0.3 } }
    local since = server:mark()
    assert(client:model("gpt-4o-mini"))
    assert(client:model("gpt-4o-mini"))
    assert.are.equal(1, hits(since, "^/v1/models/gpt%-4o%-mini$"))
    core.sleep(0.4)
    local _, meta = assert(client:model("gpt-4o-mini"))
    assert.is_nil(meta.cached)
    assert.are.equal(2, hits(since, "^/v1/models/gpt%-4o%-mini$"))
    client:close()
  end)

  it("keys on the query and the request headers", function()
    local client = ft.new{ api_key = KEY, base_url = server.base_url, cache = { ttl = 60 } }
    upload(client, "a.jsonl")
    upload(client, "b.jsonl")
    local since = server:mark()
    assert.are.equal(1, #assert(client:files{ limit = 1 }).data)
    assert.are.equal(2, #assert(client:files{ limit = 2 }).data)
    assert.are.equal(1, #assert(client:files{ limit = 1 }).data)
    assert.are.equal(2, hits(since, "^/v1/files$"))
    assert(client:model("gpt-4o-mini"))
    assert(client:model("gpt-4o-mini", { headers = { ["OpenAI-Project"] = "proj_other" } }))
    assert(client:model("gpt-4o-mini", { headers = { ["OpenAI-Project"] = "proj_other" } }))
    assert.are.equal(2, hits(since, "^/v1/models/gpt%-4o%-mini$"))
    client:close()
  end)

  it("does not keep failures, job reads or file content", function()
    local client = ft.new{ api_key = KEY, base_url = server.base_url, cache = { ttl = 60 }, max_retries = 0 }
    local file = upload(client)
    local since = server:mark()
    for _ = 1, 2 do
      local r, err = client:file("file-missing")
      assert.is_nil(r)
      assert.are.equal(404, err.status)
      assert(client:file_content(file.id))
      client:job("ftjob-missing")
    end
    assert.are.equal(2, hits(since, "^/v1/files/file%-missing$"))
    assert.are.equal(2, hits(since, "^/v1/files/" .. lit(file.id) .. "/content$"))
    assert.are.equal(2, hits(since, "^/v1/fine_tuning/jobs/ftjob%-missing$"))
    -- a failed read leaves a later success cacheable
    server:fault("500", { path = "^/v1/models/gpt%-4o$" })
    assert.is_nil((client:model("gpt-4o")))
    assert(client:model("gpt-4o"))
    assert(client:model("gpt-4o"))
    assert.are.equal(2, hits(since, "^/v1/models/gpt%-4o$"))
    client:close()
  end)

  it("drops a file and the file lists when the file is deleted through the client", function()
    local client = ft.new{ api_key = KEY, base_url = server.base_url, cache = { ttl = 60 } }
    local file = upload(client)
    local keep = upload(client, "keep.jsonl")
    assert(client:file(file.id))
    assert(client:file(keep.id))
    assert(client:files())
    local since = server:mark()
    assert(client:delete_file(file.id))
    local gone, err = client:file(file.id)
    assert.is_nil(gone)
    assert.are.equal(404, err.status)
    local list = assert(client:files())
    for _, f in ipairs(list.data) do assert.are_not.equal(file.id, f.id) end
    assert(client:file(keep.id)) -- untouched: still served from memory
    assert.are.equal(1, hits(since, "^/v1/files/" .. lit(file.id) .. "$", "GET"))
    assert.are.equal(1, hits(since, "^/v1/files$", "GET"))
    assert.are.equal(0, hits(since, "^/v1/files/" .. lit(keep.id) .. "$"))
    client:close()
  end)

  it("drops the file a delete names when every request carries a default query", function()
    -- (the Azure profile's api-version: the cached URL has a query, the object it names has not)
    local client = ft.new{ api_key = KEY, base_url = server.base_url, cache = { ttl = 60 },
      default_query = { ["api-version"] = "2024-10-21" } }
    local file = upload(client)
    assert(client:file(file.id))
    local since = server:mark()
    assert(client:delete_file(file.id))
    local gone, err = client:file(file.id)
    assert.is_nil(gone)
    assert.are.equal(404, err.status)
    assert.are.equal(1, hits(since, "^/v1/files/" .. lit(file.id) .. "$", "GET"))
    client:close()
  end)

  it("drops the file lists when a file is uploaded through the client", function()
    local client = ft.new{ api_key = KEY, base_url = server.base_url, cache = { ttl = 60 } }
    local before = #assert(client:files()).data
    local added = upload(client, "new.jsonl")
    local list = assert(client:files())
    assert.are.equal(before + 1, #list.data)
    local found = false
    for _, f in ipairs(list.data) do found = found or f.id == added.id end
    assert.is_true(found)
    client:close()
  end)

  it("drops the model and the model list on delete_model, even when the delete fails", function()
    local client = ft.new{ api_key = KEY, base_url = server.base_url, cache = { ttl = 60 }, max_retries = 0 }
    assert(client:models())
    assert(client:model("gpt-4o-mini"))
    local since = server:mark()
    local r, err = client:delete_model("gpt-4o-mini") -- a base model: 403, but the write was tried
    assert.is_nil(r)
    assert.are.equal(403, err.status)
    assert(client:models())
    assert(client:model("gpt-4o-mini"))
    assert.are.equal(1, hits(since, "^/v1/models$", "GET"))
    assert.are.equal(1, hits(since, "^/v1/models/gpt%-4o%-mini$", "GET"))
    client:close()
  end)

  it("is per client, and clear_cache() empties it", function()
    local a = ft.new{ api_key = KEY, base_url = server.base_url, cache = { ttl = 60 } }
    local b = ft.new{ api_key = KEY, base_url = server.base_url, cache = { ttl = 60 } }
    local since = server:mark()
    assert(a:model("gpt-4o-mini"))
    assert(b:model("gpt-4o-mini"))
    assert(a:model("gpt-4o-mini"))
    assert.are.equal(2, hits(since, "^/v1/models/gpt%-4o%-mini$"))
    assert.is_true(a:clear_cache())
    assert(a:model("gpt-4o-mini"))
    assert.are.equal(3, hits(since, "^/v1/models/gpt%-4o%-mini$"))
    assert.is_true(ft.new{ api_key = KEY, base_url = server.base_url }:clear_cache())
    a:close()
    b:close()
  end)

  it("serves and invalidates inside a batch too", function()
    local client = ft.new{ api_key = KEY, base_url = server.base_url, cache = { ttl = 60 } }
    local file = upload(client)
    assert(client:model("gpt-4o-mini"))
    assert(client:file(file.id))
    local since = server:mark()
    local results = client:batch{ { "model", "gpt-4o-mini" }, { "file", file.id }, { "model", "gpt-4o-mini" } }
    assert.is_true(results[1][2].cached)
    assert.is_true(results[2][2].cached)
    assert.are.equal("gpt-4o-mini", results[3][1].id)
    assert.are.equal(0, #server:requests{ since = since })
    -- a read in a batch fills the cache for later calls
    local other = upload(client, "other.jsonl")
    client:batch{ { "file", other.id } }
    local _, meta = assert(client:file(other.id))
    assert.is_true(meta.cached)
    -- a delete in a batch drops the entry
    client:batch{ { "delete_file", file.id } }
    local gone, err = client:file(file.id)
    assert.is_nil(gone)
    assert.are.equal(404, err.status)
    client:close()
  end)

  it("refuses a bad ttl when the client is built", function()
    assert.has_error(function() ft.new{ api_key = KEY, cache = { ttl = -1 } } end)
    assert.has_error(function() ft.new{ api_key = KEY, cache = { ttl = "60" } } end)
    assert.has_error(function() ft.new{ api_key = KEY, cache = { size = 10 } } end)
  end)
end)
