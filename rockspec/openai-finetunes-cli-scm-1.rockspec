-- The `openai-ft` command and the offline fake OpenAI server, on top of the library rock
-- (rockspec/openai-finetunes-scm-1.rockspec). `make install-rock` installs both.
rockspec_format = "3.0"
package = "openai-finetunes-cli"
version = "scm-1"

source = {
  -- where the lead publishes the repository; `luarocks make` builds the local tree
  url = "git+https://github.com/openai-finetunes/openai-finetunes-lua.git",
}

description = {
  summary = "openai-ft: the OpenAI fine-tuning workflow from a shell, and an offline fake OpenAI server",
  detailed = [[
The openai-ft command (validate, upload with a progress bar, run a job and
follow it live, plot its loss, manage files and models) and a stateful offline
fake of the fine-tuning API for tests and demos, built on openai-finetunes.
]],
  labels = { "openai", "fine-tuning", "cli" },
  license = "MIT", -- see LICENSE
}

-- The fake server listens with LuaSocket, keeps files with LuaFileSystem and reads
-- JSON with lua-cjson; the command itself needs only the library.
dependencies = {
  "lua >= 5.1, < 5.5",
  "openai-finetunes",
  "luasocket",
  "luafilesystem",
  "lua-cjson",
}

build = {
  type = "builtin",
  modules = {
      -- BEGIN GENERATED MODULES (tools/rockspec-sync.lua; do not edit by hand)
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
      ["openai.finetunes.cli.report_html"] = "lua/openai/finetunes/cli/report_html.lua",
      ["openai.finetunes.cli.run"] = "lua/openai/finetunes/cli/run.lua",
      ["openai.finetunes.cli.svg"] = "lua/openai/finetunes/cli/svg.lua",
      ["openai.finetunes.cli.sweep"] = "lua/openai/finetunes/cli/sweep.lua",
      ["openai.finetunes.cli.table"] = "lua/openai/finetunes/cli/table.lua",
      ["openai.finetunes.cli.validate"] = "lua/openai/finetunes/cli/validate.lua",
      ["openai.finetunes.cli.webhooks"] = "lua/openai/finetunes/cli/webhooks.lua",
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
      -- END GENERATED MODULES
  },
  install = {
    bin = { ["openai-ft"] = "bin/openai-ft" },
  },
}
