-- Alpha graders API: POST /fine_tuning/alpha/graders/run and /validate.
local errors = require("openai.finetunes.fake.errors")
local check = require("openai.finetunes.fake.check")
local graders = require("openai.finetunes.fake.graders")

local M = {}

local function run(ctx)
  local b = check.body(ctx)
  check.only(b, { "grader", "model_sample", "item" })
  if b.grader == nil then errors.missing("grader") end
  graders.validate(b.grader, "grader")
  local sample = check.string(b, "model_sample", true)
  local item = check.object(b, "item", false)
  return { status = 200, body = graders.run(b.grader, sample, item) }
end

local function validate(ctx)
  local b = check.body(ctx)
  check.only(b, { "grader" })
  if b.grader == nil then errors.missing("grader") end
  graders.validate(b.grader, "grader")
  return { status = 200, body = { grader = b.grader } }
end

function M.register(router)
  router:add("POST", "/fine_tuning/alpha/graders/run", run)
  router:add("POST", "/fine_tuning/alpha/graders/validate", validate)
end

return M
