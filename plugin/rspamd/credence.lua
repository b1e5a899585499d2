--[[
credence for rspamd 3.4: asks the credence companion service (`credence serve`) to evaluate
DKIM, SPF and DMARC for each message, inserts credence's symbols with their weights and adds
credence's Authentication-Results header through the milter reply. Install as
$LOCAL_CONFDIR/plugins.d/credence.lua; configure in $LOCAL_CONFDIR/local.d/credence.conf.
docs/rspamd.md has the whole setup.

The request is asynchronous (rspamd_tcp, never blocking the worker): one connection per
message, a header line with the envelope and the message length, then the message; the answer
is "<length>\n<json>\n" (docs/serve.md). When the service cannot be reached, answers late or
answers an error, the message gets CREDENCE_UNAVAILABLE (weight 0) and scanning goes on.

Weights: every credence symbol is registered with score 1.0 in group "credence" and inserted
with the weight the service computed (rspamd multiplies the two), so the service's
configuration (the [score] table of credence.toml) is the one place where weights are set.
--]]

local N = 'credence'

local rspamd_logger = require "rspamd_logger"
local rspamd_tcp = require "rspamd_tcp"
local lua_mime = require "lua_mime"
local ucl = require "ucl"

local settings = {
  -- The service: a Unix socket path, or "HOST:PORT" for TCP.
  socket = '/run/credence/credence.sock',
  timeout = 5.0,          -- seconds for the whole exchange
  add_header = true,      -- add credence's Authentication-Results (milter reply)
  remove_forged = true,   -- remove A-R fields that carry credence's authserv-id
  symbol = 'CREDENCE_CHECK',
  unavailable_symbol = 'CREDENCE_UNAVAILABLE',
  other_symbol = 'CREDENCE_OTHER',  -- a symbol the service knows and this file does not
  group = 'credence',
}

-- Every symbol credence emits (policy/score/symbols.cc), with a description for the UI.
local known_symbols = {
  CREDENCE_ALLOWLIST_IP = 'Client IP is on the credence allowlist',
  CREDENCE_ALLOWLIST_FROM = 'Authenticated From domain is on the credence allowlist',
  CREDENCE_ALLOWLIST_UNAUTH = 'Allowlisted From domain, but not authenticated',
  CREDENCE_DKIM_PASS = 'credence: DKIM signature of the From domain verified',
  CREDENCE_DKIM_PASS_UNALIGNED = 'credence: DKIM signature of another domain verified (no credit)',
  CREDENCE_DKIM_FAIL = 'credence: DKIM signature failed',
  CREDENCE_DKIM_PERMERROR = 'credence: DKIM permanent error',
  CREDENCE_DKIM_TEMPERROR = 'credence: DKIM temporary error',
  CREDENCE_DKIM_NEUTRAL = 'credence: DKIM neutral',
  CREDENCE_DKIM_TESTING = 'credence: DKIM key in testing mode',
  CREDENCE_DKIM_NONE = 'credence: no DKIM signature',
  CREDENCE_SPF_PASS = 'credence: SPF pass for the From domain',
  CREDENCE_SPF_PASS_UNALIGNED = 'credence: SPF pass for another domain (no credit)',
  CREDENCE_SPF_FAIL = 'credence: SPF fail',
  CREDENCE_SPF_SOFTFAIL = 'credence: SPF softfail',
  CREDENCE_SPF_NEUTRAL = 'credence: SPF neutral',
  CREDENCE_SPF_NONE = 'credence: no SPF record',
  CREDENCE_SPF_TEMPERROR = 'credence: SPF temporary error',
  CREDENCE_SPF_PERMERROR = 'credence: SPF permanent error',
  CREDENCE_SPF_FORWARDED = 'credence: SPF failure from a trusted forwarder (neutralised)',
  CREDENCE_DMARC_PASS = 'credence: DMARC pass',
  CREDENCE_DMARC_REJECT = 'credence: DMARC fail, policy reject',
  CREDENCE_DMARC_QUARANTINE = 'credence: DMARC fail, policy quarantine',
  CREDENCE_DMARC_SOFTFAIL = 'credence: DMARC fail, policy none',
  CREDENCE_DMARC_TEMPERROR = 'credence: DMARC temporary error',
  CREDENCE_DMARC_PERMERROR = 'credence: DMARC permanent error',
  CREDENCE_DMARC_NONE = 'credence: no DMARC policy',
  CREDENCE_DMARC_MULTIPLE_FROM = 'credence: several From fields (scored like a DMARC reject)',
  CREDENCE_DMARC_BAD_FROM = 'credence: no usable From field (scored like a DMARC reject)',
  CREDENCE_ARC_PASS = 'credence: ARC chain verified (no credit by itself)',
  CREDENCE_ARC_FAIL = 'credence: ARC chain broken',
  CREDENCE_ARC_DNSFAIL = 'credence: ARC key lookup failed temporarily',
  CREDENCE_ARC_NONE = 'credence: no ARC sets',
  CREDENCE_ARC_TRUSTED = 'credence: DMARC fail overridden by a trusted ARC sealer',
  CREDENCE_LIMIT = 'credence: a limit left part of the message unevaluated',
}

-- Percent-encodes a header-line value: bytes outside VCHAR, and "%" itself.
local function encode_value(s)
  if not s then return '' end
  return (string.gsub(tostring(s), '[^\33-\36\38-\126]', function(c)
    return string.format('%%%02X', string.byte(c))
  end))
end

local function envelope_of(task)
  local ip = task:get_from_ip()
  local ip_str = ''
  if ip and ip:is_valid() then ip_str = ip:to_string() end
  local helo = task:get_helo() or ''
  local from = ''
  local smtp_from = task:get_from('smtp')
  if smtp_from and smtp_from[1] and smtp_from[1].addr then from = smtp_from[1].addr end
  return ip_str, helo, from
end

local function unavailable(task, reason)
  rspamd_logger.infox(task, '%s: service unavailable: %s', N, reason)
  task:insert_result(settings.unavailable_symbol, 1.0, tostring(reason))
end

local function apply_answer(task, obj)
  if type(obj) ~= 'table' then
    return unavailable(task, 'answer is not a JSON object')
  end
  if obj.error then
    return unavailable(task, string.format('%s: %s', tostring(obj.code), tostring(obj.error)))
  end
  for _, s in ipairs(obj.symbols or {}) do
    local name, weight = s.name, tonumber(s.weight) or 0
    local opt = s.description
    if opt == '' then opt = nil end
    if known_symbols[name] then
      task:insert_result(name, weight, opt)
    elseif name then
      task:insert_result(settings.other_symbol, weight, name, opt)
    end
  end
  local add, remove = {}, {}
  -- The folded form (no line over 998 bytes); the one-line form from older services.
  local ar = obj.authentication_results_folded or obj.authentication_results
  if settings.add_header and type(ar) == 'string' then
    local value = ar:gsub('^%s+', '')
    if value ~= '' then
      add['Authentication-Results'] = {value = value, order = 0}
    end
  end
  if settings.remove_forged and type(obj.remove_authentication_results) == 'table'
      and #obj.remove_authentication_results > 0 then
    remove['Authentication-Results'] = obj.remove_authentication_results
  end
  if next(add) or next(remove) then
    -- Sets the milter reply (task:set_milter_reply{add_headers, remove_headers}) and the
    -- task's own view of the headers.
    lua_mime.modify_headers(task, {add = add, remove = remove})
  end
end

local function credence_check(task)
  -- Every message is sent, whatever its size: the service keeps its first
  -- --max-request-bytes and judges it as cut (docs/limits.md), so a large spoof cannot skip
  -- the check the way it could when large messages were not sent at all.
  local content = task:get_content()
  local len = content:len()
  local ip, helo, from = envelope_of(task)
  local line = string.format('CREDENCE/1 VERIFY %d ip=%s helo=%s from=%s id=%s\n', len,
      encode_value(ip), encode_value(helo), encode_value(from), encode_value(task:get_uid()))

  local expected
  local finished = false
  local function finish_with(reason)
    if finished then return end
    finished = true
    unavailable(task, reason)
  end

  local function on_document(err, data)
    if finished then return end
    if err then return finish_with(err) end
    local json = tostring(data)
    if #json ~= expected then
      return finish_with(string.format('bad frame: %d bytes announced, %d read', expected, #json))
    end
    local parser = ucl.parser()
    local ok, perr = parser:parse_string(json)
    if not ok then return finish_with('bad JSON: ' .. tostring(perr)) end
    finished = true
    apply_answer(task, parser:get_object())
  end

  local function on_length(err, data, conn)
    if finished then return end
    if err then return finish_with(err) end
    expected = tonumber(tostring(data))
    if not expected then return finish_with('bad frame: no length line') end
    conn:add_read(on_document, '\n')
  end

  local req = {
    task = task,
    data = {line, content},
    callback = on_length,
    stop_pattern = '\n',
    timeout = settings.timeout,
  }
  local host, port = settings.socket:match('^([^/].*):(%d+)$')
  if host then
    req.host = host:gsub('^%[(.*)%]$', '%1')
    req.port = tonumber(port)
  else
    req.host = settings.socket
  end
  if not rspamd_tcp.request(req) then
    finish_with('cannot connect to ' .. settings.socket)
  end
end

-- Configuration: the `credence { ... }` section (rspamd.conf.local includes local.d/credence.conf).
local opts = rspamd_config:get_all_opt(N)
if not opts then
  rspamd_logger.infox(rspamd_config, '%s: no "credence" section, module disabled', N)
  return
end
for k, v in pairs(opts) do settings[k] = v end
if settings.enabled == false then
  rspamd_logger.infox(rspamd_config, '%s: disabled in configuration', N)
  return
end

local id = rspamd_config:register_symbol({
  name = settings.symbol,
  type = 'callback',
  callback = credence_check,
  group = settings.group,
  flags = 'empty',  -- also scan messages without a body
})
for name, description in pairs(known_symbols) do
  rspamd_config:register_symbol({
    name = name, type = 'virtual', parent = id, score = 1.0,
    group = settings.group, description = description,
  })
end
rspamd_config:register_symbol({
  name = settings.other_symbol, type = 'virtual', parent = id, score = 1.0,
  group = settings.group, description = 'credence: a symbol this plugin does not list',
})
rspamd_config:register_symbol({
  name = settings.unavailable_symbol, type = 'virtual', parent = id, score = 0.0,
  group = settings.group, description = 'credence service unavailable (no verdict)',
})
rspamd_logger.infox(rspamd_config, '%s: enabled, service at %s', N, settings.socket)
