-- One call lifecycle (call/lifecycle.lua) for a plain method call and for the
-- calls batch keeps in flight: the same outcome, attempts and meta whichever
-- path a call takes, over the real C core against the fake server.
local ft = require("openai.finetunes")
local fake = require("spec.support.fake_server")

local KEY = "sk-lifecycle-spec"

describe("call lifecycle", function()
  local server
  setup(function() server = fake.start() end)
  before_each(function() server:reset() end)

  -- The same call, once as a method and once inside a batch: {result, second} of each.
  local function both(client, name, ...)
    local a = { client[name](client, ...) }
    local results = client:batch{ { name, ... } }
    return a, results[1]
  end

  it("retries alike: a 503 then the answer is two attempts either way", function()
    local client = ft.new{ api_key = KEY, base_url = server.base_url, retry = { base_delay = 0.01 } }
    local function once()
      server:fault({ match = { path = "^/v1/models/gpt%-4o%-mini$" }, times = 1, fault = "503" })
    end
    once()
    local method = { client:model("gpt-4o-mini") }
    once()
    local batched = client:batch{ { "model", "gpt-4o-mini" } }[1]
    assert.are.equal("gpt-4o-mini", method[1].id)
    assert.are.equal("gpt-4o-mini", batched[1].id)
    assert.are.equal(2, method[2].attempts)
    assert.are.equal(2, batched[2].attempts)
    client:close()
  end)

  it("gives up alike after max_retries, with the same error and attempts", function()
    local client = ft.new{ api_key = KEY, base_url = server.base_url, max_retries = 1, retry = { base_delay = 0.01 } }
    server:fault({ match = { path = "^/v1/models/gpt%-4o$" }, times = -1, fault = "500" })
    local method, batched = both(client, "model", "gpt-4o")
    assert.is_nil(method[1])
    assert.is_nil(batched[1])
    for _, err in ipairs({ method[2], batched[2] }) do
      assert.are.equal("api", err.kind)
      assert.are.equal(500, err.status)
      assert.are.equal(2, err.attempts)
    end
    client:close()
  end)

  it("asks the same breaker: once open, neither path sends", function()
    local client = ft.new{ api_key = KEY, base_url = server.base_url, max_retries = 0,
      circuit_breaker = { failure_threshold = 2, window = 60, reset_timeout = 60 } }
    server:fault({ match = { path = "^/v1/models$" }, times = -1, fault = "503" })
    assert.is_nil((client:models()))
    local results = client:batch{ { "models" } }
    assert.are.equal(503, results[1][2].status)
    assert.are.equal("open", client:_policy():circuit_state())
    local since = server:mark()
    local method, batched = both(client, "models")
    for _, err in ipairs({ method[2], batched[2] }) do
      assert.are.equal("circuit_open", err.kind)
      assert.are.equal(0, err.attempts)
    end
    assert.are.equal(0, #server:requests{ since = since })
    client:close()
  end)

  it("reads and fills the same cache", function()
    local client = ft.new{ api_key = KEY, base_url = server.base_url, cache = { ttl = 60 } }
    local since = server:mark()
    local results = client:batch{ { "model", "gpt-4o-mini" } }
    assert.is_nil(results[1][2].cached)
    local method, batched = both(client, "model", "gpt-4o-mini")
    assert.is_true(method[2].cached)
    assert.is_true(batched[2].cached)
    assert.are.equal(0, method[2].attempts)
    assert.are.equal(1, #server:requests{ since = since, path = "^/v1/models/gpt%-4o%-mini$" })
    client:close()
  end)
end)
