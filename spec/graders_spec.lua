-- Alpha graders: run and validate; over real HTTP against the fake server.
local H = require("spec.support.client_helper")

describe("graders", function()
  local server, c
  H.each_test(function(s, client) server, c = s, client end)

  local string_check = {
    type = "string_check", name = "exact", input = "{{sample.output_text}}", reference = "{{item.answer}}",
    operation = "eq",
  }

  it("runs a string_check grader with an item", function()
    local hit = assert(c:run_grader{ grader = string_check, model_sample = "Paris", item = { answer = "Paris" } })
    assert.equal(1, hit.reward)
    assert.equal("string_check", hit.metadata.type)
    assert.is_false(hit.metadata.errors.formula_parse_error)
    local miss = assert(c:run_grader{ grader = string_check, model_sample = "Lyon", item = { answer = "Paris" } })
    assert.equal(0, miss.reward)
    assert.same({ grader = string_check, model_sample = "Lyon", item = { answer = "Paris" } },
      server:last_request().json)
  end)

  it("runs a multi grader over named graders", function()
    local multi = {
      type = "multi", name = "combo", calculate_output = "0.5 * exact + 0.5 * close",
      graders = {
        exact = string_check,
        close = { type = "text_similarity", name = "close", input = "{{sample.output_text}}",
          reference = "{{item.answer}}", evaluation_metric = "fuzzy_match" },
      },
    }
    local r = assert(c:run_grader{ grader = multi, model_sample = "Paris", item = { answer = "Paris" } })
    assert.equal(1, r.reward)
    assert.equal(1, r.sub_rewards.exact)
  end)

  it("validates a grader and echoes it", function()
    local python = { type = "python", name = "py", source = "def grade(sample, item):\n    return 1.0\n" }
    local r = assert(c:validate_grader{ grader = python })
    assert.same(python, r.grader)
  end)

  it("lets the API judge a grader when validation is off", function()
    local loose = H.client(server, { validation = false })
    local r, err = loose:validate_grader{ grader = { type = "string_check", name = "x" } }
    assert.is_nil(r)
    assert.equal("api", err.kind)
    assert.equal(400, err.status)
    assert.is_string(err.param)
  end)

  it("checks graders before sending with validation on", function()
    local mark = server:mark()
    assert.has_error(function()
      c:run_grader{ grader = { type = "string_check", name = "x", input = "a", reference = "b" }, model_sample = "s" }
    end, "bad argument #1 to 'run_grader' (grader.operation is required, expected "
      .. "\"eq\", \"ne\", \"like\" or \"ilike\")")
    assert.has_error(function()
      c:validate_grader{ grader = { type = "text_similarity", name = "t", input = "a", reference = "b",
        evaluation_metric = "jaccard" } }
    end)
    assert.has_error(function() c:run_grader{ grader = string_check } end,
      "bad argument #1 to 'run_grader' (model_sample is required, expected a string)")
    assert.has_error(function()
      c:run_grader{ grader = { type = "score_model", name = "s", model = "gpt-4o", input = { { role = "robot",
        content = "x" } } }, model_sample = "s" }
    end, 'bad argument #1 to \'run_grader\' (grader.input[1].role must be one of "user", "assistant", '
      .. '"system", "developer", got "robot")')
    assert.equal(0, #server:requests{ since = mark })
  end)
end)
