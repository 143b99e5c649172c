-- Webhook endpoint management: every /webhook_endpoints and /webhook_event_types
-- operation over real HTTP against the fake server, each_webhook_endpoint paging,
-- the signing secret kept out of what the library prints, and the fake's refusals.
local ft = require("openai.finetunes")
local H = require("spec.support.client_helper")

local SUCCEEDED = "fine_tuning.job.succeeded"

describe("webhook endpoints", function()
  local server, c
  H.each_test(function(s, client) server, c = s, client end)

  local function create(url, events)
    return assert(c:create_webhook_endpoint{ url = url or "http://127.0.0.1:9/hook", name = "spec",
      event_types = ft.array(events or { SUCCEEDED }) })
  end

  it("creates an endpoint and returns its signing secret once", function()
    local ep, meta = create()
    assert.equal(200, meta.status)
    assert.matches("^whe_", ep.id)
    assert.equal("webhook_endpoint", ep.object)
    assert.equal("http://127.0.0.1:9/hook", ep.url)
    assert.equal("spec", ep.name)
    assert.same({ SUCCEEDED }, ep.event_types)
    assert.matches("^whsec_[%w+/]+=*$", ep.signing_secret)
    assert.equal("whsec_****" .. ep.signing_secret:sub(-4), ep.signing_secret_hint)
    assert.is_true(H.is_integer(ep.created_at))
    local last = server:last_request()
    assert.equal("POST", last.method)
    assert.equal("/v1/webhook_endpoints", last.path)
    -- retrieve never shows the secret again
    local got = assert(c:webhook_endpoint(ep.id))
    assert.is_nil(got.signing_secret)
    assert.equal(ep.signing_secret_hint, got.signing_secret_hint)
    assert.equal(ep.id, got.id)
  end)

  it("lists, pages with each_webhook_endpoint, updates and deletes", function()
    local ids = {}
    for i = 1, 5 do ids[i] = create("http://127.0.0.1:9/h" .. i).id end
    local page = assert(c:webhook_endpoints{ limit = 2 })
    assert.equal("list", page.object)
    assert.equal(2, #page.data)
    assert.is_true(page.has_more)
    assert.equal(ids[5], page.data[1].id) -- newest first
    for _, ep in ipairs(page.data) do assert.is_nil(ep.signing_secret) end
    local seen = {}
    for ep, err in c:each_webhook_endpoint{ limit = 2 } do
      assert(ep, tostring(err))
      seen[#seen + 1] = ep.id
    end
    assert.same({ ids[5], ids[4], ids[3], ids[2], ids[1] }, seen)

    local before = assert(c:webhook_endpoint(ids[1]))
    server:advance(10)
    local same = assert(c:update_webhook_endpoint(ids[1], { name = "spec" }))
    assert.equal(before.updated_at, same.updated_at) -- unchanged update: not advanced
    local up = assert(c:update_webhook_endpoint(ids[1], {
      url = "http://localhost:9/new", event_types = ft.array{ SUCCEEDED, "fine_tuning.job.failed" } }))
    assert.equal("http://localhost:9/new", up.url)
    assert.same({ SUCCEEDED, "fine_tuning.job.failed" }, up.event_types)
    assert.is_true(up.updated_at > before.updated_at)

    local del = assert(c:delete_webhook_endpoint(ids[1]))
    assert.same({ id = ids[1], object = "webhook_endpoint.deleted", deleted = true }, del)
    local none, err = c:webhook_endpoint(ids[1])
    assert.is_nil(none)
    assert.equal("api", err.kind)
    assert.equal(404, err.status)
    assert.equal("webhook_endpoint_not_found", err.code)
  end)

  it("rotates the secret, with and without keeping the old one", function()
    local ep = create()
    local r1 = assert(c:rotate_webhook_secret(ep.id))
    assert.equal("{}", server:last_request().body)
    assert.matches("^whsec_", r1.signing_secret)
    assert.not_equal(ep.signing_secret, r1.signing_secret)
    local r2 = assert(c:rotate_webhook_secret(ep.id, { keep_old_secret_active_for_24_hours = true }))
    assert.equal('{"keep_old_secret_active_for_24_hours":true}', server:last_request().body)
    assert.not_equal(r1.signing_secret, r2.signing_secret)
    assert.has_error(function() c:rotate_webhook_secret(ep.id, { keep_old_secret_active_for_24_hours = "yes" }) end,
      "bad argument #2 to 'rotate_webhook_secret' (keep_old_secret_active_for_24_hours must be a boolean, got \"yes\")")
    local raw = H.client(server, { validation = false })
    local _, err = raw:rotate_webhook_secret(ep.id, { keep_old_secret_active_for_24_hours = "yes" })
    assert.equal(400, err.status)
  end)

  it("lists the event types", function()
    local r = assert(c:webhook_event_types())
    assert.equal("list", r.object)
    local set = {}
    for _, t in ipairs(r.data) do set[t] = true end
    assert.is_true(set[SUCCEEDED] and set["fine_tuning.job.failed"] and set["fine_tuning.job.cancelled"])
    assert.equal("GET", server:last_request().method)
    assert.equal("/v1/webhook_event_types", server:last_request().path)
  end)

  it("refuses URLs off loopback, unknown event types and missing fields with the API's 400", function()
    local _, err = c:create_webhook_endpoint{ url = "https://example.com/hook", name = "x",
      event_types = ft.array{ SUCCEEDED } }
    assert.equal(400, err.status)
    assert.equal("url", err.param)
    assert.matches("only to loopback URLs", err.message)
    _, err = c:create_webhook_endpoint{ url = "http://127.0.0.1:9/", name = "x", event_types = ft.array{ "nope" } }
    assert.equal(400, err.status)
    assert.equal("event_types[0]", err.param)
    assert.has_error(function() c:create_webhook_endpoint{ url = "http://127.0.0.1:9/", name = "x" } end,
      "bad argument #1 to 'create_webhook_endpoint' (event_types is required, expected a non-empty array of"
        .. " event types)")
    local raw = H.client(server, { validation = false })
    _, err = raw:create_webhook_endpoint{ url = "http://127.0.0.1:9/", name = "x" }
    assert.equal(400, err.status)
    assert.equal("event_types", err.param)
    local ep = create()
    _, err = c:update_webhook_endpoint(ep.id, { url = "http://10.0.0.1/" })
    assert.equal(400, err.status)
    _, err = c:test_webhook_endpoint(ep.id, { event_type = "nope" })
    assert.equal(400, err.status)
  end)

  it("takes per-call opts and refuses misuse before sending", function()
    local ep = create()
    local n = #server:requests()
    assert(c:webhook_endpoint(ep.id, { headers = { ["X-Spec"] = "1" }, timeout = 5 }))
    assert.equal("1", server:last_request().headers["x-spec"])
    assert.has_error(function() c:webhook_endpoint("") end,
      "bad argument #1 to 'webhook_endpoint' (id must be a non-empty string, got \"\")")
    assert.has_error(function() c:create_webhook_endpoint("x") end,
      "bad argument #1 to 'create_webhook_endpoint' (table expected, got \"x\")")
    assert.has_error(function() c:test_webhook_endpoint(ep.id) end,
      "bad argument #2 to 'test_webhook_endpoint' (table expected, got nil)")
    assert.has_error(function() c:webhook_endpoints({}, { bogus = 1 }) end)
    assert.equal(n + 1, #server:requests())
  end)

  it("keeps the webhook secret out of tostring and errors", function()
    local secret = "whsec_" .. ("c2VjcmV0LXNwZWMta2V5LWJ5dGVz")
    local w = H.client(server, { webhook_secret = secret })
    assert.not_matches("c2VjcmV0", tostring(w))
    assert.not_matches("c2VjcmV0", tostring(w:strict()))
    local ok, why = pcall(ft.new, { api_key = H.API_KEY, webhook_secret = 42 })
    assert.is_false(ok)
    assert.matches("webhook_secret must be a non%-empty string, got number", why)
  end)
end)
