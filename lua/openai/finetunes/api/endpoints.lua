-- The API operations as data, one row each: everything the module knows
-- about an operation is on its row. client.lua makes one method per row,
-- paginate.lua one iterator per row with `each`, cache.lua reads `cache` and
-- `invalidates`; nothing else in the module knows a path or an operation's name.
-- Adding an operation is one row here (plus its payload check in validate.lua
-- when it has a body). Paths, parameters and query keys are the API
-- reference's: https://platform.openai.com/docs/api-reference/fine-tuning
-- (and /files, /uploads, /models, /graders).
--
--   name       client method name
--   op         OpenAPI operationId (parity specs and docs use it)
--   method     HTTP method
--   path       template; {x} is a path parameter, escaped with codec.escape (src/codec/url.c)
--   params     path parameter names, in argument order (they name the
--              argument in misuse messages: "id must be a non-empty string")
--   query      the query keys the operation takes, in checking order: { key,
--              check, args... } (check(value, key, args...) from
--              validate/check.lua). The argument after the path params is the
--              query table; with validation on, a key outside the list raises
--              naming the known ones, and each given key is checked.
--   body       "json" | "multipart": the argument after the path params is the payload
--   optional_body  true: the JSON payload may be left out (sent as {}), as the SDKs' defaults
--   form       multipart only: payloads.lua's builder, (payload, check) -> multipart, size
--   check      with validation on: the payload check (validate.lua), (payload [, size])
--   result     "json" (decoded table, the default) | "raw" (the bytes) | "file" (streamed to a path)
--   accept     Accept header (default application/json)
--   list       the answer is a list page: "cursor" (next after = last item id) |
--              "last_id" (next after = body last_id) | "single" (one page)
--   each       the name of the iterator over every page (paginate.lua)
--   cache      a read the response cache may store, and the family it belongs to
--   invalidates a write: the family whose lists (and the object its path names)
--              the response cache drops
local check = require("openai.finetunes.api.validate.check")
local validate = require("openai.finetunes.api.validate")
local payloads = require("openai.finetunes.api.payloads")

local AFTER = { "after", check.string, 1 }
local LIMIT = { "limit", check.integer, 1 }

local endpoints = {
  -- Files
  { name = "files", op = "listFiles", method = "GET", path = "/files", list = "cursor", each = "each_file",
    cache = "files",
    query = { AFTER, { "limit", check.integer, 1, 10000 }, { "purpose", check.string },
      { "order", check.enum, { "asc", "desc" } } } },
  { name = "upload_file", op = "createFile", method = "POST", path = "/files", body = "multipart",
    form = payloads.upload_file, check = validate.upload_file, invalidates = "files" },
  { name = "file", op = "retrieveFile", method = "GET", path = "/files/{id}", params = { "id" }, cache = "files" },
  { name = "delete_file", op = "deleteFile", method = "DELETE", path = "/files/{id}", params = { "id" },
    invalidates = "files" },
  { name = "file_content", op = "downloadFile", method = "GET", path = "/files/{id}/content",
    params = { "id" }, result = "raw", accept = "application/binary" },
  { name = "download_file", op = "downloadFile", method = "GET", path = "/files/{id}/content",
    params = { "id" }, result = "file", accept = "application/binary" },

  -- Uploads
  { name = "create_upload", op = "createUpload", method = "POST", path = "/uploads", body = "json",
    check = validate.create_upload, invalidates = "files" },
  { name = "add_upload_part", op = "addUploadPart", method = "POST", path = "/uploads/{upload_id}/parts",
    params = { "upload_id" }, body = "multipart", form = payloads.upload_part, check = validate.add_upload_part,
    invalidates = "files" },
  { name = "complete_upload", op = "completeUpload", method = "POST", path = "/uploads/{upload_id}/complete",
    params = { "upload_id" }, body = "json", check = validate.complete_upload, invalidates = "files" },
  { name = "cancel_upload", op = "cancelUpload", method = "POST", path = "/uploads/{upload_id}/cancel",
    params = { "upload_id" }, invalidates = "files" },

  -- Fine-tuning jobs
  { name = "jobs", op = "listPaginatedFineTuningJobs", method = "GET", path = "/fine_tuning/jobs",
    list = "cursor", each = "each_job", query = { AFTER, LIMIT, { "metadata", check.metadata } } },
  { name = "create_job", op = "createFineTuningJob", method = "POST", path = "/fine_tuning/jobs", body = "json",
    check = validate.create_job },
  { name = "job", op = "retrieveFineTuningJob", method = "GET", path = "/fine_tuning/jobs/{id}", params = { "id" } },
  { name = "cancel_job", op = "cancelFineTuningJob", method = "POST", path = "/fine_tuning/jobs/{id}/cancel",
    params = { "id" } },
  { name = "pause_job", op = "pauseFineTuningJob", method = "POST", path = "/fine_tuning/jobs/{id}/pause",
    params = { "id" } },
  { name = "resume_job", op = "resumeFineTuningJob", method = "POST", path = "/fine_tuning/jobs/{id}/resume",
    params = { "id" } },
  { name = "job_events", op = "listFineTuningEvents", method = "GET", path = "/fine_tuning/jobs/{id}/events",
    params = { "id" }, list = "cursor", each = "each_event", query = { AFTER, LIMIT } },
  { name = "job_checkpoints", op = "listFineTuningJobCheckpoints", method = "GET",
    path = "/fine_tuning/jobs/{id}/checkpoints", params = { "id" }, list = "cursor", each = "each_checkpoint",
    query = { AFTER, LIMIT } },

  -- Checkpoint permissions
  { name = "checkpoint_permissions", op = "listFineTuningCheckpointPermissions", method = "GET",
    path = "/fine_tuning/checkpoints/{checkpoint}/permissions", params = { "checkpoint" },
    list = "last_id", each = "each_checkpoint_permission",
    query = { AFTER, LIMIT, { "project_id", check.string, 1 },
      { "order", check.enum, { "ascending", "descending" } } } },
  { name = "create_checkpoint_permissions", op = "createFineTuningCheckpointPermission", method = "POST",
    path = "/fine_tuning/checkpoints/{checkpoint}/permissions", params = { "checkpoint" }, body = "json",
    check = validate.create_checkpoint_permissions, list = "single" },
  { name = "delete_checkpoint_permission", op = "deleteFineTuningCheckpointPermission", method = "DELETE",
    path = "/fine_tuning/checkpoints/{checkpoint}/permissions/{permission_id}",
    params = { "checkpoint", "permission_id" } },

  -- Graders (alpha)
  { name = "run_grader", op = "runGrader", method = "POST", path = "/fine_tuning/alpha/graders/run", body = "json",
    check = validate.run_grader },
  { name = "validate_grader", op = "validateGrader", method = "POST", path = "/fine_tuning/alpha/graders/validate",
    body = "json", check = validate.validate_grader },

  -- Models
  { name = "models", op = "listModels", method = "GET", path = "/models", list = "single", cache = "models" },
  { name = "model", op = "retrieveModel", method = "GET", path = "/models/{id}", params = { "id" }, cache = "models" },
  { name = "delete_model", op = "deleteModel", method = "DELETE", path = "/models/{id}", params = { "id" },
    invalidates = "models" },

  -- Webhook endpoints: not in the official OpenAPI spec (github.com/openai/openai-openapi,
  -- openapi.yaml); paths and shapes are openai-node 7.59's
  -- resources/webhooks (webhooks.ts, event-types.ts). The signing secret comes back
  -- only from create and rotate_secret (WebhookEndpointWithSecret.signing_secret).
  { name = "webhook_endpoints", op = "listWebhookEndpoints", method = "GET", path = "/webhook_endpoints",
    list = "cursor", each = "each_webhook_endpoint", query = { AFTER, { "limit", check.integer, 1, 100 } } },
  { name = "create_webhook_endpoint", op = "createWebhookEndpoint", method = "POST", path = "/webhook_endpoints",
    body = "json", check = validate.create_webhook_endpoint },
  { name = "webhook_endpoint", op = "retrieveWebhookEndpoint", method = "GET",
    path = "/webhook_endpoints/{id}", params = { "id" } },
  { name = "update_webhook_endpoint", op = "updateWebhookEndpoint", method = "POST",
    path = "/webhook_endpoints/{id}", params = { "id" }, body = "json", optional_body = true,
    check = validate.update_webhook_endpoint },
  { name = "delete_webhook_endpoint", op = "deleteWebhookEndpoint", method = "DELETE",
    path = "/webhook_endpoints/{id}", params = { "id" } },
  { name = "rotate_webhook_secret", op = "rotateWebhookEndpointSecret", method = "POST",
    path = "/webhook_endpoints/{id}/rotate_secret", params = { "id" }, body = "json", optional_body = true,
    check = validate.rotate_webhook_secret },
  { name = "test_webhook_endpoint", op = "testWebhookEndpoint", method = "POST",
    path = "/webhook_endpoints/{id}/test", params = { "id" }, body = "json", check = validate.test_webhook_endpoint },
  { name = "webhook_event_types", op = "listWebhookEventTypes", method = "GET", path = "/webhook_event_types",
    list = "single" },
}

for _, row in ipairs(endpoints) do
  row.params = row.params or {}
  row.result = row.result or "json"
  row.accept = row.accept or "application/json"
  if row.query then
    -- the set of keys, and how a misuse message lists them
    local keys, names = {}, {}
    for i, rule in ipairs(row.query) do
      keys[rule[1]] = rule
      names[i] = rule[1]
    end
    table.sort(names)
    row.query_keys, row.query_names = keys, table.concat(names, ", ")
  end
  endpoints[row.name] = row
end

return endpoints
