-- `make demo` (tools/demo.sh) is a product demo: on a terminal it shows the command's own
-- live view (validation summary, upload bar, the live step/loss line, the job table, the
-- loss plot) against a fresh fake server in a few seconds, and it installs only what it
-- needs (no nginx, no test tools).
local H = require("spec.support.client_helper")
local I = require("spec.support.interpreters")

describe("make demo", function()
  it("runs the live view on a terminal in a few seconds", function()
    I.build("lua5.4")
    local dir = H.tmpdir()
    local started = os.time()
    local code = I.sh("script -qefc 'bash tools/demo.sh lua5.4' /dev/null >" .. dir .. "/tty 2>&1",
      { LANG = "C.UTF-8", COLUMNS = "100" })
    local elapsed = os.time() - started
    local shown = H.read(dir .. "/tty")
    H.rmdir(dir)
    assert.equal(0, code, shown)
    assert.is_true(elapsed <= 30, "took " .. elapsed .. " s")
    assert.truthy(shown:find("examples/data/train.jsonl: valid (supervised): 0 errors, 0 warnings", 1, true), shown)
    assert.truthy(shown:find("estimated tokens", 1, true), shown)
    assert.truthy(shown:find("uploading train%.jsonl [^\r\n]- 100%%"), shown) -- the bar
    assert.truthy(shown:find("\r\27%[Kstep %d+/96 [^\r\n]-train loss %d"), shown) -- the live line
    assert.truthy(shown:find("fine-tuned model ready", 1, true), shown)
    assert.truthy(shown:find("ID%s+STATUS%s+MODEL%s+CREATED%s+FINE%-TUNED MODEL"), shown) -- the job table
    assert.truthy(shown:find("ftjob%-%w+%s+succeeded%s+gpt%-4o%-mini%-2024%-07%-18"), shown)
    assert.truthy(shown:find("\226[\160-\163][\128-\191]"), shown) -- the braille plot
    assert.truthy(shown:find("train loss (96 points)", 1, true), shown)
    -- the plain Step lines are for logs, not for a terminal
    assert.falsy(shown:find("Step 50/96: training loss", 1, true), shown)
  end)

  it("installs only what the demo needs", function()
    local code, out = I.sh("make -n demo-deps")
    assert.equal(0, code, out)
    assert.truthy(out:find("tools/ensure-debs.sh", 1, true), out)
    for _, pkg in ipairs({ "lua-socket", "lua-filesystem", "lua-cjson", "libcurl4-openssl-dev", "lua5.4" }) do
      assert.truthy(out:find(pkg, 1, true), pkg)
    end
    for _, pkg in ipairs({ "nginx", "busted", "lua-check", "valgrind", "luarocks" }) do
      assert.falsy(out:find(pkg, 1, true), pkg)
    end
  end)
end)
