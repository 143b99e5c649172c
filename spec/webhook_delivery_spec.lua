-- The fake server pushes: a job reaching succeeded / failed / cancelled is POSTed,
-- signed, to every endpoint subscribed to that type, with the live API's headers and
-- body; failures are retried on the fake's clock; GET /_fake/webhook_deliveries shows
-- every attempt. Received here by ft.webhook_receiver (LuaSocket, in this process), and
-- wait_for_job{events = receiver} takes the final event instead of polling.
local ft = require("openai.finetunes")
local H = require("spec.support.client_helper")
local socket = require("socket")

local SUCCEEDED, FAILED, CANCELLED = "fine_tuning.job.succeeded", "fine_tuning.job.failed",
  "fine_tuning.job.cancelled"

describe("webhook deliveries of the fake server", function()
  local server, c
  H.each_test(function(s, client) server, c = s, client end)

  local receivers = {}
  after_each(function()
    for _, rx in ipairs(receivers) do rx:close() end
    receivers = {}
  end)

  local function receiver(opts)
    local rx = assert(ft.webhook_receiver(opts))
    receivers[#receivers + 1] = rx
    return rx
  end

  local function endpoint(url, events)
    return assert(c:create_webhook_endpoint{ url = url, name = "spec", event_types = ft.array(events) })
  end

  local function deliveries(query)
    return server:control("GET", "/_fake/webhook_deliveries" .. (query or ""))
  end

  -- step rx until `done()` or `seconds` pass
  local function serve_until(rx, done, seconds)
    local deadline = socket.gettime() + (seconds or 10)
    while not done() do
      assert(socket.gettime() < deadline, "timed out waiting for deliveries")
      rx:step(0.05)
    end
  end

  local function job(plan)
    if plan then server:next_job(plan) end
    local file = H.training_file(c)
    return assert(c:create_job{ model = H.MODEL, training_file = file.id })
  end

  it("POSTs a finished job's event, signed, with the live API's headers and body", function()
    local got = {}
    local rx = receiver{ on_event = function(event, d) got[#got + 1] = { event = event, d = d } end }
    local ep = endpoint(rx.url .. "hooks", { SUCCEEDED })
    rx.verify_opts.secret = ep.signing_secret
    local j = job()
    server:advance(3600)
    serve_until(rx, function() return #got == 1 end)
    local e, d = got[1].event, got[1].d
    assert.equal("event", e.object)
    assert.matches("^evt_", e.id)
    assert.equal(SUCCEEDED, e.type)
    assert.equal(j.id, e.data.id)
    assert.is_true(H.is_integer(e.created_at))
    assert.equal("application/json", d.headers["content-type"])
    assert.equal("OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)", d.headers["user-agent"])
    assert.matches("^wh_%x+$", d.headers["webhook-id"])
    assert.matches("^%d+$", d.headers["webhook-timestamp"])
    assert.matches("^v1,[%w+/]+=*$", d.headers["webhook-signature"])
    -- the exact bytes verify with the endpoint's secret, and with no other
    assert(ft.unwrap_webhook(d.body, d.headers, { secret = ep.signing_secret, tolerance = 1e9 }))
    local _, err = ft.unwrap_webhook(d.body, d.headers, { secret = "whsec_c3B5", tolerance = 1e9 })
    assert.equal("no_valid_signature", err.code)

    local list = deliveries()
    assert.equal(1, #list.data)
    local rec = list.data[1]
    assert.equal("delivered", rec.status)
    assert.equal(ep.id, rec.endpoint_id)
    assert.equal(d.headers["webhook-id"], rec.webhook_id)
    assert.equal(e.id, rec.event_id)
    assert.equal(1, #rec.attempts)
    assert.equal(200, rec.attempts[1].status_code)
    -- the job's status reached the fake without anyone asking for it
    local polls = server:requests{ path = "^/v1/fine_tuning/jobs/" .. j.id .. "$" }
    assert.equal(0, #polls)
  end)

  it("sends each type only to the endpoints subscribed to it", function()
    local seen = {}
    local rx = receiver{ tolerance = 1e9,
      on_event = function(event, d) seen[#seen + 1] = { event.type, d.headers } end }
    local ep_ok = endpoint(rx.url .. "ok", { SUCCEEDED })
    local ep_bad = endpoint(rx.url .. "bad", { FAILED, CANCELLED })
    -- one secret for the receiver: both endpoints verify with their own; the receiver
    -- takes the first endpoint's, so the second's events are refused (and retried)
    rx.verify_opts.secret = ep_ok.signing_secret
    job()
    job{ outcome = "failed" }
    local third = job{ steps = 1000, step_seconds = 10 }
    assert(c:cancel_job(third.id))
    server:advance(3600)
    serve_until(rx, function() return #deliveries("?status=delivered").data >= 1 and #deliveries().data >= 3 end)
    local by_endpoint = {}
    for _, d in ipairs(deliveries().data) do
      by_endpoint[d.endpoint_id] = by_endpoint[d.endpoint_id] or {}
      table.insert(by_endpoint[d.endpoint_id], d.event_type)
    end
    assert.same({ SUCCEEDED }, by_endpoint[ep_ok.id])
    table.sort(by_endpoint[ep_bad.id])
    assert.same({ CANCELLED, FAILED }, by_endpoint[ep_bad.id])
    assert.equal(1, #seen)
    assert.equal(SUCCEEDED, seen[1][1])
    -- the refused ones got a 400 and wait for their retry
    for _, d in ipairs(deliveries("?endpoint_id=" .. ep_bad.id).data) do
      assert.equal("pending", d.status)
      assert.equal(400, d.attempts[1].status_code)
      assert.is_number(d.next_attempt_at)
    end
  end)

  it("retries a failed connection or a non-2xx answer with backoff on the fake's clock", function()
    local probe = receiver{}
    local port = probe.port
    probe:close()
    local ep = endpoint(("http://127.0.0.1:%d/hook"):format(port), { SUCCEEDED })
    job()
    server:advance(3600)
    local function attempts()
      local d = deliveries().data[1]
      return d and #d.attempts or 0, d
    end
    local deadline = socket.gettime() + 10
    while attempts() < 1 do assert(socket.gettime() < deadline); socket.sleep(0.02) end
    local _, d = attempts()
    assert.equal("pending", d.status)
    assert.matches("refused", d.attempts[1].error)
    assert.is_true(d.next_attempt_at - d.attempts[1].at >= 4.9 and d.next_attempt_at - d.attempts[1].at < 6)
    socket.sleep(0.2)
    assert.equal(1, (attempts())) -- not before its time
    server:advance(5)
    while attempts() < 2 do assert(socket.gettime() < deadline); socket.sleep(0.02) end
    _, d = attempts()
    assert.is_true(d.next_attempt_at - d.attempts[2].at >= 299) -- then 5 minutes
    assert.equal(d.webhook_id, deliveries().data[1].webhook_id)

    -- now a receiver on that port, with the wrong secret first: 400 is retried too
    local rx = receiver{ port = port, secret = "whsec_d3Jvbmc=" }
    server:advance(300)
    serve_until(rx, function() return (attempts()) >= 3 end)
    _, d = attempts()
    assert.equal(400, d.attempts[3].status_code)
    assert.equal("pending", d.status)
    rx.verify_opts.secret = ep.signing_secret
    server:advance(1800)
    serve_until(rx, function() local _, x = attempts() return x.status == "delivered" end)
    _, d = attempts()
    assert.equal(4, #d.attempts)
    assert.equal(200, d.attempts[4].status_code)
    assert.equal(1, rx.accepted)
  end)

  it("signs with both secrets for 24 h after rotate_secret with keep_old, with the new one only without", function()
    local heads = {}
    local rx = receiver{ tolerance = 1e9, on_event = function(_, d) heads[#heads + 1] = d.headers end }
    local ep = endpoint(rx.url, { SUCCEEDED })
    local old = ep.signing_secret
    local new = assert(c:rotate_webhook_secret(ep.id, { keep_old_secret_active_for_24_hours = true })).signing_secret
    rx.verify_opts.secret = old
    job()
    server:advance(3600)
    serve_until(rx, function() return #heads == 1 end)
    local _, n = heads[1]["webhook-signature"]:gsub("v1,", "")
    assert.equal(2, n)
    local body = deliveries().data[1]
    assert.equal("delivered", body.status)
    -- a rotation without keep_old: the old secret no longer verifies
    local newest = assert(c:rotate_webhook_secret(ep.id)).signing_secret
    assert.not_equal(new, newest)
    rx.verify_opts.secret = newest
    job()
    server:advance(3600)
    serve_until(rx, function() return #heads == 2 end)
    local _, n2 = heads[2]["webhook-signature"]:gsub("v1,", "")
    assert.equal(1, n2)
  end)

  it("lets wait_for_job take the final event instead of polling", function()
    local rx = receiver{}
    local ep = endpoint(rx.url, { SUCCEEDED, FAILED, CANCELLED })
    rx.verify_opts.secret = ep.signing_secret
    local ids = {}
    for i = 1, 5 do ids[i] = job(i == 3 and { outcome = "failed" } or nil).id end
    local mark = server:mark()
    server:set_speed(200)
    local statuses = {}
    for i, id in ipairs(ids) do
      local j = assert(c:wait_for_job(id, { events = rx, timeout = 30,
        on_status = function(new, old) statuses[i] = { new, old } end }))
      assert.equal(id, j.id)
      assert.equal(i == 3 and "failed" or "succeeded", j.status)
      assert.same({ j.status, nil }, statuses[i])
    end
    -- one GET per job (after its event), nothing else
    local reqs = server:requests{ since = mark }
    assert.equal(5, #reqs)
    for i, r in ipairs(reqs) do
      assert.equal("GET", r.method)
      assert.equal("/v1/fine_tuning/jobs/" .. ids[i], r.path)
    end
  end)

  it("the receiver answers malformed requests with a 4xx and goes on", function()
    local rx = receiver{ secret = "whsec_c3B5", max_body_bytes = 1000 }
    local function ask(raw)
      local s = socket.tcp()
      s:settimeout(5)
      assert(s:connect("127.0.0.1", rx.port))
      s:send(raw)
      s:shutdown("send")
      rx:step(0.5)
      local answer = s:receive("*a") or ""
      s:close()
      return tonumber(answer:match("^HTTP/1%.1 (%d+)")), answer
    end
    assert.equal(400, (ask("GARBAGE\r\n\r\n")))
    assert.equal(405, (ask("GET / HTTP/1.1\r\nHost: x\r\n\r\n")))
    assert.equal(400, (ask("POST / HTTP/1.1\r\nContent-Length: 1e30\r\n\r\n")))
    assert.equal(413, (ask("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n")))
    assert.equal(411, (ask("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")))
    assert.equal(431, (ask("POST / HTTP/1.1\r\nX: " .. string.rep("a", 20000) .. "\r\n\r\n")))
    local status, answer = ask("POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
    assert.equal(400, status)
    assert.matches("Missing required header: webhook%-signature", answer)
    assert.equal(400, (ask("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n{}"))) -- truncated, then closed
    assert.equal(0, rx.accepted)
  end)

  it("wait_for_job with events: a deadline, a fallback poll, and misuse", function()
    local rx = receiver{ secret = "whsec_c3B5" }
    local j = job{ steps = 100000, step_seconds = 100 }
    local mark = server:mark()
    local none, err = c:wait_for_job(j.id, { events = rx, timeout = 0.3 })
    assert.is_nil(none)
    assert.equal("timeout", err.kind)
    assert.equal("wait_timeout", err.code)
    assert.equal(0, #server:requests{ since = mark })
    -- poll_interval with events: a slow poll in case a delivery is lost
    mark = server:mark()
    assert(c:cancel_job(j.id))
    local got = assert(c:wait_for_job(j.id, { events = rx, poll_interval = 0.2, timeout = 5 }))
    assert.equal("cancelled", got.status)
    assert.is_true(#server:requests{ since = mark } >= 2)
    assert.has_error(function() c:wait_for_job(j.id, { events = {} }) end,
      "bad argument #2 to 'wait_for_job' (events must be an object with take and wait methods (ft.webhook_receiver), "
        .. "got table)")
    assert.has_error(function() c:wait_for_job(j.id, { events = rx, on_event = print }) end,
      "bad argument #2 to 'wait_for_job' (on_event needs polling: give events or on_event, not both)")
  end)
end)
