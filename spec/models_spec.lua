-- Models: list, retrieve (ids with colons), delete; over real HTTP against
-- the fake server.
local H = require("spec.support.client_helper")

describe("models", function()
  local server, c
  H.each_test(function(s, client) server, c = s, client end)

  it("lists the models as a single page", function()
    local list = assert(c:models())
    assert.equal("list", list.object)
    assert.is_true(#list.data > 0)
    for _, m in ipairs(list.data) do
      assert.equal("model", m.object)
      assert.is_string(m.id)
      assert.is_true(H.is_integer(m.created))
    end
    assert.is_nil(list.has_more)
  end)

  it("retrieves a base model", function()
    local m, meta = assert(c:model(H.MODEL))
    assert.equal(H.MODEL, m.id)
    assert.equal("system", m.owned_by)
    assert.equal(200, meta.status)
  end)

  it("retrieves and deletes a fine-tuned model, whose id has colons", function()
    local job = H.succeeded_job(c, server, { suffix = "models-spec" })
    local id = job.fine_tuned_model
    assert.truthy(id:find(":", 1, true))
    local m = assert(c:model(id))
    assert.equal(id, m.id)
    assert.equal("/v1/models/" .. id, server:last_request().path)
    local del = assert(c:delete_model(id))
    assert.same({ id = id, object = "model", deleted = true }, del)
    local gone, err = c:model(id)
    assert.is_nil(gone)
    assert.equal(404, err.status)
  end)

  it("gets the API's 403 when deleting a base model", function()
    local r, err = c:delete_model(H.MODEL)
    assert.is_nil(r)
    assert.equal("api", err.kind)
    assert.equal(403, err.status)
    assert.is_string(err.message)
  end)

  it("never lets an id reach another route", function()
    -- "org/model" style ids (compatible servers) stay one escaped segment
    local r, err = c:model("a/b?c#d")
    assert.is_nil(r)
    assert.equal(404, err.status)
    assert.equal("/v1/models/a%2Fb%3Fc%23d", server:last_request().path)
    local mark = server:mark()
    assert.has_error(function() c:model("..") end, "bad argument #1 to 'model' (id must not be \".\" or \"..\")")
    assert.has_error(function() c:delete_model(".") end,
      "bad argument #1 to 'delete_model' (id must not be \".\" or \"..\")")
    assert.has_error(function() c:model("../files") end,
      "bad argument #1 to 'model' (id must not contain \".\" or \"..\" path segments, got \"../files\")")
    assert.has_error(function() c:delete_model("ft:x/../../files") end)
    assert.has_error(function() c:model(42) end, "bad argument #1 to 'model' (id must be a non-empty string, got 42)")
    assert.equal(0, #server:requests{ since = mark })
  end)
end)
