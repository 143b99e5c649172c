-- openai-ft: line charts in the terminal with braille characters (2 x 4 dots per cell).
--
--   plot.render({ {name = "train loss", points = {{1, 2.9}, {2, 1.7}, ...}},
--                 {name = "valid loss", points = {...}} }, {width = 60, height = 12, color = true})
--
-- `width` is the whole chart's, in terminal columns: the y labels, the axis, the title, the x
-- labels and the legend all fit in it (a legend too wide for one line gets a line per series).
--
-- With `ascii = true` (a terminal that is not UTF-8) the same dots are drawn with ' . :
-- (a dot in the cell's upper half, lower half, or both) and the axes with | + -.
--
-- Each series is drawn as connected segments; where two series share a cell the later one's
-- color wins. The y axis is labelled at the top, middle and bottom, the x axis at both ends.
local M = {}

local floor, format, concat = math.floor, string.format, table.concat

M.COLORS = { 36, 33, 35, 32 } -- cyan, yellow, magenta, green

-- Dot (dx 0-1, dy 0-3) -> bit of the braille cell (Unicode's dot numbering).
local BITS = { [0] = { [0] = 0x01, 0x02, 0x04, 0x40 }, [1] = { [0] = 0x08, 0x10, 0x20, 0x80 } }

-- U+2800 + bits as UTF-8.
local function braille(bits)
  local cp = 0x2800 + bits
  return string.char(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
end

-- The axes and the legend's mark, in UTF-8 box drawing or in ASCII.
local GLYPHS = {
  utf8 = { tick = "┤", corner = "└", rule = "─" },
  ascii = { tick = "|", corner = "+", rule = "-" },
}

-- The ASCII character for a cell with dots in its upper half, its lower half, or both.
local function ascii_cell(upper, lower)
  if upper and lower then return ":" end
  return upper and "'" or "."
end

local function bor(a, b) -- a | b for 0..255 without the 5.3 operators
  local r, bit = 0, 1
  for _ = 1, 8 do
    if a % 2 == 1 or b % 2 == 1 then r = r + bit end
    a, b, bit = floor(a / 2), floor(b / 2), bit * 2
  end
  return r
end

-- Shortest label for a value within the axis range.
local function label(v)
  local s = format("%.4g", v)
  if s:find("e") then s = format("%.2e", v) end
  return s
end

-- bounds(series) -> xmin, xmax, ymin, ymax (nil when there is no point)
function M.bounds(series)
  local x0, x1, y0, y1 = math.huge, -math.huge, math.huge, -math.huge
  for _, s in ipairs(series) do
    for _, p in ipairs(s.points) do
      x0, x1 = math.min(x0, p[1]), math.max(x1, p[1])
      y0, y1 = math.min(y0, p[2]), math.max(y1, p[2])
    end
  end
  if x0 > x1 then return nil end
  if x1 == x0 then x1 = x0 + 1 end
  if y1 == y0 then y0, y1 = y0 - 0.5, y1 + 0.5 end
  return x0, x1, y0, y1
end

-- Display width (UTF-8 characters, escape sequences excluded) and a cut to `w` columns.
local function width(s)
  s = s:gsub("\27%[[%d;]*m", "")
  local _, cont = s:gsub("[\128-\191]", "")
  return #s - cont
end

local function fit(s, w)
  if width(s) <= w then return s end
  local out, n = {}, 0
  for ch in s:gmatch("[^\128-\191][\128-\191]*") do
    if n >= w - 1 then break end
    out[#out + 1], n = ch, n + 1
  end
  return concat(out) .. (s:find("[\128-\255]") and "…" or ".")
end

function M.render(series, o)
  o = o or {}
  local total, rows = o.width or 60, o.height or 12
  local x0, x1, y0, y1 = M.bounds(series)
  if not x0 then return "(no data points to plot)\n" end
  local ylabels = { [1] = label(y1), [rows] = label(y0) }
  if rows >= 5 then ylabels[floor((rows + 1) / 2)] = label((y0 + y1) / 2) end
  local lw = 0
  for _, l in pairs(ylabels) do lw = math.max(lw, #l) end
  -- the plot area: what the labels and the axis leave of the width (never under 10 cells)
  local cols = math.max(10, total - lw - 2)
  total = lw + 2 + cols
  local W, H = cols * 2, rows * 4
  local g = o.ascii and GLYPHS.ascii or GLYPHS.utf8
  local bits, color, upper, lower = {}, {}, {}, {}
  for r = 1, rows do
    bits[r], color[r], upper[r], lower[r] = {}, {}, {}, {}
    for c = 1, cols do bits[r][c] = 0 end
  end
  local function dot(px, py, k)
    if px < 0 or px >= W or py < 0 or py >= H then return end
    local c, r = floor(px / 2) + 1, floor(py / 4) + 1
    bits[r][c] = bor(bits[r][c], BITS[px % 2][py % 4])
    if py % 4 < 2 then upper[r][c] = true else lower[r][c] = true end
    color[r][c] = k
  end
  local function cell(r, c)
    if bits[r][c] == 0 then return " " end
    if o.ascii then return ascii_cell(upper[r][c], lower[r][c]) end
    return braille(bits[r][c])
  end
  local function map(p)
    return floor((p[1] - x0) / (x1 - x0) * (W - 1) + 0.5), (H - 1) - floor((p[2] - y0) / (y1 - y0) * (H - 1) + 0.5)
  end
  for k, s in ipairs(series) do
    local prev
    for _, p in ipairs(s.points) do
      local px, py = map(p)
      if prev then -- Bresenham from prev to here
        local ax, ay = prev[1], prev[2]
        local dx, dy = math.abs(px - ax), -math.abs(py - ay)
        local sx, sy = ax < px and 1 or -1, ay < py and 1 or -1
        local err = dx + dy
        while true do
          dot(ax, ay, k)
          if ax == px and ay == py then break end
          local e2 = 2 * err
          if e2 >= dy then err, ax = err + dy, ax + sx end
          if e2 <= dx then err, ay = err + dx, ay + sy end
        end
      else
        dot(px, py, k)
      end
      prev = { px, py }
    end
  end

  local out = {}
  if o.title then out[#out + 1] = string.rep(" ", lw + 2) .. fit(o.title, cols) end
  for r = 1, rows do
    local line = { format("%" .. lw .. "s %s", ylabels[r] or "", g.tick) }
    local current
    for c = 1, cols do
      local k = bits[r][c] > 0 and color[r][c] or nil
      if o.color and k ~= current then
        line[#line + 1] = k and format("\27[%dm", M.COLORS[(k - 1) % #M.COLORS + 1]) or "\27[0m"
        current = k
      end
      line[#line + 1] = cell(r, c)
    end
    if o.color and current then line[#line + 1] = "\27[0m" end
    out[#out + 1] = (concat(line):gsub("%s+$", ""))
  end
  out[#out + 1] = string.rep(" ", lw + 1) .. g.corner .. string.rep(g.rule, cols)
  -- x labels under both ends of the axis, the axis name centred between them when it fits
  local left, right = label(x0), label(x1)
  local gap = cols - #left - #right
  local middle = string.rep(" ", math.max(1, gap))
  local name = o.x_label or ""
  if name ~= "" and gap >= #name + 2 then
    local before = floor((gap - #name) / 2)
    middle = string.rep(" ", before) .. name .. string.rep(" ", gap - before - #name)
  end
  out[#out + 1] = string.rep(" ", lw + 2) .. left .. middle .. right
  local legend = {}
  for k, s in ipairs(series) do
    local mark = g.rule .. g.rule
    if o.color then mark = format("\27[%dm%s\27[0m", M.COLORS[(k - 1) % #M.COLORS + 1], mark) end
    legend[#legend + 1] = mark .. " " .. fit(s.name .. format(" (%d points)", #s.points), cols - 3)
  end
  local one_line = string.rep(" ", lw + 2) .. concat(legend, "   ")
  if width(one_line) <= total then
    out[#out + 1] = one_line
  else
    for _, item in ipairs(legend) do out[#out + 1] = string.rep(" ", lw + 2) .. item end
  end
  return concat(out, "\n") .. "\n"
end

return M
