-- wrk script: POSTs AdmissionReview bodies, alternating between the files
-- given after `--` as PATH=FILE pairs; "close" asks for a new connection
-- (and so a new TLS handshake) per request. Prints one WRKJSON line at the end.
local requests_ = {}
local counter = 0

function init(args)
  local headers = { ["Content-Type"] = "application/json" }
  for _, arg in ipairs(args) do
    if arg == "close" then headers["Connection"] = "close" end
  end
  for _, arg in ipairs(args) do
    local path, file = string.match(arg, "^(.+)=([^=]+)$")
    if path then
      local fh = assert(io.open(file, "rb"))
      local body = fh:read("*a")
      fh:close()
      table.insert(requests_, wrk.format("POST", path, headers, body))
    end
  end
end

function request()
  counter = counter + 1
  return requests_[(counter % #requests_) + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"non2xx":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
