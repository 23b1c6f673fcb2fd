dofile(os.getenv("BENCH_DIR") .. "/wrk_common.lua")
request = function() return wrk.format("GET", "/bare/cases/" .. pick()) end
