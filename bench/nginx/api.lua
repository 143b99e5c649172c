-- Content handlers of the bench server (nginx + lua-nginx-module).
-- luacheck: std +ngx_lua
--
-- Canned answers shaped like the real API, built once at start so the server
-- does next to no work per request: the bench measures the clients, not nginx.
-- The one handler that must do real work is the upload sink: it reads every
-- byte of the body before it answers, or an upload would look free.
local ngx = ngx
local concat, format = table.concat, string.format

local M = {}

local JOBS = 10000          -- size of the paged job list (case 4)
local MAX_LIMIT = 100       -- the API's page size cap
local CHUNK = 1024 * 1024   -- upload sink read size

local CREATED = 1721764800

local function job_json(id, n)
  -- A succeeded supervised job as the API returns it (~1 KB).
  return format([[{"object":"fine_tuning.job","id":"%s","model":"gpt-4o-mini-2024-07-18",]]
    .. [["created_at":%d,"finished_at":%d,"fine_tuned_model":"ft:gpt-4o-mini-2024-07-18:org-bench::%s",]]
    .. [["organization_id":"org-bench","result_files":["file-result%05d"],"status":"succeeded",]]
    .. [["validation_file":null,"training_file":"file-train%05d","hyperparameters":{"n_epochs":3,]]
    .. [["batch_size":4,"learning_rate_multiplier":1.8},"trained_tokens":1245312,"error":null,]]
    .. [["user_provided_suffix":null,"seed":1234567890,"estimated_finish":null,"integrations":[],]]
    .. [["method":{"type":"supervised","supervised":{"hyperparameters":{"batch_size":4,]]
    .. [["learning_rate_multiplier":1.8,"n_epochs":3}}},"metadata":{"team":"bench","run":"%d"},]]
    .. [["shared_with_openai":false,"usage_metrics":null}]],
    id, CREATED + n, CREATED + n + 3600, id:sub(7), n, n, n)
end

-- The paged list, newest first: ftjob-bench09999 … ftjob-bench00000.
local list_json, list_index

function M.init()
  list_json, list_index = {}, {}
  for i = 1, JOBS do
    local n = JOBS - i
    local id = format("ftjob-bench%05d", n)
    list_json[i], list_index[id] = job_json(id, n), i
  end
end

local function json(status, body)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.header["x-request-id"] = "req_" .. ngx.var.request_id
  ngx.header["openai-processing-ms"] = "1"
  ngx.header["Content-Length"] = #body
  ngx.print(body)
end

local function api_error(status, message, type_, code)
  json(status, format([[{"error":{"message":"%s","type":"%s","param":null,"code":%s}}]],
    message, type_, code and ('"' .. code .. '"') or "null"))
end

function M.not_found()
  api_error(404, "Invalid URL (" .. ngx.var.request_method .. " " .. ngx.var.uri .. ")",
    "invalid_request_error")
end

function M.job(id)
  if ngx.var.request_method ~= "GET" then return M.not_found() end
  json(200, job_json(id, list_index[id] and (JOBS - list_index[id]) or 42))
end

function M.slow_job(id)
  ngx.sleep(0.05)
  return M.job(id)
end

function M.jobs()
  if ngx.var.request_method ~= "GET" then return M.not_found() end
  local args = ngx.req.get_uri_args()
  local limit = tonumber(args.limit) or 20
  if limit < 1 or limit > MAX_LIMIT then
    return api_error(400, "limit must be between 1 and 100", "invalid_request_error", "invalid_limit")
  end
  local first = 1
  if args.after then
    local at = list_index[args.after]
    if not at then
      return api_error(404, "No fine-tuning job found with id " .. tostring(args.after),
        "invalid_request_error", "not_found")
    end
    first = at + 1
  end
  local last = math.min(first + limit - 1, JOBS)
  local has_more = last < JOBS
  json(200, '{"object":"list","data":[' .. concat(list_json, ",", first, last)
    .. '],"has_more":' .. tostring(has_more) .. '}')
end

local function file_json(id, bytes, filename, purpose)
  return format([[{"object":"file","id":"%s","purpose":"%s","filename":"%s","bytes":%d,]]
    .. [["created_at":%d,"expires_at":null,"status":"processed","status_details":null}]],
    id, purpose, filename, bytes, CREATED)
end

function M.file(id)
  if ngx.var.request_method ~= "GET" then return M.not_found() end
  json(200, file_json(id, 536870912, "train.jsonl", "fine-tune"))
end

-- The upload sink: POST /v1/files with a multipart body. Reads the body to its
-- last byte through the request socket (no temp file, no buffering), counting.
local function read_body()
  local length = tonumber(ngx.var.http_content_length)
  if not length then
    -- A chunked body: let nginx de-chunk it (into its temp file) and count it.
    ngx.req.read_body()
    local data = ngx.req.get_body_data()
    if data then return #data, data:sub(1, 4096) end
    local path = ngx.req.get_body_file()
    if not path then return 0, "" end
    local f = assert(io.open(path, "rb"))
    local head = f:read(4096) or ""
    local size = f:seek("end")
    f:close()
    return size, head
  end
  local sock, err = ngx.req.socket()
  if not sock then return nil, err end
  sock:settimeout(60000)
  local left, head = length, nil
  while left > 0 do
    local data, rerr = sock:receiveany(left < CHUNK and left or CHUNK)
    if not data then return nil, rerr end
    head = head or data
    left = left - #data
  end
  return length, head
end

function M.files()
  local method = ngx.var.request_method
  if method == "GET" then
    return json(200, '{"object":"list","data":[' .. file_json("file-bench", 536870912,
      "train.jsonl", "fine-tune") .. '],"first_id":"file-bench","last_id":"file-bench","has_more":false}')
  end
  if method ~= "POST" then return M.not_found() end
  local bytes, head = read_body()
  if not bytes then
    ngx.log(ngx.ERR, "upload sink: ", head)
    return ngx.exit(400)
  end
  ngx.shared.bench:incr("uploaded", bytes, 0)
  local filename = head:match('filename="([^"]*)"') or "upload"
  local purpose = head:match('name="purpose"\r\n\r\n([^\r]*)') or "fine-tune"
  ngx.header["x-body-bytes"] = bytes
  json(200, file_json(format("file-upload%d", ngx.now() * 1000), bytes, filename, purpose))
end

function M.uploaded()
  ngx.header["Content-Type"] = "text/plain"
  ngx.print(ngx.shared.bench:get("uploaded") or 0)
end

return M
