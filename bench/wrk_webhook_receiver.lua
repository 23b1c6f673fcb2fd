-- bench/gateway.py: the receiver's own ceiling, posting a webhook-sized signed-looking body.
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["webhook-id"] = "msg_bench"
wrk.headers["webhook-timestamp"] = "1764000000"
wrk.headers["webhook-signature"] = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
wrk.body = '{"id":"00000000-0000-4000-8000-000000000001","type":"nl.example.case.opened.v1",'
  .. '"time":"2026-11-25T09:00:00+00:00","subject":"00000000-0000-4000-8000-000000000001",'
  .. '"data":{"case_id":"00000000-0000-4000-8000-000000000001","has_minors":false}}'
