-- For every operation, the request the fake server received has the method,
-- path, query, JSON body, multipart field names and filename, Accept and
-- Content-Type the official SDKs send (openai-python and openai-node: their
-- resources/ for paths, _base_client.py / client.ts for headers, _files.py /
-- uploads.ts for multipart, pagination.py / pagination.ts for paging).
-- Ids are made up: the answer does not matter here, the request does.
local ft = require("openai.finetunes")
local H = require("spec.support.client_helper")
local logged = require("openai.finetunes.fake.reqlog").redact_credential

local CKPT = "ft:gpt-4o-mini-2024-07-18:acme:suffix:abc123:ckpt-step-10"
local MODEL = "ft:gpt-4o-mini-2024-07-18:acme:suffix:abc123"

local GRADER = { type = "string_check", name = "g", input = "{{sample.output_text}}", reference = "x",
  operation = "eq" }

-- name, args, expected request. params = decoded query; json = decoded body;
-- parts = multipart parts in any order ({name, value | filename, content_type}).
local CASES = {
  { "files", { { purpose = "fine-tune", limit = 2, order = "asc", after = "file-a" } },
    { method = "GET", path = "/v1/files",
      params = { purpose = "fine-tune", limit = "2", order = "asc", after = "file-a" } } },
  { "upload_file", { { file = H.TRAIN, purpose = "fine-tune",
      expires_after = { anchor = "created_at", seconds = 3600 } } },
    { method = "POST", path = "/v1/files", multipart = true,
      parts = {
        { name = "purpose", value = "fine-tune" },
        { name = "expires_after[anchor]", value = "created_at" },
        { name = "expires_after[seconds]", value = "3600" },
        { name = "file", filename = "train.jsonl", content_type = "application/octet-stream" },
      } } },
  { "upload_file", { { data = "{}\n", filename = "mem.jsonl", purpose = "batch", content_type = "application/jsonl" } },
    { method = "POST", path = "/v1/files", multipart = true,
      parts = { { name = "purpose", value = "batch" },
        { name = "file", filename = "mem.jsonl", content_type = "application/jsonl" } } } },
  { "file", { "file-abc" }, { method = "GET", path = "/v1/files/file-abc" } },
  { "delete_file", { "file-abc" }, { method = "DELETE", path = "/v1/files/file-abc" } },
  { "file_content", { "file-abc" }, { method = "GET", path = "/v1/files/file-abc/content",
      accept = "application/binary" } },
  { "download_file", { "file-abc", "/tmp/lua-client-specs-parity-never-written" },
    { method = "GET", path = "/v1/files/file-abc/content", accept = "application/binary" } },
  { "create_upload", { { filename = "big.jsonl", purpose = "fine-tune", bytes = 123, mime_type = "text/jsonl" } },
    { method = "POST", path = "/v1/uploads",
      json = { filename = "big.jsonl", purpose = "fine-tune", bytes = 123, mime_type = "text/jsonl" } } },
  { "add_upload_part", { "upload_abc", { file = H.TRAIN, offset = 10, length = 100 } },
    { method = "POST", path = "/v1/uploads/upload_abc/parts", multipart = true,
      parts = { { name = "data", filename = "train.jsonl", content_type = "application/octet-stream",
        size = 100 } } } },
  { "add_upload_part", { "upload_abc", { data = "chunk" } },
    { method = "POST", path = "/v1/uploads/upload_abc/parts", multipart = true,
      parts = { { name = "data", filename = "upload", content_type = "application/octet-stream", size = 5 } } } },
  { "complete_upload", { "upload_abc",
      { part_ids = { "part_1", "part_2" }, md5 = "d41d8cd98f00b204e9800998ecf8427e" } },
    { method = "POST", path = "/v1/uploads/upload_abc/complete",
      json = { part_ids = { "part_1", "part_2" }, md5 = "d41d8cd98f00b204e9800998ecf8427e" } } },
  { "cancel_upload", { "upload_abc" }, { method = "POST", path = "/v1/uploads/upload_abc/cancel" } },
  { "jobs", { { after = "ftjob-a", limit = 5, metadata = { team = "lua" } } },
    { method = "GET", path = "/v1/fine_tuning/jobs",
      params = { after = "ftjob-a", limit = "5", ["metadata[team]"] = "lua" } } },
  { "create_job", { { model = H.MODEL, training_file = "file-t", validation_file = "file-v", suffix = "s",
      seed = 7, metadata = { k = "v" },
      method = { type = "supervised", supervised = { hyperparameters = { n_epochs = 3, batch_size = "auto" } } },
      integrations = { { type = "wandb", wandb = { project = "p", tags = { "a" } } } } } },
    { method = "POST", path = "/v1/fine_tuning/jobs",
      json = { model = H.MODEL, training_file = "file-t", validation_file = "file-v", suffix = "s", seed = 7,
        metadata = { k = "v" },
        method = { type = "supervised", supervised = { hyperparameters = { n_epochs = 3, batch_size = "auto" } } },
        integrations = { { type = "wandb", wandb = { project = "p", tags = { "a" } } } } } } },
  { "job", { "ftjob-abc" }, { method = "GET", path = "/v1/fine_tuning/jobs/ftjob-abc" } },
  { "cancel_job", { "ftjob-abc" }, { method = "POST", path = "/v1/fine_tuning/jobs/ftjob-abc/cancel" } },
  { "pause_job", { "ftjob-abc" }, { method = "POST", path = "/v1/fine_tuning/jobs/ftjob-abc/pause" } },
  { "resume_job", { "ftjob-abc" }, { method = "POST", path = "/v1/fine_tuning/jobs/ftjob-abc/resume" } },
  { "job_events", { "ftjob-abc", { after = "ft-event-1", limit = 50 } },
    { method = "GET", path = "/v1/fine_tuning/jobs/ftjob-abc/events",
      params = { after = "ft-event-1", limit = "50" } } },
  { "job_checkpoints", { "ftjob-abc", { limit = 3 } },
    { method = "GET", path = "/v1/fine_tuning/jobs/ftjob-abc/checkpoints", params = { limit = "3" } } },
  { "checkpoint_permissions", { CKPT, { project_id = "proj_1", after = "cp_1", limit = 4, order = "ascending" } },
    { method = "GET", path = "/v1/fine_tuning/checkpoints/" .. CKPT .. "/permissions",
      params = { project_id = "proj_1", after = "cp_1", limit = "4", order = "ascending" } } },
  { "create_checkpoint_permissions", { CKPT, { project_ids = { "proj_1", "proj_2" } } },
    { method = "POST", path = "/v1/fine_tuning/checkpoints/" .. CKPT .. "/permissions",
      json = { project_ids = { "proj_1", "proj_2" } } } },
  { "delete_checkpoint_permission", { CKPT, "cp_abc" },
    { method = "DELETE", path = "/v1/fine_tuning/checkpoints/" .. CKPT .. "/permissions/cp_abc" } },
  { "run_grader", { { grader = GRADER, model_sample = "x", item = { a = 1 } } },
    { method = "POST", path = "/v1/fine_tuning/alpha/graders/run",
      json = { grader = GRADER, model_sample = "x", item = { a = 1 } } } },
  { "validate_grader", { { grader = GRADER } },
    { method = "POST", path = "/v1/fine_tuning/alpha/graders/validate", json = { grader = GRADER } } },
  { "models", {}, { method = "GET", path = "/v1/models" } },
  { "model", { MODEL }, { method = "GET", path = "/v1/models/" .. MODEL } },
  { "delete_model", { MODEL }, { method = "DELETE", path = "/v1/models/" .. MODEL } },
}

local function find_part(parts, name)
  for _, p in ipairs(parts) do
    if p.name == name then return p end
  end
end

describe("SDK parity of every request", function()
  local server, c
  H.each_test(function(s, client) server, c = s, client end,
    { client = { organization = "org-parity", project = "proj_parity" } })

  it("covers all 25 fine-tuning operations of the API reference", function()
    local ops = {}
    for _, case in ipairs(CASES) do ops[ft.endpoints[case[1]].op] = true end
    local n = 0
    for _ in pairs(ops) do n = n + 1 end
    assert.equal(25, n)
  end)

  for _, case in ipairs(CASES) do
    local name, args, want = case[1], case[2], case[3]
    it(name .. " sends " .. want.method .. " " .. want.path, function()
      c[name](c, H.unpack(args))
      local got = server:last_request()
      assert.equal(want.method, got.method)
      assert.equal(want.path, got.path)
      local params = {}
      for k, v in pairs(got.params or {}) do params[k] = v end
      assert.same(want.params or {}, params)

      local h = got.headers
      assert.equal(want.accept or "application/json", h.accept)
      assert.equal("openai-finetunes-lua/" .. ft._VERSION, h["user-agent"])
      assert.equal("org-parity", h["openai-organization"])
      assert.equal("proj_parity", h["openai-project"])
      assert.equal(logged("Bearer " .. H.API_KEY), h.authorization)
      assert.is_nil(h["idempotency-key"]) -- the SDKs send none

      if want.json then
        assert.equal("application/json", h["content-type"])
        assert.same(want.json, got.json)
      elseif want.multipart then
        assert.truthy(h["content-type"]:find("^multipart/form%-data; boundary="), h["content-type"])
        assert.equal(#want.parts, #got.parts)
        for _, wp in ipairs(want.parts) do
          local gp = find_part(got.parts, wp.name)
          assert.is_table(gp, "missing part " .. wp.name)
          for k, v in pairs(wp) do assert.equal(v, gp[k], wp.name .. "." .. k) end
          if not wp.filename then assert.is_nil(gp.filename, wp.name .. " must be a text field") end
        end
        -- the file part goes last, as openai-python sends it
        local last = got.parts[#got.parts]
        assert.truthy(last.filename, "the file part comes last")
      else
        -- no body, so no Content-Type (openai-node; python's GET parity)
        assert.is_nil(h["content-type"])
        assert.equal(0, got.body_size or 0)
      end
    end)
  end

  it("encodes query values outside the unreserved set", function()
    c:files{ purpose = "fine tune/α", after = "a&b=c" }
    local got = server:last_request()
    assert.equal("fine tune/α", got.params.purpose)
    assert.equal("a&b=c", got.params.after)
    assert.truthy(got.query:find("purpose=fine%20tune%2F%CE%B1", 1, true), got.query)
  end)

  it("sends metadata=null for ft.null (the jobs without metadata)", function()
    c:jobs{ metadata = ft.null, limit = 3 }
    local got = server:last_request()
    assert.same({ metadata = "null", limit = "3" }, got.params)
  end)

  it("encodes JSON integers exactly and an empty array as []", function()
    c:create_checkpoint_permissions(CKPT, { project_ids = { "p" }, extra = ft.array() },
      { headers = { ["X-Check"] = "1" } })
    local got = server:last_request()
    assert.truthy(got.body:find('"extra":[]', 1, true), got.body)
    c:create_job{ model = H.MODEL, training_file = "file-t", seed = 2147483647 }
    assert.truthy(server:last_request().body:find('"seed":2147483647', 1, true))
  end)
end)
