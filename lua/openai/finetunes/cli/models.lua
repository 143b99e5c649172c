-- openai-ft models: list, get, delete.
local fmt = require("openai.finetunes.cli.table")
local context = require("openai.finetunes.cli.context")

local M = { summary = "list, inspect and delete models" }

local FIELDS = { "id", "object", "created", "owned_by", "shutdown_date" }

local function model_id(ctx)
  local id = ctx:arg(1, "model ID")
  ctx:max_args(1)
  return id
end

M.commands = {
  {
    name = "list", summary = "list models (--fine-tuned: only fine-tuned ones)",
    options = {
      { "--fine-tuned", nil, "only fine-tuned models (ids starting with ft:)" },
    },
    run = function(ctx)
      ctx:max_args(0)
      local page = ctx:need(ctx:client():models())
      local items = setmetatable({}, require("openai.finetunes.codec").array_mt)
      for _, m in ipairs(page.data or {}) do
        if not ctx.opts.fine_tuned or tostring(m.id):sub(1, 3) == "ft:" then items[#items + 1] = m end
      end
      if ctx.json then return ctx:print_json(items) end
      if #items == 0 then return ctx:say("no models") end
      ctx:print(fmt.render({
        { "ID", "id" },
        { "CREATED", function(m) return fmt.time(m.created) end },
        { "OWNED BY", "owned_by" },
        -- the day the model (a fine-tune: its base model) stops serving; "-" = none announced
        { "SHUTS DOWN", function(m) return type(m.shutdown_date) == "string" and m.shutdown_date or "-" end },
      }, items))
    end,
  },
  {
    name = "get", synopsis = "ID", summary = "show a model",
    run = function(ctx)
      local m = ctx:need(ctx:client():model(model_id(ctx)))
      if ctx.json then return ctx:print_json(m) end
      ctx:print(fmt.fields(m, FIELDS))
    end,
  },
  {
    name = "delete", synopsis = "ID", summary = "delete a fine-tuned model (asks first: type its id back)",
    description = "Delete fine-tuned model ID. On a terminal it shows the model and asks you to type its id\n"
      .. "back; --yes skips that (scripts); without a terminal and without --yes it refuses.",
    options = { context.YES_OPTION },
    run = function(ctx)
      local id = model_id(ctx)
      ctx:confirm("delete " .. id, function()
        return "will delete:\n" .. fmt.fields(ctx:need(ctx:client():model(id)), FIELDS)
      end, id)
      local r = ctx:need(ctx:client():delete_model(id))
      if ctx.json then return ctx:print_json(r) end
      ctx:print(string.format("deleted %s\n", r.id or id))
    end,
  },
}

return M
