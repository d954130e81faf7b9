-- wrk script for `npm run bench`: every request is the next shopper's purchase attempt.
--
-- Wrk thread k reads its own shoppers from BENCH_DATA.k ("<url path>\t<sid cookie>\t<ticket 1>\t<ticket 2>...")
-- and cycles through them: a shopper comes back round after round, as a shopper's script that
-- retries after each refusal would. Round k uses the shopper's ticket k (mod the number of tickets), so a
-- ticket spent on an attempt the shop then gave back (503) is not replayed on the next round.
-- Requests are built once in init(); the per-request work is a table lookup.
--
-- wrk runs each thread's init() on its main thread just before starting that thread, so thread 1 would be
-- sending while thread 2 is still reading its shoppers (long enough to matter with a large crowd) and
-- the crowd would arrive in halves, with the generator's set-up competing for the cores. So each thread's
-- first request() marks it started (a file in BENCH_ACCEPTED_DIR) and waits, a bounded time, until every
-- thread is: the whole crowd starts together. wrk's main
-- thread also calls thread 1's request() once, right after its init(), to check the request's form; that
-- call, told apart by the calling thread, neither waits nor counts.
--
-- response() records what the load generator needs and nothing more: responses per 10 ms, refusals by
-- code, the request id of every 202 (to BENCH_ACCEPTED_DIR/accepted-<thread>.txt, flushed at least every
-- 50 ms so that the bench can count them live, and at wrk's exit), the time of the first request, of the
-- last 202 and of the first SOLD_OUT. It reads the body with plain find/sub, which LuaJIT compiles, and
-- writes no system call per answer: the generator shares the cores with what it measures. done() writes
-- everything as JSON to BENCH_OUT.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
int usleep(unsigned int usec);
unsigned long pthread_self(void);
]]
local tv = ffi.new("bench_timeval")
local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end

local threads = {}
-- Plain find/sub: LuaJIT compiles them, while it interprets patterns (string.match, gmatch).
local find, sub, floor = string.find, string.sub, math.floor

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

local function started_file(dir, k)
  return dir .. "/started-" .. k
end

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS"))
  local rounds = tonumber(os.getenv("BENCH_TICKETS"))
  local dir = os.getenv("BENCH_ACCEPTED_DIR")
  reqs = {}
  for k = 1, rounds do reqs[k] = {} end
  -- Built by hand rather than with wrk.format, and split with plain find/sub (which LuaJIT compiles) rather
  -- than patterns (which it interprets): the same bytes, a fraction of the time.
  local head = "POST "
  local tail = " HTTP/1.1\r\nHost: " .. wrk.headers["Host"] .. "\r\nCookie: " .. os.getenv("BENCH_COOKIE") .. "="
  shoppers = 0
  for line in io.lines(os.getenv("BENCH_DATA") .. "." .. thread_id) do
    local a = find(line, "\t", 1, true)
    local b = a and find(line, "\t", a + 1, true)
    if not b then error("shopper line " .. (shoppers + 1) .. " of thread " .. thread_id .. " has no ticket") end
    local prefix = head .. sub(line, 1, a - 1) .. tail .. sub(line, a + 1, b - 1) .. "\r\nX-Purchase-Ticket: "
    shoppers = shoppers + 1
    local k, from = 0, b + 1
    while k < rounds do
      local e = find(line, "\t", from, true)
      k = k + 1
      reqs[k][shoppers] = prefix .. sub(line, from, (e or 0) - 1) .. "\r\n\r\n"
      if not e then break end
      from = e + 1
    end
    if k < rounds then error("shopper line " .. shoppers .. " of thread " .. thread_id .. " has " .. k .. " tickets, expected " .. rounds) end
  end
  rounds_total = rounds
  nthreads_total = nthreads
  mark_dir = dir
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
  accepted_file:setvbuf("full")
  uncertain_file = io.open(dir .. "/uncertain-" .. thread_id .. ".txt", "w")
  uncertain_file:setvbuf("full")
  unflushed = false
  flushed_at = 0
  main_thread = tonumber(ffi.C.pthread_self())
end

-- Marks this thread started and blocks it (all its connections) until every thread is, at most 30 s.
local function wait_for_all_threads()
  io.open(started_file(mark_dir, thread_id), "w"):close()
  local deadline = now_ms() + 30000
  for k = 1, nthreads_total do
    while true do
      local f = io.open(started_file(mark_dir, k), "r")
      if f then
        f:close()
        break
      end
      if now_ms() > deadline then return end
      ffi.C.usleep(500)
    end
  end
end

function request()
  if tonumber(ffi.C.pthread_self()) == main_thread then return reqs[1][1] end
  if first_request_at == 0 then
    wait_for_all_threads()
    first_request_at = now_ms()
  end
  cursor = cursor + 1
  if cursor > shoppers then
    cursor = 1
    round = round % rounds_total + 1
  end
  return reqs[round][cursor]
end

-- The value of a `"name":"value"` field of a JSON body, or nil.
local function field(body, name)
  local i, j = find(body, name, 1, true)
  if not i then return nil end
  local k = find(body, '"', j + 1, true)
  return k and sub(body, j + 1, k - 1)
end

function response(status, headers, body)
  local t = now_ms()
  responses = responses + 1
  local bucket = floor(t / 10)
  hist[bucket] = (hist[bucket] or 0) + 1
  local code = field(body, '"code":"') or ("HTTP_" .. status)
  codes[code] = (codes[code] or 0) + 1
  if status == 202 then
    accepted_count = accepted_count + 1
    last_accepted_at = t
    accepted_file:write(field(body, '"requestId":"') or "?", "\n")
    unflushed = true
  elseif code == "SOLD_OUT" then
    if first_sold_out_at == 0 then first_sold_out_at = t end
  elseif code == "QUEUE_UNAVAILABLE" then
    local id = field(body, '"requestId":"')
    if id then
      uncertain_file:write(id, "\n")
      unflushed = true
    end
  end
  if unflushed and t - flushed_at >= 50 then
    accepted_file:flush()
    uncertain_file:flush()
    unflushed = false
    flushed_at = t
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
