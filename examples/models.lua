-- List the models you can use, look one up, and delete a fine-tuned model.
--
--   OPENAI_API_KEY=sk-... lua5.4 examples/models.lua                    list, show the newest fine-tuned
--   OPENAI_API_KEY=sk-... lua5.4 examples/models.lua ft:gpt-4o-mini:...  ... and delete that model
--   lua5.4 examples/run-with-fake-server.lua examples/models.lua
--
-- Deleting needs the Owner role in the organization; base models cannot be deleted.
local ft = require("openai.finetunes")

local client = ft.new{ raise = true }

local list = client:models() -- one page: /models is not paginated
local fine_tuned = {}
for _, m in ipairs(list.data) do
  print(string.format("%-60s %-24s %s", m.id, m.owned_by, os.date("!%Y-%m-%d", m.created)))
  if m.id:find("^ft:") then fine_tuned[#fine_tuned + 1] = m end
end
print(string.format("%d models, %d fine-tuned", #list.data, #fine_tuned))

table.sort(fine_tuned, function(a, b) return a.created > b.created end)
if fine_tuned[1] then
  local m, meta = client:model(fine_tuned[1].id)
  print(string.format("newest fine-tuned: %s (owned by %s, request %s)", m.id, m.owned_by, tostring(meta.request_id)))
end

local doomed = arg and arg[1]
if doomed then
  local deleted = client:delete_model(doomed)
  print(string.format("deleted %s: %s", deleted.id, tostring(deleted.deleted)))
end
