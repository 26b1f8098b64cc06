-- wrk script: POST a 16 KiB body to the echo application.
wrk.method = "POST"
wrk.body = string.rep("p", 16384)
wrk.headers["Content-Type"] = "application/octet-stream"
