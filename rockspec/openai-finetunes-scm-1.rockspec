-- luarocks make rockspec/openai-finetunes-scm-1.rockspec   (from the repository root)
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
Includes the `openai-ft` command and an offline fake OpenAI server.
]],
  labels = { "openai", "fine-tuning", "http", "curl", "openresty" },
  license = "MIT", -- see LICENSE
}

dependencies = {
  "lua >= 5.1, < 5.5",
  -- The client needs nothing else. The fake server (`openai-ft fake-server`,
  -- the specs) needs LuaSocket and LuaFileSystem at run time.
  "luasocket",
  "luafilesystem",
}

external_dependencies = {
  CURL = { header = "curl/curl.h", library = "curl" },
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
      ["openai.finetunes.call.retry"] = "lua/openai/finetunes/call/retry.lua",
      ["openai.finetunes.call.retry_after"] = "lua/openai/finetunes/call/retry_after.lua",
      ["openai.finetunes.call.scheduler"] = "lua/openai/finetunes/call/scheduler.lua",
      ["openai.finetunes.cli.args"] = "lua/openai/finetunes/cli/args.lua",
      ["openai.finetunes.cli.context"] = "lua/openai/finetunes/cli/context.lua",
      ["openai.finetunes.cli.fake_server"] = "lua/openai/finetunes/cli/fake_server.lua",
      ["openai.finetunes.cli.files"] = "lua/openai/finetunes/cli/files.lua",
      ["openai.finetunes.cli.follow"] = "lua/openai/finetunes/cli/follow.lua",
      ["openai.finetunes.cli"] = "lua/openai/finetunes/cli/init.lua",
      ["openai.finetunes.cli.jobs"] = "lua/openai/finetunes/cli/jobs.lua",
      ["openai.finetunes.cli.models"] = "lua/openai/finetunes/cli/models.lua",
      ["openai.finetunes.cli.plot"] = "lua/openai/finetunes/cli/plot.lua",
      ["openai.finetunes.cli.progress"] = "lua/openai/finetunes/cli/progress.lua",
      ["openai.finetunes.cli.run"] = "lua/openai/finetunes/cli/run.lua",
      ["openai.finetunes.cli.svg"] = "lua/openai/finetunes/cli/svg.lua",
      ["openai.finetunes.cli.table"] = "lua/openai/finetunes/cli/table.lua",
      ["openai.finetunes.cli.validate"] = "lua/openai/finetunes/cli/validate.lua",
      ["openai.finetunes.client"] = "lua/openai/finetunes/client.lua",
      ["openai.finetunes.config"] = "lua/openai/finetunes/config.lua",
      ["openai.finetunes.errors"] = "lua/openai/finetunes/errors.lua",
      ["openai.finetunes.fake.catalog"] = "lua/openai/finetunes/fake/catalog.lua",
      ["openai.finetunes.fake.check"] = "lua/openai/finetunes/fake/check.lua",
      ["openai.finetunes.fake.clock"] = "lua/openai/finetunes/fake/clock.lua",
      ["openai.finetunes.fake.compat"] = "lua/openai/finetunes/fake/compat.lua",
      ["openai.finetunes.fake.errors"] = "lua/openai/finetunes/fake/errors.lua",
      ["openai.finetunes.fake.faults"] = "lua/openai/finetunes/fake/faults.lua",
      ["openai.finetunes.fake.graders"] = "lua/openai/finetunes/fake/graders.lua",
      ["openai.finetunes.fake.http"] = "lua/openai/finetunes/fake/http.lua",
      ["openai.finetunes.fake"] = "lua/openai/finetunes/fake/init.lua",
      ["openai.finetunes.fake.jobs"] = "lua/openai/finetunes/fake/jobs.lua",
      ["openai.finetunes.fake.json"] = "lua/openai/finetunes/fake/json.lua",
      ["openai.finetunes.fake.loop"] = "lua/openai/finetunes/fake/loop.lua",
      ["openai.finetunes.fake.md5"] = "lua/openai/finetunes/fake/md5.lua",
      ["openai.finetunes.fake.modes.azure"] = "lua/openai/finetunes/fake/modes/azure.lua",
      ["openai.finetunes.fake.modes"] = "lua/openai/finetunes/fake/modes/init.lua",
      ["openai.finetunes.fake.modes.openai"] = "lua/openai/finetunes/fake/modes/openai.lua",
      ["openai.finetunes.fake.multipart"] = "lua/openai/finetunes/fake/multipart.lua",
      ["openai.finetunes.fake.reqlog"] = "lua/openai/finetunes/fake/reqlog.lua",
      ["openai.finetunes.fake.router"] = "lua/openai/finetunes/fake/router.lua",
      ["openai.finetunes.fake.routes.control"] = "lua/openai/finetunes/fake/routes/control.lua",
      ["openai.finetunes.fake.routes.files"] = "lua/openai/finetunes/fake/routes/files.lua",
      ["openai.finetunes.fake.routes.graders"] = "lua/openai/finetunes/fake/routes/graders.lua",
      ["openai.finetunes.fake.routes.jobs"] = "lua/openai/finetunes/fake/routes/jobs.lua",
      ["openai.finetunes.fake.routes.models"] = "lua/openai/finetunes/fake/routes/models.lua",
      ["openai.finetunes.fake.routes.permissions"] = "lua/openai/finetunes/fake/routes/permissions.lua",
      ["openai.finetunes.fake.routes.uploads"] = "lua/openai/finetunes/fake/routes/uploads.lua",
      ["openai.finetunes.fake.routes.webhooks"] = "lua/openai/finetunes/fake/routes/webhooks.lua",
      ["openai.finetunes.fake.server"] = "lua/openai/finetunes/fake/server.lua",
      ["openai.finetunes.fake.store"] = "lua/openai/finetunes/fake/store.lua",
      ["openai.finetunes.fake.training_check"] = "lua/openai/finetunes/fake/training_check.lua",
      ["openai.finetunes.fake.util"] = "lua/openai/finetunes/fake/util.lua",
      ["openai.finetunes.fake.webhooks"] = "lua/openai/finetunes/fake/webhooks.lua",
      ["openai.finetunes.misuse"] = "lua/openai/finetunes/misuse.lua",
      ["openai.finetunes.transport.curl"] = "lua/openai/finetunes/transport/curl.lua",
      ["openai.finetunes.transport.exchange"] = "lua/openai/finetunes/transport/exchange.lua",
      ["openai.finetunes.transport.http1"] = "lua/openai/finetunes/transport/http1.lua",
      ["openai.finetunes.transport.local_error"] = "lua/openai/finetunes/transport/local_error.lua",
      ["openai.finetunes.transport.multipart"] = "lua/openai/finetunes/transport/multipart.lua",
      ["openai.finetunes.transport.ngx"] = "lua/openai/finetunes/transport/ngx.lua",
      ["openai.finetunes.transport.proxy"] = "lua/openai/finetunes/transport/proxy.lua",
      ["openai.finetunes.transport.token_auth"] = "lua/openai/finetunes/transport/token_auth.lua",
      ["openai.finetunes.workflow.large_upload"] = "lua/openai/finetunes/workflow/large_upload.lua",
      ["openai.finetunes.workflow.metrics"] = "lua/openai/finetunes/workflow/metrics.lua",
      ["openai.finetunes.workflow.paginate"] = "lua/openai/finetunes/workflow/paginate.lua",
      ["openai.finetunes.workflow.training_data"] = "lua/openai/finetunes/workflow/training_data.lua",
      ["openai.finetunes.workflow.wait"] = "lua/openai/finetunes/workflow/wait.lua",
      ["openai.finetunes.core"] = {
        sources = {
          "src/args.c",
          "src/auth.c",
          "src/client.c",
          "src/compat.c",
          "src/core.c",
          "src/errors.c",
          "src/headers.c",
          "src/json_lua.c",
          "src/json_parse.c",
          "src/jsonl_lua.c",
          "src/jsonl_stream.c",
          "src/jsonl_validate.c",
          "src/md5.c",
          "src/mime.c",
          "src/transfer.c",
          "src/url.c",
        },
        defines = { "_POSIX_C_SOURCE=200809L" },
        incdirs = { "$(CURL_INCDIR)" },
        libdirs = { "$(CURL_LIBDIR)" },
        libraries = { "curl" },
      },
      -- END GENERATED MODULES
  },
  install = {
    bin = { ["openai-ft"] = "bin/openai-ft" },
  },
  copy_directories = { "examples" },
}

test_dependencies = {
  "busted",
}

test = {
  type = "busted",
}
