-- Every public client method, endpoint or extension, refuses a wrong or missing
-- self with the same message (client.wait_for_job("id") is a typo, not a crash
-- inside the library), on the plain client and on the strict view, and sends
-- nothing.
local client_module = require("openai.finetunes.client")
local H = require("spec.support.client_helper")

describe("a public method called without its client", function()
  local server

  setup(function() server = H.start() end)
  before_each(function() server:reset() end)

  local function public_names()
    local names = {}
    for name in pairs(client_module.methods) do
      if name:sub(1, 1) ~= "_" then names[#names + 1] = name end
    end
    table.sort(names)
    return names
  end

  it("covers the extension methods too", function()
    local names = {}
    for _, n in ipairs(public_names()) do names[n] = true end
    for _, n in ipairs({ "wait_for_job", "wait_for_file", "each_file", "each_job", "each_event",
      "each_checkpoint", "each_checkpoint_permission", "job_metrics", "clear_cache", "batch",
      "upload_large_file", "strict", "close" }) do
      assert.is_true(names[n], n)
    end
  end)

  for _, view in ipairs({ "plain", "strict" }) do
    it("gives the 'bad self' message for every method on the " .. view .. " client", function()
      local c = H.client(server)
      if view == "strict" then c = c:strict() end
      local checked = 0
      for _, name in ipairs(public_names()) do
        local fn = c[name]
        for _, bad in ipairs({ { "id" }, {}, { 42 }, { {} } }) do
          local ok, msg = pcall(function() local r = fn(bad[1], "file-abc"); return r end)
          assert.is_false(ok, name)
          assert.equal("string", type(msg), name)
          assert.truthy(msg:find(("calling '%s' on bad self (use client:%s(...))"):format(name, name), 1, true),
            name .. ": " .. tostring(msg))
          -- the message points at this file, not inside the library
          assert.truthy(msg:find("misuse_self_spec.lua:%d+:"), name .. ": " .. msg)
          checked = checked + 1
        end
      end
      assert.is_true(checked >= 4 * 39, "checked " .. checked) -- 26 endpoint methods, 13 others
      assert.equal(0, #server:requests())
    end)
  end

  it("still reports an argument misuse at the caller's line through the check", function()
    local c = H.client(server)
    local ok, msg = pcall(function() local r = c:wait_for_job("ftjob-1", { nope = 1 }); return r end)
    assert.is_false(ok)
    assert.truthy(msg:find("misuse_self_spec.lua:%d+: bad argument #2 to 'wait_for_job' %(unknown option"), msg)
    ok, msg = pcall(function() local r = c:each_file(42); return r end)
    assert.is_false(ok)
    assert.truthy(msg:find("misuse_self_spec.lua:%d+: bad argument #1 to 'each_file'"), msg)
    assert.equal(0, #server:requests())
  end)

  it("lets an error raised by a callback through unchanged", function()
    local c = H.client(server)
    local job = assert(c:create_job{ model = H.MODEL, training_file = H.training_file(c).id })
    local marker = {}
    local ok, e = pcall(c.wait_for_job, c, job.id, { on_status = function() error(marker) end, poll_interval = 0.05 })
    assert.is_false(ok)
    assert.equal(marker, e)
  end)
end)
