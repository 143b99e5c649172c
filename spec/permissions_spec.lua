-- Checkpoint permissions: create, list (filter, order, paging by last_id),
-- delete; over real HTTP against the fake server.
local H = require("spec.support.client_helper")

describe("checkpoint permissions", function()
  local server, c, ckpt
  H.each_test(function(s, client) server, c = s, client end)
  before_each(function()
    local job = H.succeeded_job(c, server)
    local list = assert(c:job_checkpoints(job.id))
    ckpt = list.data[1].fine_tuned_model_checkpoint
  end)

  it("shares a checkpoint with projects, lists, pages and revokes", function()
    local created = assert(c:create_checkpoint_permissions(ckpt, { project_ids = { "proj_a", "proj_b", "proj_c" } }))
    assert.equal("list", created.object)
    assert.equal(3, #created.data)
    for i, p in ipairs(created.data) do
      assert.equal("checkpoint.permission", p.object)
      assert.equal(({ "proj_a", "proj_b", "proj_c" })[i], p.project_id)
      assert.truthy(p.id:find("^cp_"))
    end
    -- the checkpoint name (with colons) stays one path segment
    assert.equal("/v1/fine_tuning/checkpoints/" .. ckpt .. "/permissions", server:last_request().path)

    local all = assert(c:checkpoint_permissions(ckpt))
    assert.equal(3, #all.data)
    local only_b = assert(c:checkpoint_permissions(ckpt, { project_id = "proj_b" }))
    assert.equal(1, #only_b.data)
    assert.equal("proj_b", only_b.data[1].project_id)

    -- page by hand: this list pages by the body's last_id
    local seen, after = {}, nil
    repeat
      local page = assert(c:checkpoint_permissions(ckpt, { limit = 1, after = after, order = "ascending" }))
      for _, p in ipairs(page.data) do seen[#seen + 1] = p.project_id end
      after = page.last_id
    until not page.has_more or not after
    assert.same({ "proj_a", "proj_b", "proj_c" }, seen)

    local del = assert(c:delete_checkpoint_permission(ckpt, created.data[2].id))
    assert.same({ id = created.data[2].id, object = "checkpoint.permission", deleted = true }, del)
    assert.equal(2, #assert(c:checkpoint_permissions(ckpt)).data)

    local r, err = c:delete_checkpoint_permission(ckpt, created.data[2].id)
    assert.is_nil(r)
    assert.equal(404, err.status)
  end)

  it("answers 404 for an unknown checkpoint", function()
    local r, err = c:checkpoint_permissions("ft:gpt-4o-mini-2024-07-18:org:none:abc:ckpt-step-1")
    assert.is_nil(r)
    assert.equal("api", err.kind)
    assert.equal(404, err.status)
  end)

  it("checks ids and project_ids before sending", function()
    local mark = server:mark()
    assert.has_error(function() c:create_checkpoint_permissions(ckpt, { project_ids = "proj_a" }) end,
      "bad argument #2 to 'create_checkpoint_permissions' (project_ids must be a non-empty array of strings, "
      .. "got \"proj_a\")")
    assert.has_error(function() c:create_checkpoint_permissions(ckpt, {}) end,
      "bad argument #2 to 'create_checkpoint_permissions' (project_ids is required, expected a non-empty array "
      .. "of project ids)")
    assert.has_error(function() c:delete_checkpoint_permission(ckpt, "..") end,
      "bad argument #2 to 'delete_checkpoint_permission' (permission_id must not be \".\" or \"..\")")
    assert.has_error(function() c:checkpoint_permissions(nil) end,
      "bad argument #1 to 'checkpoint_permissions' (checkpoint must be a non-empty string, got nil)")
    assert.has_error(function() c:checkpoint_permissions(ckpt, { order = "desc" }) end,
      "bad argument #2 to 'checkpoint_permissions' (order must be one of \"ascending\", \"descending\", "
      .. "got \"desc\")")
    assert.equal(0, #server:requests{ since = mark })
  end)
end)
