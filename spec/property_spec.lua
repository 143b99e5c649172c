-- Bad input, everywhere: every public method is called thousands of times with
-- random argument types and values (seeded; the seed is printed, set
-- OFT_PROPERTY_SEED to replay one). Every call must either raise a clear misuse
-- error naming the argument ("bad argument #n to 'name' (...)") or return
-- result | nil, err with a valid error object: never crash, never anything else.
-- And the fake server must never see a malformed path, query or header.
local ft = require("openai.finetunes")
local client_mod = require("openai.finetunes.client")
local endpoints = require("openai.finetunes.api.endpoints")
local fake = require("spec.support.fake_server")
local H = require("spec.support.client_helper")

local SEED = tonumber(os.getenv("OFT_PROPERTY_SEED") or "") or os.time()
local CALLS = tonumber(os.getenv("OFT_PROPERTY_CALLS") or "") or 10000

-- Park-Miller: the same sequence for a seed on every Lua version.
local state = SEED % 2147483646 + 1
local function rand(n) -- 1..n
  state = state * 16807 % 2147483647
  return state % n + 1
end
local function pick(list) return list[rand(#list)] end

-- Raised by the callbacks and metamethods we hand in: a raise of it is ours.
local SENTINEL = setmetatable({}, { __tostring = function() return "property-sentinel" end })

local HUGE = string.rep("a", 1024 * 1024)
local STRINGS = {
  "", " ", "file-abc123", "ftjob-abc123", "upload_abc", "gpt-4o-mini-2024-07-18",
  "ft:gpt-4o-mini-2024-07-18:org::abc123", "ft:gpt-4o-mini:org:x:ckpt-step-10", "ftckpt_abc",
  ".", "..", "../models", "../../files", "a/b", "/", "//", "a?b=c", "a#frag", "a b", "%2e%2e", "%2F",
  "%00", "\0", "a\0b", "\r\n", "x\r\nX-Injected: 1", "x\nX-Injected: 1", "\r", "\t", "ü", "\255\254\253",
  "fine-tune", "assistants", "batch", "auto", "true", "1e309", "-1", "0x10", "null", "{}", "[]",
  string.rep("../", 1000), string.rep("%", 5000), string.rep("x", 70000),
}
local NUMBERS = { 0, -1, 1, 2, 10, 42, 255, 2 ^ 31, 2 ^ 53, -2 ^ 63, 1.5, -0.0, 1 / 0, -1 / 0, 0 / 0, 1e-9, 1e300 }

local tmpdir

local random_value
local function random_table(depth)
  local r = rand(14)
  if r == 1 then return {} end
  if r == 2 then return { random_value(depth + 1), random_value(depth + 1), random_value(depth + 1) } end
  if r == 3 then
    local t = {}
    t.self = t
    return t
  end
  if r == 4 then
    local t = {}
    local cur = t
    for _ = 1, 200 do
      cur.x = {}
      cur = cur.x
    end
    return t
  end
  if r == 5 then return setmetatable({}, { __index = function() error(SENTINEL) end }) end
  if r == 6 then return { [1] = "a", [3] = "c" } end
  if r == 7 then return { [1] = "a", x = "b" } end
  if r == 8 then
    local k = random_value(depth + 1)
    if k == nil or k ~= k then k = "k" end
    return { [k] = random_value(depth + 1) }
  end
  if r == 9 then return { file = random_value(depth + 1), purpose = random_value(depth + 1) } end
  if r == 10 then return { data = random_value(depth + 1), filename = random_value(depth + 1) } end
  if r == 11 then return { limit = random_value(depth + 1), after = random_value(depth + 1) } end
  if r == 12 then return { metadata = { k = random_value(depth + 1) } } end
  if r == 13 then return { headers = { ["X-A"] = random_value(depth + 1) }, timeout = random_value(depth + 1) } end
  return { model = random_value(depth + 1), training_file = random_value(depth + 1),
    method = { type = random_value(depth + 1) } }
end

function random_value(depth)
  depth = depth or 0
  local r = rand(depth > 2 and 6 or 10)
  if r == 1 then return nil end
  if r == 2 then return rand(2) == 1 end
  if r <= 4 then return pick(NUMBERS) end
  if r <= 6 then
    if rand(300) == 1 then return HUGE end
    return pick(STRINGS)
  end
  if r <= 8 then return random_table(depth) end
  if r == 9 then
    return pick({
      function() return pick({ true, false, nil, 1, "x" }) end,
      function() error(SENTINEL) end,
    })
  end
  return pick({ io.stdout, coroutine.create(function() end), ft.null })
end

-- Per call options: mostly well-formed keys with random values, bounded so a
-- valid combination cannot make the run slow (no huge retry counts).
local function random_opts()
  local r = rand(6)
  if r == 1 then return nil end
  if r == 2 then return random_value(1) end
  local o = {}
  local keys = { "headers", "timeout", "max_retries", "idempotency_key", "progress", "idle_timeout",
    "connect_timeout", "max_response_bytes", "bogus" }
  for _ = 1, rand(3) do
    local k = pick(keys)
    if k == "max_retries" then
      -- no huge counts: with a 1 ns timeout they are a legitimate endless loop
      o[k] = pick({ 0, 1, 3, -1, 1.5, "2", true, 1 / 0 })
    elseif k == "headers" then
      o[k] = pick({ { ["X-A"] = pick(STRINGS) }, { [pick(STRINGS)] = "v" }, { Authorization = "Bearer x" },
        { ["X-A"] = false }, random_value(1) })
    elseif k == "timeout" or k == "idle_timeout" or k == "connect_timeout" then
      o[k] = pick({ 0.001, 5, 0, -1, 0 / 0, 1 / 0, "1", 1e-9 })
    else
      o[k] = random_value(1)
    end
  end
  return o
end

-- Arguments close to valid for an endpoint row, with one part broken at random;
-- or wholly random ones.
local function valid_args(row)
  local args = {}
  for _ = 1, #row.params do args[#args + 1] = pick({ "file-abc123", "ftjob-abc123", "ft:gpt-4o-mini:org::x" }) end
  if row.query then
    args[#args + 1] = { limit = 2 }
  elseif row.body == "json" then
    args[#args + 1] = { model = "gpt-4o-mini-2024-07-18", training_file = "file-abc123", filename = "a.jsonl",
      purpose = "fine-tune", bytes = 10, mime_type = "text/jsonl", part_ids = { "part_x" },
      project_ids = { "proj_x" }, grader = { type = "string_check", name = "g", input = "a", reference = "b",
      operation = "eq" } }
  elseif row.body == "multipart" then
    args[#args + 1] = pick({ { file = tmpdir .. "/train.jsonl", purpose = "fine-tune" }, { data = "abc" } })
  elseif row.result == "file" then
    args[#args + 1] = tmpdir .. "/download.out"
  end
  return args
end

local function args_for(name)
  local row = endpoints[name]
  local args
  if row and rand(2) == 1 then
    args = valid_args(row)
    local n = #args + 1
    local i = rand(n)
    if i == n then
      args[n] = random_opts()
    elseif type(args[i]) == "table" and rand(2) == 1 then
      local keys = {}
      for k in pairs(args[i]) do keys[#keys + 1] = k end
      table.sort(keys)
      if #keys > 0 then args[i][pick(keys)] = random_value(1) end
    else
      args[i] = random_value()
    end
    return args, n
  end
  args = {}
  local n = rand(5) - 1
  for i = 1, n do args[i] = random_value() end
  if rand(3) == 1 then
    n = n + 1
    args[n] = random_opts()
  end
  -- a download path is confined to our temp dir: a random string must not write elsewhere
  if row and row.result == "file" and type(args[#row.params + 1]) == "string" then
    local s = args[#row.params + 1]:gsub("[/.]", "_")
    args[#row.params + 1] = tmpdir .. "/" .. s:sub(1, 200)
  end
  return args, n
end

local function describe_args(args, n)
  local out = {}
  for i = 1, n do
    local v = args[i]
    if type(v) == "string" then
      out[i] = ("%q"):format(#v > 40 and v:sub(1, 40) .. "..." or v)
    else
      out[i] = tostring(v):gsub("0x%x+", "")
    end
  end
  return table.concat(out, ", ")
end

local unpack = H.unpack

-- Judge one call's outcome; returns nil when it is acceptable, else why not.
local function judge(name, ok, a, b, strict)
  if not ok then
    if a == SENTINEL then return nil end
    if type(a) == "string" then
      if a:find("bad argument #%d+ to '" .. name:gsub("%p", "%%%0") .. "' %(.+%)") then return nil end
      return "raised a message that does not name an argument: " .. a:sub(1, 200)
    end
    if strict and ft.is_error(a) and type(a.kind) == "string" then return nil end
    return "raised a " .. type(a) .. ": " .. tostring(a):sub(1, 200)
  end
  if a ~= nil then return nil end
  if not ft.is_error(b) then return "returned nil without an error object: " .. tostring(b) end
  if type(b.kind) ~= "string" or b.kind == "" then return "error without a kind" end
  local s = tostring(b)
  if s:find("[\r\n]") then return "error tostring is not one line: " .. s:sub(1, 200) end
  if b.message and tostring(b.message):find("Malformed HTTP request", 1, true) then
    return "the server saw a malformed request: " .. s:sub(1, 200)
  end
  return nil
end

describe("property: bad input to every public method", function()
  local server, failures, calls

  setup(function()
    print(("\nproperty seed: %d (replay with OFT_PROPERTY_SEED=%d)"):format(SEED, SEED))
    server = fake.start()
    tmpdir = H.tmpdir()
    local lines = {}
    for i = 1, 12 do
      lines[i] = '{"messages":[{"role":"user","content":"q' .. i .. '"},{"role":"assistant","content":"a"}]}\n'
    end
    H.write(tmpdir .. "/train.jsonl", table.concat(lines))
  end)

  teardown(function()
    if tmpdir then H.rmdir(tmpdir) end
  end)

  before_each(function()
    failures, calls = {}, 0
  end)

  local function record(name, args, n, why)
    if #failures < 20 then
      failures[#failures + 1] = ("%s(%s): %s"):format(name, describe_args(args, n), why)
    end
  end

  local function public_methods()
    local names = {}
    for name, fn in pairs(client_mod.methods) do
      if type(fn) == "function" and name:sub(1, 1) ~= "_" and name ~= "close" then names[#names + 1] = name end
    end
    table.sort(names)
    return names
  end

  local function new_client(extra)
    local o = { api_key = "sk-property-0123456789", base_url = server.base_url, max_retries = 1,
      timeout = 5, retry = { base_delay = 0.001, max_delay = 0.002 } }
    for k, v in pairs(extra or {}) do o[k] = v end
    return ft.new(o)
  end

  it("never crashes, raises only argument errors, returns only valid errors, sends only well-formed requests",
    function()
      local names = public_methods()
      assert.is_true(#names >= 25, "only " .. #names .. " public methods found")
      local plain = new_client()
      local strict = plain:strict()
      local closed = new_client()
      closed:close()
      local mark = server:mark()
      local t0 = require("openai.finetunes.core").now()
      local slow = {}
      for i = 1, CALLS do
        local name = names[(i - 1) % #names + 1]
        local target, is_strict = plain, false
        local r = rand(10)
        if r == 1 then target, is_strict = strict, true elseif r == 2 then target = closed end
        local args, n = args_for(name)
        local started = require("openai.finetunes.core").now()
        if os.getenv("OFT_PROPERTY_TRACE") then
          local parts = {}
          for j = 1, n do
            local v = args[j]
            if type(v) == "table" then
              local kv = {}
              for k, x in pairs(v) do kv[#kv + 1] = tostring(k) .. "=" .. describe_args({ x }, 1) end
              parts[j] = "{" .. table.concat(kv, ",") .. "}"
            else
              parts[j] = describe_args({ v }, 1)
            end
          end
          io.stderr:write(i, " ", name, "(", table.concat(parts, ", "), ")\n")
        end
        local ok, a, b = pcall(target[name], target, unpack(args, 1, n))
        local took = require("openai.finetunes.core").now() - started
        if took > 3 and #slow < 5 then
          slow[#slow + 1] = ("%s(%s) took %.1f s"):format(name, describe_args(args, n), took)
        end
        calls = calls + 1
        -- iterators (each_*) and batches: drive what they returned a little
        if ok and type(a) == "function" then
          for _ = 1, 3 do
            local iok, x, y = pcall(a)
            if not iok then
              local why = judge(name, false, x, nil, is_strict)
              if why then record(name, args, n, "iterator " .. why) end
              break
            end
            if x == nil then
              if y ~= nil and not ft.is_error(y) then record(name, args, n, "iterator gave a non-error") end
              break
            end
          end
        else
          local why = judge(name, ok, a, b, is_strict)
          if why then record(name, args, n, why) end
        end
        if target == closed and ok and a == nil and ft.is_error(b) and b.kind ~= "closed" then
          record(name, args, n, "a closed client answered kind " .. tostring(b.kind))
        end
      end
      assert.are.same({}, failures)
      assert.are.same({}, slow)

      -- What reached the server: every path one of the API's routes with each
      -- parameter one escaped, non-dot segment; a well-formed query; clean headers.
      local routes = {}
      for _, row in ipairs(endpoints) do
        local pat = "^/v1" .. row.path:gsub("[%-%.%+%*%?%[%]%^%$%(%)%%]", "%%%0"):gsub("{[%w_]+}", "([^/]+)") .. "$"
        routes[#routes + 1] = { method = row.method, pattern = pat, params = #row.params }
      end
      local function good_segment(seg)
        return seg ~= "." and seg ~= ".." and seg:find("^[%w%-%._~!%$&'%(%)%*%+,;=:@%%]+$") ~= nil
          and not seg:find("%%%X") and not seg:find("%%%x%X") and not seg:find("%%%x?$")
      end
      local function routed(e)
        for _, route in ipairs(routes) do
          if e.method == route.method then
            if route.params == 0 then
              if e.path:find(route.pattern) then return true end
            else
              local caps = { e.path:match(route.pattern) }
              local good = #caps == route.params
              for _, seg in ipairs(caps) do good = good and good_segment(seg) end
              if good then return true end
            end
          end
        end
        return false
      end
      local log = server:requests({ since = mark })
      assert.is_true(#log > 100, "only " .. #log .. " requests reached the server")
      local bad = {}
      for _, e in ipairs(log) do
        local matched = routed(e)
        if not matched then bad[#bad + 1] = "path " .. e.method .. " " .. e.path:sub(1, 120) end
        local q = e.query or ""
        local good_query = q == "" or q:find("^[%w%-%._~%%=&]+$") ~= nil
        for pair in (q .. "&"):gmatch("([^&]*)&") do
          if q ~= "" and not pair:find("^[^=]+=[^=]*$") then good_query = false end
        end
        if not good_query then bad[#bad + 1] = "query " .. q:sub(1, 120) end
        for hname, hvalue in pairs(e.headers or {}) do
          if not tostring(hname):find("^[%w!#$%%&'*+%-.^_`|~]+$") or tostring(hname):find("injected") then
            bad[#bad + 1] = "header name " .. tostring(hname)
          end
          if type(hvalue) == "string" and hvalue:find("[%z\r\n]") then
            bad[#bad + 1] = "header value of " .. tostring(hname)
          end
        end
        if #bad >= 20 then break end
      end
      assert.are.same({}, bad)
      print(("property: %d calls, %d requests reached the server, %.1f s"):format(calls, #log,
        require("openai.finetunes.core").now() - t0))
    end)

  it("ft.new refuses bad options with a message naming them, and never crashes", function()
    local keys = { "api_key", "base_url", "organization", "project", "timeout", "connect_timeout", "idle_timeout",
      "max_retries", "retry", "circuit_breaker", "http_version", "compression", "proxy", "tls", "pool", "cache",
      "validation", "headers", "user_agent", "transport", "raise", "verbose", "max_response_bytes", "bogus" }
    local made = 0
    for _ = 1, 1500 do
      local o = { api_key = "sk-property-0123456789", base_url = server.base_url }
      for _ = 1, rand(3) do
        local k = pick(keys)
        if k == "retry" then
          local field = pick({ "base_delay", "max_delay", "jitter", "max_retry_after", "statuses", "x" })
          o[k] = { [field] = random_value(1) }
        elseif k == "circuit_breaker" then
          o[k] = { [pick({ "failure_threshold", "window", "reset_timeout", "x" })] = random_value(1) }
        else
          o[k] = random_value(1)
        end
      end
      local ok, c = pcall(ft.new, o)
      if ok then
        assert.is_true(ft.is_client(c), "ft.new returned " .. tostring(c))
        made = made + 1
        if c.close then pcall(c.close, c) end
      else
        local msg = tostring(c)
        assert.is_truthy(c == SENTINEL or msg:find("bad argument #1 to 'new' %(.+%)"), msg:sub(1, 300))
        assert.is_falsy(msg:find("sk-property-0123456789", 1, true), "the key is in: " .. msg:sub(1, 300))
      end
    end
    assert.is_true(made > 50, "almost every option set was refused: " .. made)
  end)
end)
