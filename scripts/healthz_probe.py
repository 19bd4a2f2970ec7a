"""GET /healthz from THREADS threads, each every 100 ms, for SECONDS; prints [[status, seconds], …].

usage: healthz_probe.py PORT SECONDS THREADS (run by bench-load.sh beside bench_load.py)
"""
import http.client
import json
import sys
import threading
import time

port, seconds, threads = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
results = []


def probe():
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        start = time.perf_counter()
        try:
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            results.append((response.status, time.perf_counter() - start))
        except OSError:
            results.append((0, time.perf_counter() - start))
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        time.sleep(0.1)


workers = [threading.Thread(target=probe) for _ in range(threads)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
print(json.dumps(results))
