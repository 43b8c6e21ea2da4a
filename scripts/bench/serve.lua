-- SPDX-License-Identifier: ISC
--
-- bench/serve.lua - the wrk script of scripts/bench/serve: GET each path
-- of a file in turn, one request built per call, for campaign serve (the
-- 10,000 open-pixel paths of the recipients) and nginx (its one static
-- path) alike.
--
--   wrk ... -s scripts/bench/serve.lua URL -- PATHFILE THREADS
--
-- PATHFILE holds one path a line; thread k of THREADS starts at
-- (k - 1) / THREADS of the list, so that the threads do not hit the same
-- tokens in step.  done() prints one line for the caller:
--
--   bench: completed=N written=N duration_us=N p50_us=N p99_us=N max_us=N
--          connect=N read=N write=N status=N timeout=N      (one line)
--
-- completed is wrk's count of responses; written, the requests wrk wrote:
-- completed plus those still in flight when wrk stopped at its deadline
-- (wrk stops its threads without waiting for them, at most one per
-- connection).  done() then waits a second before wrk exits, so that the
-- server reads every request written rather than having them reset by
-- the exit, and the server's own count can be held to `written` exactly.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

function init(args)
   paths = {}
   for line in io.lines(args[1]) do
      if line ~= "" then
         paths[#paths + 1] = line
      end
   end
   n = #paths
   if n == 0 then
      error("bench/serve.lua: no paths in " .. tostring(args[1]))
   end
   i = math.floor((id - 1) * n / tonumber(args[2] or 1))
   -- wrk calls request() once on its first thread before the run, to
   -- check the request (script_verify_request in wrk.c); that one is
   -- never sent
   written = (id == 1) and -1 or 0
end

function request()
   i = i % n + 1
   written = written + 1
   return wrk.format(nil, paths[i])
end

function done(summary, latency, requests)
   local w = 0
   for _, t in ipairs(threads) do
      w = w + t:get("written")
   end
   local e = summary.errors
   io.write(string.format(
      "bench: completed=%d written=%d duration_us=%d p50_us=%d p99_us=%d " ..
      "max_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
      summary.requests, w, summary.duration, latency:percentile(50),
      latency:percentile(99), latency.max, e.connect, e.read, e.write,
      e.status, e.timeout))
   io.flush()
   os.execute("sleep 1")
end
