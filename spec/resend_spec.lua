-- max_retries = N means at most N + 1 requests reach the server: a reused
-- keep-alive connection that the server closes after reading the request must
-- not make the transport send it again behind the retry policy's back (a POST
-- re-sent is a duplicated job). Against spec/support/hostile_http.lua
-- (keepalive_close: it answers one request per connection, reads the next and
-- closes without answering), counting what reached it.
local ft = require("openai.finetunes")
local hostile = require("spec.support.hostile")

describe("a reused connection that dies after the server read the request", function()
  local srv
  setup(function() srv = hostile.start("keepalive_close") end)
  teardown(function() srv:stop() end)
  before_each(function() srv:clear() end)

  local function count(method)
    local n = 0
    for _, r in ipairs(srv:requests()) do
      if r.method == method then n = n + 1 end
    end
    return n
  end

  local function client(max_retries)
    return ft.new{ api_key = "sk-resend-0123456789", base_url = srv.base_url, max_retries = max_retries,
      http_version = "1.1", retry = { base_delay = 0.01 } }
  end

  it("sends a POST once with max_retries = 0, and says how many attempts", function()
    local c = client(0)
    assert(c:files()) -- opens the keep-alive connection the POST reuses
    local job, err = c:create_job{ model = "gpt-4o-mini-2024-07-18", training_file = "file-abc" }
    assert.equal(1, count("POST"), "POSTs that reached the server")
    assert.is_nil(job)
    assert.equal("io", err.kind)
    assert.equal(1, err.attempts)
  end)

  it("re-sends a POST only when the policy says so, and counts it", function()
    local c = client(1)
    assert(c:files())
    local job, meta = c:create_job({ model = "gpt-4o-mini-2024-07-18", training_file = "file-abc" },
      { idempotency_key = "job-1" })
    assert.truthy(job, tostring(meta))
    assert.equal(2, count("POST"))
    assert.equal(2, meta.attempts)
  end)

  it("counts a GET's every send as an attempt", function()
    local c = client(0)
    assert(c:files())
    local list, err = c:files()
    assert.equal(2, count("GET"))
    assert.is_nil(list)
    assert.equal(1, err.attempts)
  end)
end)

describe("the same over every transport", function()
  local both = require("spec.support.both_transports")
  local srv
  setup(function()
    srv = hostile.start("keepalive_close")
    both.setup()
  end)
  teardown(function()
    both.teardown()
    srv:stop()
  end)

  local CHUNK = [[
    return function(vars)
      local ft = require("openai.finetunes")
      local out = {}
      for i, retries in ipairs({ 0, 1 }) do
        local c = ft.new{ api_key = "sk-resend-0123456789", base_url = vars.base_url, max_retries = retries,
          retry = { base_delay = 0.01 } }
        assert(c:files())
        local job, second = c:create_job{ model = "gpt-4o-mini-2024-07-18", training_file = "file-abc" }
        out[i] = { ok = job ~= nil, attempts = second and second.attempts, kind = not job and second.kind or nil }
        c:close()
      end
      return out
    end
  ]]

  for _, t in ipairs(both.TRANSPORTS) do
    it("counts every send as an attempt over " .. t, function()
      srv:clear()
      local out = both.run(t, CHUNK, { base_url = srv.base_url })
      assert.is_nil(out.raised, out.raised)
      assert.is_false(out[1].ok)
      assert.equal("io", out[1].kind)
      assert.equal(1, out[1].attempts)
      assert.is_true(out[2].ok)
      assert.equal(2, out[2].attempts)
      local posts = 0
      for _, r in ipairs(srv:requests()) do
        if r.method == "POST" then posts = posts + 1 end
      end
      assert.equal(3, posts, "1 + 2 attempts, nothing behind the policy's back")
    end)
  end
end)
