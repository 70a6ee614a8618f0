-- wrk script for bench/run (W1, W4). Reads the request from the environment and writes a
-- JSON summary to $WRK_OUT when the run ends. Latencies in milliseconds.
--   WRK_METHOD  GET or POST          WRK_BODY  request body (POST)
--   WRK_AUTH    Authorization value  WRK_OUT   where to write the JSON
--   WRK_HOST    Host header (Prosody picks the virtual host or component by it)
wrk.method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
	wrk.body = body
	wrk.headers["Content-Type"] = "application/json"
end
local host = os.getenv("WRK_HOST")
if host and host ~= "" then
	wrk.headers["Host"] = host
end
local auth = os.getenv("WRK_AUTH")
if auth and auth ~= "" then
	wrk.headers["Authorization"] = auth
end

function done(summary, latency, requests)
	local e = summary.errors
	local out = assert(io.open(os.getenv("WRK_OUT"), "w"))
	local function pct(p) return latency:percentile(p) / 1000 end
	out:write(string.format(
		'{"requests":%d,"secs_measured":%.6f,"non2xx":%d,"socket_errors":%d,"timeouts":%d,'
		.. '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"p999_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f}\n',
		summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write,
		e.timeout, pct(50), pct(90), pct(99), pct(99.9), latency.max / 1000, latency.mean / 1000))
	out:close()
end
