dofile(os.getenv("BENCH_DIR") .. "/wrk_common.lua")
wrk.headers["authorization"] = "Bearer " .. token
request = function() return wrk.format("GET", "/v1/cases/" .. pick()) end
