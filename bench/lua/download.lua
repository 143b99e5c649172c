-- Case 3: download a file's content to disk (streamed by the C core).
-- lua download.lua BASE_URL FILE_ID OUT
local b = require("bench_client")

local base, id, out = arg[1], arg[2], arg[3]
local res = assert(b.client(base):download_file(id, out))
local f = assert(io.open(out, "rb"))
local size = f:seek("end")
f:close()
assert(res, "no result")
b.done(size)
