dofile(os.getenv("BENCH_DIR") .. "/wrk_common.lua")
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer " .. token
wrk.body = '{"channel": "phone", "reached": false}'
request = function() return wrk.format(nil, "/v1/cases/" .. pick() .. "/contact-attempts") end
