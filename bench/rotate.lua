-- wrk script: every request picks the next tenant's token (and, for the 304 path, its
-- ETag) from a file written by bench/serving.py, and a fresh correlation id.
local rows = {}
local index = 0
local with_etag = os.getenv("BENCH_IF_NONE_MATCH") == "1"

local function uuid4()
  local template = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
  return (string.gsub(template, "[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%x", v)
  end))
end

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
end

function init(args)
  math.randomseed(seed or os.time())
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    local token, etag = line:match("([^\t]+)\t([^\t]+)")
    rows[#rows + 1] = {token = token, etag = etag}
  end
  index = math.random(1, #rows)
end

function request()
  index = index % #rows + 1
  local row = rows[index]
  local headers = {["Authorization"] = "Bearer " .. row.token, ["X-Correlation-ID"] = uuid4()}
  if with_etag then headers["If-None-Match"] = row.etag end
  return wrk.format("GET", nil, headers)
end

function done(summary, latency, requests)
  io.write(string.format("BENCH_JSON {\"requests\": %d, \"duration_us\": %d, \"p50_us\": %d, \"p99_us\": %d, " ..
    "\"non2xx\": %d, \"errors\": %d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
