#!/usr/bin/env python3
"""Driver of bench/async_burst.sh (spec/async.md ASYNC-4): submits jobs with
Prefer: respond-async from several keep-alive connections, then polls /jobs/{id}."""
import http.client
import json
import sys
import threading
import time


def submit(port, bodies, ids, errors):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for body in bodies:
        conn.request("POST", "/text-to-image", body, {"Content-Type": "application/json", "Prefer": "respond-async"})
        reply = conn.getresponse()
        data = reply.read()
        if reply.status == 202:
            ids.append(json.loads(data)["id"])
        else:
            errors.append((reply.status, data[:200]))


def states(port, ids, counts):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for job in ids:
        conn.request("GET", "/jobs/" + job)
        reply = conn.getresponse()
        reply.read()
        state = reply.getheader("Aipool-Job-Status", str(reply.status))
        counts[state] = counts.get(state, 0) + 1


def in_parallel(target, port, items, threads, make_out):
    outs = [make_out() for _ in range(threads)]
    workers = [threading.Thread(target=target, args=(port, items[i::threads], *outs[i])) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return outs


def main():
    port, count, threads, blockers, block_ms = (int(a) for a in sys.argv[1:6])
    slow = json.dumps({"model_id": "test/sleep", "prompt": "block", "sleep_ms": block_ms})
    in_parallel(submit, port, [slow] * blockers, 1, lambda: ([], []))
    bodies = [json.dumps({"model_id": "test/sleep", "prompt": "job %d" % i, "sleep_ms": 0}) for i in range(count)]
    start = time.time()
    outs = in_parallel(submit, port, bodies, threads, lambda: ([], []))
    accepted = time.time()
    ids = [i for out in outs for i in out[0]]
    errors = [e for out in outs for e in out[1]]
    print("submitted %d in %.1f s (%.0f/s): %d accepted, %d refused %s" %
          (count, accepted - start, count / (accepted - start), len(ids), len(errors), errors[:3]), flush=True)
    print("READY", flush=True)  # the shell reads the RSS now
    sys.stdin.readline()
    last = ids[-1] if ids else ""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    while True:
        conn.request("GET", "/jobs/" + last)
        reply = conn.getresponse()
        body = reply.read()
        if reply.getheader("Aipool-Job-Status") not in ("queued", "running"):
            break
        time.sleep(0.2)
    done = time.time()
    print("all done %.1f s after the first submission (blockers of %.0f s included); last: %s" %
          (done - start, block_ms / 1000, body[:80]), flush=True)
    counts = {}
    for out in in_parallel(states, port, ids, threads, lambda: ({},)):
        for k, v in out[0].items():
            counts[k] = counts.get(k, 0) + v
    print("final states:", counts, flush=True)


if __name__ == "__main__":
    main()
