-- Files: list, upload (path and string), retrieve, delete, content, download,
-- paging by hand; over real HTTP against the fake server.
local ft = require("openai.finetunes")
local H = require("spec.support.client_helper")

describe("files", function()
  local c, dir
  H.each_test(function(_, client, d) c, dir = client, d end, { dir = true })

  it("uploads a JSONL file from a path and reads it back byte-identical", function()
    local original = H.read(H.TRAIN)
    local f, meta = c:upload_file{ file = H.TRAIN, purpose = "fine-tune" }
    assert.is_table(f, tostring(meta))
    assert.equal("file", f.object)
    assert.equal("train.jsonl", f.filename)
    assert.equal("fine-tune", f.purpose)
    assert.equal(#original, f.bytes)
    assert.truthy(f.id:find("^file%-"))

    local content, cmeta = c:file_content(f.id)
    assert.equal(original, content)
    assert.equal(200, cmeta.status)

    local out = dir .. "/downloaded.jsonl"
    local d = assert(c:download_file(f.id, out))
    assert.equal(out, d.path)
    assert.equal(#original, d.bytes)
    assert.equal(original, H.read(out))
  end)

  it("uploads a Lua string with the filename given", function()
    local data = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n'
    local f = assert(c:upload_file{ data = data, filename = "one.jsonl", purpose = "fine-tune" })
    assert.equal("one.jsonl", f.filename)
    assert.equal(#data, f.bytes)
    assert.equal(data, (c:file_content(f.id)))
  end)

  it("keeps binary bytes intact both ways", function()
    local bytes = {}
    for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
    local data = table.concat(bytes):rep(40) .. "\r\n\0end"
    local f = assert(c:upload_file{ data = data, filename = "blob.bin", purpose = "user_data" })
    assert.equal(data, (c:file_content(f.id)))
  end)

  it("sets an expiry with expires_after", function()
    local f = assert(c:upload_file{ file = H.TRAIN, purpose = "batch",
      expires_after = { anchor = "created_at", seconds = 7200 } })
    assert.equal(f.created_at + 7200, f.expires_at)
  end)

  it("retrieves and deletes a file", function()
    local f = assert(c:upload_file{ file = H.TRAIN, purpose = "fine-tune" })
    local got = assert(c:file(f.id))
    assert.same(f, got)
    local del = assert(c:delete_file(f.id))
    assert.same({ id = f.id, object = "file", deleted = true }, del)
    local none, err = c:file(f.id)
    assert.is_nil(none)
    assert.equal(404, err.status)
  end)

  it("lists files with purpose, order and limit, and pages by hand with after", function()
    local ids = {}
    for i = 1, 5 do
      ids[i] = assert(c:upload_file{ data = "{}\n", filename = "f" .. i .. ".jsonl", purpose = "fine-tune" }).id
    end
    assert(c:upload_file{ data = "x", filename = "other.txt", purpose = "user_data" })

    local all = assert(c:files{ purpose = "fine-tune" })
    assert.equal("list", all.object)
    assert.equal(5, #all.data)
    assert.is_false(all.has_more)

    -- newest first by default; asc reverses
    local asc = assert(c:files{ purpose = "fine-tune", order = "asc" })
    assert.equal(asc.data[1].id, all.data[5].id)

    local seen, after, pages = {}, nil, 0
    repeat
      local page = assert(c:files{ purpose = "fine-tune", limit = 2, after = after })
      pages = pages + 1
      assert.is_true(#page.data <= 2)
      for _, f in ipairs(page.data) do seen[#seen + 1] = f.id end
      after = page.data[#page.data] and page.data[#page.data].id
    until not page.has_more
    assert.equal(3, pages)
    table.sort(seen)
    table.sort(ids)
    assert.same(ids, seen)
  end)

  it("download_file leaves the target untouched when the file does not exist", function()
    local out = dir .. "/keep.txt"
    H.write(out, "previous")
    local r, err = c:download_file("file-missing", out)
    assert.is_nil(r)
    assert.equal("api", err.kind)
    assert.equal(404, err.status)
    assert.equal("previous", H.read(out))
  end)

  it("reports upload and download progress", function()
    local up, down = 0, 0
    local f = assert(c:upload_file({ file = H.TRAIN, purpose = "fine-tune" },
      { progress = function(_, _, _, ulnow) up = math.max(up, ulnow) end }))
    assert.is_true(up >= f.bytes)
    assert(c:download_file(f.id, dir .. "/p.jsonl", { progress = function(_, dlnow) down = math.max(down, dlnow) end }))
    assert.equal(f.bytes, down)
  end)

  it("works through the raising view", function()
    local s = c:strict()
    local f = s:upload_file{ file = H.TRAIN, purpose = "fine-tune" }
    assert.equal(H.read(H.TRAIN), s:file_content(f.id))
    assert.is_true(s:delete_file(f.id).deleted)
    assert.is_true(ft.is_error(select(2, pcall(s.delete_file, s, f.id))))
  end)
end)
