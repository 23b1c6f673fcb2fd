-- Shared by the wrk scripts of bench/case_api.py: random case ids from BENCH_IDS, the bearer token.
ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
token = os.getenv("BENCH_TOKEN")
function pick() return ids[math.random(#ids)] end
