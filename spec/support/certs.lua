-- Test certificates made with Debian's openssl, for TLS specs:
--
--   local certs = require("spec.support.certs").make()   -- cached per directory
--   certs.ca                 CA certificate (use as tls.ca_file / nginx ssl_client_certificate)
--   certs.server_cert/_key   signed by the CA, for DNS:localhost only (https://127.0.0.1
--                            fails host-name verification)
--   certs.client_cert/_key   signed by the CA, for ssl_verify_client
--   certs.client_key_encrypted, certs.client_key_password   the same key, AES-encrypted
--   certs.other_ca           a CA that signed nothing here: verification against it fails
--   certs.dir                where they are (removed by certs.cleanup())
--
--   local tls = require("spec.support.certs").self_signed(dir [, name])
--   tls.cert, tls.key        a certificate for DNS:localhost that is its own issuer
--
-- EC keys: generating them takes milliseconds, not the seconds RSA can take.
local util = require("openai.finetunes.fake.util")

local M = {}

local cache = {}
local quote = util.shell_quote

local function sh(cmd)
  local ok, how, code = os.execute(cmd)
  if type(ok) == "number" then return ok == 0 end -- Lua 5.1
  return ok == true and how == "exit" and code == 0
end

local function run(cmd)
  if not sh(cmd .. " >/dev/null 2>&1") then error("openssl failed: " .. cmd, 3) end
end

local function temp_dir()
  local p = os.tmpname()
  os.remove(p)
  assert(util.mkdir_p(p))
  return p
end

local EC = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1"

local function make_ca(dir, name)
  run(("openssl req -x509 %s -nodes -days 2 -subj /CN=%s -keyout %s -out %s"
    .. " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign")
    :format(EC, name, quote(dir .. "/" .. name .. ".key"), quote(dir .. "/" .. name .. ".pem")))
  return dir .. "/" .. name .. ".pem", dir .. "/" .. name .. ".key"
end

-- A key and a certificate for `cn` signed by the CA; `ext` is an extensions line or nil.
local function make_leaf(dir, name, cn, ca, ca_key, ext)
  local key, csr, pem = dir .. "/" .. name .. ".key", dir .. "/" .. name .. ".csr", dir .. "/" .. name .. ".pem"
  run(("openssl req %s -nodes -subj /CN=%s -keyout %s -out %s"):format(EC, cn, quote(key), quote(csr)))
  local extfile = ""
  if ext then
    local f = assert(io.open(dir .. "/" .. name .. ".ext", "w"))
    f:write(ext, "\n")
    f:close()
    extfile = " -extfile " .. quote(dir .. "/" .. name .. ".ext")
  end
  run(("openssl x509 -req -days 2 -in %s -CA %s -CAkey %s -CAcreateserial -out %s%s")
    :format(quote(csr), quote(ca), quote(ca_key), quote(pem), extfile))
  return pem, key
end

function M.self_signed(dir, name)
  local base = dir .. "/" .. (name or "self-signed")
  run(("openssl req -x509 %s -nodes -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost"
    .. " -keyout %s -out %s"):format(EC, quote(base .. ".key"), quote(base .. ".pem")))
  return { cert = base .. ".pem", key = base .. ".key" }
end

function M.make(dir)
  if dir and cache[dir] then return cache[dir] end
  if not dir and cache.default then return cache.default end
  local d = dir or temp_dir()
  local c = { dir = d, client_key_password = "oft-test-passphrase" }
  local ca_key
  c.ca, ca_key = make_ca(d, "ca")
  c.other_ca = make_ca(d, "other-ca")
  c.server_cert, c.server_key = make_leaf(d, "server", "localhost", c.ca, ca_key,
    "subjectAltName=DNS:localhost")
  c.client_cert, c.client_key = make_leaf(d, "client", "oft-test-client", c.ca, ca_key,
    "extendedKeyUsage=clientAuth")
  c.client_key_encrypted = d .. "/client-encrypted.key"
  run(("openssl pkey -in %s -aes256 -passout pass:%s -out %s")
    :format(quote(c.client_key), c.client_key_password, quote(c.client_key_encrypted)))
  cache[dir or "default"] = c
  return c
end

function M.cleanup()
  for k, c in pairs(cache) do
    util.rm_rf(c.dir)
    cache[k] = nil
  end
end

return M
