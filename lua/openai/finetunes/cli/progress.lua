-- openai-ft: a progress bar (bytes, rate, ETA) for uploads and downloads, and the live
-- line `follow` redraws in place. Both draw on stderr only when ctx:progress_enabled()
-- (a terminal, no --quiet / --no-progress); otherwise they cost nothing and print nothing.
-- While one is on screen it is ctx.live, so ctx:say() clears it, prints, and redraws it.
local fmt = require("openai.finetunes.cli.table")

local M = {}

local function now()
  return require("openai.finetunes.core").now()
end

-- A line redrawn in place on stderr.
local Live = {}
Live.__index = Live

function M.live(ctx)
  local self = setmetatable({ ctx = ctx, text = nil, on = ctx:progress_enabled(), utf8 = ctx:utf8() }, Live)
  return self
end

function Live:set(text)
  if not self.on then return end
  local w = self.ctx:width() - 1
  if fmt.width(text) > w then
    -- cut on a character boundary
    local cut, n = 0, 0
    for p, c in text:gmatch("()([\1-\127\194-\244][\128-\191]*)") do
      n = n + 1
      if n > w then break end
      cut = p + #c - 1
    end
    text = text:sub(1, cut)
  end
  self.text = text
  self.ctx.live = self
  self:redraw()
end

function Live:clear()
  if self.on and self.text then self.ctx.stderr:write("\r\27[K") end
end

function Live:redraw()
  if self.on and self.text then
    self.ctx.stderr:write("\r\27[K", self.text)
    self.ctx.stderr:flush()
  end
end

-- Leaves the current text on screen as a normal line (or removes it) and stops.
function Live:done(keep)
  if self.on and self.text then
    if keep then self.ctx.stderr:write("\n") else self.ctx.stderr:write("\r\27[K") end
    self.ctx.stderr:flush()
  end
  self.text = nil
  if self.ctx.live == self then self.ctx.live = nil end
end

-- bar(done, total, width, utf8) -> "[#####-----]"
function M.bar(done, total, width, utf8)
  local frac = (total and total > 0) and math.min(1, math.max(0, done / total)) or 0
  local full = math.floor(frac * width + 0.5)
  if utf8 then return string.rep("█", full) .. string.rep("░", width - full) end
  return "[" .. string.rep("#", full) .. string.rep("-", width - full) .. "]"
end

-- A transfer: label, bytes done / total, rate, ETA; redrawn at most 10 times a second.
local Transfer = {}
Transfer.__index = Transfer

-- transfer(ctx, label, total) -> t; t:update(done [, total]); t:finish(done)
function M.transfer(ctx, label, total)
  local self = setmetatable({ ctx = ctx, label = label, total = total, fixed_total = total ~= nil, started = now(),
    drawn = 0, done_bytes = 0 }, Transfer)
  self.live = M.live(ctx)
  return self
end

function Transfer:line()
  local elapsed = now() - self.started
  local rate = elapsed > 0 and self.done_bytes / elapsed or 0
  local total = self.total
  local pct = (total and total > 0) and math.floor(100 * self.done_bytes / total) or 0
  local eta = (total and rate > 0) and (total - self.done_bytes) / rate or nil
  local done = self.done_bytes >= (total or math.huge)
  local tail = string.format(" %3d%%  %s / %s  %s/s  %s %s", pct, fmt.bytes(self.done_bytes), fmt.bytes(total),
    fmt.bytes(math.floor(rate)), done and "in" or "ETA", fmt.duration(done and elapsed or eta))
  local room = self.ctx:width() - 1 - fmt.width(self.label) - fmt.width(tail) - 2
  local bar = room >= 10 and (" " .. M.bar(self.done_bytes, total, math.min(40, room - 2), self.live.utf8)) or ""
  return self.label .. bar .. tail
end

-- A total given at creation (the file's size) wins over the transport's (an upload's
-- includes the multipart framing); done never goes past it, nor backwards.
function Transfer:update(done, total)
  if total and total > 0 and not self.fixed_total then self.total = total end
  if done and self.fixed_total then done = math.min(done, self.total) end
  if done and done > self.done_bytes then self.done_bytes = done end
  if not self.live.on then return end
  local t = now()
  if t - self.drawn >= 0.1 then
    self.drawn = t
    self.live:set(self:line())
  end
end

-- The final state stays on screen on a terminal; elsewhere one summary line (unless --quiet).
function Transfer:finish(done)
  if done then self.done_bytes = done end
  if self.total == nil or self.total ~= self.done_bytes then self.total = self.done_bytes end
  if self.live.on then
    self.live:set(self:line())
    self.live:done(true)
  else
    local elapsed = now() - self.started
    self.ctx:say("%s: %s in %.1f s", self.label, fmt.bytes(self.done_bytes), elapsed)
  end
end

function Transfer:abort()
  self.live:done(false)
end

-- run(fn) -> fn's result. fn does the transfer (reporting to this bar); on a raise or
-- `nil, err` the bar is removed first, then the raise goes on / the command stops with
-- err (exit 1).
function Transfer:run(fn)
  local ok, r, err = pcall(fn)
  if not (ok and r) then self:abort() end
  if not ok then error(r, 0) end
  return self.ctx:need(r, err)
end

-- The libcurl-style progress callback for upload_file / download_file opts.progress.
function Transfer:callback(direction)
  return function(dltotal, dlnow, ultotal, ulnow)
    if direction == "up" then
      self:update(ulnow, ultotal > 0 and ultotal or nil)
    else
      self:update(dlnow, dltotal > 0 and dltotal or nil)
    end
  end
end

-- sparkline(values, n, utf8) -> the last n values as ▁▂▃▄▅▆▇█ ("" without UTF-8)
function M.sparkline(values, n, utf8)
  if not utf8 or #values < 2 then return "" end
  local first = math.max(1, #values - n + 1)
  local lo, hi = math.huge, -math.huge
  for i = first, #values do
    lo, hi = math.min(lo, values[i]), math.max(hi, values[i])
  end
  local ticks = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" }
  local out = {}
  for i = first, #values do
    local k = hi > lo and math.floor((values[i] - lo) / (hi - lo) * 7 + 0.5) + 1 or 4
    out[#out + 1] = ticks[k]
  end
  return table.concat(out)
end

return M
