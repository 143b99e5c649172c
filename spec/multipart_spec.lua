-- The ngx transport's multipart body: exact layout, a Content-Length known before
-- sending, the file streamed in bounded reads, and clean failures.
local multipart = require("openai.finetunes.transport.multipart")

local tmpdir = os.getenv("TMPDIR") or "/tmp"

local function write_file(content)
  local path = os.tmpname()
  if not path:find("^/") then path = tmpdir .. "/" .. path end
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  return path
end

local function chunks_of(body)
  local out, next_chunk = {}, body:source()
  while true do
    local s, err = next_chunk()
    if not s then return out, err end
    out[#out + 1] = s
  end
end

describe("multipart body", function()
  local paths = {}
  local function file_with(content)
    local p = write_file(content)
    paths[#paths + 1] = p
    return p
  end
  teardown(function()
    for _, p in ipairs(paths) do os.remove(p) end
  end)

  it("lays out fields in name order, the file last, like libcurl", function()
    local body = assert(multipart.new({
      fields = { purpose = "fine-tune", ["expires_after[anchor]"] = "created_at", ["expires_after[seconds]"] = 3600 },
      file = { field = "file", data = '{"a":1}\n', filename = "train.jsonl", content_type = "application/jsonl" },
    }, "BOUNDARY"))
    local expected = table.concat({
      "--BOUNDARY\r\nContent-Disposition: form-data; name=\"expires_after[anchor]\"\r\n\r\ncreated_at\r\n",
      "--BOUNDARY\r\nContent-Disposition: form-data; name=\"expires_after[seconds]\"\r\n\r\n3600\r\n",
      "--BOUNDARY\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nfine-tune\r\n",
      "--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"train.jsonl\"\r\n",
      "Content-Type: application/jsonl\r\n\r\n{\"a\":1}\n\r\n",
      "--BOUNDARY--\r\n",
    })
    assert.are.equal(expected, body:read_all())
    assert.are.equal(#expected, body.length)
    assert.are.equal("multipart/form-data; boundary=BOUNDARY", body.content_type)
  end)

  it("escapes quotes and line breaks in names and filenames the HTML5 way", function()
    local body = assert(multipart.new({
      fields = { ['a"b'] = "v" },
      file = { data = "x", filename = 'evil"\r\nX-Injected: 1.jsonl' },
    }, "B"))
    local all = body:read_all()
    assert.truthy(all:find('name="a%22b"', 1, true))
    assert.truthy(all:find('filename="evil%22%0D%0AX-Injected: 1.jsonl"', 1, true))
    assert.falsy(all:find("\r\nX-Injected", 1, true))
    assert.truthy(all:find("Content-Type: application/octet-stream\r\n", 1, true))
  end)

  it("streams a file from disk in bounded reads with an exact precomputed length", function()
    local content = {}
    for i = 1, 200000 do content[i] = string.char(i % 251) end
    content = table.concat(content)
    local path = file_with(content)
    local body = assert(multipart.new({ fields = { purpose = "fine-tune" }, file = { path = path } }, "B"))
    assert.are.equal(#content, body.file_length)
    local chunks = chunks_of(body)
    local total, biggest = 0, 0
    for _, c in ipairs(chunks) do
      total = total + #c
      if #c > biggest then biggest = #c end
    end
    assert.are.equal(body.length, total)
    assert.are.equal(multipart.CHUNK_SIZE, biggest)
    local all = table.concat(chunks)
    local basename = path:match("([^/]*)$")
    assert.truthy(all:find('name="file"; filename="' .. basename .. '"', 1, true))
    local s, e = all:find(content, 1, true)
    assert.truthy(s)
    assert.are.equal("\r\n--B--\r\n", all:sub(e + 1))
  end)

  it("sends only the requested slice of a file (upload parts)", function()
    local path = file_with("0123456789abcdef")
    local body = assert(multipart.new({ file = { path = path, offset = 4, length = 6, filename = "part" } }, "B"))
    local all = body:read_all()
    assert.are.equal(#all, body.length)
    assert.truthy(all:find("\r\n\r\n456789\r\n--B--\r\n", 1, true))
    body = assert(multipart.new({ file = { path = path, offset = 10, filename = "part" } }, "B"))
    assert.truthy(body:read_all():find("\r\n\r\nabcdef\r\n--B--\r\n", 1, true))
  end)

  it("starts again from the first byte on every source() (a retry resends it all)", function()
    local path = file_with(string.rep("z", 70000))
    local body = assert(multipart.new({ fields = { purpose = "batch" }, file = { path = path } }, "B"))
    local first = chunks_of(body)
    local next_chunk = body:source()
    next_chunk()
    next_chunk() -- the file is open mid-stream now
    body:close()
    body:close()
    assert.are.same(first, chunks_of(body))
  end)

  it("uses a fresh random boundary per body", function()
    local a = assert(multipart.new({ fields = { x = "1" } }))
    local b = assert(multipart.new({ fields = { x = "1" } }))
    assert.are_not.equal(a.boundary, b.boundary)
    assert.matches("^%-+%x+$", a.boundary)
    assert.is_true(#a.boundary >= 30)
  end)

  it("fails as the C core does: io for a missing file or a directory, invalid_request for a slice outside", function()
    local body, err = multipart.new({ file = { path = tmpdir .. "/no/such/file.jsonl" } })
    assert.is_nil(body)
    assert.are.equal("io", err.kind)
    assert.matches("cannot open " .. tmpdir .. "/no/such/file.jsonl", err.message, 1, true)
    body, err = multipart.new({ file = { path = tmpdir } })
    assert.is_nil(body)
    assert.are.equal("io", err.kind)
    assert.matches("cannot upload", err.message, 1, true)
    body, err = multipart.new({ file = { path = tmpdir, offset = 0 } })
    assert.is_nil(body)
    assert.are.same({ "invalid_request", "a multipart slice needs a regular file" }, { err.kind, err.message })
    local path = file_with("short")
    body, err = multipart.new({ file = { path = path, offset = 3, length = 10 } })
    assert.is_nil(body)
    assert.are.equal("invalid_request", err.kind)
    assert.are.equal("multipart slice [3, 13) lies beyond the end of the file (5 bytes)", err.message)
  end)

  it("reports a file that shrank between measuring and sending", function()
    local path = file_with(string.rep("a", 1000))
    local body = assert(multipart.new({ file = { path = path } }, "B"))
    local f = assert(io.open(path, "wb"))
    f:write("tiny")
    f:close()
    local _, err = chunks_of(body)
    assert.are.equal("io", err.kind)
    assert.are.equal("cannot upload " .. path .. ": the file changed while it was sent "
      .. "(1000 bytes when the upload began, 4 now)", err.message)
  end)

  it("raises at once on misuse", function()
    assert.has_error(function() multipart.new("x") end)
    assert.has_error(function() multipart.new({ fields = { x = {} } }) end)
    assert.has_error(function() multipart.new({ file = {} }) end)
  end)
end)

describe("multipart body against the fake server", function()
  local fake = require("spec.support.fake_server")
  local ft = require("openai.finetunes")
  local http1 = require("openai.finetunes.transport.http1")
  local socket = require("socket")

  -- POST the body over a plain socket, as the ngx transport frames it.
  local function post(server, path, body)
    local c = assert(socket.connect("127.0.0.1", server.port))
    c:settimeout(30)
    assert(c:send(table.concat({
      "POST ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sk-test\r\n",
      "Content-Type: ", body.content_type, "\r\nContent-Length: ", tostring(body.length), "\r\n",
      "Connection: close\r\n\r\n",
    })))
    local next_chunk = body:source()
    while true do
      local piece, err = next_chunk()
      assert(piece or not err, err and err.message)
      if not piece then break end
      assert(c:send(piece))
    end
    local raw, _, partial = c:receive("*a")
    c:close()
    return assert(http1.parse(raw or partial))
  end

  it("decodes to the same fields and bytes as libcurl's upload of the same request", function()
    local server = fake.start()
    local client = ft.new({ api_key = "sk-test", base_url = server.base_url, max_retries = 0 })
    local lines = {}
    for i = 1, 2000 do
      lines[i] = string.format('{"messages":[{"role":"user","content":"q%d"},{"role":"assistant","content":"a"}]}', i)
    end
    local path = os.tmpname()
    local f = assert(io.open(path, "wb"))
    f:write(table.concat(lines, "\n"), "\n")
    f:close()
    local args = { file = path, purpose = "fine-tune", filename = "train.jsonl" }

    local via_curl = assert(client:upload_file(args))
    local req = client:_prepare("upload_file", args)
    local res = post(server, "/v1/files", assert(multipart.new(req.multipart)))
    assert.are.equal(200, res.status, res.body)
    os.remove(path)

    local log = server:requests({ path = "^/v1/files$", method = "POST" })
    assert.are.equal(2, #log)
    assert.are.same(log[1].parts, log[2].parts)
    assert.are.equal(2, #log[2].parts)
    assert.are.equal("train.jsonl", log[2].parts[2].filename)
    local by_ngx = require("openai.finetunes.fake.json").decode(res.body)
    assert.are.equal(via_curl.bytes, by_ngx.bytes)
    assert.are.equal(assert(client:file_content(via_curl.id)), assert(client:file_content(by_ngx.id)))
  end)
end)
