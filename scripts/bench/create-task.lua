-- wrk script: POST /tasks with a small JSON body.
wrk.method = "POST"
wrk.path = "/tasks"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"bench task","kind":"io","payload":{"ms":0}}'
