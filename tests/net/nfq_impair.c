/*
 * nfq_impair: impairs the packets of one NFQUEUE queue, seeded and counted,
 * for tests that put a router namespace between two ends (tests/net/router.h
 * starts it there). tc netem is not available on the machines these tests
 * run on; this does what the tests need of it:
 *
 *   --drop-ppm P                  drop with probability P per million
 *   --strip-tcp-option KIND       TCP options of KIND become NOPs, checksum
 *                                    fixed (repeatable; IPv4 and IPv6)
 *   --reorder-ppm P               hold a packet back behind the next K
 *   --reorder-depth K                (default 3; released after
 *   --reorder-timeout-ms T           T ms (default 20) if fewer arrive)
 *   --hold-acks-ms H              hold the packets --hold-match selects H ms
 *   --hold-match pure-ack|ack|tcp    (default pure-ack: TCP, ACK set, no
 *   --sport N / --dport N            payload, no SYN/FIN/RST), port filters
 *   --log FILE                       "release <monotonic ns> <ack>" per held
 *                                    packet released (appended, line-buffered;
 *                                    the time is taken just before the verdict
 *                                    is sent: the packet cannot have left the
 *                                    router earlier)
 *   --delay-ms D                  every packet not held waits D ms, in order
 *   --seed S                      the random stages' seed (default 1)
 *   --queue N                     the NFQUEUE number (default 0)
 *   --stats FILE                  where the counters go (below)
 *   --maxlen N                    the kernel queue's length (default 65536)
 *   --rcvbuf BYTES                the socket's receive buffer (default 8 MiB)
 *   --fail-open                   a full queue accepts instead of dropping
 *
 * Packets pass the stages in this order: drop, strip, reorder, then hold or
 * delay. Held and delayed packets sit in two FIFOs (each in due order, since
 * every packet in one waits the same time); one thread polls the queue's
 * netlink socket with the earliest due time as its timeout, reads up to 64
 * packets per recvmmsg and sends the verdicts that fall due in batches (many
 * verdict messages in one sendmsg).
 *
 * Under load: NETLINK_NO_ENOBUFS, an 8 MiB socket buffer, a 65536-packet
 * queue, only the headers copied unless options are edited; ENOBUFS from
 * recv and verdicts the kernel refuses are counted, never fatal. Pair the
 * rule with --queue-bypass so the path stays up if this process is gone.
 * A delay is a lower bound: the kernel forwards a released packet inside the
 * verdict's sendmsg, so when the CPUs are saturated releases run late, and
 * "late" / "late_max_us" say by how much.
 *
 * Prints "ready" once bound. SIGUSR1 writes the counters ("key value" lines,
 * replaced atomically, "dumps" counting the writes) to --stats: packets,
 * delayed, reordered, held, stripped, dropped, requeue_failed, enobufs,
 * strip_skipped (not copied whole, left alone), late (released 1 ms or more
 * after due) and late_max_us, waiting (held now), the kernel's
 * kernel_queue_dropped (queue full) and kernel_user_dropped (socket full),
 * cpu_ms. SIGTERM/SIGINT accept everything held, write them and exit 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libnetfilter_queue/libnetfilter_queue.h>

#define NSEC_PER_MS 1000000ULL
#define PPM	    1000000U
/* Bytes of each packet copied to us: all of it to edit options; the
 * headers (IPv6 with a few extension headers, TCP with 40 bytes of
 * options) to hold ACKs; hardly anything when no stage looks inside. */
#define COPY_HEADERS 256
#define COPY_LITTLE  64
#define COPY_ALL     0xffff
/* A message is the copied bytes and a few hundred of attributes. */
#define RX_SLOT_HEADERS 4096
#define RX_SLOT_ALL	(COPY_ALL + 4096)
#define BATCH_BYTES	(256 * 1024)
/* Packets read per round (one recvmmsg) before the due ones are released. */
#define RX_BURST     64
#define PARK_MAX     1024
#define FIFO_INITIAL 4096
#define SEND_RETRIES 100

enum hold_match { MATCH_PURE_ACK, MATCH_ACK, MATCH_TCP };

struct options {
	unsigned queue;
	uint64_t seed;
	uint32_t drop_ppm;
	uint32_t reorder_ppm;
	unsigned reorder_depth;
	uint64_t reorder_timeout_ns;
	uint64_t delay_ns;
	uint64_t hold_ns;
	enum hold_match hold_match;
	int sport, dport; /* -1: any */
	bool strip[256];
	bool stripping;
	const char *log_path;
	const char *stats_path;
	uint32_t maxlen;
	int rcvbuf;
	bool fail_open;
};

struct counters {
	uint64_t packets, delayed, reordered, held, stripped, dropped, requeue_failed, enobufs;
	uint64_t strip_skipped; /* carried the option but were not fully copied */
	uint64_t late;		/* released 1 ms or more after they were due */
	uint64_t late_max_ns;
	uint64_t dumps;
};

/* A packet whose verdict is still to be sent. */
struct pkt {
	uint64_t due_ns;
	uint32_t id;
	uint32_t ack;  /* TCP acknowledgment number, for the log */
	uint8_t *data; /* the edited packet, sent with the verdict; or NULL */
	uint32_t len;
	bool hold;
};

/* Packets in due order: a ring that grows. */
struct fifo {
	struct pkt *v;
	size_t cap, head, n;
};

struct parked {
	struct pkt p;
	unsigned left; /* packets still to pass it */
	uint64_t deadline_ns;
};

/* What the stages need of a TCP segment. */
struct tcp_view {
	uint8_t *tcp;
	unsigned hdr_len;
	unsigned payload; /* from the IP lengths, whatever was copied */
	bool whole;	  /* the packet was copied to its end */
	uint16_t sport, dport;
	uint32_t ack;
	uint8_t flags;
};

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

static struct {
	struct options o;
	struct nfq_handle *h;
	struct nfq_q_handle *qh;
	int fd, sfd;
	uint64_t rng;
	bool stopping;
	struct fifo delay, hold;
	struct parked park[PARK_MAX];
	unsigned nparked;
	/* Verdicts not sent yet, and the acks of held packets among them. */
	uint8_t batch[BATCH_BYTES];
	size_t batch_len;
	unsigned batch_n;
	uint32_t *log_acks;
	size_t nlog, log_cap;
	FILE *log;
	struct counters c;
	struct mmsghdr rx_msg[RX_BURST];
	struct iovec rx_iov[RX_BURST];
} S;

__attribute__((format(printf, 1, 2))) static void warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("nfq_impair: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("nfq_impair: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* splitmix64: seeded, so a run can be repeated packet for packet. */
static uint64_t rnd(void)
{
	uint64_t z = (S.rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static bool chance(uint32_t ppm)
{
	return ppm && rnd() % PPM < ppm;
}

/* ---- FIFOs ------------------------------------------------------------------------ */

static void fifo_push(struct fifo *f, const struct pkt *p)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : FIFO_INITIAL;
		struct pkt *v = malloc(cap * sizeof(*v));

		if (!v)
			die("out of memory (%zu packets held)", f->n);
		for (size_t i = 0; i < f->n; i++)
			v[i] = f->v[(f->head + i) % f->cap];
		free(f->v);
		f->v = v;
		f->cap = cap;
		f->head = 0;
	}
	f->v[(f->head + f->n) % f->cap] = *p;
	f->n++;
}

static const struct pkt *fifo_peek(const struct fifo *f)
{
	return f->n ? &f->v[f->head] : NULL;
}

static struct pkt fifo_pop(struct fifo *f)
{
	struct pkt p = f->v[f->head];

	f->head = (f->head + 1) % f->cap;
	f->n--;
	return p;
}

/* ---- verdicts, in batches ------------------------------------------------------------ */

static void flush(void)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	uint64_t t;
	int tries = 0;

	if (!S.batch_n)
		return;
	/* Taken before the send: a released packet cannot have left the
	 * router before this time (the kernel reinjects during sendmsg). */
	t = now_ns();
	while (sendto(S.fd, S.batch, S.batch_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) <
	       0) {
		if ((errno == EINTR || errno == EAGAIN || errno == ENOBUFS || errno == ENOMEM) &&
		    ++tries < SEND_RETRIES) {
			poll(NULL, 0, 1);
			continue;
		}
		warn("sending %u verdicts: %s", S.batch_n, strerror(errno));
		S.c.requeue_failed += S.batch_n;
		break;
	}
	if (S.log)
		for (size_t i = 0; i < S.nlog; i++)
			fprintf(S.log, "release %" PRIu64 " %" PRIu32 "\n", t, S.log_acks[i]);
	S.nlog = 0;
	S.batch_len = 0;
	S.batch_n = 0;
}

static void log_ack(uint32_t ack)
{
	if (!S.log)
		return;
	if (S.nlog == S.log_cap) {
		size_t cap = S.log_cap ? S.log_cap * 2 : 1024;
		uint32_t *v = realloc(S.log_acks, cap * sizeof(*v));

		if (!v)
			die("out of memory (log)");
		S.log_acks = v;
		S.log_cap = cap;
	}
	S.log_acks[S.nlog++] = ack;
}

/* Queues the verdict of @p p (sent by flush()) and frees its data. */
static void verdict(struct pkt *p, uint32_t v)
{
	size_t need = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg)) +
		      NLA_ALIGN(NLA_HDRLEN + sizeof(struct nfqnl_msg_verdict_hdr)) +
		      (p->data ? NLA_ALIGN(NLA_HDRLEN + p->len) : 0);
	struct nlmsghdr *nlh;

	if (S.batch_len + need > sizeof(S.batch))
		flush();
	nlh = nfq_nlmsg_put((char *)S.batch + S.batch_len, NFQNL_MSG_VERDICT, S.o.queue);
	nfq_nlmsg_verdict_put(nlh, (int)p->id, (int)v);
	if (p->data && v == NF_ACCEPT)
		nfq_nlmsg_verdict_put_pkt(nlh, p->data, p->len);
	S.batch_len += NLMSG_ALIGN(nlh->nlmsg_len);
	S.batch_n++;
	if (p->hold)
		log_ack(p->ack);
	free(p->data);
	p->data = NULL;
}

/* ---- parsing and editing ---------------------------------------------------------- */

static bool tcp_find(uint8_t *pkt, unsigned caplen, struct tcp_view *t)
{
	unsigned off, total;

	if (caplen < 20)
		return false;
	if (pkt[0] >> 4 == 4) {
		unsigned frag = (unsigned)pkt[6] << 8 | pkt[7];

		off = (pkt[0] & 0xf) * 4u;
		total = (unsigned)pkt[2] << 8 | pkt[3];
		/* Fragments: only the first has the header, none the whole segment. */
		if (off < 20 || pkt[9] != IPPROTO_TCP || (frag & 0x3fff))
			return false;
	} else if (pkt[0] >> 4 == 6 && caplen >= 40) {
		uint8_t nh = pkt[6];

		off = 40;
		total = 40 + ((unsigned)pkt[4] << 8 | pkt[5]);
		while (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS) {
			if (off + 8 > caplen)
				return false;
			nh = pkt[off];
			off += (pkt[off + 1] + 1u) * 8;
		}
		if (nh != IPPROTO_TCP)
			return false;
	} else {
		return false;
	}
	if (off + 20 > caplen)
		return false;
	t->tcp = pkt + off;
	t->hdr_len = (t->tcp[12] >> 4) * 4u;
	if (t->hdr_len < 20 || off + t->hdr_len > caplen || off + t->hdr_len > total)
		return false;
	t->payload = total - off - t->hdr_len;
	t->whole = caplen >= total;
	t->sport = (uint16_t)(t->tcp[0] << 8 | t->tcp[1]);
	t->dport = (uint16_t)(t->tcp[2] << 8 | t->tcp[3]);
	t->ack = (uint32_t)t->tcp[8] << 24 | (uint32_t)t->tcp[9] << 16 | (uint32_t)t->tcp[10] << 8 |
		 t->tcp[11];
	t->flags = t->tcp[13];
	return true;
}

static bool tcp_has_stripped_option(const struct tcp_view *t)
{
	const uint8_t *o = t->tcp + 20, *end = t->tcp + t->hdr_len;

	while (o < end && *o != 0) {
		if (*o == 1) {
			o++;
			continue;
		}
		if (o + 1 >= end || o[1] < 2 || o + o[1] > end)
			return false;
		if (S.o.strip[*o])
			return true;
		o += o[1];
	}
	return false;
}

/* One's complement sum of the 16-bit words at @p p (@p n even). */
static uint32_t sum16(const uint8_t *p, unsigned n)
{
	uint32_t s = 0;

	for (unsigned i = 0; i < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Overwrites the options of the stripped kinds with NOPs and updates the
 * checksum incrementally (RFC 1624: HC' = ~(~HC + ~m + m')); the pseudo
 * header does not change, so IPv4 and IPv6 are alike. Words are counted
 * from the start of the TCP header, where the checksum's alignment is. */
static bool tcp_strip(struct tcp_view *t)
{
	uint8_t *tcp = t->tcp, *o = tcp + 20, *end = tcp + t->hdr_len;
	bool changed = false;

	while (o < end && *o != 0) {
		unsigned at, from, to;
		uint32_t old_sum, s;
		uint16_t csum;

		if (*o == 1) {
			o++;
			continue;
		}
		if (o + 1 >= end || o[1] < 2 || o + o[1] > end)
			break;
		if (!S.o.strip[*o]) {
			o += o[1];
			continue;
		}
		at = (unsigned)(o - tcp);
		from = at & ~1u;
		to = (at + o[1] + 1) & ~1u;
		old_sum = sum16(tcp + from, to - from);
		memset(o, 1, o[1]);
		csum = (uint16_t)(tcp[16] << 8 | tcp[17]);
		s = (uint16_t)~csum + (uint32_t)(uint16_t)~fold(old_sum) +
		    fold(sum16(tcp + from, to - from));
		csum = (uint16_t)~fold(s);
		tcp[16] = (uint8_t)(csum >> 8);
		tcp[17] = (uint8_t)csum;
		changed = true; /* o now points at NOPs */
	}
	return changed;
}

static bool hold_matches(const struct tcp_view *t)
{
	switch (S.o.hold_match) {
	case MATCH_PURE_ACK:
		if (!(t->flags & TCP_ACK) || (t->flags & (TCP_SYN | TCP_FIN | TCP_RST)) ||
		    t->payload)
			return false;
		break;
	case MATCH_ACK:
		if (!(t->flags & TCP_ACK))
			return false;
		break;
	case MATCH_TCP:
		break;
	}
	return (S.o.sport < 0 || t->sport == S.o.sport) && (S.o.dport < 0 || t->dport == S.o.dport);
}

/* ---- the stages ------------------------------------------------------------------- */

/* Out of the reorder stage: held, delayed or released at once. */
static void forward(struct pkt *p, uint64_t now)
{
	if (p->hold) {
		p->due_ns = now + S.o.hold_ns;
		fifo_push(&S.hold, p);
		S.c.held++;
	} else if (S.o.delay_ns) {
		p->due_ns = now + S.o.delay_ns;
		fifo_push(&S.delay, p);
		S.c.delayed++;
	} else {
		verdict(p, NF_ACCEPT);
	}
}

static void unpark(unsigned i, uint64_t now)
{
	struct pkt p = S.park[i].p;

	memmove(&S.park[i], &S.park[i + 1], (S.nparked - i - 1) * sizeof(S.park[0]));
	S.nparked--;
	forward(&p, now);
}

/* A packet passed the parked ones: those it was the last of go after it. */
static void passed_parked(uint64_t now)
{
	for (unsigned i = 0; i < S.nparked;) {
		if (--S.park[i].left == 0)
			unpark(i, now);
		else
			i++;
	}
}

static void reorder_stage(struct pkt *p, uint64_t now)
{
	if (S.nparked < PARK_MAX && chance(S.o.reorder_ppm)) {
		S.park[S.nparked++] = (struct parked){
			.p = *p,
			.left = S.o.reorder_depth,
			.deadline_ns = now + S.o.reorder_timeout_ns,
		};
		S.c.reordered++;
		return;
	}
	forward(p, now);
	passed_parked(now);
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
		     void *opaque)
{
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	unsigned char *data = NULL;
	int caplen = nfq_get_payload(nfa, &data);
	struct pkt p = {0};
	struct tcp_view t;
	bool tcp;

	(void)qh;
	(void)msg;
	(void)opaque;
	if (!ph)
		return 0;
	p.id = ntohl(ph->packet_id);
	S.c.packets++;
	if (S.stopping) {
		verdict(&p, NF_ACCEPT);
		return 0;
	}
	if (chance(S.o.drop_ppm)) {
		S.c.dropped++;
		verdict(&p, NF_DROP);
		return 0;
	}
	tcp = caplen > 0 && (S.o.stripping || S.o.hold_ns) && tcp_find(data, (unsigned)caplen, &t);
	if (tcp && S.o.stripping && tcp_has_stripped_option(&t)) {
		/* An edited verdict replaces the whole packet: only a whole copy
		 * may be edited (a cut one would be truncated). */
		if (!t.whole) {
			S.c.strip_skipped++;
		} else {
			p.data = malloc((size_t)caplen);
			if (!p.data)
				die("out of memory");
			memcpy(p.data, data, (size_t)caplen);
			p.len = (uint32_t)caplen;
			tcp_find(p.data, p.len, &t);
			if (tcp_strip(&t))
				S.c.stripped++;
		}
	}
	if (tcp && S.o.hold_ns && hold_matches(&t)) {
		p.hold = true;
		p.ack = t.ack;
	}
	reorder_stage(&p, now_ns());
	return 0;
}

/* Whether the helper keeps up: how long after its due time a packet goes
 * (release_all()'s early releases count as on time). */
static void count_lateness(const struct pkt *p, uint64_t now)
{
	uint64_t late;

	if (now == UINT64_MAX || now <= p->due_ns)
		return;
	late = now - p->due_ns;
	if (late >= NSEC_PER_MS)
		S.c.late++;
	if (late > S.c.late_max_ns)
		S.c.late_max_ns = late;
}

/* Releases what is due by @p now; returns the next due time (0: none). */
static uint64_t release_due(uint64_t now)
{
	const struct pkt *h;
	uint64_t next = 0;

	for (unsigned i = 0; i < S.nparked;) {
		if (S.park[i].deadline_ns <= now) {
			unpark(i, now);
			continue;
		}
		if (!next || S.park[i].deadline_ns < next)
			next = S.park[i].deadline_ns;
		i++;
	}
	while ((h = fifo_peek(&S.hold)) && h->due_ns <= now) {
		struct pkt p = fifo_pop(&S.hold);

		count_lateness(&p, now);
		verdict(&p, NF_ACCEPT);
	}
	if (h && (!next || h->due_ns < next))
		next = h->due_ns;
	while ((h = fifo_peek(&S.delay)) && h->due_ns <= now) {
		struct pkt p = fifo_pop(&S.delay);

		count_lateness(&p, now);
		verdict(&p, NF_ACCEPT);
	}
	if (h && (!next || h->due_ns < next))
		next = h->due_ns;
	return next;
}

static void release_all(void)
{
	while (S.nparked)
		unpark(0, now_ns());
	release_due(UINT64_MAX);
	flush();
}

/* ---- the socket ------------------------------------------------------------------- */

static void rx_setup(void)
{
	/* Each slot starts aligned for the netlink header in it. */
	size_t slot = NLMSG_ALIGN(S.o.stripping ? RX_SLOT_ALL : RX_SLOT_HEADERS);
	uint8_t *buf = aligned_alloc(8, (slot * RX_BURST + 7) & ~(size_t)7);

	if (!buf)
		die("out of memory (receive buffers)");
	for (int i = 0; i < RX_BURST; i++) {
		S.rx_iov[i] = (struct iovec){buf + slot * (size_t)i, slot};
		S.rx_msg[i].msg_hdr = (struct msghdr){.msg_iov = &S.rx_iov[i], .msg_iovlen = 1};
	}
}

static void rx_message(struct nlmsghdr *nlh, int len)
{
	for (; NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
		/* One message at a time: libnfnetlink stops a buffer at its
		 * first error, which would strand the packets after it. */
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(nlh);

			if (e->error)
				S.c.requeue_failed++;
			continue;
		}
		if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
			continue;
		nfq_handle_packet(S.h, (char *)nlh, (int)nlh->nlmsg_len);
	}
}

/* Reads up to RX_BURST messages, one syscall; false when the socket ran
 * dry. */
static bool receive(void)
{
	int n;

	for (;;) {
		n = recvmmsg(S.fd, S.rx_msg, RX_BURST, MSG_DONTWAIT, NULL);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == ENOBUFS) {
			S.c.enobufs++;
			continue;
		}
		if (errno != EAGAIN)
			warn("recvmmsg: %s", strerror(errno));
		return false;
	}
	for (int i = 0; i < n; i++) {
		if (S.rx_msg[i].msg_hdr.msg_flags & MSG_TRUNC)
			warn("a message did not fit its %zu bytes", S.rx_iov[i].iov_len);
		rx_message(S.rx_iov[i].iov_base, (int)S.rx_msg[i].msg_len);
	}
	return n == RX_BURST;
}

/* The kernel's own counters of this queue: dropped because it was full,
 * and because the socket could not take a packet. */
static void kernel_counters(uint64_t *queue_dropped, uint64_t *user_dropped)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
	unsigned q, portid, total, mode, range;
	unsigned long long qd, ud;
	char line[256];

	*queue_dropped = *user_dropped = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%u %u %u %u %u %llu %llu", &q, &portid, &total, &mode, &range,
			   &qd, &ud) == 7 &&
		    q == S.o.queue) {
			*queue_dropped = qd;
			*user_dropped = ud;
		}
	}
	fclose(f);
}

static uint64_t cpu_ms(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

static void write_stats(void)
{
	char tmp[4096];
	uint64_t qd, ud;
	FILE *f;

	S.c.dumps++;
	if (!S.o.stats_path)
		return;
	kernel_counters(&qd, &ud);
	snprintf(tmp, sizeof(tmp), "%s.tmp", S.o.stats_path);
	f = fopen(tmp, "w");
	if (!f) {
		warn("%s: %s", tmp, strerror(errno));
		return;
	}
	fprintf(f,
		"packets %" PRIu64 "\ndelayed %" PRIu64 "\nreordered %" PRIu64 "\nheld %" PRIu64
		"\nstripped %" PRIu64 "\ndropped %" PRIu64 "\nrequeue_failed %" PRIu64
		"\nenobufs %" PRIu64 "\nstrip_skipped %" PRIu64 "\nlate %" PRIu64
		"\nlate_max_us %" PRIu64 "\nwaiting %zu\n"
		"kernel_queue_dropped %" PRIu64 "\nkernel_user_dropped %" PRIu64 "\ncpu_ms %" PRIu64
		"\ndumps %" PRIu64 "\n",
		S.c.packets, S.c.delayed, S.c.reordered, S.c.held, S.c.stripped, S.c.dropped,
		S.c.requeue_failed, S.c.enobufs, S.c.strip_skipped, S.c.late,
		S.c.late_max_ns / 1000, S.delay.n + S.hold.n + S.nparked, qd, ud, cpu_ms(),
		S.c.dumps);
	if (fclose(f) != 0 || rename(tmp, S.o.stats_path) != 0)
		warn("%s: %s", S.o.stats_path, strerror(errno));
}

static void open_queue(void)
{
	int one = 1, sndbuf = 4 << 20;
	unsigned range;
	uint32_t flags = 0;

	S.h = nfq_open();
	if (!S.h)
		die("nfq_open: %s (root, and nfnetlink_queue in the kernel?)", strerror(errno));
	nfq_bind_pf(S.h, AF_INET); /* a no-op on kernels since 3.8 */
	nfq_bind_pf(S.h, AF_INET6);
	S.qh = nfq_create_queue(S.h, (uint16_t)S.o.queue, on_packet, NULL);
	if (!S.qh)
		die("binding queue %u: %s (another listener?)", S.o.queue, strerror(errno));
	range = S.o.stripping ? COPY_ALL : S.o.hold_ns ? COPY_HEADERS : COPY_LITTLE;
	if (nfq_set_mode(S.qh, NFQNL_COPY_PACKET, range) < 0)
		die("copy-packet mode: %s", strerror(errno));
	if (nfq_set_queue_maxlen(S.qh, S.o.maxlen) < 0)
		die("queue length %u: %s", S.o.maxlen, strerror(errno));
	/* Segments of a GSO packet only need to be cut for editing; untouched,
	 * a GSO packet passes whole (one verdict instead of dozens). */
	if (!S.o.stripping)
		flags |= NFQA_CFG_F_GSO;
	if (S.o.fail_open)
		flags |= NFQA_CFG_F_FAIL_OPEN;
	if (flags && nfq_set_queue_flags(S.qh, NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN, flags) < 0)
		warn("queue flags 0x%x: %s", flags, strerror(errno));
	S.fd = nfq_fd(S.h);
	if (setsockopt(S.fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one)) < 0)
		warn("NETLINK_NO_ENOBUFS: %s (ENOBUFS will be counted)", strerror(errno));
	nfnl_rcvbufsiz(nfq_nfnlh(S.h), (unsigned)S.o.rcvbuf);
	if (setsockopt(S.fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) < 0)
		setsockopt(S.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
}

static void open_signals(void)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGUSR1};
	struct sigaction old;
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		/* An ignored SIGINT stays ignored: tb_spawn() and nohup mean it. */
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		sigaddset(&set, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &set, NULL);
	S.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (S.sfd < 0)
		die("signalfd: %s", strerror(errno));
}

/* True when the process is to stop. */
static bool on_signals(void)
{
	struct signalfd_siginfo si;
	bool stop = false;

	while (read(S.sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR1)
			write_stats();
		else
			stop = true;
	}
	return stop;
}

static void run(void)
{
	uint64_t next = 0;

	for (;;) {
		struct pollfd pfd[2] = {{S.fd, POLLIN, 0}, {S.sfd, POLLIN, 0}};
		struct timespec ts, *tmo = NULL;
		uint64_t now = now_ns();

		if (next) {
			uint64_t wait = next > now ? next - now : 0;

			ts.tv_sec = (time_t)(wait / 1000000000ULL);
			ts.tv_nsec = (long)(wait % 1000000000ULL);
			tmo = &ts;
		}
		if (ppoll(pfd, 2, tmo, NULL) < 0 && errno != EINTR)
			die("ppoll: %s", strerror(errno));
		if (pfd[1].revents && on_signals())
			return;
		if (pfd[0].revents & POLLIN)
			receive(); /* more left: ppoll returns at once */
		next = release_due(now_ns());
		flush();
	}
}

/* ---- options ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: nfq_impair [--queue N] [--seed S] [--stats FILE] [--drop-ppm P]\n"
	      "  [--strip-tcp-option KIND]... [--reorder-ppm P [--reorder-depth K]\n"
	      "  [--reorder-timeout-ms T]] [--hold-acks-ms H [--hold-match pure-ack|ack|tcp]\n"
	      "  [--sport N] [--dport N] [--log FILE]] [--delay-ms D]\n"
	      "  [--maxlen N] [--rcvbuf BYTES] [--fail-open]\n"
	      "Impairs the packets of NFQUEUE queue N (iptables ... -j NFQUEUE --queue-num N\n"
	      "--queue-bypass): drop, strip TCP options, reorder, hold pure ACKs, delay.\n"
	      "Prints 'ready' once bound; SIGUSR1 writes the counters to --stats; SIGTERM\n"
	      "releases everything held and exits.\n",
	      f);
}

static uint64_t number(const char *opt, const char *s, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v > max || *s == '-')
		die("%s: '%s' is not a number up to %" PRIu64, opt, s, max);
	return v;
}

static uint64_t millis(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < 0 || v > 3600e3)
		die("%s: '%s' is not a time in ms", opt, s);
	return (uint64_t)(v * (double)NSEC_PER_MS);
}

static void parse_options(int argc, char **argv)
{
	enum {
		O_QUEUE = 256,
		O_SEED,
		O_STATS,
		O_DROP,
		O_STRIP,
		O_REORDER,
		O_DEPTH,
		O_RTIMEOUT,
		O_HOLD,
		O_MATCH,
		O_SPORT,
		O_DPORT,
		O_LOG,
		O_DELAY,
		O_MAXLEN,
		O_RCVBUF,
		O_FAILOPEN,
		O_HELP,
	};
	static const struct option longs[] = {
		{"queue", required_argument, NULL, O_QUEUE},
		{"seed", required_argument, NULL, O_SEED},
		{"stats", required_argument, NULL, O_STATS},
		{"drop-ppm", required_argument, NULL, O_DROP},
		{"strip-tcp-option", required_argument, NULL, O_STRIP},
		{"reorder-ppm", required_argument, NULL, O_REORDER},
		{"reorder-depth", required_argument, NULL, O_DEPTH},
		{"reorder-timeout-ms", required_argument, NULL, O_RTIMEOUT},
		{"hold-acks-ms", required_argument, NULL, O_HOLD},
		{"hold-match", required_argument, NULL, O_MATCH},
		{"sport", required_argument, NULL, O_SPORT},
		{"dport", required_argument, NULL, O_DPORT},
		{"log", required_argument, NULL, O_LOG},
		{"delay-ms", required_argument, NULL, O_DELAY},
		{"maxlen", required_argument, NULL, O_MAXLEN},
		{"rcvbuf", required_argument, NULL, O_RCVBUF},
		{"fail-open", no_argument, NULL, O_FAILOPEN},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	struct options *o = &S.o;
	int c;

	*o = (struct options){
		.seed = 1,
		.reorder_depth = 3,
		.reorder_timeout_ns = 20 * NSEC_PER_MS,
		.sport = -1,
		.dport = -1,
		.maxlen = 65536,
		.rcvbuf = 8 << 20,
	};
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case O_QUEUE:
			o->queue = (unsigned)number("--queue", optarg, 65535);
			break;
		case O_SEED:
			o->seed = number("--seed", optarg, UINT64_MAX);
			break;
		case O_STATS:
			o->stats_path = optarg;
			break;
		case O_DROP:
			o->drop_ppm = (uint32_t)number("--drop-ppm", optarg, PPM);
			break;
		case O_STRIP:
			o->strip[number("--strip-tcp-option", optarg, 255)] = true;
			o->stripping = true;
			break;
		case O_REORDER:
			o->reorder_ppm = (uint32_t)number("--reorder-ppm", optarg, PPM);
			break;
		case O_DEPTH:
			o->reorder_depth = (unsigned)number("--reorder-depth", optarg, 1000);
			break;
		case O_RTIMEOUT:
			o->reorder_timeout_ns = millis("--reorder-timeout-ms", optarg);
			break;
		case O_HOLD:
			o->hold_ns = millis("--hold-acks-ms", optarg);
			break;
		case O_MATCH:
			if (strcmp(optarg, "pure-ack") == 0)
				o->hold_match = MATCH_PURE_ACK;
			else if (strcmp(optarg, "ack") == 0)
				o->hold_match = MATCH_ACK;
			else if (strcmp(optarg, "tcp") == 0)
				o->hold_match = MATCH_TCP;
			else
				die("--hold-match: pure-ack, ack or tcp, not '%s'", optarg);
			break;
		case O_SPORT:
			o->sport = (int)number("--sport", optarg, 65535);
			break;
		case O_DPORT:
			o->dport = (int)number("--dport", optarg, 65535);
			break;
		case O_LOG:
			o->log_path = optarg;
			break;
		case O_DELAY:
			o->delay_ns = millis("--delay-ms", optarg);
			break;
		case O_MAXLEN:
			o->maxlen = (uint32_t)number("--maxlen", optarg, UINT32_MAX);
			break;
		case O_RCVBUF:
			o->rcvbuf = (int)number("--rcvbuf", optarg, INT32_MAX);
			break;
		case O_FAILOPEN:
			o->fail_open = true;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s' (try --help)", argv[optind]);
	if (o->reorder_ppm && !o->reorder_depth)
		die("--reorder-depth must be at least 1");
	S.rng = o->seed;
}

int main(int argc, char **argv)
{
	parse_options(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Due times are kept to the microsecond, not the default 50 us slack. */
	prctl(PR_SET_TIMERSLACK, 1000UL);
	if (S.o.log_path) {
		S.log = fopen(S.o.log_path, "ae");
		if (!S.log)
			die("%s: %s", S.o.log_path, strerror(errno));
		setvbuf(S.log, NULL, _IOLBF, 0);
	}
	open_signals();
	open_queue();
	rx_setup();
	write_stats();
	printf("ready\n");
	run();

	S.stopping = true;
	release_all();
	/* What arrived meanwhile goes through untouched, then the queue goes
	 * (the rule's --queue-bypass takes over). */
	for (uint64_t end = now_ns() + 50 * NSEC_PER_MS; receive() && now_ns() < end;)
		flush();
	flush();
	write_stats();
	fprintf(stderr,
		"nfq_impair: queue %u: %" PRIu64 " packets, %" PRIu64 " delayed, %" PRIu64
		" reordered, %" PRIu64 " held, %" PRIu64 " stripped, %" PRIu64 " dropped, %" PRIu64
		" requeue_failed, %" PRIu64 " enobufs, %" PRIu64 " ms CPU\n",
		S.o.queue, S.c.packets, S.c.delayed, S.c.reordered, S.c.held, S.c.stripped,
		S.c.dropped, S.c.requeue_failed, S.c.enobufs, cpu_ms());
	nfq_destroy_queue(S.qh);
	nfq_close(S.h);
	if (S.log)
		fclose(S.log);
	return 0;
}
