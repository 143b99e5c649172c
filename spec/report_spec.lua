-- openai-ft jobs report / sweep --report: one self-contained HTML page, opened in a real
-- headless browser (Debian's chromium): the rendered DOM has the charts with a point per
-- step of the result file, a checkpoint row per checkpoint, a table row per sweep job;
-- nothing refers to the network; server strings are escaped. Screenshots (desktop,
-- phone) and a PDF (print CSS) are kept under build/report-spec/ as test artifacts.
local H = require("spec.support.client_helper")
local C = require("spec.support.cli_child")
local fake_server = require("spec.support.fake_server")

local MODEL, TRAIN = H.MODEL, H.TRAIN
local ARTIFACTS = "build/report-spec"

local server, dir, client

setup(function()
  server = fake_server.start({ speed = 100 })
  dir = H.tmpdir()
  os.execute("mkdir -p " .. ARTIFACTS)
end)

teardown(function()
  H.rmdir(dir)
end)

before_each(function()
  server:reset{ speed = 100 }
  client = H.client(server)
end)

local function chromium()
  for _, name in ipairs({ "chromium", "chromium-browser" }) do
    local p = io.popen("command -v " .. name .. " 2>/dev/null")
    local path = p:read("*l")
    p:close()
    if path and path ~= "" then return path end
  end
  error("chromium is not installed (Debian package chromium: the test setup installs it)")
end

-- browser(args, url) -> stdout. Its own profile dir; no network is needed or allowed
-- (the page is a file:// URL and must not ask for anything).
local function browser(args, url)
  local profile = dir .. "/profile"
  local cmd = string.format("timeout 90 %s --headless --no-sandbox --disable-gpu --no-first-run "
    .. "--user-data-dir=%s %s %s 2>/dev/null", chromium(), H.shell_quote(profile), args, H.shell_quote(url))
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out
end

local function dom(path)
  local out = browser("--dump-dom", "file://" .. path)
  assert.truthy(out:find("</html>", 1, true), "no DOM from chromium:\n" .. out)
  return out
end

local function screenshot(path, name, w, h)
  local png = ARTIFACTS .. "/" .. name .. ".png"
  os.remove(png)
  browser(string.format("--hide-scrollbars --window-size=%d,%d --screenshot=%s", w, h,
    H.shell_quote(png)), "file://" .. path)
  local data = H.read(png)
  assert.equal("\137PNG", data:sub(1, 4))
  return png
end

-- The section of the DOM inside <tag ... id="id"> ... the matching end (no nesting of tag).
local function element(html, tag, attr)
  local s = html:find("<" .. tag .. "[^>]-" .. attr)
  assert.truthy(s, "no <" .. tag .. " " .. attr .. ">")
  local e = html:find("</" .. tag .. ">", s, true)
  return html:sub(s, e)
end

local function polylines(fragment)
  local out = {}
  for name, pts in fragment:gmatch('<polyline class="series" data%-name="([^"]*)"[^>]- points="([^"]*)"') do
    local n = 0
    for _ in pts:gmatch("%S+") do n = n + 1 end
    out[#out + 1] = { name = name, points = n }
  end
  return out
end

local function count(s, pattern)
  local _, k = s:gsub(pattern, "")
  return k
end

-- Self-contained: no script, no external resource of any kind.
local function assert_offline(html)
  assert.is_nil(html:find("<script", 1, true))
  assert.is_nil(html:find("<link", 1, true))
  assert.is_nil(html:find("@import", 1, true))
  assert.is_nil(html:find("url%("))
  assert.is_nil(html:find(' src="', 1, true))
  -- the only URL is the SVG namespace name, which is never fetched
  assert.equal(count(html, "http[s]?://"), count(html, 'xmlns="http://www%.w3%.org/2000/svg"'))
end

describe("openai-ft jobs report", function()
  it("renders the job's curves, checkpoints and events in chromium, escaping server strings", function()
    local file = H.training_file(client)
    local vfile = H.training_file(client)
    local job = assert(client:create_job({ model = MODEL, training_file = file.id, validation_file = vfile.id,
      suffix = "x<y", metadata = { note = '<script>alert("pwned")</script> & more' } }))
    server:advance(3600)
    local rows = assert(client:job_metrics(job.id))
    local checkpoints = assert(client:job_checkpoints(job.id)).data
    local out = dir .. "/job.html"
    local code, _, err = C.run(server, { "jobs", "report", job.id, "-o", out }, dir)
    assert(code == 0, err)
    assert.truthy(err:find("wrote " .. out, 1, true), err)
    local html = H.read(out)
    assert_offline(html)
    assert.truthy(html:find("note=&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; more", 1, true))
    assert.truthy(html:find("x&lt;y", 1, true)) -- the suffix
    assert.truthy(html:find('<meta name="viewport"', 1, true))
    assert.truthy(html:find("@media print", 1, true))

    local rendered = dom(out)
    assert.is_nil(rendered:find("<script", 1, true)) -- the metadata stayed text
    local loss = polylines(element(rendered, "figure", 'data%-chart="loss"'))
    local train_points, valid_points = 0, 0
    for _, r in ipairs(rows) do
      if r.train_loss then train_points = train_points + 1 end
      if r.valid_loss then valid_points = valid_points + 1 end
    end
    assert.equal("train loss", loss[1].name)
    assert.equal(train_points, loss[1].points)
    assert.equal("valid loss", loss[2].name)
    assert.equal(valid_points, loss[2].points)
    local acc = polylines(element(rendered, "figure", 'data%-chart="accuracy"'))
    assert.equal(train_points, acc[1].points)
    local cps = element(rendered, "table", 'id="checkpoints%-table"')
    assert.equal(#checkpoints, count(cps, "<tr>") - 1) -- minus the header row
    for _, cp in ipairs(checkpoints) do -- the model names carry the suffix x<y, escaped
      assert.truthy(cps:find((cp.fine_tuned_model_checkpoint:gsub("<", "&lt;")), 1, true))
    end
    local timeline = element(rendered, "ol", 'class="timeline"')
    assert.truthy(timeline:find("The job has successfully completed", 1, true))
    assert.truthy(element(rendered, "section", 'id="hyperparameters"'):find("n_epochs", 1, true))

    screenshot(out, "job-report-desktop", 1280, 2400)
    screenshot(out, "job-report-phone", 390, 3200)
    local pdf = ARTIFACTS .. "/job-report.pdf"
    browser("--print-to-pdf=" .. H.shell_quote(pdf) .. " --no-pdf-header-footer", "file://" .. out)
    assert.equal("%PDF", H.read(pdf):sub(1, 4))
  end)

  it("a job without a result file yet: the curves from its metrics events", function()
    server:next_job{ steps = 200, step_seconds = 50 }
    local file = H.training_file(client)
    local job = assert(client:create_job({ model = MODEL, training_file = file.id }))
    server:advance(2 + 50 * 20 + 1) -- about 20 steps in
    local out = dir .. "/running.html"
    local code, _, err = C.run(server, { "jobs", "report", job.id, "-o", out }, dir)
    assert(code == 0, err)
    local html = H.read(out)
    assert.truthy(html:find("from the metrics events", 1, true))
    local steps = tonumber(err:match("(%d+) steps%)"))
    assert.truthy(steps and steps >= 5, err)
    assert.equal(steps, polylines(element(html, "figure", 'data%-chart="loss"'))[1].points)
  end)

  it("an unknown job: exit 1, nothing written", function()
    local out = dir .. "/none.html"
    local code, _, err = C.run(server, { "jobs", "report", "ftjob-nope", "-o", out }, dir)
    assert.equal(1, code)
    assert.truthy(err:find("404", 1, true), err)
    assert.is_nil(io.open(out))
  end)
end)

describe("openai-ft sweep --report", function()
  it("a comparison row per job, the best marked, a curve per job", function()
    local out = dir .. "/sweep.html"
    local code, stdout, err = C.run(server, { "sweep", TRAIN, "--model", MODEL, "--validation-file", TRAIN,
      "--grid", "n_epochs=1,2,3", "--grid", "learning_rate_multiplier=0.5,2", "--max-active", "6",
      "--poll-interval", "0.05", "--report", out, "--json" }, dir)
    assert(code == 0, err)
    local doc = require("openai.finetunes.codec").json_decode(stdout)
    local html = H.read(out)
    assert_offline(html)
    local rendered = dom(out)
    local tbody = element(element(rendered, "table", 'id="sweep%-table"'), "tbody", "")
    assert.equal(6, count(tbody, "<tr"))
    assert.equal(1, count(tbody, '<tr class="best">'))
    local best_row = tbody:match('<tr class="best">(.-)</tr>')
    assert.truthy(best_row:find(doc.best, 1, true))
    for _, row in ipairs(doc.jobs) do assert.truthy(tbody:find(row.id, 1, true)) end
    local train = polylines(element(rendered, "figure", 'data%-chart="train_loss"'))
    local valid = polylines(element(rendered, "figure", 'data%-chart="valid_loss"'))
    assert.equal(6, #train)
    assert.equal(6, #valid)
    for i, row in ipairs(doc.jobs) do
      local rows = assert(client:job_metrics(row.id))
      assert.equal(#rows, train[i].points)
    end
    screenshot(out, "sweep-report-desktop", 1280, 1400)
    screenshot(out, "sweep-report-phone", 390, 1800)
  end)
end)
