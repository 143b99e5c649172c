-- Base models the fake server knows, which of them can be fine-tuned, the snapshot
-- an alias resolves to (fine-tuned model names carry the snapshot), and the shutdown
-- dates OpenAI's deprecations page announces.
local json = require("openai.finetunes.fake.json")

local M = {}

-- Model.shutdown_date: o4-mini, gpt-4.1-nano and gpt-3.5-turbo, with the models
-- fine-tuned from them, shut down on 2026-10-23 (OpenAI's deprecations page);
-- null = not announced.
M.shutdown_dates = {
  ["o4-mini"] = "2026-10-23", ["o4-mini-2025-04-16"] = "2026-10-23",
  ["gpt-4.1-nano"] = "2026-10-23", ["gpt-4.1-nano-2025-04-14"] = "2026-10-23",
  ["gpt-3.5-turbo"] = "2026-10-23", ["gpt-3.5-turbo-0125"] = "2026-10-23",
}

-- shutdown_date(id) -> the date a base model (or snapshot) shuts down | json.null
function M.shutdown_date(id)
  return M.shutdown_dates[id] or json.null
end

-- id, created, owned_by, fine-tunable methods
M.base_models = {
  { "gpt-4o-mini-2024-07-18", 1721172741, "system", { "supervised", "dpo" } },
  { "gpt-4o-mini", 1721172741, "system", { "supervised", "dpo" } },
  { "gpt-4o-2024-08-06", 1722814719, "system", { "supervised", "dpo" } },
  { "gpt-4o", 1715367049, "system", { "supervised", "dpo" } },
  { "gpt-4.1-2025-04-14", 1744315746, "system", { "supervised", "dpo" } },
  { "gpt-4.1-mini-2025-04-14", 1744317547, "system", { "supervised", "dpo" } },
  { "gpt-4.1-nano-2025-04-14", 1744321025, "system", { "supervised", "dpo" } },
  { "gpt-4.1", 1744316542, "system", { "supervised", "dpo" } },
  { "gpt-4.1-mini", 1744318173, "system", { "supervised", "dpo" } },
  { "gpt-4.1-nano", 1744321707, "system", { "supervised", "dpo" } },
  { "o4-mini-2025-04-16", 1744133506, "system", { "reinforcement" } },
  { "o4-mini", 1744225351, "system", { "reinforcement" } },
  { "gpt-3.5-turbo-0125", 1706048358, "system", { "supervised" } },
  { "gpt-3.5-turbo", 1677610602, "openai", { "supervised" } },
  { "babbage-002", 1692634615, "system", { "supervised" } },
  { "davinci-002", 1692634301, "system", { "supervised" } },
}

M.snapshots = {
  ["gpt-4o-mini"] = "gpt-4o-mini-2024-07-18",
  ["gpt-4o"] = "gpt-4o-2024-08-06",
  ["gpt-4.1"] = "gpt-4.1-2025-04-14",
  ["gpt-4.1-mini"] = "gpt-4.1-mini-2025-04-14",
  ["gpt-4.1-nano"] = "gpt-4.1-nano-2025-04-14",
  ["o4-mini"] = "o4-mini-2025-04-16",
  ["gpt-3.5-turbo"] = "gpt-3.5-turbo-0125",
}

M.legacy_completion_models = { ["babbage-002"] = true, ["davinci-002"] = true }

local by_id = {}
for _, m in ipairs(M.base_models) do by_id[m[1]] = m end

function M.base(id)
  return by_id[id]
end

function M.snapshot(id)
  return M.snapshots[id] or id
end

-- methods(id) -> set of methods a base model can be fine-tuned with, or nil
function M.methods(id)
  local m = by_id[id]
  if not m then return nil end
  local set = {}
  for _, meth in ipairs(m[4]) do set[meth] = true end
  return set
end

function M.seed(store)
  for _, m in ipairs(M.base_models) do
    store.models:add({ id = m[1], object = "model", created = m[2], owned_by = m[3],
      shutdown_date = M.shutdown_date(m[1]), _base = true })
  end
end

return M
