-- ft.unwrap_webhook / ft.verify_webhook and the client methods: what a receiver relies
-- on beyond the SDK verdicts of webhook_parity_spec.lua: the event table, where the
-- secret comes from, one code per failed check with a message naming it and no
-- secret in it, header tables as nginx gives them, the body bound, misuse raising and
-- bad input never raising, and the replay guard.
local ft = require("openai.finetunes")
local codec = require("openai.finetunes.codec")
local H = require("spec.support.client_helper")

local KEY = "webhook spec key bytes 0123456789"
local SECRET = "whsec_" .. codec.base64_encode(KEY)
local NOW = 1767225600
local ID = "wh_0123456789abcdef0123456789abcdef"
local BODY = '{"id":"evt_1","object":"event","created_at":1767225590,"type":"fine_tuning.job.succeeded",'
  .. '"data":{"id":"ftjob-1"}}'

local function sign(body, ts, id, key)
  id, ts = id or ID, tostring(ts or NOW)
  return "v1," .. codec.base64_encode(codec.hmac_sha256(key or KEY, id .. "." .. ts .. "." .. body))
end

local function headers(body, ts, extra)
  local h = { ["webhook-id"] = ID, ["webhook-timestamp"] = tostring(ts or NOW),
    ["webhook-signature"] = sign(body, ts) }
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end

local OPTS = { secret = SECRET, now = NOW }

local function refused(code, ...)
  local got, err = ft.unwrap_webhook(...)
  assert.is_nil(got)
  assert.is_true(ft.is_error(err))
  assert.equal("webhook", err.kind)
  assert.equal(code, err.code, tostring(err))
  local text = tostring(err)
  assert.not_matches(codec.base64_encode(KEY):sub(1, 12), text, 1, true)
  assert.not_matches(KEY, text, 1, true)
  return err
end

describe("ft.unwrap_webhook", function()
  it("returns the verified event as a table", function()
    local event = assert(ft.unwrap_webhook(BODY, headers(BODY), OPTS))
    assert.equal("evt_1", event.id)
    assert.equal("event", event.object)
    assert.equal("fine_tuning.job.succeeded", event.type)
    assert.equal(1767225590, event.created_at)
    assert.equal("ftjob-1", event.data.id)
    assert.is_true(ft.verify_webhook(BODY, headers(BODY), OPTS))
  end)

  it("names the failed check in a one-line message, with a code of its own", function()
    assert.matches("Missing required header: webhook%-id",
      refused("missing_header", BODY, { ["webhook-timestamp"] = tostring(NOW), ["webhook-signature"] = sign(BODY) },
        OPTS).message)
    assert.matches("Invalid webhook timestamp format",
      refused("invalid_timestamp", BODY, headers(BODY, "later"), OPTS).message)
    assert.matches("too old %(301 s, tolerance 300 s%)",
      refused("timestamp_too_old", BODY, headers(BODY, NOW - 301), OPTS).message)
    assert.matches("too new %(301 s ahead, tolerance 300 s%)",
      refused("timestamp_too_new", BODY, headers(BODY, NOW + 301), OPTS).message)
    assert.matches("does not match", refused("no_valid_signature", BODY .. " ", headers(BODY), OPTS).message)
    assert.matches("holds no key bytes",
      refused("invalid_secret", BODY, headers(BODY), { secret = "whsec_***", now = NOW }).message)
    local text = "not json"
    assert.matches("not JSON", refused("invalid_json", text, headers(text), OPTS).message)
    assert.matches("not an event object", refused("invalid_json", "[1]", headers("[1]"), OPTS).message)
    local err = refused("no_valid_signature", BODY, headers(BODY), { secret = "whsec_" .. codec.base64_encode("other"),
      now = NOW })
    assert.matches("^webhook error %(no_valid_signature%): ", tostring(err))
  end)

  it("takes the tolerance both ways, and the clock from opts.now", function()
    local o = { secret = SECRET, now = NOW, tolerance = 60 }
    assert(ft.unwrap_webhook(BODY, headers(BODY, NOW - 60), o))
    assert(ft.unwrap_webhook(BODY, headers(BODY, NOW + 60), o))
    refused("timestamp_too_old", BODY, headers(BODY, NOW - 61), o)
    refused("timestamp_too_new", BODY, headers(BODY, NOW + 61), o)
    -- without opts.now: the real clock
    local ts = os.time()
    assert(ft.unwrap_webhook(BODY, headers(BODY, ts), { secret = SECRET }))
  end)

  it("reads header tables as nginx gives them: any case, lists for repeated headers", function()
    local h = { ["Webhook-ID"] = ID, ["WEBHOOK-TIMESTAMP"] = tostring(NOW), ["webhook-Signature"] = sign(BODY) }
    assert(ft.unwrap_webhook(BODY, h, OPTS))
    local err = refused("duplicate_header", BODY, headers(BODY, NOW, { ["webhook-id"] = { ID, ID } }), OPTS)
    assert.equal("header webhook-id appears 2 times; a delivery has one", err.message)
    refused("duplicate_header", BODY, headers(BODY, NOW, { ["Webhook-Timestamp"] = tostring(NOW) }), OPTS)
    -- repeated signature headers are one list of signatures (rotation)
    local other = sign(BODY, NOW, ID, "another key")
    assert(ft.unwrap_webhook(BODY, headers(BODY, NOW, { ["webhook-signature"] = { other, sign(BODY) } }), OPTS))
    assert(ft.unwrap_webhook(BODY, headers(BODY, NOW, { ["webhook-signature"] = other .. " " .. sign(BODY) }), OPTS))
    -- a number is read as its text
    assert(ft.unwrap_webhook(BODY, headers(BODY, NOW, { ["webhook-timestamp"] = NOW }), OPTS))
  end)

  it("refuses a body over max_body_bytes (default 5 MiB) and verifies a 1 MB one", function()
    local big = '{"object":"event","id":"evt_big","type":"x","data":{"pad":"' .. string.rep("y", 1000000) .. '"}}'
    assert.equal("evt_big", assert(ft.unwrap_webhook(big, headers(big), OPTS)).id)
    local err = refused("body_too_large", big, headers(big), { secret = SECRET, now = NOW, max_body_bytes = 4096 })
    assert.equal(("the body has %d bytes; the limit is 4096 (max_body_bytes)"):format(#big), err.message)
    local huge = string.rep(" ", 5 * 1024 * 1024 + 1)
    refused("body_too_large", huge, headers(huge), OPTS)
  end)

  it("raises on misuse, naming the argument", function()
    assert.has_error(function() ft.unwrap_webhook(nil, {}, OPTS) end,
      "bad argument #1 to 'unwrap_webhook' (body must be a string, got nil)")
    assert.has_error(function() ft.verify_webhook(BODY, "h", OPTS) end,
      "bad argument #2 to 'verify_webhook' (headers must be a table, got string)")
    assert.has_error(function() ft.unwrap_webhook(BODY, {}, { secrt = "x" }) end,
      "bad argument #3 to 'unwrap_webhook' (unknown option \"secrt\")")
    assert.has_error(function() ft.unwrap_webhook(BODY, {}, { secret = SECRET, tolerance = -1 }) end,
      "bad argument #3 to 'unwrap_webhook' (tolerance must be a number >= 0, got -1)")
    -- a secret of the wrong type is described by its type only
    assert.has_error(function() ft.unwrap_webhook(BODY, {}, { secret = 12345 }) end,
      "bad argument #3 to 'unwrap_webhook' (secret must be a non-empty string, got number)")
  end)

  it("never raises on bad input", function()
    math.randomseed(7)
    local values = { "", " ", "v1,", "v1,=", "v1,!!", ",,,", "0", "-1", "1e9", string.rep("v1,a ", 500),
      "\0\255", "whsec_", tostring(NOW), sign(BODY), ID, "99999999999999999999999", "-99999999999999999999" }
    local function pick() return values[math.random(#values)] end
    for _ = 1, 2000 do
      local h = {}
      for _, name in ipairs({ "webhook-id", "webhook-timestamp", "webhook-signature" }) do
        local r = math.random(4)
        if r == 2 then h[name] = pick() elseif r == 3 then h[name] = { pick(), pick() } elseif r == 4 then
          h[name:upper()] = pick()
        end
      end
      local body = math.random(2) == 1 and BODY or pick()
      local ok, a, b = pcall(ft.unwrap_webhook, body, h, OPTS)
      assert(ok, a)
      assert.is_true(a ~= nil or (ft.is_error(b) and b.kind == "webhook"))
    end
  end)
end)

describe("the webhook secret", function()
  local server
  setup(function() server = H.start() end)

  it("comes from opts.secret, else the client's webhook_secret, else $OPENAI_WEBHOOK_SECRET", function()
    local c = H.client(server, { webhook_secret = SECRET })
    assert.equal("evt_1", assert(c:unwrap_webhook(BODY, headers(BODY), { now = NOW })).id)
    assert.is_true(c:verify_webhook(BODY, headers(BODY), { now = NOW }))
    local _, err = c:unwrap_webhook(BODY, headers(BODY), { now = NOW, secret = "whsec_" .. codec.base64_encode("x") })
    assert.equal("no_valid_signature", err.code)
    -- the environment: read by ft.new for the client, at the call for ft.unwrap_webhook
    local code = ([[
      local ft = require("openai.finetunes")
      local h = { ["webhook-id"] = %q, ["webhook-timestamp"] = %q, ["webhook-signature"] = %q }
      local c = ft.new{ api_key = "sk-x", base_url = "http://127.0.0.1:9/v1" }
      assert(c:unwrap_webhook(%q, h, { now = %d }))
      assert(ft.unwrap_webhook(%q, h, { now = %d }))
      io.write("ok")
    ]]):format(ID, tostring(NOW), sign(BODY), BODY, NOW, BODY, NOW)
    local ok, out, stderr = H.run_lua(code, { OPENAI_WEBHOOK_SECRET = SECRET })
    assert(ok, stderr)
    assert.equal("ok", out)
  end)

  it("missing everywhere raises, naming the three places", function()
    local code = [[
      local ft = require("openai.finetunes")
      local ok, err = pcall(ft.unwrap_webhook, "{}", {})
      io.write(tostring(err))
    ]]
    local ok, out, stderr = H.run_lua(code, { OPENAI_WEBHOOK_SECRET = false })
    assert(ok, stderr)
    assert.matches("OPENAI_WEBHOOK_SECRET", out)
    assert.matches("webhook_secret", out)
    assert.matches("opts.secret", out)
  end)
end)

describe("ft.webhook_replay_guard", function()
  it("accepts a webhook-id once within ttl", function()
    local t = 1000
    local guard = ft.webhook_replay_guard{ ttl = 60, now = function() return t end }
    assert.is_true(guard:first("wh_a"))
    assert.is_false(guard:first("wh_a"))
    assert.is_true(guard:first("wh_b"))
    t = t + 61
    assert.is_true(guard:first("wh_a"))
    assert.has_error(function() guard:first("") end,
      "bad argument #1 to 'first' (id must be a non-empty string, got \"\")")
  end)

  it("stays bounded: expired ids are pruned as it grows", function()
    local t = 0
    local guard = ft.webhook_replay_guard{ ttl = 10, now = function() return t end }
    for i = 1, 5000 do
      t = i
      assert.is_true(guard:first("wh_" .. i))
    end
    assert.is_true(guard.count < 4200)
    assert.is_false(guard:first("wh_5000"))
  end)
end)
