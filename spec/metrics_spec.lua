-- ft.parse_result_file (pure: base64 or plain CSV) and client:job_metrics
-- (the job's result file from the fake server, parsed).
local ft = require("openai.finetunes")
local H = require("spec.support.client_helper")
local fake_util = require("openai.finetunes.fake.util")

local math_type = rawget(math, "type")

local CSV = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n"
  .. "1,2.91,0.55,,\n"
  .. "2,1.73,0.70,,\n"
  .. "3,0.94,0.81,1.02,0.79\n"
  .. "4,4e-05,1.0,,\n"

local EXPECTED = {
  { step = 1, train_loss = 2.91, train_accuracy = 0.55 },
  { step = 2, train_loss = 1.73, train_accuracy = 0.70 },
  { step = 3, train_loss = 0.94, train_accuracy = 0.81, valid_loss = 1.02, valid_mean_token_accuracy = 0.79 },
  { step = 4, train_loss = 4e-05, train_accuracy = 1.0 },
}
local COLUMNS = { "step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy" }

-- base64 wrapped at 76 columns, as many encoders write it.
local function wrapped_base64(s)
  local b = fake_util.base64(s)
  local lines = {}
  for i = 1, #b, 76 do lines[#lines + 1] = b:sub(i, i + 75) end
  return table.concat(lines, "\r\n") .. "\n"
end

describe("ft.parse_result_file", function()
  it("parses a plain CSV: numbers as numbers, empty cells absent, columns in order", function()
    local rows, info = ft.parse_result_file(CSV)
    assert.same(EXPECTED, rows)
    assert.same(COLUMNS, info.columns)
    assert.equal("csv", info.encoding)
    if math_type then
      assert.equal("integer", math_type(rows[1].step))
      assert.equal("float", math_type(rows[4].train_accuracy))
    end
  end)

  it("decodes base64 (what current jobs serve), with or without line breaks and padding", function()
    for _, text in ipairs({ fake_util.base64(CSV), wrapped_base64(CSV), "  " .. fake_util.base64(CSV) .. "\n" }) do
      local rows, info = ft.parse_result_file(text)
      assert.same(EXPECTED, rows)
      assert.equal("base64", info.encoding)
    end
    -- every padding length decodes to the exact bytes
    for _, extra in ipairs({ "", "x", "xy", "xyz" }) do
      local csv = "step,a\n1,2\n" .. extra
      local rows = ft.parse_result_file(fake_util.base64(csv))
      assert.equal(extra == "" and 1 or 2, #rows)
      if extra ~= "" then assert.equal(extra, rows[2].step) end
    end
  end)

  it("accepts CRLF, a BOM, blank lines, quoted cells and extra columns", function()
    local text = "\239\187\191step,train_loss,note,full_valid_loss\r\n"
      .. "1,0.5,\"a, b\",\r\n\r\n"
      .. "2,0.25,\"say \"\"hi\"\"\",0.3\r\n"
    local rows, info = ft.parse_result_file(text)
    assert.same({ "step", "train_loss", "note", "full_valid_loss" }, info.columns)
    assert.same({ { step = 1, train_loss = 0.5, note = "a, b" },
      { step = 2, train_loss = 0.25, note = 'say "hi"', full_valid_loss = 0.3 } }, rows)
  end)

  it("keeps cells that are not numbers as strings", function()
    local rows = ft.parse_result_file("step,x,y,z\n1,nan,0x10, 7 \n")
    assert.same({ step = 1, x = "nan", y = "0x10", z = 7 }, rows[1])
  end)

  it("gives nil and a message for text that is not a metrics CSV", function()
    local cases = {
      { "", "an empty result file" },
      { " \n", "an empty result file" },
      { "hello world", "neither a CSV" },
      { fake_util.base64("name,value\n1,2\n"), "decoded form is not a CSV" },
      { "c3RlcCx4Cj", "multiple of 4" },
      { "step,a\n1,\"open\n", "quoted cell is not closed" },
      { "step,a\n1,2,3\n", "3 cells for 2 columns" },
      { "step,,b\n", "column 2 has no name" },
    }
    for _, case in ipairs(cases) do
      local rows, why = ft.parse_result_file(case[1])
      assert.is_nil(rows, case[1])
      assert.truthy(why:find(case[2], 1, true), why)
    end
  end)

  it("raises for a non-string argument", function()
    assert.has_error(function() ft.parse_result_file(nil) end,
      "bad argument #1 to 'parse_result_file' (string expected, got nil)")
  end)
end)

describe("client:job_metrics", function()
  local server, c
  H.each_test(function(s, client) server, c = s, client end)

  it("returns one row per step from the job's base64 result file", function()
    server:next_job{ steps = 40 }
    local job = H.succeeded_job(c, server)
    local rows, info = c:job_metrics(job.id)
    assert.is_table(rows, tostring(info))
    assert.equal(40, #rows)
    for i, r in ipairs(rows) do
      assert.equal(i, r.step)
      assert.is_number(r.train_loss)
      assert.is_number(r.train_accuracy)
      assert.is_nil(r.valid_loss) -- no validation file: empty cells
    end
    assert.same(COLUMNS, info.columns)
    assert.equal("base64", info.encoding)
    assert.equal(job.result_files[1], info.file_id)
    assert.equal(job.id, info.job.id)
    -- the same numbers the checkpoints report for their steps
    for _, ckpt in ipairs(assert(c:job_checkpoints(job.id)).data) do
      local row = rows[ckpt.step_number]
      assert.equal(ckpt.metrics.train_loss, row.train_loss)
      assert.equal(ckpt.metrics.train_mean_token_accuracy, row.train_accuracy)
    end
  end)

  it("has validation columns on the steps that scored them", function()
    server:next_job{ steps = 30 }
    local file = H.training_file(c)
    local job = assert(c:create_job{ model = H.MODEL, training_file = file.id, validation_file = file.id })
    server:advance(3600)
    local rows = assert(c:job_metrics(job.id))
    assert.equal(30, #rows)
    assert.is_number(rows[10].valid_loss)
    assert.is_number(rows[10].valid_mean_token_accuracy)
    assert.is_nil(rows[9].valid_loss)
  end)

  it("says when the job has no result file yet", function()
    local file = H.training_file(c)
    local job = assert(c:create_job{ model = H.MODEL, training_file = file.id })
    local rows, err = c:job_metrics(job.id)
    assert.is_nil(rows)
    assert.is_true(ft.is_error(err))
    assert.equal("no_result_file", err.kind)
    assert.equal(job.id, err.job.id)
    assert.truthy(tostring(err):find("has no result file yet (status validating_files)", 1, true), tostring(err))
  end)

  it("says a failed job has no result file (without 'yet')", function()
    server:next_job{ outcome = "failed", steps = 10 }
    local file = H.training_file(c)
    local job = assert(c:create_job{ model = H.MODEL, training_file = file.id })
    server:advance(3600)
    local rows, err = c:job_metrics(job.id)
    assert.is_nil(rows)
    assert.equal("no_result_file", err.kind)
    assert.truthy(err.message:find("has no result file (status failed)", 1, true), err.message)
  end)

  it("passes request errors on: an unknown job, a failing download", function()
    local rows, err = c:job_metrics("ftjob-missing")
    assert.is_nil(rows)
    assert.equal(404, err.status)

    local job = H.succeeded_job(c, server)
    server:fault("500", { method = "GET", path = "/content$", times = 1 })
    rows, err = c:job_metrics(job.id)
    assert.is_nil(rows)
    assert.equal(500, err.status)
  end)

  it("reports a result file that is not a metrics CSV as invalid_response", function()
    local job = H.succeeded_job(c, server)
    -- the real transport, with the content answer swapped (the fake only serves good files)
    local curl = require("openai.finetunes.transport.curl")
    local inner = curl.new{ api_key = H.API_KEY }
    local t = {
      request = function(_, req)
        local res, err = inner:request(req)
        if res and req.url:find("/content$") then res.body = "<html>not metrics</html>" end
        return res, err
      end,
      now = function() return inner:now() end,
      sleep = function(_, s) return inner:sleep(s) end,
    }
    local tc = ft.new{ api_key = H.API_KEY, base_url = server.base_url, transport = t }
    local rows, err = tc:job_metrics(job.id)
    inner:close()
    assert.is_nil(rows)
    assert.equal("invalid_response", err.kind)
    assert.equal(job.result_files[1], err.file_id)
    assert.truthy(err.message:find("result file " .. job.result_files[1], 1, true))
  end)

  it("raises on misuse before any request", function()
    local mark = server:mark()
    assert.has_error(function() c:job_metrics(nil) end,
      "bad argument #1 to 'job_metrics' (id must be a non-empty string, got nil)")
    assert.has_error(function() c:job_metrics("ftjob-x", { nope = 1 }) end,
      "bad argument #2 to 'job_metrics' (unknown option \"nope\")")
    assert.equal(mark, server:mark())
  end)
end)
