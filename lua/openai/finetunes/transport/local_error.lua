-- openai.finetunes.transport.local_error: the error of an upload file failing
-- on this machine as multipart.lua reads it (missing, unreadable, a directory),
-- the same shape as the C rule's for the sink and the curl transport's uploads
-- (src/exchange/outcome.h, oft_error_push_local): kind "io", "cannot <verb> <path>: <OS message>", and
-- `path` / `os_error`, which tell the retry policy not to send again.
local find, match, tostring = string.find, string.match, tostring

--- (verb, path, message) -> err. `message` is what io.open / file:write /
-- os.rename said; the "<file name>: " they may put first is dropped.
return function(verb, path, message)
  local os_error = tostring(message or "unknown error")
  local named, tail = match(os_error, "^(.-): ([^:]+)$")
  if named and find(named, "/", 1, true) then os_error = tail end
  return { kind = "io", message = "cannot " .. verb .. " " .. path .. ": " .. os_error, path = path,
    os_error = os_error }
end
