#!/usr/bin/python3
"""The peer of preload_threads (test_preload): three connections, echoes
timed on each. Prints one line of figures, then DONE; exits 1 on a wrong
or missing echo (5 s per echo).

    preload_threads_peer.py ADDR PORT
"""
import socket
import statistics
import sys
import time


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    conns = []
    for _ in range(3):  # accepted in this order: the set's two, then "one"'s
        s = socket.create_connection((host, port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conns.append(s)
    time.sleep(0.5)  # both threads asleep in their waits

    def echo(i, msg):
        t = time.monotonic()
        conns[i].sendall(msg)
        got = b""
        while len(got) < len(msg):
            d = conns[i].recv(256)
            if not d:
                raise SystemExit("connection %d closed" % i)
            got += d
        if got != msg:
            raise SystemExit("connection %d echoed %r for %r" % (i, got, msg))
        return (time.monotonic() - t) * 1000

    idle = [echo(2, b"ping-%d" % k) for k in range(20)]
    mixed = [echo(k % 3, b"mixed-%d" % k) for k in range(30)]
    # The set's thread echoes, then stays 500 ms in the application: the
    # third connection's thread must take over the AF_XDP socket.
    conns[0].sendall(b"busy")
    time.sleep(0.05)
    t0 = time.monotonic()
    busy = [echo(2, b"while-busy-%d" % k) for k in range(5)]
    within = (time.monotonic() - t0) * 1000
    got = b""
    while len(got) < 4:
        got += conns[0].recv(16)
    if got != b"busy":
        raise SystemExit("busy echoed as %r" % got)
    print("idle median %.2f ms; mixed max %.2f ms; while the set's thread is busy: "
          "median %.2f ms, max %.2f ms, all 5 in %.1f ms"
          % (statistics.median(idle), max(mixed), statistics.median(busy), max(busy),
             within))
    for c in conns:
        c.sendall(b"quit")
        c.recv(16)
        c.close()
    print("DONE")


if __name__ == "__main__":
    main()
