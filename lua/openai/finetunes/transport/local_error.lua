-- openai.finetunes.transport.local_error: the error of a failure on this
-- machine (a missing directory, no permission, a full disk, a directory where
-- a file should be), the same shape as the C core's (src/errors.h,
-- oft_error_push_local): kind "io", "cannot <verb> <path>: <OS message>", and
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
