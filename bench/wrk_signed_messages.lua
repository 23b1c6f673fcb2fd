-- bench/gateway.py: posts pre-signed partner messages from BENCH_MESSAGES (one a line: webhook-id, timestamp,
-- signature and body, tab-separated), each thread its own share so that no webhook-id is sent twice.
local path = os.getenv("BENCH_PATH")
local threads = tonumber(os.getenv("BENCH_THREADS"))
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  messages = {}
  local n = 0
  for line in io.lines(os.getenv("BENCH_MESSAGES")) do
    if n % threads == tid then
      local id, ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      messages[#messages + 1] = {id = id, ts = ts, sig = sig, body = body}
    end
    n = n + 1
  end
  next_message = 0
end
request = function()
  next_message = next_message % #messages + 1
  local m = messages[next_message]
  return wrk.format("POST", path, {
    ["content-type"] = "application/json",
    ["webhook-id"] = m.id,
    ["webhook-timestamp"] = m.ts,
    ["webhook-signature"] = m.sig,
  }, m.body)
end
