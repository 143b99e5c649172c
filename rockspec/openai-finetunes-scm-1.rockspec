-- The library: `make install-rock` installs it and the command (rockspec/openai-finetunes-cli-scm-1.rockspec);
-- `luarocks make rockspec/openai-finetunes-scm-1.rockspec` from a copy of the repository root installs it alone.
rockspec_format = "3.0"
package = "openai-finetunes"
version = "scm-1"

source = {
  -- where the lead publishes the repository; `luarocks make` builds the local tree
  url = "git+https://github.com/openai-finetunes/openai-finetunes-lua.git",
}

description = {
  summary = "The OpenAI fine-tuning workflow from Lua, over a C core on libcurl",
  detailed = [[
Upload training data, start and follow fine-tuning jobs, read their events,
checkpoints and metrics, and manage the resulting models, from Lua 5.1-5.4,
LuaJIT and OpenResty (where it uses nginx cosockets instead of libcurl).
The `openai-ft` command and the offline fake OpenAI server are the
openai-finetunes-cli rock.
]],
  labels = { "openai", "fine-tuning", "http", "curl", "openresty" },
  license = "MIT", -- see LICENSE
}

-- The library needs nothing but Lua and libcurl (LuaSocket, when present, is only a
-- fallback clock for transports without one). What the command and the fake server need
-- is declared in rockspec/openai-finetunes-cli-scm-1.rockspec.
dependencies = {
  "lua >= 5.1, < 5.5",
}

-- The library only: luarocks then looks for libcurl.so in <prefix>/lib and <prefix>/lib/<multiarch>
-- and finds it on Debian, whereas a `header` check would look in <prefix>/include alone and miss
-- Debian's /usr/include/x86_64-linux-gnu/curl/curl.h, which the compiler finds by itself.
external_dependencies = {
  CURL = { library = "curl" },
}

build = {
  type = "builtin",
  modules = {
      -- BEGIN GENERATED MODULES (tools/rockspec-sync.lua; do not edit by hand)
      ["openai.finetunes"] = "lua/openai/finetunes.lua",
      ["openai.finetunes.api.endpoints"] = "lua/openai/finetunes/api/endpoints.lua",
      ["openai.finetunes.api.payloads"] = "lua/openai/finetunes/api/payloads.lua",
      ["openai.finetunes.api.provider"] = "lua/openai/finetunes/api/provider.lua",
      ["openai.finetunes.api.validate"] = "lua/openai/finetunes/api/validate.lua",
      ["openai.finetunes.api.validate.check"] = "lua/openai/finetunes/api/validate/check.lua",
      ["openai.finetunes.api.validate.graders"] = "lua/openai/finetunes/api/validate/graders.lua",
      ["openai.finetunes.call.batch"] = "lua/openai/finetunes/call/batch.lua",
      ["openai.finetunes.call.cache"] = "lua/openai/finetunes/call/cache.lua",
      ["openai.finetunes.call.circuit_breaker"] = "lua/openai/finetunes/call/circuit_breaker.lua",
      ["openai.finetunes.call.clock"] = "lua/openai/finetunes/call/clock.lua",
      ["openai.finetunes.call.lifecycle"] = "lua/openai/finetunes/call/lifecycle.lua",
      ["openai.finetunes.call.retry"] = "lua/openai/finetunes/call/retry.lua",
      ["openai.finetunes.call.retry_after"] = "lua/openai/finetunes/call/retry_after.lua",
      ["openai.finetunes.call.scheduler"] = "lua/openai/finetunes/call/scheduler.lua",
      ["openai.finetunes.client"] = "lua/openai/finetunes/client.lua",
      ["openai.finetunes.config"] = "lua/openai/finetunes/config.lua",
      ["openai.finetunes.errors"] = "lua/openai/finetunes/errors.lua",
      ["openai.finetunes.misuse"] = "lua/openai/finetunes/misuse.lua",
      ["openai.finetunes.transport.credential"] = "lua/openai/finetunes/transport/credential.lua",
      ["openai.finetunes.transport.curl"] = "lua/openai/finetunes/transport/curl.lua",
      ["openai.finetunes.transport.exchange"] = "lua/openai/finetunes/transport/exchange.lua",
      ["openai.finetunes.transport.http1"] = "lua/openai/finetunes/transport/http1.lua",
      ["openai.finetunes.transport.multipart"] = "lua/openai/finetunes/transport/multipart.lua",
      ["openai.finetunes.transport.ngx"] = "lua/openai/finetunes/transport/ngx.lua",
      ["openai.finetunes.transport.proxy"] = "lua/openai/finetunes/transport/proxy.lua",
      ["openai.finetunes.transport.token_auth"] = "lua/openai/finetunes/transport/token_auth.lua",
      ["openai.finetunes.workflow.large_upload"] = "lua/openai/finetunes/workflow/large_upload.lua",
      ["openai.finetunes.workflow.metrics"] = "lua/openai/finetunes/workflow/metrics.lua",
      ["openai.finetunes.workflow.paginate"] = "lua/openai/finetunes/workflow/paginate.lua",
      ["openai.finetunes.workflow.report"] = "lua/openai/finetunes/workflow/report.lua",
      ["openai.finetunes.workflow.run"] = "lua/openai/finetunes/workflow/run.lua",
      ["openai.finetunes.workflow.state"] = "lua/openai/finetunes/workflow/state.lua",
      ["openai.finetunes.workflow.sweep"] = "lua/openai/finetunes/workflow/sweep.lua",
      ["openai.finetunes.workflow.training_data"] = "lua/openai/finetunes/workflow/training_data.lua",
      ["openai.finetunes.workflow.wait"] = "lua/openai/finetunes/workflow/wait.lua",
      ["openai.finetunes.workflow.webhook_receiver"] = "lua/openai/finetunes/workflow/webhook_receiver.lua",
      ["openai.finetunes.workflow.webhooks"] = "lua/openai/finetunes/workflow/webhooks.lua",
      ["openai.finetunes.codec"] = {
        sources = {
          "src/compat.c",
          "src/util.c",
          "src/exchange/bytes.c",
          "src/exchange/credential.c",
          "src/exchange/file_source.c",
          "src/exchange/headers.c",
          "src/exchange/outcome_lua.c",
          "src/exchange/request.c",
          "src/exchange/response.c",
          "src/exchange/sink.c",
          "src/exchange/timer.c",
          "src/codec/base64.c",
          "src/codec/base64_lua.c",
          "src/codec/codec.c",
          "src/codec/constant_time.c",
          "src/codec/credential_lua.c",
          "src/codec/exchange_lua.c",
          "src/codec/hash_lua.c",
          "src/codec/hmac.c",
          "src/codec/hmac_lua.c",
          "src/codec/json_lua.c",
          "src/codec/json_parse.c",
          "src/codec/jsonl_lua.c",
          "src/codec/jsonl_stream.c",
          "src/codec/jsonl_validate.c",
          "src/codec/md5.c",
          "src/codec/request_lua.c",
          "src/codec/sha256.c",
          "src/codec/upload_part_lua.c",
          "src/codec/url.c",
        },
        defines = { "_POSIX_C_SOURCE=200809L" },
        incdirs = { "src" },
      },
      ["openai.finetunes.core"] = {
        sources = {
          "src/compat.c",
          "src/util.c",
          "src/exchange/bytes.c",
          "src/exchange/credential.c",
          "src/exchange/file_source.c",
          "src/exchange/headers.c",
          "src/exchange/outcome_lua.c",
          "src/exchange/request.c",
          "src/exchange/response.c",
          "src/exchange/sink.c",
          "src/exchange/timer.c",
          "src/core/args.c",
          "src/core/client.c",
          "src/core/clock.c",
          "src/core/core.c",
          "src/core/errors.c",
          "src/core/libcurl.c",
          "src/core/mime.c",
          "src/core/transfer.c",
        },
        defines = { "_POSIX_C_SOURCE=200809L" },
        incdirs = { "src", "$(CURL_INCDIR)" },
        libdirs = { "$(CURL_LIBDIR)" },
        libraries = { "curl" },
      },
      -- END GENERATED MODULES
  },
  copy_directories = { "examples" },
}

test_dependencies = {
  "busted",
}

test = {
  type = "busted",
}
