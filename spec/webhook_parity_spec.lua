-- The official SDK's verdicts, held to: every case of spec/fixtures/webhook_cases.json
-- (written by tools/sdk-check/webhooks/make-cases.mjs, signed with Node's crypto) through
-- ft.unwrap_webhook / ft.verify_webhook must be accepted or refused exactly as
-- openai-node 7.59's client.webhooks.unwrap / verifySignature did
-- (spec/fixtures/webhook_verdicts.json; `make webhook-parity` recomputes that file with
-- the SDK and fails when it differs), for the same check where the SDK names one.
local ft = require("openai.finetunes")
local codec = require("openai.finetunes.codec")
local H = require("spec.support.client_helper")

local cases = assert(codec.json_decode(H.read("spec/fixtures/webhook_cases.json"))).cases
local verdicts = assert(codec.json_decode(H.read("spec/fixtures/webhook_verdicts.json")))

-- tools/sdk-check/webhooks/cases-common.mjs bigBody: the same bytes
local function big_body(now, size)
  local head = '{"id":"evt_big","object":"event","created_at":' .. now
    .. ',"type":"fine_tuning.job.succeeded","data":{"id":"ftjob-big","pad":"'
  local tail = '"}}'
  return head .. string.rep("x", size - #head - #tail) .. tail
end

-- The Lua code a refusal of the SDK corresponds to. The SDK has no check of its own
-- for a repeated id or timestamp (Headers joins them, then the MAC differs).
local SAME = {
  missing_header = { missing_header = true },
  invalid_timestamp = { invalid_timestamp = true },
  timestamp_too_old = { timestamp_too_old = true },
  timestamp_too_new = { timestamp_too_new = true },
  no_valid_signature = { no_valid_signature = true, duplicate_header = true },
  other = { invalid_secret = true, invalid_json = true },
}

describe("webhook verdicts against the official Node SDK", function()
  it("has a verdict for every case, in order", function()
    assert.equal(#cases, #verdicts)
    assert.is_true(#cases >= 40)
    for i, c in ipairs(cases) do assert.equal(c.name, verdicts[i].name) end
  end)

  for i, c in ipairs(cases) do
    local want = verdicts[i]
    it(c.name .. (want.ok and ": accepted" or ": refused (" .. want.check .. ")"), function()
      local body = c.big and big_body(c.now, c.big) or c.body
      local opts = { secret = c.secret, now = c.now, tolerance = c.tolerance }
      local fn = c.mode == "verify" and ft.verify_webhook or ft.unwrap_webhook
      local got, err = fn(body, c.headers, opts)
      if want.ok then
        assert(got, "refused: " .. tostring(err))
        if c.mode ~= "verify" then
          assert.equal("event", got.object)
          assert.is_string(got.id)
        else
          assert.is_true(got)
        end
      else
        assert.is_nil(got)
        assert.equal("webhook", err.kind)
        assert.is_true(SAME[want.check][err.code] == true,
          ("the SDK refused with %s, Lua with %s: %s"):format(want.check, tostring(err.code), tostring(err)))
        -- never the secret, never a signature
        assert.not_matches(c.secret:sub(7, 20), tostring(err), 1, true)
      end
    end)
  end
end)
