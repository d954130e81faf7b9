-- wrk script for `npm run bench`: every request is the next shopper's purchase attempt.
--
-- Each wrk thread takes every Nth line of BENCH_DATA ("<url path>\t<sid cookie>\t<ticket 1>\t<ticket 2>...")
-- and cycles through its shoppers: a shopper comes back round after round, as a shopper's script that
-- retries after each refusal would. Round k uses the shopper's ticket k (mod the number of tickets), so a
-- ticket spent on an attempt the shop then gave back (503) is not replayed on the next round.
-- Requests are built once in init(); the per-request work is a table lookup.
--
-- response() records what the load generator needs and nothing more: responses per 10 ms, refusals by
-- code, the request id of every 202 (line-buffered to BENCH_ACCEPTED_DIR/accepted-<thread>.txt, so the
-- bench can count them live and nothing is lost if wrk is killed), the time of the first request, of the
-- last 202 and of the first SOLD_OUT. done() writes everything as JSON to BENCH_OUT.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")
local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS"))
  local rounds = tonumber(os.getenv("BENCH_TICKETS"))
  local dir = os.getenv("BENCH_ACCEPTED_DIR")
  reqs = {}
  for k = 1, rounds do reqs[k] = {} end
  -- Built by hand rather than with wrk.format: the same bytes, a fraction of the time, so that the last
  -- thread to start is not far behind the first.
  local head = "POST "
  local tail = " HTTP/1.1\r\nHost: " .. wrk.headers["Host"] .. "\r\nCookie: sid="
  shoppers = 0
  local line_no = 0
  local mine = thread_id - 1
  for line in io.lines(os.getenv("BENCH_DATA")) do
    if line_no % nthreads == mine then
      local path, cookie, rest = string.match(line, "^([^\t]+)\t([^\t]+)\t(.*)$")
      local prefix = head .. path .. tail .. cookie .. "\r\nX-Purchase-Ticket: "
      shoppers = shoppers + 1
      local k = 0
      for ticket in string.gmatch(rest, "[^\t]+") do
        k = k + 1
        if k > rounds then break end
        reqs[k][shoppers] = prefix .. ticket .. "\r\n\r\n"
      end
      if k < rounds then error("shopper line " .. line_no .. " has " .. k .. " tickets, expected " .. rounds) end
    end
    line_no = line_no + 1
  end
  rounds_total = rounds
  cursor = 0
  round = 1
  responses = 0
  accepted_count = 0
  codes = {}
  hist = {}
  first_request_at = 0
  last_accepted_at = 0
  first_sold_out_at = 0
  accepted_file = io.open(dir .. "/accepted-" .. thread_id .. ".txt", "w")
  accepted_file:setvbuf("line")
  uncertain_file = io.open(dir .. "/uncertain-" .. thread_id .. ".txt", "w")
  uncertain_file:setvbuf("line")
end

function request()
  if first_request_at == 0 then first_request_at = now_ms() end
  cursor = cursor + 1
  if cursor > shoppers then
    cursor = 1
    round = round % rounds_total + 1
  end
  return reqs[round][cursor]
end

function response(status, headers, body)
  local t = now_ms()
  responses = responses + 1
  local bucket = math.floor(t / 10)
  hist[bucket] = (hist[bucket] or 0) + 1
  local code = string.match(body, '"code":"([%w_]+)"') or ("HTTP_" .. status)
  codes[code] = (codes[code] or 0) + 1
  if status == 202 then
    accepted_count = accepted_count + 1
    last_accepted_at = t
    accepted_file:write(string.match(body, '"requestId":"([%w%-]+)"') or "?", "\n")
  elseif code == "SOLD_OUT" then
    if first_sold_out_at == 0 then first_sold_out_at = t end
  elseif code == "QUEUE_UNAVAILABLE" then
    local id = string.match(body, '"requestId":"([%w%-]+)"')
    if id then uncertain_file:write(id, "\n") end
  end
end

local function num(x)
  return string.format("%.3f", x or 0)
end

local function object(t, fmt)
  local parts = {}
  for k, v in pairs(t) do parts[#parts + 1] = string.format('"%s":%s', tostring(k), fmt(v)) end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("BENCH_OUT"), "w")
  local e = summary.errors
  out:write("{")
  out:write('"requests":', num(summary.requests), ',"durationUs":', num(summary.duration), ',"bytes":', num(summary.bytes))
  out:write(',"errors":{"connect":', num(e.connect), ',"read":', num(e.read), ',"write":', num(e.write),
    ',"status":', num(e.status), ',"timeout":', num(e.timeout), "}")
  out:write(',"latencyUs":{"p50":', num(latency:percentile(50)), ',"p90":', num(latency:percentile(90)),
    ',"p99":', num(latency:percentile(99)), ',"max":', num(latency.max), ',"mean":', num(latency.mean), "}")
  out:write(',"threads":[')
  for i, thread in ipairs(threads) do
    if i > 1 then out:write(",") end
    out:write("{")
    out:write('"shoppers":', num(thread:get("shoppers")), ',"responses":', num(thread:get("responses")),
      ',"accepted":', num(thread:get("accepted_count")))
    out:write(',"firstRequestAt":', num(thread:get("first_request_at")), ',"lastAcceptedAt":', num(thread:get("last_accepted_at")),
      ',"firstSoldOutAt":', num(thread:get("first_sold_out_at")))
    out:write(',"codes":', object(thread:get("codes") or {}, num))
    out:write(',"hist":', object(thread:get("hist") or {}, num))
    out:write("}")
  end
  out:write("]}\n")
  out:close()
end
