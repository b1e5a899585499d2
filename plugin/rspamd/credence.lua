--[[
credence for rspamd 3.4: asks the credence companion service (`credence serve`) to evaluate
DKIM, SPF and DMARC for each message, inserts credence's symbols with their weights and adds
credence's Authentication-Results header through the milter reply. Install as
$LOCAL_CONFDIR/plugins.d/credence.lua; configure in $LOCAL_CONFDIR/local.d/credence.conf.
docs/rspamd.md has the whole setup.

The request is asynchronous (rspamd_tcp, never blocking the worker): one connection per
message, a header line with the envelope, the message length and how long this module waits
("timeout=", so the service answers before that: DNS that has not answered by then is
temperror), then the message; the answer is "<length>\n<json>\n" (docs/serve.md). When the
service cannot be reached, answers late or answers an error, the message gets
CREDENCE_UNAVAILABLE (weight 0) and scanning goes on.

Timeout: at most rspamd's task_timeout less 1 s (7 s with Debian's 8 s), so the answer comes
before rspamd gives up on the whole task.

Weights: rspamd is the one place rspamd users set them. Every credence symbol is registered
with credence's default weight (default_scores below, the table of docs/scoring.md) and
inserted with multiplier 1.0, so rspamd's score for it (the web UI, local.d/groups.conf,
scores set by a settings rule) is the score, and credence's own [score] weights do not
multiply it.
--]]

local N = 'credence'

local rspamd_logger = require "rspamd_logger"
local rspamd_tcp = require "rspamd_tcp"
local lua_mime = require "lua_mime"
local lua_util = require "lua_util"
local ucl = require "ucl"

local settings = {
  -- The service: a Unix socket path, or "HOST:PORT" for TCP.
  socket = '/run/credence/credence.sock',
  timeout = nil,          -- seconds to wait for the answer; nil: task_timeout - 1 (7 s)
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
  CREDENCE_DKIM_PARTIAL = 'credence: DKIM pass leaves a shown field or body text unsigned',
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
  CREDENCE_DMARC_TEMPERROR_REJECT = 'credence: DMARC temporary error, policy reject (not applied)',
  CREDENCE_DMARC_TEMPERROR_QUARANTINE = 'credence: DMARC temporary error, policy quarantine (not applied)',
  CREDENCE_DMARC_TEMPERROR_SOFTFAIL = 'credence: DMARC temporary error, policy none',
  CREDENCE_DMARC_PERMERROR = 'credence: DMARC permanent error',
  CREDENCE_DMARC_NONE = 'credence: no DMARC policy',
  CREDENCE_DMARC_PARTIAL_REJECT = 'credence: DMARC pass only through partial DKIM, policy reject (scored as the fail)',
  CREDENCE_DMARC_PARTIAL_QUARANTINE = 'credence: DMARC pass only through partial DKIM, policy quarantine',
  CREDENCE_DMARC_PARTIAL_SOFTFAIL = 'credence: DMARC pass only through partial DKIM, policy none',
  CREDENCE_DMARC_MULTIPLE_FROM = 'credence: several From fields (scored like a DMARC reject)',
  CREDENCE_DMARC_BAD_FROM = 'credence: no usable From field (scored like a DMARC reject)',
  CREDENCE_FROM_NAME_ADDRESS = 'credence: the From field shows an address of another domain than its own',
  CREDENCE_ARC_PASS = 'credence: ARC chain verified (no credit by itself)',
  CREDENCE_ARC_FAIL = 'credence: ARC chain broken',
  CREDENCE_ARC_DNSFAIL = 'credence: ARC key lookup failed temporarily',
  CREDENCE_ARC_TRUSTED_DNSFAIL = 'credence: DMARC fail not overridden, the ARC chain of a trusted sealer could not be checked (DNS)',
  CREDENCE_ARC_TRUSTED = 'credence: DMARC fail overridden by a trusted ARC sealer',
  CREDENCE_LIMIT = 'credence: a limit left part of the message unevaluated',
}

-- Default scores: credence's default weights (policy/score/symbols.cc, docs/scoring.md;
-- tests/integration/test_host_weights.py compares them). rspamd's own score for a symbol
-- replaces these; credence.toml's [score] table is not used by this module.
local default_scores = {
  CREDENCE_ALLOWLIST_IP = -5.0,
  CREDENCE_ALLOWLIST_FROM = -5.0,
  CREDENCE_ALLOWLIST_UNAUTH = 0.0,
  CREDENCE_DKIM_PASS = -0.2,
  CREDENCE_DKIM_PASS_UNALIGNED = 0.0,
  CREDENCE_DKIM_FAIL = 1.0,
  CREDENCE_DKIM_PERMERROR = 0.0,
  CREDENCE_DKIM_TEMPERROR = 0.0,
  CREDENCE_DKIM_NEUTRAL = 0.0,
  CREDENCE_DKIM_PARTIAL = 1.0,
  CREDENCE_DKIM_TESTING = 0.0,
  CREDENCE_DKIM_NONE = 0.0,
  CREDENCE_SPF_PASS = -0.2,
  CREDENCE_SPF_PASS_UNALIGNED = 0.0,
  CREDENCE_SPF_FAIL = 1.0,
  CREDENCE_SPF_SOFTFAIL = 0.0,
  CREDENCE_SPF_NEUTRAL = 0.0,
  CREDENCE_SPF_NONE = 0.0,
  CREDENCE_SPF_TEMPERROR = 0.0,
  CREDENCE_SPF_PERMERROR = 0.0,
  CREDENCE_SPF_FORWARDED = 0.0,
  CREDENCE_DMARC_PASS = -0.5,
  CREDENCE_DMARC_REJECT = 2.0,
  CREDENCE_DMARC_QUARANTINE = 1.5,
  CREDENCE_DMARC_SOFTFAIL = 0.1,
  CREDENCE_DMARC_TEMPERROR = 0.0,
  CREDENCE_DMARC_TEMPERROR_REJECT = 2.0,
  CREDENCE_DMARC_TEMPERROR_QUARANTINE = 1.5,
  CREDENCE_DMARC_TEMPERROR_SOFTFAIL = 0.1,
  CREDENCE_DMARC_PERMERROR = 0.0,
  CREDENCE_DMARC_NONE = 0.0,
  CREDENCE_DMARC_PARTIAL_REJECT = 2.0,
  CREDENCE_DMARC_PARTIAL_QUARANTINE = 1.5,
  CREDENCE_DMARC_PARTIAL_SOFTFAIL = 0.1,
  CREDENCE_DMARC_MULTIPLE_FROM = 2.0,
  CREDENCE_DMARC_BAD_FROM = 2.0,
  CREDENCE_FROM_NAME_ADDRESS = 1.0,
  CREDENCE_ARC_PASS = 0.0,
  CREDENCE_ARC_FAIL = 1.0,
  CREDENCE_ARC_DNSFAIL = 0.0,
  CREDENCE_ARC_TRUSTED_DNSFAIL = 0.0,
  CREDENCE_ARC_TRUSTED = -1.0,
  CREDENCE_LIMIT = 1.0,
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

-- Forged Authentication-Results removal through the milter reply (RFC 8601 §5: fields that
-- carry our authserv-id are forgeries). rspamd 3.4's milter honours a remove_headers entry
-- only when its value is an integer (one CHGHEADER with that index and an empty value); an
-- array ({"Authentication-Results": [1]}) is skipped, so nothing was deleted. One integer
-- per key: each field to remove gets a key of its own, the field name in another letter case
-- ("Authentication-Results", "authentication-Results", ...). rspamd looks the name up among
-- the milter's headers without regard to case, and MTAs match a CHGHEADER name without regard
-- to case (RFC 5322 §1.2.2: field names are case-insensitive). Each key goes in its own
-- set_milter_reply call, highest occurrence first: rspamd keeps the keys in the order they
-- were set and sends them in that order, so deleting one field never renumbers one still to
-- go, whether the MTA counts deleted fields (Sendmail) or not (Postfix).
-- tests/integration/test_rspamd.py checks it through the milter protocol.
local AR = 'Authentication-Results'
-- Past this many forged fields, every A-R field is removed at once (value 0): fail closed,
-- the forgeries go (and upstream A-R fields with them) without a milter command per field.
local MAX_SEPARATE_REMOVALS = 64

-- The field name with the case of its letters flipped where the bits of k are set (k = 0:
-- the name as written). Distinct for every k below 2^21 (the name has 21 letters).
local function name_in_case(k)
  if k == 0 then return AR end
  local out, bit = {}, 0
  for c in AR:gmatch('.') do
    if c:match('%a') then
      if math.floor(k / 2 ^ bit) % 2 == 1 then
        c = (c == c:upper()) and c:lower() or c:upper()
      end
      bit = bit + 1
    end
    out[#out + 1] = c
  end
  return table.concat(out)
end

-- occurrences: the service's remove_authentication_results (1 = the topmost A-R field).
local function remove_forged(task, occurrences)
  local list = {}
  for _, n in ipairs(occurrences) do
    n = tonumber(n)
    if n and n >= 1 and n == math.floor(n) then list[#list + 1] = n end
  end
  if #list == 0 then return end
  table.sort(list, function(a, b) return a > b end)
  if #list > MAX_SEPARATE_REMOVALS then
    task:set_milter_reply({remove_headers = {[AR] = 0}})
  else
    for i, n in ipairs(list) do
      task:set_milter_reply({remove_headers = {[name_in_case(i - 1)] = n}})
    end
  end
  -- The task's own view of the message (later rules, `rspamc --mime`).
  task:modify_header(AR, {remove = list})
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
      -- Multiplier 1: rspamd's score for the symbol is its score (see "Weights" above).
      task:insert_result(name, 1.0, opt)
    elseif name then
      task:insert_result(settings.other_symbol, weight, name, opt)
    end
  end
  local add = {}
  -- The folded form (no line over 998 bytes); the one-line form from older services.
  local ar = obj.authentication_results_folded or obj.authentication_results
  if settings.add_header and type(ar) == 'string' then
    local value = ar:gsub('^%s+', '')
    if value ~= '' then
      add['Authentication-Results'] = {value = value, order = 0}
    end
  end
  if settings.remove_forged and type(obj.remove_authentication_results) == 'table' then
    remove_forged(task, obj.remove_authentication_results)
  end
  if next(add) then
    -- The milter reply's add_headers and the task's own view of the headers.
    lua_mime.modify_headers(task, {add = add})
  end
end

local function credence_check(task)
  -- Every message is sent, whatever its size: the service keeps its first
  -- --max-request-bytes and judges it as cut (docs/limits.md), so a large spoof cannot skip
  -- the check the way it could when large messages were not sent at all.
  local content = task:get_content()
  local len = content:len()
  local ip, helo, from = envelope_of(task)
  local line = string.format('CREDENCE/1 VERIFY %d ip=%s helo=%s from=%s id=%s timeout=%d\n',
      len, encode_value(ip), encode_value(helo), encode_value(from),
      encode_value(task:get_uid()), math.floor(settings.timeout * 1000))

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

-- The wait fits inside rspamd's own limit for the whole task, by construction: at most
-- task_timeout - 1 s (the service is told, and answers before it).
local function task_timeout()
  local o = rspamd_config:get_all_opt('options') or {}
  local t = o.task_timeout
  if type(t) == 'string' then t = lua_util.parse_time_interval(t) end
  t = tonumber(t)
  if not t or t <= 1.5 then return 8.0 end
  return t
end
local ceiling = task_timeout() - 1.0
local wanted = tonumber(settings.timeout)
if wanted == nil then
  settings.timeout = ceiling
elseif wanted > ceiling or wanted < 0.1 then
  settings.timeout = math.max(0.1, math.min(wanted, ceiling))
  rspamd_logger.warnx(rspamd_config, '%s: timeout %s s does not fit task_timeout %s s: using %s s',
      N, wanted, ceiling + 1.0, settings.timeout)
else
  settings.timeout = wanted
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
    name = name, type = 'virtual', parent = id, score = default_scores[name] or 0.0,
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
rspamd_logger.infox(rspamd_config, '%s: enabled, service at %s, timeout %s s', N,
    settings.socket, settings.timeout)
