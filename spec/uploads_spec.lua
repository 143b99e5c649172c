-- Uploads API: create, add parts (file slices and strings), complete with md5,
-- cancel; over real HTTP against the fake server.
local H = require("spec.support.client_helper")

describe("uploads", function()
  local server, c, dir
  H.each_test(function(s, client, d) server, c, dir = s, client, d end, { dir = true })

  it("uploads a file in slices and completes into a file with the same bytes", function()
    local data = H.read(H.TRAIN)
    local size = #data
    local up = assert(c:create_upload{ filename = "train.jsonl", purpose = "fine-tune", bytes = size,
      mime_type = "text/jsonl" })
    assert.equal("upload", up.object)
    assert.equal("pending", up.status)
    assert.equal(size, up.bytes)

    local half = math.floor(size / 2)
    local p1 = assert(c:add_upload_part(up.id, { file = H.TRAIN, offset = 0, length = half }))
    local p2 = assert(c:add_upload_part(up.id, { file = H.TRAIN, offset = half }))
    assert.equal("upload.part", p1.object)
    assert.equal(up.id, p2.upload_id)

    local done = assert(c:complete_upload(up.id, { part_ids = { p1.id, p2.id }, md5 = H.md5(H.TRAIN) }))
    assert.equal("completed", done.status)
    assert.equal("file", done.file.object)
    assert.equal(size, done.file.bytes)
    assert.equal(data, (c:file_content(done.file.id)))
  end)

  it("sends parts from Lua strings", function()
    local a, b = '{"a":1}\n', '{"b":2}\n'
    local up = assert(c:create_upload{ filename = "s.jsonl", purpose = "batch", bytes = #a + #b,
      mime_type = "text/jsonl" })
    local p1 = assert(c:add_upload_part(up.id, { data = a }))
    local p2 = assert(c:add_upload_part(up.id, { data = b }))
    local done = assert(c:complete_upload(up.id, { part_ids = { p1.id, p2.id } }))
    assert.equal(a .. b, (c:file_content(done.file.id)))
  end)

  it("fails completion on a wrong md5 with the API's error", function()
    local up = assert(c:create_upload{ filename = "m.jsonl", purpose = "batch", bytes = 3, mime_type = "text/jsonl" })
    local p = assert(c:add_upload_part(up.id, { data = "abc" }))
    local r, err = c:complete_upload(up.id, { part_ids = { p.id }, md5 = string.rep("0", 32) })
    assert.is_nil(r)
    assert.equal("api", err.kind)
    assert.equal(400, err.status)
    assert.equal("invalid_request_error", err.type)
  end)

  it("cancels a pending upload", function()
    local up = assert(c:create_upload{ filename = "c.jsonl", purpose = "fine-tune", bytes = 10,
      mime_type = "text/jsonl" })
    local cancelled = assert(c:cancel_upload(up.id))
    assert.equal("cancelled", cancelled.status)
    local r, err = c:add_upload_part(up.id, { data = "0123456789" })
    assert.is_nil(r)
    assert.equal(400, err.status)
  end)

  it("checks part sources before sending", function()
    local mark = server:mark()
    assert.has_error(function() c:add_upload_part("upload_x", { file = dir .. "/missing.bin" }) end)
    assert.has_error(function() c:add_upload_part("upload_x", { data = "x", file = H.TRAIN }) end,
      "bad argument #2 to 'add_upload_part' (give either file (a path) or data (a string), not both)")
    assert.has_error(function() c:add_upload_part("upload_x", { file = H.TRAIN, offset = -1 }) end,
      "bad argument #2 to 'add_upload_part' (offset must be an integer >= 0, got -1)")
    assert.has_error(function() c:add_upload_part("upload_x", { file = H.TRAIN, offset = 10, length = 1000000000 }) end)
    assert.has_error(function() c:add_upload_part("", { data = "x" }) end,
      "bad argument #1 to 'add_upload_part' (upload_id must be a non-empty string, got \"\")")
    assert.has_error(function() c:complete_upload("upload_x", { part_ids = {} }) end,
      "bad argument #2 to 'complete_upload' (part_ids must be a non-empty array of strings, got an empty table)")
    assert.equal(0, #server:requests{ since = mark })
  end)

  it("refuses a part over 64 MB with validation on, without reading it", function()
    local big = dir .. "/sparse.bin"
    assert(os.execute("truncate -s 65M " .. H.shell_quote(big)))
    local mark = server:mark()
    assert.has_error(function() c:add_upload_part("upload_x", { file = big }) end,
      "bad argument #2 to 'add_upload_part' (a part must be at most 67108864 bytes (64 MB), got 68157440)")
    assert.equal(0, #server:requests{ since = mark })
    os.remove(big)
  end)
end)
