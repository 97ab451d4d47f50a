#!/usr/bin/python3
"""memcached's text protocol from the peer namespace (test_preload): a small
round trip, a large value (SHA-256 compared), several threads each on its
own connection setting and reading back distinct keys, and the server's
`stats`. Prints what it measured; exits non-zero on any mismatch."""
import hashlib
import os
import sys
import threading
import time

from pymemcache.client.base import Client

host, port = sys.argv[1], int(sys.argv[2])
nthreads, nkeys = int(sys.argv[3]), int(sys.argv[4])


def client():
    return Client((host, port), connect_timeout=5, timeout=15)


c = client()
c.set("hello", b"skiff")
assert c.get("hello") == b"skiff", "small round trip"
big = os.urandom(900 * 1024)  # under memcached's 1 MiB item limit
c.set("big", big)
got = c.get("big") or b""
ok = hashlib.sha256(got).digest() == hashlib.sha256(big).digest()
print("large value: %d bytes, sha256 %s" % (len(got), "equal" if ok else "DIFFERENT"))
assert ok

errors = []


def worker(i):
    try:
        cl = client()
        for j in range(nkeys):
            k = "t%d_%d" % (i, j)
            v = os.urandom(64 + (j * 37) % 4000)
            cl.set(k, v)
            if cl.get(k) != v:
                errors.append(k)
        cl.close()
    except Exception as e:  # noqa: BLE001 - reported, then the run fails
        errors.append(repr(e))


t0 = time.time()
ts = [threading.Thread(target=worker, args=(i,)) for i in range(nthreads)]
for t in ts:
    t.start()
for t in ts:
    t.join()
dt = time.time() - t0
print("threads: %d x %d set+get, %d errors, %.2f s, %.0f ops/s"
      % (nthreads, nkeys, len(errors), dt, 2 * nthreads * nkeys / dt))
assert not errors, errors[:3]

st = c.stats()
print("server: threads %s, total_connections %s, cmd_set %s, get_hits %s"
      % (st[b"threads"], st[b"total_connections"], st[b"cmd_set"], st[b"get_hits"]))
assert st[b"get_hits"] >= nthreads * nkeys + 2
print("PASS")
