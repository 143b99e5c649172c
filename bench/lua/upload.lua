-- Case 2: upload one file (streamed from disk by the C core).
-- lua upload.lua BASE_URL PATH
local b = require("bench_client")

local base, path = arg[1], arg[2]
local file = assert(b.client(base):upload_file{ file = path, purpose = "fine-tune" })
b.done(file.bytes)
