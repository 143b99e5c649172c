-- openai-ft: a loss chart as a standalone SVG document (no scripts, no external
-- resources): title, axes with "nice" ticks and grid lines, one polyline per series, a
-- legend. Opens in any browser and embeds in Markdown.
--
--   svg.render({ {name = "train loss", points = {{1, 2.9}, ...}}, ... },
--              {title = "ftjob-abc", x_label = "step", y_label = "loss", width = 800, height = 450})
local plot = require("openai.finetunes.cli.plot")

local M = {}

local format, concat, floor = string.format, table.concat, math.floor
local log10 = rawget(math, "log10") or function(x) return math.log(x, 10) end

M.COLORS = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf" } -- matplotlib's tab10: ten series before a colour repeats

local function esc(s)
  return (tostring(s):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;",
    ["'"] = "&apos;" }))
end
M.escape = esc -- text and attribute values of XML and HTML alike

local function num(v)
  local s = format("%.2f", v):gsub("0+$", ""):gsub("%.$", "")
  return s
end

-- ticks(lo, hi, n) -> a list of round values covering [lo, hi] ("nice numbers").
function M.ticks(lo, hi, n)
  local span = hi - lo
  local raw = span / math.max(1, n)
  local mag = 10 ^ floor(log10(raw))
  local f = raw / mag
  local step = (f <= 1 and 1 or f <= 2 and 2 or f <= 5 and 5 or 10) * mag
  local out = {}
  local v = math.ceil(lo / step - 1e-9) * step
  while v <= hi + step * 1e-9 do
    out[#out + 1] = math.abs(v) < step * 1e-9 and 0 or v
    v = v + step
  end
  return out, step
end

local function tick_label(v, step)
  if step >= 1 and v == floor(v) then return format("%d", v) end
  local decimals = math.max(0, -floor(log10(step)))
  return format("%." .. decimals .. "f", v)
end

function M.render(series, o)
  o = o or {}
  local W, H = o.width or 800, o.height or 450
  -- the title and, under it, the legend sit in the top margin: nothing is drawn over the plot
  local left, right, top, bottom = 70, 24, 68, 56
  local pw, ph = W - left - right, H - top - bottom
  local x0, x1, y0, y1 = plot.bounds(series)
  if not x0 then x0, x1, y0, y1 = 0, 1, 0, 1 end
  if y0 > 0 and y0 < (y1 - y0) then y0 = 0 end -- losses: start the axis at 0 when it is close
  local xt, xstep = M.ticks(x0, x1, 8)
  -- headroom: the highest tick at least 5 % of the range above the highest point, so the
  -- curve never runs along the plot's top edge
  local ytop = y1 + (y1 - y0) * 0.05
  local yt, ystep = M.ticks(y0, ytop, 6)
  if yt[#yt] < ytop then yt[#yt + 1] = yt[#yt] + ystep end
  -- widen the ranges to the outer ticks
  x0, x1 = math.min(x0, xt[1]), math.max(x1, xt[#xt])
  y0, y1 = math.min(y0, yt[1]), math.max(y1, yt[#yt])
  local function sx(x) return left + (x - x0) / (x1 - x0) * pw end
  local function sy(y) return top + ph - (y - y0) / (y1 - y0) * ph end

  local out = {
    '<?xml version="1.0" encoding="UTF-8"?>',
    format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
      .. 'font-family="Helvetica, Arial, sans-serif" font-size="12">', W, H, W, H),
    format("<title>%s</title>", esc(o.title or "loss")),
    format('<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>', W, H),
  }
  if o.title then
    out[#out + 1] = format('<text x="%d" y="28" font-size="16" font-weight="bold">%s</text>', left, esc(o.title))
  end
  -- grid and tick labels
  out[#out + 1] = '<g stroke="#e5e5e5" stroke-width="1">'
  for _, v in ipairs(yt) do
    out[#out + 1] = format('<line x1="%s" y1="%s" x2="%s" y2="%s"/>', num(left), num(sy(v)), num(left + pw), num(sy(v)))
  end
  for _, v in ipairs(xt) do
    out[#out + 1] = format('<line x1="%s" y1="%s" x2="%s" y2="%s"/>', num(sx(v)), num(top), num(sx(v)), num(top + ph))
  end
  out[#out + 1] = "</g>"
  out[#out + 1] = '<g fill="#333333">'
  for _, v in ipairs(yt) do
    out[#out + 1] = format('<text x="%d" y="%s" text-anchor="end" dominant-baseline="middle">%s</text>', left - 8,
      num(sy(v)), esc(tick_label(v, ystep)))
  end
  for _, v in ipairs(xt) do
    out[#out + 1] = format('<text x="%s" y="%d" text-anchor="middle">%s</text>', num(sx(v)), top + ph + 18,
      esc(tick_label(v, xstep)))
  end
  out[#out + 1] = format('<text x="%s" y="%d" text-anchor="middle">%s</text>', num(left + pw / 2), H - 14,
    esc(o.x_label or "step"))
  out[#out + 1] = format('<text x="18" y="%s" text-anchor="middle" transform="rotate(-90 18 %s)">%s</text>',
    num(top + ph / 2), num(top + ph / 2), esc(o.y_label or "loss"))
  out[#out + 1] = "</g>"
  -- axes
  out[#out + 1] = format('<g stroke="#333333" stroke-width="1"><line x1="%d" y1="%d" x2="%d" y2="%d"/>'
    .. '<line x1="%d" y1="%d" x2="%d" y2="%d"/></g>', left, top, left, top + ph, left, top + ph, left + pw, top + ph)
  -- series
  for k, s in ipairs(series) do
    local pts = {}
    for i, p in ipairs(s.points) do pts[i] = num(sx(p[1])) .. "," .. num(sy(p[2])) end
    local c = M.COLORS[(k - 1) % #M.COLORS + 1]
    out[#out + 1] = format('<polyline class="series" data-name="%s" fill="none" stroke="%s" stroke-width="%s" '
      .. 'stroke-linejoin="round" points="%s"/>', esc(s.name), c, k == 1 and "1.5" or "2", concat(pts, " "))
  end
  -- legend: one row between the title and the plot, left to right (about 7 px a character)
  local lx, ly = left, top - 16
  out[#out + 1] = '<g class="legend">'
  for k, s in ipairs(series) do
    local c = M.COLORS[(k - 1) % #M.COLORS + 1]
    out[#out + 1] = format('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>'
      .. '<text x="%d" y="%d" dominant-baseline="middle" fill="#333333">%s</text>', lx, ly, lx + 24, ly, c, lx + 30,
      ly, esc(s.name))
    lx = lx + 30 + #s.name * 7 + 24
  end
  out[#out + 1] = "</g>"
  out[#out + 1] = "</svg>"
  return concat(out, "\n") .. "\n"
end

return M
