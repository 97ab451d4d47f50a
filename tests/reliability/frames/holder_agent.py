#!/usr/bin/python3
# The frame holder of tests/reliability/frames/test_frame_budget.c: from
# the peer namespace it opens TCP connections to skiff by hand (Scapy builds
# the segments, a packet socket moves them) and then only holds frames:
#
#   ooo   connections to PORT_OOO get one-byte segments, each after a
#         one-byte hole, never the bytes that would fill the holes: every
#         segment waits in skiff's out-of-order queue;
#   slow  connections to PORT_SLOW get one-byte segments in order, which a
#         listener that never reads leaves queued.
#
# argv: IFACE SKIFF_MAC SKIFF_IP OWN_IP PORT_OOO PORT_SLOW CONNS SEGS SECONDS
# OWN_IP is an address of the peer whose kernel RSTs are filtered
# (iptables), so the connections made here stay ours. Prints "ready" once
# every handshake is done, then a JSON line of what was sent.
import json
import socket
import struct
import sys
import time

from scapy.all import IP, TCP, Ether, Raw, conf, raw

conf.verb = 0
IFACE, SKIFF_MAC, SKIFF_IP, OWN_IP = sys.argv[1:5]
PORT_OOO, PORT_SLOW, CONNS, SEGS = (int(a) for a in sys.argv[5:9])
SECONDS = float(sys.argv[9])
ISN = 1000
PACE_S = 2.0

rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
rx.bind((IFACE, 0))
rx.settimeout(0.2)
tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
tx.bind((IFACE, 0))
MY_MAC = ":".join("%02x" % b for b in tx.getsockname()[4])
OWN_B, SKIFF_B = socket.inet_aton(OWN_IP), socket.inet_aton(SKIFF_IP)


def frame(sport, dport, flags, seq, ack, data=b""):
    p = (Ether(src=MY_MAC, dst=SKIFF_MAC) / IP(src=OWN_IP, dst=SKIFF_IP) /
         TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=65535))
    return raw(p / Raw(data) if data else p)


def synack(sport, deadline):
    """skiff's ISN from its SYN-ACK to @sport, or None."""
    while time.monotonic() < deadline:
        try:
            b = rx.recv(2048)
        except socket.timeout:
            continue
        if len(b) < 54 or b[23] != 6 or b[26:30] != SKIFF_B or b[30:34] != OWN_B:
            continue
        t = 14 + (b[14] & 15) * 4
        if int.from_bytes(b[t + 2:t + 4], "big") == sport and b[t + 13] & 0x12 == 0x12:
            return int.from_bytes(b[t + 4:t + 8], "big")
    return None


def connect(sport, dport):
    for _ in range(3):
        tx.send(frame(sport, dport, "S", ISN, 0))
        y = synack(sport, time.monotonic() + 1.0)
        if y is not None:
            tx.send(frame(sport, dport, "A", ISN + 1, y + 1))
            return y + 1
    return None


conns = []
for i in range(CONNS):
    for kind, port, base in (("ooo", PORT_OOO, 41000), ("slow", PORT_SLOW, 42000)):
        ack = connect(base + i, port)
        if ack is None:
            print(json.dumps({"error": "no SYN-ACK from %s:%d" % (SKIFF_IP, port)}), flush=True)
            sys.exit(1)
        conns.append((kind, base + i, port, ack))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def with_seq(template, seq):
    """@template (Ether/IPv4/TCP, no IP options) with sequence number @seq
    and the TCP checksum to match: Scapy builds the template, this the
    thousands of copies (Scapy alone manages a few thousand a second)."""
    f = bytearray(template)
    t = 14 + (f[14] & 15) * 4
    f[t + 4:t + 8] = seq.to_bytes(4, "big")
    f[t + 16:t + 18] = b"\0\0"
    seg = bytes(f[t:])
    pseudo = f[26:34] + struct.pack("!BBH", 0, 6, len(seg))
    f[t + 16:t + 18] = csum(pseudo + seg).to_bytes(2, "big")
    return bytes(f)


batches = []
for kind, sport, dport, ack in conns:
    if kind == "ooo":
        tpl = frame(sport, dport, "A", 0, ack, b"o")
        segs = [with_seq(tpl, ISN + 1 + 1 + 2 * j) for j in range(SEGS)]
    else:
        tpl = frame(sport, dport, "PA", 0, ack, b"s")
        segs = [with_seq(tpl, ISN + 1 + j) for j in range(SEGS)]
    batches.append((kind, segs))

print("ready", flush=True)
sent = {"ooo": 0, "slow": 0}
end = time.monotonic() + SECONDS
rounds = 0
while time.monotonic() < end:
    for kind, segs in batches:
        for f in segs:
            tx.send(f)
        sent[kind] += len(segs)
    rounds += 1
    # A holder keeps what it holds by resending it now and then (lwIP
    # drops an out-of-order queue left alone for 6 RTOs): a flood's CPU
    # cost is another test's subject.
    time.sleep(min(PACE_S, max(0.0, end - time.monotonic())))
print(json.dumps({"ooo_sent": sent["ooo"], "slow_sent": sent["slow"], "rounds": rounds,
                  "conns": len(conns)}), flush=True)
