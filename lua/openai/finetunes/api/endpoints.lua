-- The 25 API operations (api-contract.md §2) as data. client.lua makes one
-- method per row; nothing else in the module knows a path.
--
--   name       client method name
--   op         OpenAPI operationId (parity specs and docs use it)
--   method     HTTP method
--   path       template; {x} is a path parameter, escaped with core.escape
--   params     path parameter names, in argument order (they name the
--              argument in misuse messages: "id must be a non-empty string")
--   query      true: the argument after the path params is the query table
--   body       "json" | "multipart": the argument after the path params is the payload
--   result     "json" (decoded table, the default) | "raw" (the bytes) | "file" (streamed to a path)
--   accept     Accept header (default application/json)
--   list       "cursor" (next after = last item id) | "last_id" (next after = body last_id)
--              | "single" (one page): for pagination helpers
local endpoints = {
  -- Files
  { name = "files", op = "listFiles", method = "GET", path = "/files", query = true, list = "cursor" },
  { name = "upload_file", op = "createFile", method = "POST", path = "/files", body = "multipart" },
  { name = "file", op = "retrieveFile", method = "GET", path = "/files/{id}", params = { "id" } },
  { name = "delete_file", op = "deleteFile", method = "DELETE", path = "/files/{id}", params = { "id" } },
  { name = "file_content", op = "downloadFile", method = "GET", path = "/files/{id}/content",
    params = { "id" }, result = "raw", accept = "application/binary" },
  { name = "download_file", op = "downloadFile", method = "GET", path = "/files/{id}/content",
    params = { "id" }, result = "file", accept = "application/binary" },

  -- Uploads
  { name = "create_upload", op = "createUpload", method = "POST", path = "/uploads", body = "json" },
  { name = "add_upload_part", op = "addUploadPart", method = "POST", path = "/uploads/{upload_id}/parts",
    params = { "upload_id" }, body = "multipart" },
  { name = "complete_upload", op = "completeUpload", method = "POST", path = "/uploads/{upload_id}/complete",
    params = { "upload_id" }, body = "json" },
  { name = "cancel_upload", op = "cancelUpload", method = "POST", path = "/uploads/{upload_id}/cancel",
    params = { "upload_id" } },

  -- Fine-tuning jobs
  { name = "jobs", op = "listPaginatedFineTuningJobs", method = "GET", path = "/fine_tuning/jobs",
    query = true, list = "cursor" },
  { name = "create_job", op = "createFineTuningJob", method = "POST", path = "/fine_tuning/jobs", body = "json" },
  { name = "job", op = "retrieveFineTuningJob", method = "GET", path = "/fine_tuning/jobs/{id}", params = { "id" } },
  { name = "cancel_job", op = "cancelFineTuningJob", method = "POST", path = "/fine_tuning/jobs/{id}/cancel",
    params = { "id" } },
  { name = "pause_job", op = "pauseFineTuningJob", method = "POST", path = "/fine_tuning/jobs/{id}/pause",
    params = { "id" } },
  { name = "resume_job", op = "resumeFineTuningJob", method = "POST", path = "/fine_tuning/jobs/{id}/resume",
    params = { "id" } },
  { name = "job_events", op = "listFineTuningEvents", method = "GET", path = "/fine_tuning/jobs/{id}/events",
    params = { "id" }, query = true, list = "cursor" },
  { name = "job_checkpoints", op = "listFineTuningJobCheckpoints", method = "GET",
    path = "/fine_tuning/jobs/{id}/checkpoints", params = { "id" }, query = true, list = "cursor" },

  -- Checkpoint permissions
  { name = "checkpoint_permissions", op = "listFineTuningCheckpointPermissions", method = "GET",
    path = "/fine_tuning/checkpoints/{checkpoint}/permissions", params = { "checkpoint" }, query = true,
    list = "last_id" },
  { name = "create_checkpoint_permissions", op = "createFineTuningCheckpointPermission", method = "POST",
    path = "/fine_tuning/checkpoints/{checkpoint}/permissions", params = { "checkpoint" }, body = "json",
    list = "single" },
  { name = "delete_checkpoint_permission", op = "deleteFineTuningCheckpointPermission", method = "DELETE",
    path = "/fine_tuning/checkpoints/{checkpoint}/permissions/{permission_id}",
    params = { "checkpoint", "permission_id" } },

  -- Graders (alpha)
  { name = "run_grader", op = "runGrader", method = "POST", path = "/fine_tuning/alpha/graders/run", body = "json" },
  { name = "validate_grader", op = "validateGrader", method = "POST", path = "/fine_tuning/alpha/graders/validate",
    body = "json" },

  -- Models
  { name = "models", op = "listModels", method = "GET", path = "/models", list = "single" },
  { name = "model", op = "retrieveModel", method = "GET", path = "/models/{id}", params = { "id" } },
  { name = "delete_model", op = "deleteModel", method = "DELETE", path = "/models/{id}", params = { "id" } },
}

for _, row in ipairs(endpoints) do
  row.params = row.params or {}
  row.result = row.result or "json"
  row.accept = row.accept or "application/json"
  endpoints[row.name] = row
end

return endpoints
