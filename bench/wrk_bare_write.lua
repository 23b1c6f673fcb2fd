dofile(os.getenv("BENCH_DIR") .. "/wrk_common.lua")
wrk.method = "POST"
request = function() return wrk.format(nil, "/bare/cases/" .. pick() .. "/write") end
