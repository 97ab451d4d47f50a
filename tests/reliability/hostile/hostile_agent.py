#!/usr/bin/python3
# The hostile peer of tests/reliability/hostile/test_hostile.c: runs in the
# peer namespace, reads one JSON command per line on stdin, sends crafted
# frames with Scapy (or, for the flood, prebuilt bytes on a packet socket),
# and answers one JSON line on stdout: what came back from the stack.
#
# argv: IFACE STACK_MAC STACK_IP4 STACK_IP6 PEER_IP4 OWN_IP4 PORT
# OWN_IP4 is an extra address of the peer whose kernel RSTs are filtered
# (iptables), so that the connections made here stay ours.
import fcntl
import hashlib
import hmac
import json
import os
import random
import socket
import struct
import sys
import termios
import threading
import time

from scapy.all import (ARP, ICMP, IP, TCP, Dot1Q, Ether, ICMPv6EchoReply, ICMPv6EchoRequest,
                       ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr,
                       IPv6, Raw, conf, fragment, raw)

conf.verb = 0
IFACE, STACK_MAC, STACK_IP4, STACK_IP6, PEER_IP4, OWN_IP4, PORT = sys.argv[1:8]
PORT = int(PORT)
STACK_MAC_B = bytes.fromhex(STACK_MAC.replace(":", ""))
ATTACKER_MAC = "02:66:6f:6f:00:01"

ETH_P_ALL = 3
PACKET_OUTGOING = 4
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
sock.bind((IFACE, 0))
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
tx.bind((IFACE, 0))
MY_MAC = ":".join("%02x" % b for b in tx.getsockname()[4])
rx = []  # raw frames from the stack's MAC, in arrival order
flows = []  # the kernel's connections to PORT, both ways, as Seg (see live())
INJECT_TTL = 77  # our segments on the kernel's connections: not the kernel's own
PEER_IP4_B = socket.inet_aton(PEER_IP4)


class Seg:
    __slots__ = ("t", "stack", "port", "seq", "ack", "flags", "wnd", "plen", "ws", "ts")

    def __init__(self, *a):
        for k, v in zip(self.__slots__, a):
            setattr(self, k, v)


def note_kernel_tcp(b, stack):
    """A TCP segment between PEER_IP4 and the stack's PORT (@stack: sent by
    the stack), parsed by hand: Scapy is too slow for every frame of a
    transfer."""
    if len(b) < 54 or b[12:14] != b"\x08\x00" or b[23] != 6:
        return
    if (b[30:34] if stack else b[26:30]) != PEER_IP4_B or (not stack and b[22] == INJECT_TTL):
        return
    ihl = (b[14] & 15) * 4
    t = 14 + ihl
    if len(b) < t + 20:
        return
    sp, dp, seq, ack, off, fl, wnd = struct.unpack_from("!HHIIBBH", b, t)
    if (sp if stack else dp) != PORT:
        return
    doff = (off >> 4) * 4
    ws = ts = None
    o = t + 20
    while o + 1 < min(t + doff, len(b)) and b[o] != 0:
        if b[o] == 1:
            o += 1
            continue
        kind, ln = b[o], b[o + 1]
        if ln < 2:
            break
        if kind == 3 and ln == 3:
            ws = b[o + 2]
        elif kind == 8 and ln == 10 and o + 10 <= len(b):
            ts = struct.unpack_from("!II", b, o + 2)
        o += ln
    plen = struct.unpack_from("!H", b, 16)[0] - ihl - doff
    flows.append(Seg(time.time(), stack, dp if stack else sp, seq, ack, fl, wnd, plen, ws, ts))


taken = [0]  # frames the reader has finished with


def reader():
    while True:
        data, addr = sock.recvfrom(65535)
        if addr[2] != PACKET_OUTGOING and data[6:12] == STACK_MAC_B:
            rx.append(data)
            note_kernel_tcp(data, True)
        elif addr[2] == PACKET_OUTGOING and data[0:6] == STACK_MAC_B:
            note_kernel_tcp(data, False)
        taken[0] += 1


def caught_up(limit=1.0):
    """Waits until the reader has taken every frame the socket holds: on
    two busy cores it can lag the wire by more than a probe's wait."""
    end = time.time() + limit
    n = -1
    while time.time() < end:
        pending = struct.unpack("i", fcntl.ioctl(sock, termios.FIONREAD, b"\0\0\0\0"))[0]
        if not pending and taken[0] == n:
            return
        n = taken[0]
        time.sleep(0.02)


reader_thread = threading.Thread(target=reader, daemon=True)
reader_thread.start()


def send(pkts):
    for p in pkts:
        tx.send(p if isinstance(p, bytes) else raw(p))


def answers(mark, match, wait=0.4):
    """Frames from the stack after @mark that @match accepts, @wait s on."""
    time.sleep(wait)
    out = []
    for b in rx[mark:]:
        e = Ether(b)
        if match(e):
            out.append(e)
    return out


def eth():
    return Ether(src=MY_MAC, dst=STACK_MAC)


def eth4():
    """An Ethernet header alone says IPv4 only when told (Scapy's default
    type without a payload is 0x9000)."""
    return Ether(src=MY_MAC, dst=STACK_MAC, type=0x0800)


def tcp_to(e, sport, src=None):
    return (TCP in e and e[TCP].sport == PORT and e[TCP].dport == sport and
            (src is None or (IP in e and e[IP].dst == src)))


# ---- our own connections to the stack (from OWN_IP4) ------------------------------------


def handshake(sport, opts=None):
    isn = random.randrange(1 << 32)
    mark = len(rx)
    send([eth() / IP(src=OWN_IP4, dst=STACK_IP4) /
          TCP(sport=sport, dport=PORT, flags="S", seq=isn, window=65535,
              options=opts if opts is not None else [("MSS", 1460)])])
    end = time.time() + 3
    while time.time() < end:
        for b in rx[mark:]:
            e = Ether(b)
            if tcp_to(e, sport) and e[TCP].flags.S and e[TCP].flags.A:
                c = {"sport": sport, "snd": (isn + 1) & 0xffffffff, "rcv": (e[TCP].seq + 1) & 0xffffffff}
                send([seg(c, "A")])
                return c
        time.sleep(0.01)
    return None


def seg(c, flags, seq=None, ack=None, data=b"", opts=None):
    t = TCP(sport=c["sport"], dport=PORT, flags=flags, window=65535,
            seq=c["snd"] if seq is None else seq & 0xffffffff,
            ack=c["rcv"] if ack is None else ack & 0xffffffff)
    if opts is not None:
        t.options = opts
    p = eth() / IP(src=OWN_IP4, dst=STACK_IP4) / t
    return p / Raw(data) if data else p


def alive(c):
    """Sends 10 bytes in sequence: the connection lives if they are ACKed."""
    mark = len(rx)
    send([seg(c, "PA", data=b"0123456789")])
    c["snd"] = (c["snd"] + 10) & 0xffffffff
    got = answers(mark, lambda e: tcp_to(e, c["sport"]) and e[TCP].ack == c["snd"])
    return len(got) > 0


def conn_probe(n, make):
    """Opens a connection, sends @n probes from @make(c, i), counts what
    came back for its 4-tuple, and checks that it still works."""
    c = handshake(random.randrange(20000, 60000))
    if not c:
        return {"error": "no handshake"}
    time.sleep(0.6)  # clear of the challenge ACK interval
    mark = len(rx)
    send([make(c, i) for i in range(n)])
    got = answers(mark, lambda e: tcp_to(e, c["sport"]))
    return {"sent": n, "answered": len(got), "flags": [str(e[TCP].flags) for e in got[:4]],
            "acks_rcv_nxt": sum(1 for e in got if e[TCP].ack == c["snd"]),
            "rst": sum(1 for e in got if e[TCP].flags.R), "alive": alive(c)}


# ---- the kernel's connection: its numbers read off the wire ------------------------------

M32 = 0xffffffff
SYN, RST, FIN = 0x02, 0x04, 0x01


def seg_end(s):
    return (s.seq + s.plen + (1 if s.flags & (SYN | FIN) else 0)) & M32


def furthest(segs, base, value):
    """The furthest of @value(s) in sequence space counted from @base."""
    return (base + max((value(s) - base) & M32 for s in segs)) & M32


def live(port, quiet=0.25):
    """skiff's side of the kernel's connection from @port, as the wire
    tells it once the connection has been @quiet s without a segment and
    all is acknowledged both ways (3 s at most: then "quiet" or "settled"
    says what is missing): SND.NXT (the furthest it sent), SND.UNA (the
    furthest the kernel ACKed), RCV.NXT (the furthest the kernel sent),
    RCV.WND (its last window, scaled), MAX.SND.WND (the largest window the
    kernel announced: its SYN's unscaled, the rest scaled), the last
    timestamps each way."""
    end = time.time() + 3
    while True:
        caught_up()
        segs = [f for f in list(flows) if f.port == port]
        st = [f for f in segs if f.stack]
        kn = [f for f in segs if not f.stack]
        ssyn = next((f for f in st if f.flags & SYN), None)
        ksyn = next((f for f in kn if f.flags & SYN), None)
        if (not ssyn or not ksyn) and time.time() < end:
            time.sleep(0.05)
            continue
        if not ssyn or not ksyn:
            raise RuntimeError("no handshake seen on port %d: %d segments of the stack, %d of "
                               "the kernel, %d in all, %d frames from the stack, reader %s" %
                               (port, len(st), len(kn), len(flows), len(rx),
                                "alive" if reader_thread.is_alive() else "dead"))
        scaled = ssyn.ws is not None and ksyn.ws is not None
        ws_s, ws_k = (ssyn.ws, ksyn.ws) if scaled else (0, 0)
        c = {"port": port, "snd_nxt": furthest(st, ssyn.seq, seg_end),
             "snd_una": furthest([f for f in kn if not f.flags & SYN], ssyn.seq,
                                 lambda f: f.ack),
             "rcv_nxt": furthest(kn, ksyn.seq, seg_end), "rcv_wnd": st[-1].wnd << ws_s,
             "max_snd_wnd": max([ksyn.wnd] + [f.wnd << ws_k for f in kn if not f.flags & SYN]),
             "peer_wnd_field": kn[-1].wnd, "ts_peer": kn[-1].ts, "ts_stack": st[-1].ts,
             "quiet": time.time() - segs[-1].t > quiet}
        c["settled"] = c["snd_una"] == c["snd_nxt"] and st[-1].ack == c["rcv_nxt"]
        if (c["quiet"] and c["settled"]) or time.time() > end:
            return c
        time.sleep(0.05)


BASES = {
    "rcv_nxt": lambda c: c["rcv_nxt"], "snd_nxt": lambda c: c["snd_nxt"],
    "snd_una": lambda c: c["snd_una"], "zero": lambda c: 0,
    "rcv_edge": lambda c: c["rcv_nxt"] + c["rcv_wnd"],  # RCV.NXT + RCV.WND
    "ack_floor": lambda c: c["snd_una"] - c["max_snd_wnd"],  # SND.UNA - MAX.SND.WND
}


def kseg(c, p):
    """Probe @p on the kernel's connection @c: flags, seq/ack as a base of
    BASES plus an offset, data bytes, window field (default: the kernel's
    last), MSS option; the timestamps the kernel would send now."""
    opts = [("MSS", p["mss"])] if p.get("mss") else []
    if c["ts_peer"] and c["ts_stack"]:
        opts += [("NOP", None), ("NOP", None),
                 ("Timestamp", ((c["ts_peer"][0] + 1) & M32, c["ts_stack"][0]))]
    t = TCP(sport=c["port"], dport=PORT, flags=p["flags"],
            seq=(BASES[p.get("seq", "rcv_nxt")](c) + p.get("seq_off", 0)) & M32,
            ack=(BASES[p.get("ack", "snd_nxt")](c) + p.get("ack_off", 0)) & M32,
            window=p.get("wnd", c["peer_wnd_field"]), options=opts)
    pkt = eth() / IP(src=PEER_IP4, dst=STACK_IP4, ttl=INJECT_TTL) / t
    return pkt / Raw(b"z" * p["data"]) if p.get("data") else pkt


def case_k_probe(port, probes, gap=0.75, wait=0.3):
    """Probes on the kernel's connection from @port, one every @gap s (the
    challenge-ACK interval is 500 ms); for each, what the stack sent on the
    connection within @wait s: answers, the pure ACKs that carry SND.NXT
    and the unchanged RCV.NXT (acks_ok), RSTs, data bytes, the first
    answer's ack. Then the numbers again: RCV.NXT and SND.NXT unmoved."""
    c = live(port)
    out = {k: v for k, v in c.items() if isinstance(v, (int, bool))}
    n0 = len(flows)
    t_next = time.time()
    for i, p in enumerate(probes):
        time.sleep(max(0, t_next - time.time()))
        caught_up()
        mark = len(flows)
        send([kseg(c, p)])
        t_next = time.time() + gap
        time.sleep(wait)
        caught_up()
        got = [f for f in flows[mark:] if f.stack and f.port == port]
        out.update({
            "p%d_answers" % i: len(got),
            "p%d_acks_ok" % i: sum(1 for f in got if f.flags & 0x3f == 0x10 and not f.plen and
                                   f.seq == c["snd_nxt"] and f.ack == c["rcv_nxt"]),
            "p%d_rst" % i: sum(1 for f in got if f.flags & RST),
            "p%d_data" % i: sum(f.plen for f in got),
            "p%d_ack" % i: got[0].ack if got else -1})
    after = [f for f in flows[n0:] if f.stack and f.port == port]
    out["stack_data"] = sum(f.plen for f in after)
    out["ack_moved"] = sum(1 for f in after if f.ack != c["rcv_nxt"])
    c2 = live(port)
    out["after_snd_nxt"], out["after_rcv_nxt"] = c2["snd_nxt"], c2["rcv_nxt"]
    return out


# ---- the cases ----------------------------------------------------------------------------


def case_bad_ip_checksum(n):
    pkts = []
    for i in range(n):
        ip = IP(src=PEER_IP4, dst=STACK_IP4, chksum=0x1234 + i)
        l4 = ICMP(id=0x4242, seq=i) if i % 2 == 0 else TCP(sport=20000 + i, dport=PORT, flags="S")
        pkts.append(eth() / ip / l4)
    mark = len(rx)
    send(pkts)
    got = answers(mark, lambda e: (ICMP in e and e[ICMP].id == 0x4242) or
                  (TCP in e and 20000 <= e[TCP].dport < 20000 + n))
    return {"sent": n, "answered": len(got)}


def case_bad_tcp_checksum(n):
    c = handshake(random.randrange(20000, 60000))
    pkts = []
    for i in range(n):
        if i % 2 == 0:  # a SYN to the listener
            p = eth() / IP(src=PEER_IP4, dst=STACK_IP4) / TCP(sport=21000 + i, dport=PORT,
                                                              flags="S", chksum=0xbad0 + i)
        else:  # in-sequence data on our connection
            p = seg(c, "PA", data=b"x" * 100)
            p[TCP].chksum = 0xbad0 + i
        pkts.append(p)
    mark = len(rx)
    send(pkts)
    got = answers(mark, lambda e: tcp_to(e, c["sport"]) or
                  (TCP in e and 21000 <= e[TCP].dport < 21000 + n))
    return {"sent": n, "answered": len(got), "alive": alive(c)}


def case_truncated(n):
    pkts = []
    for i in range(n):
        k = i % 4
        if k == 0:  # IPv4 total length past the frame's end
            b = bytearray(raw(IP(src=PEER_IP4, dst=STACK_IP4) / ICMP(id=1, seq=i) / Raw(b"a" * 64)))
            pkts.append(raw(eth4()) + bytes(b[:40]))
        elif k == 1:  # IHL 15 (60 bytes) in a 28-byte packet
            p = IP(src=PEER_IP4, dst=STACK_IP4, ihl=15, len=28) / ICMP(id=1, seq=i)
            pkts.append(raw(eth4()) + raw(p)[:28])
        elif k == 2:  # 10 bytes of TCP header
            ip = IP(src=PEER_IP4, dst=STACK_IP4, proto=6, len=30)
            pkts.append(raw(eth4()) + raw(ip)[:20] + raw(TCP(sport=22000 + i, dport=PORT, flags="S"))[:10])
        else:  # data offset 15 (60 bytes) in a 20-byte segment (checksum right)
            pkts.append(eth() / IP(src=PEER_IP4, dst=STACK_IP4) /
                        TCP(sport=22000 + i, dport=PORT, flags="S", dataofs=15))
    mark = len(rx)
    send(pkts)
    got = answers(mark, lambda e: (ICMP in e and e[ICMP].id == 1) or
                  (TCP in e and 22000 <= e[TCP].dport < 22000 + n))
    return {"sent": n, "answered": len(got)}


def tcp_bytes(src, sport, seq, ack, flags, opts, data=b""):
    """A TCP segment to the stack built byte by byte (Scapy would tidy
    malformed options), with a correct checksum."""
    doff = 5 + len(opts) // 4
    t = struct.pack("!HHIIBBHHH", sport, PORT, seq & 0xffffffff, ack & 0xffffffff, doff << 4,
                    flags, 65535, 0, 0) + opts + data
    pseudo = socket.inet_aton(src) + socket.inet_aton(STACK_IP4) + struct.pack("!BBH", 0, 6, len(t))
    return t[:16] + struct.pack("!H", csum(pseudo + t)) + t[18:]


def case_tcp_options(n):
    """SYNs and in-sequence data whose options are malformed or unknown:
    the options are ignored, the segments are not."""
    kinds = [
        b"\x63\x04\x00\x00",  # unknown kind 99, well formed
        b"\xfd\x06\xab\xcd\x00\x00\x00\x00",  # experimental kind 253 (NOP padded)
        b"\x63\x00\x00\x00",  # length 0
        b"\x02\x04\x05\xb4\x63\x28\x00\x00",  # MSS, then a length past the header
        b"\x08\x01\x00\x00",  # timestamps with length 1
    ]
    syn_answered = 0
    for i in range(n):
        sport = random.randrange(20000, 60000)
        isn = random.randrange(1 << 32)
        mark = len(rx)
        send([eth() / IP(src=OWN_IP4, dst=STACK_IP4, proto=6) /
              Raw(tcp_bytes(OWN_IP4, sport, isn, 0, 0x02, kinds[i % len(kinds)]))])
        got = answers(mark, lambda e: tcp_to(e, sport) and e[TCP].flags.S and e[TCP].flags.A,
                      0.05)
        if got:
            syn_answered += 1
            # go away: a RST with the exact sequence number
            send([eth() / IP(src=OWN_IP4, dst=STACK_IP4) /
                  TCP(sport=sport, dport=PORT, flags="R", seq=isn + 1)])
    c = handshake(random.randrange(20000, 60000))
    data_acked = 0
    for i in range(n):
        mark = len(rx)
        send([eth() / IP(src=OWN_IP4, dst=STACK_IP4, proto=6) /
              Raw(tcp_bytes(OWN_IP4, c["sport"], c["snd"], c["rcv"], 0x18, kinds[i % len(kinds)],
                            b"y" * 20))])
        c["snd"] = (c["snd"] + 20) & 0xffffffff
        if answers(mark, lambda e: tcp_to(e, c["sport"]) and e[TCP].ack == c["snd"], 0.05):
            data_acked += 1
    return {"sent": 2 * n, "syn_answered": syn_answered, "data_acked": data_acked,
            "alive": alive(c)}


def case_rst_out_of_window(n):
    return conn_probe(n, lambda c, i: seg(c, "R", seq=c["snd"] + 10_000_000 + 1000 * i))


def case_rst_in_window(n):
    r = conn_probe(n, lambda c, i: seg(c, "R", seq=c["snd"] + 1000 + 10 * i))
    return r


def case_syn_established(n):
    return conn_probe(n, lambda c, i: seg(c, "S", seq=c["snd"] + 5000 + i, ack=0))


def case_bad_ack(n):
    return conn_probe(n, lambda c, i: seg(c, "A", ack=c["rcv"] + 100000 + i))


def case_oow_data(n):
    return conn_probe(n, lambda c, i: seg(c, "PA", seq=c["snd"] + 1_000_000 + 100 * i,
                                          data=b"z" * 100))


def case_fragments(n):
    res = {}
    # a whole datagram in three fragments: answered
    mark = len(rx)
    ping = IP(src=PEER_IP4, dst=STACK_IP4, id=0x7001) / ICMP(id=0x77, seq=1) / Raw(b"f" * 3000)
    send([eth() / f for f in fragment(ping, fragsize=1200)])
    res["whole_answered"] = len(answers(mark, lambda e: ICMP in e and e[ICMP].type == 0 and
                                        e[ICMP].id == 0x77))
    # overlapping fragments (the second rewrites bytes of the first)
    mark = len(rx)
    pkts = []
    for i in range(n):
        ident = 0x7100 + i
        body = raw(ICMP(id=0x78, seq=i) / Raw(b"o" * 1000))
        pkts.append(eth() / IP(src=PEER_IP4, dst=STACK_IP4, id=ident, flags="MF", frag=0,
                               proto=1) / Raw(body[:800]))
        pkts.append(eth() / IP(src=PEER_IP4, dst=STACK_IP4, id=ident, frag=50, proto=1) /
                    Raw(body[400:]))
    # lone first fragments that never complete
    for i in range(n):
        body = raw(ICMP(id=0x79, seq=i) / Raw(b"l" * 2000))
        pkts.append(eth() / IP(src=PEER_IP4, dst=STACK_IP4, id=0x7200 + i, flags="MF", frag=0,
                               proto=1) / Raw(body[:1000]))
    # a fragment whose end lies past 65535
    pkts.append(eth() / IP(src=PEER_IP4, dst=STACK_IP4, id=0x7300, frag=8180, proto=1) /
                Raw(b"e" * 1000))
    send(pkts)
    got = answers(mark, lambda e: ICMP in e and e[ICMP].type == 0 and e[ICMP].id in (0x78, 0x79))
    res.update({"sent": len(pkts), "answered": len(got)})
    return res


def case_frames(n, big):
    pkts = []
    for i in range(n):
        if i % 2 == 0:  # an oversized frame, for us (MTU raised on both ends)
            pkts.append(eth() / IP(src=PEER_IP4, dst=STACK_IP4) / ICMP(id=0x55, seq=i) /
                        Raw(b"b" * (big - 42)))
        else:  # an Ethernet header and a few bytes of IPv4
            pkts.append(raw(eth4())[:14] + b"\x45\x00" * (i % 4))
    mark = len(rx)
    send(pkts)
    return {"sent": n, "answered": len(answers(mark, lambda e: ICMP in e and e[ICMP].id == 0x55))}


def case_vlan(n):
    pkts = []
    for i in range(n):
        tag = Dot1Q(vlan=42, prio=3) if i % 2 == 0 else Dot1Q(vlan=7)
        e = eth()
        if i % 4 == 1:
            e.type = 0x88a8  # 802.1ad outer tag
        pkts.append(e / tag / IP(src=PEER_IP4, dst=STACK_IP4) / ICMP(id=0x66, seq=i))
    mark = len(rx)
    send(pkts)
    bad = len(answers(mark, lambda e: ICMP in e and e[ICMP].id == 0x66))
    # priority-tagged (VID 0) is untagged traffic by 802.1Q: answered
    mark = len(rx)
    send([eth() / Dot1Q(vlan=0, prio=5) / IP(src=PEER_IP4, dst=STACK_IP4) / ICMP(id=0x67)])
    prio = len(answers(mark, lambda e: ICMP in e and e[ICMP].id == 0x67))
    return {"sent": n, "answered": bad, "prio_tag_answered": prio}


def case_spoof(n):
    pkts = []
    for i in range(n):
        k = i % 4
        if k == 0:  # gratuitous ARP request for the stack's address
            pkts.append(Ether(src=ATTACKER_MAC, dst="ff:ff:ff:ff:ff:ff") /
                        ARP(op=1, hwsrc=ATTACKER_MAC, psrc=STACK_IP4, pdst=STACK_IP4))
        elif k == 1:  # ARP reply claiming the stack's address
            pkts.append(Ether(src=ATTACKER_MAC, dst=STACK_MAC) /
                        ARP(op=2, hwsrc=ATTACKER_MAC, psrc=STACK_IP4, hwdst=STACK_MAC,
                            pdst=STACK_IP4))
        elif k == 2:  # NA: the stack's IPv6 address is at our MAC
            pkts.append(Ether(src=ATTACKER_MAC, dst=STACK_MAC) /
                        IPv6(src="fd77::66", dst=STACK_IP6, hlim=255) /
                        ICMPv6ND_NA(tgt=STACK_IP6, R=0, S=0, O=1) /
                        ICMPv6NDOptDstLLAddr(lladdr=ATTACKER_MAC))
        else:  # NS sent "from" the stack's IPv6 address
            pkts.append(Ether(src=ATTACKER_MAC, dst=STACK_MAC) /
                        IPv6(src=STACK_IP6, dst=STACK_IP6, hlim=255) /
                        ICMPv6ND_NS(tgt=STACK_IP6) / ICMPv6NDOptSrcLLAddr(lladdr=ATTACKER_MAC))
    mark = len(rx)
    send(pkts)
    got = answers(mark, lambda e: e.dst.lower() == ATTACKER_MAC or
                  (ARP in e and e[ARP].pdst == STACK_IP4))
    # the stack still answers for its addresses, at its own MAC
    mark = len(rx)
    send([eth() / IP(src=PEER_IP4, dst=STACK_IP4) / ICMP(id=0x44),
          eth() / IPv6(src="fd77::2", dst=STACK_IP6) / ICMPv6EchoRequest(id=0x45)])
    pings = answers(mark, lambda e: (ICMP in e and e[ICMP].id == 0x44) or
                    (ICMPv6EchoReply in e and e[ICMPv6EchoReply].id == 0x45))
    return {"sent": n, "answered": len(got), "pings_answered": len(pings),
            "pings_to_our_mac": sum(1 for e in pings if e.dst.lower() == MY_MAC)}


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def case_flood(count, rate, port):
    """@count SYNs at @rate per second to @port from random ports and
    addresses of the peer subnet (.100-.250), built as bytes up front."""
    dst = socket.inet_aton(STACK_IP4)
    l2 = STACK_MAC_B + bytes.fromhex(MY_MAC.replace(":", "")) + b"\x08\x00"
    frames = []
    for i in range(count):
        src = socket.inet_aton("10.77.0.%d" % random.randrange(100, 251))
        sport = random.randrange(1024, 65535)
        tcp = struct.pack("!HHIIBBHHH", sport, port, random.randrange(1 << 32), 0, 5 << 4, 0x02,
                          64240, 0, 0)
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xffff, 0, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        frames.append(l2 + ip + tcp)
    print(json.dumps({"flood": "start"}), flush=True)
    t0 = time.time()
    for i, f in enumerate(frames):
        if i % 50 == 0:
            ahead = t0 + i / rate - time.time()
            if ahead > 0:
                time.sleep(ahead)
        tx.send(f)
    return {"sent": count, "seconds": time.time() - t0}


# ---- MPTCP (RFC 8684) on our own connections ---------------------------------------------
# Options are built byte by byte (Scapy would tidy malformed ones) and
# NOP-padded to a word. A key's token is the most significant 32 bits of
# its SHA-256, its IDSN the least significant 64 bits (3.1).


def pad4(o):
    return b"\x01" * (-len(o) % 4) + o


def key_hash(key):
    h = hashlib.sha256(struct.pack("!Q", key)).digest()
    return h[:4], struct.unpack("!Q", h[24:])[0]


def mpc(length, version=1, flags=0x01, body=b""):
    """MP_CAPABLE of @length bytes (body zero-padded or cut to fit)."""
    o = bytes([30, length, version, flags]) + body
    return (o + b"\0" * length)[:length] if length >= 4 else o[:length]


def dss(dack, dsn=None, ssn=None, dlen=None, fin=False, length=None):
    """A DSS with a 64-bit DATA_ACK and, when @dsn is given, a 64-bit
    mapping; @length overrides the length byte (malformed)."""
    fl = 0x03 | (0x0c if dsn is not None else 0) | (0x10 if fin else 0)
    o = bytes([30, 0, 0x20, fl]) + struct.pack("!Q", dack)
    if dsn is not None:
        o += struct.pack("!QIH", dsn & (2**64 - 1), ssn, dlen)
    return o[:1] + bytes([length or len(o)]) + o[2:]


def syn_answer(mark, sport):
    for b in rx[mark:]:
        e = Ether(b)
        if tcp_to(e, sport) and e[TCP].flags.S and e[TCP].flags.A:
            return e
    return None


def mp_opt(e, subtype):
    """The first kind-30 option of @subtype in @e's TCP header, raw."""
    t = raw(e[TCP])
    o, end = 20, (t[12] >> 4) * 4
    while o + 1 < end and t[o] != 0:
        if t[o] == 1:
            o += 1
            continue
        if t[o + 1] < 2:
            break
        if t[o] == 30 and t[o + 1] >= 3 and t[o + 2] >> 4 == subtype:
            return t[o:o + t[o + 1]]
        o += t[o + 1]
    return None


def raw_syn(sport, isn, opts):
    return (eth() / IP(src=OWN_IP4, dst=STACK_IP4, proto=6) /
            Raw(tcp_bytes(OWN_IP4, sport, isn, 0, 0x02, pad4(b"\x02\x04\x05\xb4" + opts))))


def syn_probe(opts, wait=0.3):
    """A SYN with @opts from a fresh port: the stack's answer (SYN-ACK,
    RST or nothing). A SYN-ACK is reset again at once."""
    sport = random.randrange(20000, 60000)
    isn = random.randrange(1 << 32)
    mark = len(rx)
    send([raw_syn(sport, isn, opts)])
    got = answers(mark, lambda e: tcp_to(e, sport), wait)
    if any(e[TCP].flags.S for e in got):
        send([eth() / IP(src=OWN_IP4, dst=STACK_IP4) /
              TCP(sport=sport, dport=PORT, flags="R", seq=isn + 1)])
    return got, isn


def mp_connect(extra=b""):
    """An MPTCP connection: MP_CAPABLE v1 on the SYN (with @extra options),
    the stack's key from its SYN-ACK, both keys on the third ACK."""
    sport = random.randrange(20000, 60000)
    isn = random.randrange(1 << 32)
    key_a = random.randrange(1, 1 << 64)
    mark = len(rx)
    send([raw_syn(sport, isn, mpc(4) + extra)])
    end = time.time() + 3
    e = None
    while e is None and time.time() < end:
        time.sleep(0.01)
        e = syn_answer(mark, sport)
    if e is None:
        return None
    o = mp_opt(e, 0)
    if o is None or len(o) != 12:
        return {"sport": sport, "mpc": False}
    key_b = struct.unpack("!Q", o[4:12])[0]
    c = {"sport": sport, "mpc": True, "snd": (isn + 1) & M32, "rcv": (e[TCP].seq + 1) & M32,
         "key_a": key_a, "key_b": key_b, "token_b": key_hash(key_b)[0],
         "dsn": key_hash(key_a)[1] + 1, "dack": key_hash(key_b)[1] + 1, "rel": 0}
    send([mp_seg(c, 0x10, pad4(mpc(20, body=struct.pack("!QQ", key_a, key_b))))])
    return c


def mp_seg(c, flags, opts, data=b"", seq=None, ack=None):
    return (eth() / IP(src=OWN_IP4, dst=STACK_IP4, proto=6) /
            Raw(tcp_bytes(OWN_IP4, c["sport"], c["snd"] if seq is None else seq,
                          c["rcv"] if ack is None else ack, flags, opts, data)))


def mp_send(c, data, opts=None, dsn_off=0, ssn=None, dlen=None, rel=None, advance=True,
            wait=0.3):
    """@data in sequence (or at subflow offset @rel) under a mapping (or
    @opts as given); True if the stack ACKed it. @advance: count it sent."""
    r = c["rel"] if rel is None else rel
    if opts is None:
        opts = pad4(dss(c["dack"], c["dsn"] + r + dsn_off, r + 1 if ssn is None else ssn,
                        len(data) if dlen is None else dlen))
    seq = (c["snd"] + r - c["rel"]) & M32
    mark = len(rx)
    send([mp_seg(c, 0x18, opts, data, seq=seq)])
    want = (seq + len(data)) & M32
    got = answers(mark, lambda e: tcp_to(e, c["sport"]) and e[TCP].ack == want, wait)
    if advance and rel is None:
        c["snd"] = (c["snd"] + len(data)) & M32
        c["rel"] += len(data)
    return bool(got)


def case_mptcp_syn_lengths(n):
    """SYNs whose MP_CAPABLE has a length no SYN may carry: each must get a
    plain SYN-ACK (the option ignored), none an MP_CAPABLE one."""
    lens = [2, 3, 5, 8, 12, 20]
    plain = mpc_answers = 0
    for i in range(n):
        got, _ = syn_probe(mpc(lens[i % len(lens)]))
        sa = [e for e in got if e[TCP].flags.S and e[TCP].flags.A]
        if sa and mp_opt(sa[0], 0) is None:
            plain += 1
        if sa and mp_opt(sa[0], 0) is not None:
            mpc_answers += 1
    return {"sent": n, "plain_synack": plain, "mpc_synack": mpc_answers}


def case_mptcp_unknown_subtype(n):
    """An unknown subtype (0xe) beside MP_CAPABLE on the SYN, and beside
    the DSS on data of the MPTCP connection: ignored, the rest taken."""
    unknown = bytes([30, 4, 0xe0, 0])
    c = mp_connect(unknown)
    if not c or not c["mpc"]:
        return {"error": "no MPTCP handshake", "c": bool(c)}
    acked = sum(mp_send(c, b"u" * 100, opts=unknown + pad4(dss(c["dack"], c["dsn"] + c["rel"],
                                                                c["rel"] + 1, 100)))
                for _ in range(n))
    ok = mp_send(c, b"v" * 100)
    return {"mpc_synack": True, "data_acked": acked, "sent_bytes": c["rel"], "alive": ok}


def join_macs(c, ra, rb):
    """HMAC-B (the stack's, on its SYN-ACK) and HMAC-A (ours, on the third
    ACK) of a join with nonces @ra (ours) and @rb (the stack's), RFC 8684
    3.2: HMAC-SHA256 keyed with the two keys, the sender's first."""
    kb = struct.pack("!QQ", c["key_b"], c["key_a"])
    ka = struct.pack("!QQ", c["key_a"], c["key_b"])
    return (hmac.new(kb, rb + ra, hashlib.sha256).digest(),
            hmac.new(ka, ra + rb, hashlib.sha256).digest())


def join_open(c, good=True, aid=0):
    """An MP_JOIN subflow of connection @c: its token on our SYN (from
    address id @aid); the stack's SYN-ACK checked (its truncated HMAC-B);
    our third ACK with HMAC-A (a wrong one unless @good). The subflow's
    state, or None when no MP_JOIN SYN-ACK came."""
    sport = random.randrange(20000, 60000)
    isn = random.randrange(1 << 32)
    ra = os.urandom(4)
    mark = len(rx)
    send([raw_syn(sport, isn, bytes([30, 12, 0x10, aid]) + c["token_b"] + ra)])
    got = answers(mark, lambda e: tcp_to(e, sport), 0.3)
    sa = [e for e in got if e[TCP].flags.S and e[TCP].flags.A]
    jo = mp_opt(sa[0], 1) if sa else None
    if jo is None or len(jo) != 16:
        return None
    j = {"sport": sport, "snd": (isn + 1) & M32, "rcv": (sa[0][TCP].seq + 1) & M32, "rel": 0}
    mac_b, mac_a = join_macs(c, ra, jo[12:16])
    j["synack_ok"] = jo[4:12] == mac_b[:8]
    if not good:
        mac_a = bytes(b ^ 0x55 for b in mac_a)
    mark = len(rx)
    send([mp_seg(j, 0x10, pad4(bytes([30, 24, 0x10, 0]) + mac_a[:20]))])
    got = answers(mark, lambda e: tcp_to(e, sport), 0.3)
    j["rst"] = any(e[TCP].flags.R for e in got)
    j["acked"] = any(e[TCP].flags.A and not e[TCP].flags.R and
                     e[TCP].ack == j["snd"] for e in got)
    return j


def case_mptcp_join(n):
    """MP_JOIN SYNs: @n with random tokens (reset, the RST ACKing the
    SYN), @n with the token of a live MPTCP connection (answered with an
    MP_JOIN SYN-ACK whose HMAC-B is checked here; then a third ACK with a
    wrong HMAC-A, which must be reset), @n with a length no SYN's MP_JOIN
    has (answered as TCP)."""
    c = mp_connect()
    if not c or not c["mpc"]:
        return {"error": "no MPTCP handshake"}
    out = {"rst_random": 0, "rst_ack_ok": 0, "live_synack": 0, "live_hmac_ok": 0,
           "bad_hmac_rst": 0, "bad_len_synack": 0, "other": 0}
    for i in range(n):
        got, isn = syn_probe(bytes([30, 12, 0x10, 0]) + os.urandom(4) + os.urandom(4))
        rst = [e for e in got if e[TCP].flags.R]
        if rst and not any(e[TCP].flags.S for e in got):
            out["rst_random"] += 1
            out["rst_ack_ok"] += rst[0][TCP].ack == (isn + 1) & M32
        else:
            out["other"] += 1
    for i in range(n):
        j = join_open(c, good=False)
        if j is None:
            out["other"] += 1
            continue
        out["live_synack"] += 1
        out["live_hmac_ok"] += j["synack_ok"]
        out["bad_hmac_rst"] += j["rst"] and not j["acked"]
    for i in range(n):
        o = bytes([30, 10, 0x10, 0]) + c["token_b"] + os.urandom(2)
        got, isn = syn_probe(o)
        sa = [e for e in got if e[TCP].flags.S]
        if sa and not any(e[TCP].flags.R for e in got) and mp_opt(sa[0], 1) is None:
            out["bad_len_synack"] += 1
        else:
            out["other"] += 1
    out["alive"] = mp_send(c, b"j" * 100)
    out["sent_bytes"] = c["rel"]
    return out


def fnv1a(data, h=0xcbf29ce484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & (2**64 - 1)
    return h


def data_ack_seen(mark, sport):
    """The highest 64-bit DATA_ACK the stack sent to @sport since @mark."""
    best = None
    for b in rx[mark:]:
        e = Ether(b)
        if not tcp_to(e, sport):
            continue
        o = mp_opt(e, 2)
        if o is not None and len(o) >= 12 and o[3] & 0x03 == 0x03:
            v = struct.unpack("!Q", o[4:12])[0]
            best = v if best is None or v > best else best
    return best


def case_mptcp_join_data(n):
    """A joined subflow carrying data: the join's handshake with the right
    HMAC-A (ACKed at once), then, @n times, 100 bytes on the join mapped
    100 bytes ahead of the data-level pointer before the 100 bytes due,
    sent on the first subflow: the stack must hand the application both in
    data order. Then the join is closed (FIN) and the first subflow still
    carries data. What the application must have read: FNV-1a of it."""
    c = mp_connect()
    if not c or not c["mpc"]:
        return {"error": "no MPTCP handshake"}
    j = join_open(c)
    if j is None:
        return {"error": "no MP_JOIN SYN-ACK"}
    out = {"synack_ok": j["synack_ok"], "join_acked": j["acked"], "join_rst": j["rst"],
           "ahead_acked": 0, "due_acked": 0}
    stream = b""
    dseq = c["dsn"]  # the next data sequence number, c["dsn"] + data sent
    for i in range(n):
        a = bytes([0x41 + i % 26]) * 100
        b = bytes([0x61 + i % 26]) * 100
        out["ahead_acked"] += mp_send(j, b, opts=pad4(dss(c["dack"], dseq + 100, j["rel"] + 1,
                                                          100)))
        out["due_acked"] += mp_send(c, a, opts=pad4(dss(c["dack"], dseq, c["rel"] + 1, 100)))
        dseq += 200
        stream += a + b
    mark = len(rx)
    tail = b"z" * 100
    out["after_acked"] = mp_send(c, tail, opts=pad4(dss(c["dack"], dseq, c["rel"] + 1, 100)))
    dseq += 100
    stream += tail
    time.sleep(0.1)
    da = data_ack_seen(mark, c["sport"])
    out["data_ack_ok"] = da == dseq
    # the join closed by us: the stack closes it too, the connection goes on
    mark = len(rx)
    send([mp_seg(j, 0x11, pad4(dss(c["dack"])))])
    got = answers(mark, lambda e: tcp_to(e, j["sport"]) and e[TCP].flags.F, 0.5)
    out["join_fin"] = bool(got)
    more = b"y" * 100
    out["alive"] = mp_send(c, more, opts=pad4(dss(c["dack"], dseq, c["rel"] + 1, 100)))
    stream += more
    out["sent_bytes"] = len(stream)
    out["fnv"] = fnv1a(stream) & (2**63 - 1)  # hb_jnum reads a signed 64-bit number
    return out


def case_mptcp_join_orphan(n):
    """@n connections, each with a join: the first subflow reset by us
    (in window). The connection must go on over the join (RFC 8684: a
    connection lives while one of its subflows does): no RST on it, and
    100 bytes sent there next are ACKed."""
    out = {"joined": 0, "join_rst": 0, "join_carried": 0}
    for i in range(n):
        c = mp_connect()
        if not c or not c["mpc"]:
            return {"error": "no MPTCP handshake"}
        j = join_open(c)
        if j is None or not j["acked"]:
            continue
        out["joined"] += 1
        mark = len(rx)
        send([mp_seg(c, 0x04, b"")])
        got = answers(mark, lambda e: tcp_to(e, j["sport"]) and e[TCP].flags.R, 0.5)
        out["join_rst"] += bool(got)
        out["join_carried"] += mp_send(j, b"j" * 100,
                                       opts=pad4(dss(c["dack"], c["dsn"], j["rel"] + 1, 100)))
    return out


def case_mptcp_bad_dss(n):
    """Malformed DSS options and bad mappings on an established MPTCP
    connection, each on 100 bytes in sequence; what the stack ACKed."""
    c = mp_connect()
    if not c or not c["mpc"]:
        return {"error": "no MPTCP handshake"}
    out = {}
    # a DSS whose length byte does not fit its flags: the option is ignored
    out["bad_len_acked"] = mp_send(c, b"a" * 100,
                                   opts=pad4(dss(c["dack"], c["dsn"] + c["rel"], c["rel"] + 1, 100,
                                                 length=25)))
    # data-level length 0: an infinite mapping, a peer that fell back
    out["infinite_acked"] = mp_send(c, b"b" * 100, dlen=0)
    # a mapping past what the connection is owed: dropped
    out["ahead_acked"] = mp_send(c, b"c" * 100, dsn_off=1000, advance=False)
    # data mapped at subflow sequence 0 (only a lone DATA_FIN may be): dropped
    out["ssn0_acked"] = mp_send(c, b"d" * 100, ssn=0, advance=False)
    # out of order, then the same bytes again under another mapping
    # (contradicting it: dropped), then the hole filled
    r = c["rel"]
    mp_send(c, b"f" * 100, rel=r + 100, advance=False, wait=0.2)
    out["contradict_acked"] = mp_send(c, b"f" * 100, rel=r + 100, dsn_off=5000, advance=False,
                                      wait=0.2)
    # the hole filled: both segments ACKed at once
    mark = len(rx)
    send([mp_seg(c, 0x18, pad4(dss(c["dack"], c["dsn"] + r, r + 1, 100)), b"e" * 100)])
    want = (c["snd"] + 200) & M32
    out["fill_acked"] = bool(answers(mark, lambda e: tcp_to(e, c["sport"]) and
                                     e[TCP].ack == want, 0.3))
    c["snd"] = want
    c["rel"] += 200
    for _ in range(n):
        mp_send(c, b"g" * 100)
    out["alive"] = mp_send(c, b"h" * 100)
    out["sent_bytes"] = c["rel"]
    return out


# ---- the path manager's signals and the closing options (3.4 to 3.6) --------------------

ANNOUNCED = "10.77.0.55"  # an address of the test net that no one holds


def first(mark, match, limit=1.0):
    """The first frame from the stack after @mark that @match accepts,
    polled for @limit s at most; None if none came."""
    end = time.time() + limit
    seen = mark
    while True:
        n = len(rx)
        for b in rx[seen:n]:
            e = Ether(b)
            if match(e):
                return e
        seen = n
        if time.time() > end:
            return None
        time.sleep(0.01)


def frames_to(mark, sport):
    """The stack's segments to @sport since @mark."""
    return [e for e in (Ether(b) for b in rx[mark:]) if tcp_to(e, sport)]


def tcp_plen(e):
    return e[IP].len - e[IP].ihl * 4 - e[TCP].dataofs * 4


def mp_push(c, data, limit=1.0):
    """@data in sequence on @c under its mapping: True once the stack ACKs
    it (a RST does not count), polled for @limit s at most."""
    opts = pad4(dss(c["dack"], c["dsn"] + c["rel"], c["rel"] + 1, len(data)))
    mark = len(rx)
    send([mp_seg(c, 0x18, opts, data)])
    c["snd"] = (c["snd"] + len(data)) & M32
    c["rel"] += len(data)
    return first(mark, lambda e: tcp_to(e, c["sport"]) and not e[TCP].flags.R and
                 e[TCP].ack == c["snd"], limit) is not None


def add_addr_mac(c, aid, addr, port=0, swap=False):
    """ADD_ADDR's HMAC (3.4.1), all 32 bytes: HMAC-SHA256 keyed with the
    sender's key (ours) then the receiver's (@swap: the other way round),
    over the address id, the address and the port (0 when none)."""
    ka, kb = (c["key_b"], c["key_a"]) if swap else (c["key_a"], c["key_b"])
    msg = bytes([aid]) + socket.inet_aton(addr) + struct.pack("!H", port)
    return hmac.new(struct.pack("!QQ", ka, kb), msg, hashlib.sha256).digest()


def add_addr(c, aid, addr, port=0, echo=False, mac=None, length=None):
    """ADD_ADDR of IPv4 @addr (and @port) as address id @aid: with the
    rightmost 64 bits of its HMAC, or @mac in their place, or an echo (flag
    E, no HMAC); @length cuts or zero-pads it (malformed)."""
    o = bytes([30, 0, 0x30 | (1 if echo else 0), aid]) + socket.inet_aton(addr)
    if port:
        o += struct.pack("!H", port)
    if not echo:
        o += mac if mac is not None else add_addr_mac(c, aid, addr, port)[-8:]
    if length is not None:
        o = (o + b"\0" * length)[:length]
    return o[:1] + bytes([len(o)]) + o[2:]


def fastclose(key):
    return bytes([30, 12, 0x70, 0]) + struct.pack("!Q", key)


def echo_opt(e):
    """The ADD_ADDR echo (flag E) on @e, raw, or None."""
    o = mp_opt(e, 3)
    return o if o is not None and o[2] & 0x01 else None


def has_data_ack(e):
    o = mp_opt(e, 2)
    return o is not None and len(o) >= 8 and bool(o[3] & 0x01)


def signal_seg(c, opt):
    """A pure ACK in sequence on @c with @opt beside a DSS DATA_ACK."""
    return mp_seg(c, 0x10, pad4(opt) + pad4(dss(c["dack"])))


def case_mptcp_signals(n):
    """ADD_ADDR, REMOVE_ADDR, MP_PRIO, MP_TCPRST and MP_FASTCLOSE on an
    established MPTCP connection: @n ADD_ADDRs with the right HMAC, each
    answered at once by a pure ACK with the echo and a DATA_ACK; @n with a
    wrong HMAC (cut from the wrong end, keyed the wrong way round, one bit
    off) and 3 of lengths ADD_ADDR cannot have: no echo; then MP_PRIO,
    REMOVE_ADDR (the id announced; two unknown), an echo, MP_TCPRST on an
    ACK, MP_FASTCLOSE with a wrong key and with ours: the connection lives.
    Each signal is followed by 100 bytes; where no echo may come, their ACK
    comes after anything the signal drew (the stack answers in order)."""
    c = mp_connect()
    if not c or not c["mpc"]:
        return {"error": "no MPTCP handshake"}
    sport = c["sport"]
    mark0 = len(rx)
    want_echo = bytes([30, 8, 0x31, 5]) + socket.inet_aton(ANNOUNCED)
    out = {"echo_ok": 0, "bad_hmac_echoed": 0, "bad_len_echoed": 0, "d_echoed": 0,
           "pushed": 0, "acked": 0}
    stream = []

    def push(data):
        stream.append(data)
        out["pushed"] += 1
        out["acked"] += mp_push(c, data)

    def signal(opt):
        mark = len(rx)
        send([signal_seg(c, opt)])
        push(b"s" * 100)
        return sum(1 for e in frames_to(mark, sport) if echo_opt(e) is not None)

    # (a) the right HMAC: an echo of the same id and address, no HMAC, on
    # a pure ACK of nothing new, beside a DATA_ACK
    for _ in range(n):
        mark = len(rx)
        send([signal_seg(c, add_addr(c, 5, ANNOUNCED))])
        e = first(mark, lambda e: tcp_to(e, sport) and echo_opt(e) is not None)
        out["echo_ok"] += bool(e is not None and echo_opt(e) == want_echo and
                               int(e[TCP].flags) == 0x10 and tcp_plen(e) == 0 and
                               e[TCP].seq == c["rcv"] and e[TCP].ack == c["snd"] and
                               has_data_ack(e))
        push(b"a" * 100)
    # (b) wrong HMACs
    right = add_addr_mac(c, 5, ANNOUNCED)
    wrong = [right[:8], add_addr_mac(c, 5, ANNOUNCED, swap=True)[-8:],
             right[-8:-1] + bytes([right[-1] ^ 0x01])]
    for i in range(n):
        out["bad_hmac_echoed"] += signal(add_addr(c, 5, ANNOUNCED, mac=wrong[i % len(wrong)]))
    # (c) lengths no ADD_ADDR has: 15 and 17 (an IPv4 one cut, or grown),
    # 12 with flag E
    for o in (add_addr(c, 5, ANNOUNCED, length=15), add_addr(c, 5, ANNOUNCED, length=17),
              add_addr(c, 5, ANNOUNCED, echo=True, length=12)):
        out["bad_len_echoed"] += signal(o)
    # (d) the other signals, none of which may end the connection
    for o in (bytes([30, 3, 0x51]),  # MP_PRIO, backup
              bytes([30, 4, 0x40, 5]),  # REMOVE_ADDR of the id announced
              bytes([30, 5, 0x40, 9, 200]),  # ... of two ids never announced
              add_addr(c, 5, ANNOUNCED, echo=True),  # an echo: we announced nothing
              bytes([30, 4, 0x80, 0x01]),  # MP_TCPRST, not on a RST
              fastclose(c["key_b"] ^ 1),  # MP_FASTCLOSE, a key not the stack's
              fastclose(c["key_a"])):  # ... with our own key: the sender's
        out["d_echoed"] += signal(o)
    stream.append(b"e" * 100)
    out["alive"] = mp_push(c, stream[-1])
    time.sleep(0.2)
    caught_up()
    got = frames_to(mark0, sport)
    out["echoes"] = sum(1 for e in got if echo_opt(e) is not None)
    out["rst"] = sum(1 for e in got if e[TCP].flags.R)
    da = data_ack_seen(mark0, sport)
    out["data_ack_ok"] = da == c["dsn"] + c["rel"]
    # no join to the address announced (add_addr_accepted is 0): no SYN,
    # not even an ARP request for it
    out["stack_syn"] = sum(1 for e in (Ether(b) for b in rx[mark0:])
                           if (TCP in e and e[TCP].flags.S and not e[TCP].flags.A) or
                           (ARP in e and e[ARP].pdst == ANNOUNCED))
    out["sent_bytes"] = c["rel"]
    out["fnv"] = fnv1a(b"".join(stream)) & (2**63 - 1)
    return out


held = {}  # connections case_mptcp_fastclose_open keeps for case_mptcp_fastclose


def case_mptcp_fastclose_open(n):
    """Two MPTCP connections, @n x 100 bytes on each: "fc", with a join,
    which case_mptcp_fastclose closes with MP_FASTCLOSE, and "ar", which the
    application resets in between."""
    out = {"data_acked": 0, "sent_bytes": 0}
    for name in ("fc", "ar"):
        c = mp_connect()
        if not c or not c["mpc"]:
            return {"error": "no MPTCP handshake"}
        out["data_acked"] += sum(mp_push(c, bytes([0x61 + i % 26]) * 100) for i in range(n))
        if name == "fc":
            c["join"] = j = join_open(c)
            out["joined"] = bool(j and j["synack_ok"] and j["acked"] and not j["rst"])
        out["sent_bytes"] += c["rel"]
        out[name + "_port"] = c["sport"]
        c["mark"] = len(rx)
        held[name] = c
    return out


def rst_after(c, mark, limit=1.0):
    return first(mark, lambda e: tcp_to(e, c["sport"]) and e[TCP].flags.R, limit)


def case_mptcp_fastclose(n):
    """The RST the application's reset of "ar" sent: MP_FASTCLOSE with our
    key and MP_TCPRST. MP_FASTCLOSE with the stack's key on an ACK of the
    join of "fc": the stack must reset both subflows, each RST (at its
    SND.NXT) carrying MP_TCPRST, and keep nothing of them. Then a RST of
    ours with MP_TCPRST, and one with MP_FASTCLOSE and MP_TCPRST (as Linux
    closes fast), each on a new connection that carried @n x 100 bytes:
    neither answered, both connections gone."""
    fc, ar = held.pop("fc"), held.pop("ar")
    j = fc["join"]
    out = {}
    e = rst_after(ar, ar["mark"])
    out["ar_rst"] = e is not None
    out["ar_fastclose_ok"] = e is not None and mp_opt(e, 7) == fastclose(ar["key_a"])
    out["ar_tcprst"] = e is not None and len(mp_opt(e, 8) or b"") == 4
    # MP_FASTCLOSE with the stack's key on an ACK of the join
    mark = len(rx)
    send([mp_seg(j, 0x10, pad4(fastclose(fc["key_b"])) + pad4(dss(fc["dack"])))])
    rsts = [(s, rst_after(s, mark)) for s in (fc, j)]
    time.sleep(0.2)
    got = frames_to(mark, fc["sport"]) + frames_to(mark, j["sport"])
    out["fc_rst"] = sum(1 for f in got if f[TCP].flags.R)
    out["fc_other"] = sum(1 for f in got if not f[TCP].flags.R)
    out["fc_tcprst"] = sum(1 for s, e in rsts if e is not None and len(mp_opt(e, 8) or b"") == 4)
    out["fc_fastclose"] = sum(1 for s, e in rsts if e is not None and mp_opt(e, 7) is not None)
    out["fc_seq_ok"] = sum(1 for s, e in rsts if e is not None and e[TCP].seq == s["rcv"])
    # nothing left of it: data is answered by a RST, not ACKed
    mark = len(rx)
    out["fc_after_acked"] = mp_push(fc, b"x" * 100, limit=0.3)
    out["fc_after_rst"] = rst_after(fc, mark, 0.3) is not None
    # our RSTs: MP_TCPRST alone, then MP_FASTCLOSE (the stack's key) with it
    out["sent_bytes"] = 0
    out["rst_answered"] = out["rst_dead"] = 0
    for opts in (lambda c: pad4(bytes([30, 4, 0x80, 0x01])),
                 lambda c: pad4(fastclose(c["key_b"])) + pad4(bytes([30, 4, 0x80, 0x01]))):
        c = mp_connect()
        if not c or not c["mpc"]:
            return {"error": "no MPTCP handshake"}
        if sum(mp_push(c, b"r" * 100) for _ in range(n)) != n:
            return {"error": "data not ACKed"}
        out["sent_bytes"] += c["rel"]
        mark = len(rx)
        send([mp_seg(c, 0x04, opts(c))])
        out["rst_answered"] += len(answers(mark, lambda e: tcp_to(e, c["sport"]), 0.3))
        mark = len(rx)
        mp_push(c, b"y" * 100, limit=0.3)
        out["rst_dead"] += rst_after(c, mark, 0.3) is not None
    return out


JOIN_ID = 4  # the address id on the MP_JOIN SYN of case_mptcp_signals_oow's join


def case_mptcp_signals_oow(n):
    """Signals a segment TCP would not take must not act (RFC 8684 reads
    them only after TCP's checks, as Linux does): on a connection with a
    join from address id JOIN_ID, each carrying @n x 100 bytes first,
    REMOVE_ADDR of that id on a pure ACK 2^30 left of RCV.NXT and on one
    in sequence whose ACK is 2^30 past SND.NXT; MP_PRIO on the join with an
    ACK 2^30 behind SND.UNA; MP_FASTCLOSE with the stack's key on a pure ACK
    of the join 100000 left of its RCV.NXT; a RST|ACK with MP_FASTCLOSE (the
    stack's key) and MP_TCPRST at RCV.NXT + 10 (in the window, not exact);
    an ADD_ADDR with the right HMAC on a pure ACK at RCV.NXT - 1. (Not past
    the right edge: the stack's guard drops such a segment before MPTCP
    reads it.) Each must draw an ACK on its subflow and nothing else: no
    FIN, no RST, no echo. The probes are 0.7 s apart: three of them draw
    challenge ACKs, one per 500 ms, and one over the limit would be dropped
    before MPTCP saw it. Then data on both subflows, and the control: a
    REMOVE_ADDR of JOIN_ID in sequence closes the join (a FIN from the
    stack) and the first subflow carries on."""
    c = mp_connect()
    if not c or not c["mpc"]:
        return {"error": "no MPTCP handshake"}
    stream = []
    if sum(mp_push(c, bytes([0x41 + i % 26]) * 100) for i in range(n)) != n:
        return {"error": "data not ACKed"}
    stream.append(b"".join(bytes([0x41 + i % 26]) * 100 for i in range(n)))
    j = join_open(c, aid=JOIN_ID)
    if j is None or not j["synack_ok"] or not j["acked"] or j["rst"]:
        return {"error": "no join: %r" % j}
    dseq = [c["dsn"] + c["rel"]]  # the next data sequence number

    def push(s, data):
        """@data in sequence on subflow @s, mapped at the next data
        sequence number: True once the stack ACKs it."""
        opts = pad4(dss(c["dack"], dseq[0], s["rel"] + 1, len(data)))
        mark = len(rx)
        send([mp_seg(s, 0x18, opts, data)])
        s["snd"] = (s["snd"] + len(data)) & M32
        s["rel"] += len(data)
        dseq[0] += len(data)
        stream.append(data)
        return first(mark, lambda e: tcp_to(e, s["sport"]) and not e[TCP].flags.R and
                     e[TCP].ack == s["snd"]) is not None

    out = {"joined": True}
    out["join_data_acked"] = sum(push(j, bytes([0x61 + i % 26]) * 100) for i in range(n))
    rm = bytes([30, 4, 0x40, JOIN_ID])
    tcprst = bytes([30, 4, 0x80, 0x01])
    probes = [  # name, subflow, flags, seq and ack offsets, options
        ("rm_old", c, 0x10, -(1 << 30), 0, pad4(rm) + pad4(dss(c["dack"]))),
        ("rm_bad_ack", c, 0x10, 0, 1 << 30, pad4(rm) + pad4(dss(c["dack"]))),
        ("prio_old_ack", j, 0x10, 0, -(1 << 30), pad4(bytes([30, 3, 0x51])) +
         pad4(dss(c["dack"]))),
        ("fc_old", j, 0x10, -100000, 0, pad4(fastclose(c["key_b"])) + pad4(dss(c["dack"]))),
        ("rst_in_window", c, 0x14, 10, 0, pad4(fastclose(c["key_b"])) + pad4(tcprst)),
        ("add_old", c, 0x10, -1, 0, pad4(add_addr(c, 6, ANNOUNCED)) + pad4(dss(c["dack"]))),
    ]
    out["probes"] = len(probes)
    out["answered_ok"] = 0
    time.sleep(0.7)  # clear of any challenge ACK of the set-up
    mark0 = len(rx)
    for name, s, flags, seq_off, ack_off, opts in probes:
        o = j if s is c else c
        mark = len(rx)
        send([mp_seg(s, flags, opts, seq=s["snd"] + seq_off, ack=s["rcv"] + ack_off)])
        first(mark, lambda e: tcp_to(e, c["sport"]) or tcp_to(e, j["sport"]))
        time.sleep(0.3)
        caught_up()
        own, other = frames_to(mark, s["sport"]), frames_to(mark, o["sport"])
        acks = [e for e in own if int(e[TCP].flags) == 0x10 and tcp_plen(e) == 0 and
                e[TCP].seq == s["rcv"] and e[TCP].ack == s["snd"] and echo_opt(e) is None]
        out[name] = "%d ACKs, %d other on its subflow, %d on the other" % (
            len(acks), len(own) - len(acks), len(other))
        out["answered_ok"] += bool(acks) and len(acks) == len(own) and not other
        if name == "rst_in_window":
            out["rst_challenge_acks"] = len(acks)
        time.sleep(0.4)
    # both subflows still carry data, and the DATA_ACK covers it all
    out["main_acked"] = push(c, b"m" * 100)
    out["join_acked"] = push(j, b"j" * 100)
    time.sleep(0.1)
    caught_up()
    das = [d for d in (data_ack_seen(mark0, c["sport"]), data_ack_seen(mark0, j["sport"]))
           if d is not None]
    out["data_ack_ok"] = bool(das) and max(das) == dseq[0] & (2**64 - 1)
    # nothing but ACKs since the first probe: no FIN, no RST, no echo
    got = frames_to(mark0, c["sport"]) + frames_to(mark0, j["sport"])
    out["fin_rst"] = sum(1 for e in got if e[TCP].flags.F or e[TCP].flags.R)
    out["echoes"] = sum(1 for e in got if echo_opt(e) is not None)
    # the control: the same REMOVE_ADDR in sequence closes the join
    mark = len(rx)
    send([signal_seg(c, rm)])
    fin = first(mark, lambda e: tcp_to(e, j["sport"]) and e[TCP].flags.F)
    out["rm_join_fin"] = fin is not None
    out["alive"] = push(c, b"z" * 100)
    caught_up()
    out["rm_rst"] = sum(1 for e in frames_to(mark, c["sport"]) + frames_to(mark, j["sport"])
                        if e[TCP].flags.R)
    out["rm_main_fin"] = sum(1 for e in frames_to(mark, c["sport"]) if e[TCP].flags.F)
    out["sent_bytes"] = dseq[0] - c["dsn"]
    out["fnv"] = fnv1a(b"".join(stream)) & (2**63 - 1)
    return out


CASES = {
    "bad_ip_checksum": case_bad_ip_checksum, "bad_tcp_checksum": case_bad_tcp_checksum,
    "truncated": case_truncated, "tcp_options": case_tcp_options,
    "rst_out_of_window": case_rst_out_of_window, "rst_in_window": case_rst_in_window,
    "syn_established": case_syn_established, "bad_ack": case_bad_ack,
    "oow_data": case_oow_data, "fragments": case_fragments, "frames": case_frames,
    "vlan": case_vlan, "spoof": case_spoof, "flood": case_flood, "k_probe": case_k_probe,
    "mptcp_syn_lengths": case_mptcp_syn_lengths,
    "mptcp_unknown_subtype": case_mptcp_unknown_subtype, "mptcp_join": case_mptcp_join,
    "mptcp_join_data": case_mptcp_join_data, "mptcp_join_orphan": case_mptcp_join_orphan,
    "mptcp_bad_dss": case_mptcp_bad_dss, "mptcp_signals": case_mptcp_signals,
    "mptcp_fastclose_open": case_mptcp_fastclose_open, "mptcp_fastclose": case_mptcp_fastclose,
    "mptcp_signals_oow": case_mptcp_signals_oow,
}

print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    name = cmd.pop("case")
    try:
        out = CASES[name](**cmd)
    except Exception as e:  # the test prints it and fails
        out = {"error": "%s: %r" % (name, e)}
    print(json.dumps(out), flush=True)
