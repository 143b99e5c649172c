-- Shared code must run on every Lua from 5.1 to 5.4: check against their intersection.
std = "min"
max_line_length = 120
codes = true
exclude_files = { "build/", "bench/node_modules/", ".luarocks/", "lua_modules/" }

files["spec"] = { std = "+busted" }
files["lua/openai/finetunes/transport/ngx.lua"] = { std = "+ngx_lua" }
files["examples/openresty"] = { std = "+ngx_lua" }
