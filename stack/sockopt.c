/* Socket options: the SOL_SOCKET, IPPROTO_TCP, IPPROTO_IPV6, SOL_SKIFF
 * and SOL_MPTCP options skiff knows (skiff.h lists them), kept on the
 * socket (struct skiff_sockopts, TCP_CONGESTION in cc.c's group) or on its
 * pcb; the others fail with ENOPROTOOPT. The MPTCP queries read the
 * connection level through mptcp.c, and skiff_mptcp_status() is here
 * beside them. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/time.h>

/* <netinet/tcp.h>'s TCP_MSS (512, a socket option of old) is not lwIP's. */
#undef TCP_MSS

#include "instance.h"
#include "mptcp.h"
#include "sock.h"
#include "timers.h"

#include "lwip/priv/tcp_priv.h"
#include "lwip/udp.h"

static int get_int(const void *val, socklen_t len, int *out)
{
	if (!val || len < sizeof(int))
		return -EINVAL;
	memcpy(out, val, sizeof(int));
	return 0;
}

static int put_val(void *val, socklen_t *len, const void *v, socklen_t n)
{
	if (!val || !len)
		return -EFAULT;
	if (*len < n)
		n = *len;
	memcpy(val, v, n);
	*len = n;
	return 0;
}

static int timeo_ms(const void *val, socklen_t len, int *out)
{
	struct timeval tv;

	if (!val || len < sizeof(tv))
		return -EINVAL;
	memcpy(&tv, val, sizeof(tv));
	if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000)
		return -EDOM;
	/* 0 means forever, as on Linux. */
	if (!tv.tv_sec && !tv.tv_usec)
		*out = -1;
	else
		*out = tv.tv_sec > INT32_MAX / 1000 - 1
			       ? INT32_MAX
			       : (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
	return 0;
}

static struct timeval ms_timeval(int ms)
{
	struct timeval tv = {0, 0};

	if (ms >= 0) {
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
	}
	return tv;
}

/* so_options of whichever pcb the socket has. */
static u8_t *so_options(struct skiff_sock *s)
{
	if (s->kind == SKIFF_SK_TCP && s->pcb.tcp)
		return &s->pcb.tcp->so_options;
	if (s->kind == SKIFF_SK_UDP && s->pcb.udp)
		return &s->pcb.udp->so_options;
	return NULL;
}

int skiff_setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	struct skiff_sock *s;
	struct tcp_pcb *pcb;
	u8_t *so;
	int e, v = 0;

	if (!(s = skiff__sock_of(fd, SKIFF_SK_TCP | SKIFF_SK_UDP)))
		return -1;
	pcb = s->kind == SKIFF_SK_TCP ? s->pcb.tcp : NULL;
	so = so_options(s);
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_REUSEADDR:
		case SO_KEEPALIVE:
			if ((e = get_int(val, len, &v)))
				SKIFF_FAIL(-e);
			if (!so)
				SKIFF_FAIL(EINVAL);
			if (name == SO_KEEPALIVE && s->kind != SKIFF_SK_TCP)
				SKIFF_FAIL(ENOPROTOOPT);
			{
				u8_t bit = name == SO_REUSEADDR ? SOF_REUSEADDR : SOF_KEEPALIVE;

				*so = v ? (u8_t)(*so | bit) : (u8_t)(*so & ~bit);
			}
			/* A keepalive is timer work (timers.c). */
			if (pcb && pcb->state != LISTEN)
				skiff__timer_arm(pcb);
			return 0;
		case SO_RCVTIMEO:
			if ((e = timeo_ms(val, len, &s->opt.rcvtimeo_ms)))
				SKIFF_FAIL(-e);
			return 0;
		case SO_SNDTIMEO:
			if ((e = timeo_ms(val, len, &s->opt.sndtimeo_ms)))
				SKIFF_FAIL(-e);
			return 0;
		case SO_LINGER: {
			struct linger l;

			if (!val || len < sizeof(l))
				SKIFF_FAIL(EINVAL);
			memcpy(&l, val, sizeof(l));
			/* Only the abortive form means something here: close()
			 * never blocks for the FIN to be ACKed. */
			s->opt.linger_abort = l.l_onoff && !l.l_linger;
			return 0;
		}
		case SO_RCVBUF:
		case SO_SNDBUF:
			return 0; /* fixed by lwipopts.h; accepted for portability */
		default:
			SKIFF_FAIL(ENOPROTOOPT);
		}
	}
	if (level == IPPROTO_TCP) {
		if (s->kind != SKIFF_SK_TCP)
			SKIFF_FAIL(ENOPROTOOPT);
		if (name == TCP_CONGESTION) {
			/* A name, not an int: 15 bytes of it at most, as Linux reads. */
			char cc[SKIFF_CC_NAME_MAX];
			size_t n = len < sizeof(cc) - 1 ? len : sizeof(cc) - 1;

			if (!val || len < 1)
				SKIFF_FAIL(EINVAL);
			memcpy(cc, val, n);
			cc[n] = '\0';
			if ((e = skiff__cc_select(s, cc)))
				SKIFF_FAIL(-e);
			return 0;
		}
		if ((e = get_int(val, len, &v)))
			SKIFF_FAIL(-e);
		switch (name) {
		case TCP_NODELAY:
			s->opt.nodelay = v;
			if (pcb && pcb->state != LISTEN) {
				if (v)
					tcp_nagle_disable(pcb);
				else
					tcp_nagle_enable(pcb);
			}
			return 0;
		case TCP_CORK:
			if (s->opt.cork != (v != 0))
				s->opt.corked_ms = 0; /* corking again changes nothing */
			s->opt.cork = v;
			/* Uncorking pushes what the cork held back. */
			if (!v && pcb && pcb->state != LISTEN) {
				tcp_output(pcb);
				skiff__timer_arm(pcb);
			}
			return 0;
		case TCP_KEEPIDLE:
		case TCP_KEEPINTVL:
		case TCP_KEEPCNT:
			if (v <= 0)
				SKIFF_FAIL(EINVAL);
			if (!pcb || pcb->state == LISTEN)
				SKIFF_FAIL(EINVAL);
			if (name == TCP_KEEPIDLE)
				pcb->keep_idle = (u32_t)v * 1000;
			else if (name == TCP_KEEPINTVL)
				pcb->keep_intvl = (u32_t)v * 1000;
			else
				pcb->keep_cnt = (u32_t)v;
			return 0;
		default:
			SKIFF_FAIL(ENOPROTOOPT);
		}
	}
	if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) {
		if (s->domain != AF_INET6)
			SKIFF_FAIL(ENOPROTOOPT);
		if ((e = get_int(val, len, &v)))
			SKIFF_FAIL(-e);
		if (s->addr.lport || (pcb && pcb->local_port) || s->state != SKIFF_TS_NEW)
			SKIFF_FAIL(EINVAL);
		s->opt.v6only = v;
		if (pcb)
			IP_SET_TYPE_VAL(pcb->local_ip, v ? IPADDR_TYPE_V6 : IPADDR_TYPE_ANY);
		if (s->kind == SKIFF_SK_UDP && s->pcb.udp)
			IP_SET_TYPE_VAL(s->pcb.udp->local_ip, v ? IPADDR_TYPE_V6 : IPADDR_TYPE_ANY);
		return 0;
	}
	if (level == SOL_SKIFF && name == SKIFF_SO_REQUIRE_SECPATH) {
		if (s->kind != SKIFF_SK_TCP)
			SKIFF_FAIL(ENOPROTOOPT);
		if ((e = get_int(val, len, &v)))
			SKIFF_FAIL(-e);
		s->opt.require_secpath = v;
		return 0;
	}
	SKIFF_FAIL(ENOPROTOOPT);
}

/* Linux's TCP state numbers, for TCP_INFO. */
static uint8_t linux_tcp_state(const struct tcp_pcb *pcb)
{
	if (!pcb)
		return TCP_CLOSE;
	switch (pcb->state) {
	case CLOSED:
		return TCP_CLOSE;
	case LISTEN:
		return TCP_LISTEN;
	case SYN_SENT:
		return TCP_SYN_SENT;
	case SYN_RCVD:
		return TCP_SYN_RECV;
	case ESTABLISHED:
		return TCP_ESTABLISHED;
	case FIN_WAIT_1:
		return TCP_FIN_WAIT1;
	case FIN_WAIT_2:
		return TCP_FIN_WAIT2;
	case CLOSE_WAIT:
		return TCP_CLOSE_WAIT;
	case CLOSING:
		return TCP_CLOSING;
	case LAST_ACK:
		return TCP_LAST_ACK;
	case TIME_WAIT:
		return TCP_TIME_WAIT;
	}
	return TCP_CLOSE;
}

/* TCP_INFO of @p pcb: the socket's own connection, or one of its MPTCP
 * joins (which has no recovery state of skiff's: lwIP's figures). */
static void tcp_info_of(const struct skiff_sock *s, const struct tcp_pcb *pcb, struct tcp_info *ti)
{
	static const struct skiff_recovery none;
	const struct skiff_recovery *rec = pcb == s->pcb.tcp ? &s->rec : &none;
	const struct skiff_cc *jcc;
	u16_t mss;

	memset(ti, 0, sizeof(*ti));
	ti->tcpi_state = linux_tcp_state(pcb);
	if (!pcb || pcb->state == LISTEN)
		return;
	/* The payload a full segment carries, as Linux's mss_cache: the
	 * timestamps option takes 12 bytes of every segment. */
	mss = pcb->mss - ((pcb->flags & TF_TIMESTAMP) && pcb->mss > 12 ? 12u : 0u);
	ti->tcpi_snd_mss = mss;
	ti->tcpi_rcv_mss = mss;
	ti->tcpi_snd_wscale = pcb->snd_scale;
	ti->tcpi_rcv_wscale = pcb->rcv_scale;
	ti->tcpi_snd_cwnd = mss ? pcb->cwnd / mss : 0;
	ti->tcpi_snd_ssthresh = mss ? pcb->ssthresh / mss : 0;
	/* Segments sent and not yet ACKed, as Linux's packets_out. */
	ti->tcpi_unacked = mss ? (pcb->snd_nxt - pcb->lastack + mss - 1u) / mss : 0;
	/* skiff's estimate in microseconds (recovery.c), as Linux's; lwIP's
	 * own counts 10 ms ticks. */
	if (rec->srtt_us) {
		ti->tcpi_rtt = rec->srtt_us;
		ti->tcpi_rttvar = rec->rttvar_us;
	} else if ((jcc = skiff__mptcp_join_cc(pcb)) && jcc->srtt_us) {
		ti->tcpi_rtt = jcc->srtt_us; /* a join's, as its congestion control has it */
	} else {
		ti->tcpi_rtt = (uint32_t)(pcb->sa >> 3) * TCP_SLOW_INTERVAL * 1000;
	}
	ti->tcpi_rto = (uint32_t)pcb->rto * TCP_SLOW_INTERVAL * 1000;
	/* lwIP's resends of the oldest unacknowledged segment since the ACK
	 * last moved (nrtx, which backs its RTO off; Linux's
	 * icsk_retransmits and backoff), and every resend so far. */
	ti->tcpi_retransmits = pcb->nrtx;
	ti->tcpi_backoff = pcb->nrtx;
	ti->tcpi_total_retrans = rec->total_retrans;
	/* Linux's congestion states (tcp_ca_state): after a timeout, in a
	 * recovery, or neither. */
	ti->tcpi_ca_state = (pcb->flags & TF_RTO)		      ? 4 /* TCP_CA_Loss */
			    : (rec->active || (pcb->flags & TF_INFR)) ? 3 /* TCP_CA_Recovery */
								      : 0;
	ti->tcpi_rcv_space = pcb->rcv_wnd;
	if (pcb->flags & TF_TIMESTAMP)
		ti->tcpi_options |= TCPI_OPT_TIMESTAMPS;
	if (pcb->flags & TF_WND_SCALE)
		ti->tcpi_options |= TCPI_OPT_WSCALE;
}

/* ---- MPTCP ------------------------------------------------------------------------ */

static int mptcp_query(const struct skiff_sock *s, struct skiff_mptcp_status *st,
		       struct skiff_mptcp_info *info)
{
	return skiff__mptcp_query(s->pcb.tcp, s->opt.mptcp, st, info);
}

static enum skiff_mptcp_mode mptcp_mode(const struct skiff_sock *s)
{
	struct skiff_mptcp_status st;

	return mptcp_query(s, &st, NULL) ? SKIFF_MPTCP_MODE_FALLBACK : st.mode;
}

/* Subflow @p sf's addresses in @p s's family (MPTCP_SUBFLOW_ADDRS). */
static void subflow_addrs(const struct skiff_sock *s, const struct tcp_pcb *sf,
			  struct skiff_mptcp_subflow_addrs *a)
{
	socklen_t al = sizeof(a->local), rl = sizeof(a->remote);

	skiff__sockaddr_out(s, &sf->local_ip, sf->local_port, (struct sockaddr *)&a->local, &al);
	skiff__sockaddr_out(s, &sf->remote_ip, sf->remote_port, (struct sockaddr *)&a->remote, &rl);
}

/* MPTCP_TCPINFO and MPTCP_SUBFLOW_ADDRS: the caller's header, checked as
 * Linux checks it, then one element per subflow while room is left.
 * Returns the bytes written or -errno. */
static int mptcp_subflows(struct skiff_sock *s, int name, unsigned n, void *val, socklen_t len)
{
	struct skiff_mptcp_subflow_data h;
	union {
		struct tcp_info ti;
		struct skiff_mptcp_subflow_addrs a;
	} u;
	socklen_t written = 0, room, one;
	uint32_t size_kernel;

	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, val, sizeof(h));
	if (h.size_subflow_data < sizeof(h) || h.size_subflow_data > len || h.num_subflows ||
	    h.size_kernel || h.size_user > INT32_MAX)
		return -EINVAL;
	size_kernel = name == MPTCP_TCPINFO ? sizeof(u.ti) : sizeof(u.a);
	one = h.size_user < size_kernel ? h.size_user : size_kernel;
	room = len - h.size_subflow_data;
	for (unsigned i = 0; i < n && one && room >= one; i++) {
		/* The first subflow (the socket's own), then its joins. */
		const struct tcp_pcb *sf = skiff__mptcp_subflow(s->pcb.tcp, i);

		if (!sf)
			break;
		memset(&u, 0, sizeof(u));
		if (name == MPTCP_TCPINFO)
			tcp_info_of(s, sf, &u.ti);
		else
			subflow_addrs(s, sf, &u.a);
		memcpy((uint8_t *)val + h.size_subflow_data + written, &u, one);
		written += one;
		room -= one;
	}
	h.num_subflows = n;
	h.size_kernel = size_kernel;
	h.size_user = one;
	memcpy(val, &h, sizeof(h));
	return (int)(h.size_subflow_data + written);
}

/* MPTCP_FULL_INFO: the header's first 40 bytes checked as Linux checks
 * them, each subflow's id, addresses and TCP_INFO into the caller's
 * arrays (as many as size_arrays_user, each element as much of it as the
 * caller's size asks), MPTCP_INFO after the header as far as @p len
 * reaches. Returns the bytes written at @p val or -errno. */
static int mptcp_full_info(struct skiff_sock *s, unsigned n, const struct skiff_mptcp_info *info,
			   void *val, socklen_t len)
{
	const size_t head = offsetof(struct skiff_mptcp_full_info, mptcp_info);
	struct skiff_mptcp_full_info f;
	size_t info_len = 0;
	uint8_t *sfp, *tip;
	unsigned i;

	if (len < head)
		return -EINVAL;
	memset(&f, 0, sizeof(f));
	memcpy(&f, val, head);
	if (f.size_tcpinfo_kernel || f.size_sfinfo_kernel || f.num_subflows ||
	    f.size_sfinfo_user > INT32_MAX || f.size_tcpinfo_user > INT32_MAX)
		return -EINVAL;
	f.size_tcpinfo_kernel = sizeof(struct tcp_info);
	f.size_sfinfo_kernel = sizeof(struct skiff_mptcp_subflow_info);
	if (f.size_tcpinfo_user > f.size_tcpinfo_kernel)
		f.size_tcpinfo_user = f.size_tcpinfo_kernel;
	if (f.size_sfinfo_user > f.size_sfinfo_kernel)
		f.size_sfinfo_user = f.size_sfinfo_kernel;
	sfp = (uint8_t *)(uintptr_t)f.subflow_info;
	tip = (uint8_t *)(uintptr_t)f.tcp_info;
	if (f.size_arrays_user && ((f.size_sfinfo_user && !sfp) || (f.size_tcpinfo_user && !tip)))
		return -EFAULT;
	for (i = 0; i < n && i < f.size_arrays_user; i++) {
		/* The first subflow (the socket's own), then its joins. */
		const struct tcp_pcb *sf = skiff__mptcp_subflow(s->pcb.tcp, i);
		struct skiff_mptcp_subflow_info si;
		struct tcp_info ti;

		if (!sf)
			break;
		memset(&si, 0, sizeof(si));
		si.id = skiff__mptcp_subflow_id(sf);
		if (f.size_sfinfo_user > offsetof(struct skiff_mptcp_subflow_info, addrs))
			subflow_addrs(s, sf, &si.addrs);
		memcpy(sfp + (size_t)i * f.size_sfinfo_user, &si, f.size_sfinfo_user);
		if (f.size_tcpinfo_user) {
			tcp_info_of(s, sf, &ti);
			memcpy(tip + (size_t)i * f.size_tcpinfo_user, &ti, f.size_tcpinfo_user);
		}
	}
	f.num_subflows = n;
	if (len > head) {
		info_len = len - head < sizeof(*info) ? len - head : sizeof(*info);
		f.mptcp_info = *info;
	}
	memcpy(val, &f, head + info_len);
	return (int)(head + info_len);
}

/* SOL_MPTCP, as Linux answers it: a socket that is not MPTCP (never
 * asked, or fell back) has no such level. */
static int mptcp_getsockopt(struct skiff_sock *s, int name, void *val, socklen_t *len)
{
	struct skiff_mptcp_status st;
	struct skiff_mptcp_info info;
	int e;

	if (s->kind != SKIFF_SK_TCP)
		return -EOPNOTSUPP;
	if ((e = mptcp_query(s, &st, &info)))
		return e;
	if (st.mode != SKIFF_MPTCP_MODE_PENDING && st.mode != SKIFF_MPTCP_MODE_ACTIVE)
		return -EOPNOTSUPP;
	switch (name) {
	case MPTCP_INFO:
		return put_val(val, len, &info, sizeof(info));
	case MPTCP_TCPINFO:
	case MPTCP_SUBFLOW_ADDRS:
		e = mptcp_subflows(s, name, st.subflows, val, *len);
		if (e < 0)
			return e;
		*len = (socklen_t)e;
		return 0;
	case MPTCP_FULL_INFO:
		e = mptcp_full_info(s, st.subflows, &info, val, *len);
		if (e < 0)
			return e;
		*len = (socklen_t)e;
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

int skiff_mptcp_status(int fd, struct skiff_mptcp_status *out)
{
	struct skiff_sock *s;
	int e;

	if (!(s = skiff__sock_of(fd, SKIFF_SK_TCP)))
		return -1;
	if (!out)
		SKIFF_FAIL(EFAULT);
	if ((e = mptcp_query(s, out, NULL)))
		SKIFF_FAIL(-e);
	return 0;
}

int skiff_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct skiff_sock *s;
	struct tcp_pcb *pcb;
	u8_t *so;
	int e, v;

	if (!(s = skiff__sock_of(fd, SKIFF_SK_TCP | SKIFF_SK_UDP)))
		return -1;
	if (!val || !len)
		SKIFF_FAIL(EFAULT);
	pcb = s->kind == SKIFF_SK_TCP ? s->pcb.tcp : NULL;
	so = so_options(s);
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_ERROR:
			v = s->err;
			s->err = 0;
			break;
		case SO_REUSEADDR:
			v = so && (*so & SOF_REUSEADDR);
			break;
		case SO_KEEPALIVE:
			v = so && (*so & SOF_KEEPALIVE);
			break;
		case SO_TYPE:
			v = s->kind == SKIFF_SK_TCP ? SOCK_STREAM : SOCK_DGRAM;
			break;
		case SO_DOMAIN:
			v = s->domain;
			break;
		case SO_PROTOCOL:
			v = s->kind != SKIFF_SK_TCP ? IPPROTO_UDP
			    : s->opt.mptcp	    ? IPPROTO_MPTCP
						    : IPPROTO_TCP;
			break;
		case SO_ACCEPTCONN:
			v = s->state == SKIFF_TS_LISTEN;
			break;
		case SO_RCVBUF:
			v = s->kind == SKIFF_SK_TCP ? TCP_WND : SKIFF_UDP_RCVQ_MAX * 1500;
			break;
		case SO_SNDBUF:
			v = s->kind == SKIFF_SK_TCP ? TCP_SND_BUF : 65535;
			break;
		case SO_RCVTIMEO:
		case SO_SNDTIMEO: {
			struct timeval tv = ms_timeval(name == SO_RCVTIMEO ? s->opt.rcvtimeo_ms
									   : s->opt.sndtimeo_ms);

			if ((e = put_val(val, len, &tv, sizeof(tv))))
				SKIFF_FAIL(-e);
			return 0;
		}
		case SO_LINGER: {
			struct linger l = {.l_onoff = s->opt.linger_abort, .l_linger = 0};

			if ((e = put_val(val, len, &l, sizeof(l))))
				SKIFF_FAIL(-e);
			return 0;
		}
		default:
			SKIFF_FAIL(ENOPROTOOPT);
		}
	} else if (level == IPPROTO_TCP) {
		if (s->kind != SKIFF_SK_TCP)
			SKIFF_FAIL(ENOPROTOOPT);
		switch (name) {
		case TCP_NODELAY:
			v = s->opt.nodelay;
			break;
		case TCP_CORK:
			v = s->opt.cork;
			break;
		case TCP_MAXSEG:
			v = pcb && pcb->state != LISTEN ? pcb->mss : TCP_MSS;
			break;
		case TCP_KEEPIDLE:
			v = pcb && pcb->state != LISTEN ? (int)(pcb->keep_idle / 1000) : 7200;
			break;
		case TCP_KEEPINTVL:
			v = pcb && pcb->state != LISTEN ? (int)(pcb->keep_intvl / 1000) : 75;
			break;
		case TCP_KEEPCNT:
			v = pcb && pcb->state != LISTEN ? (int)pcb->keep_cnt : 9;
			break;
		case TCP_CONGESTION: {
			char cc[SKIFF_CC_NAME_MAX] = {0};

			strncpy(cc, skiff__cc_name(s), sizeof(cc) - 1);
			if ((e = put_val(val, len, cc, sizeof(cc))))
				SKIFF_FAIL(-e);
			return 0;
		}
		case TCP_INFO: {
			struct tcp_info ti;

			tcp_info_of(s, s->pcb.tcp, &ti);
			if ((e = put_val(val, len, &ti, sizeof(ti))))
				SKIFF_FAIL(-e);
			return 0;
		}
		case TCP_IS_MPTCP:
			v = mptcp_mode(s) == SKIFF_MPTCP_MODE_ACTIVE ||
			    mptcp_mode(s) == SKIFF_MPTCP_MODE_PENDING;
			break;
		default:
			SKIFF_FAIL(ENOPROTOOPT);
		}
	} else if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) {
		if (s->domain != AF_INET6)
			SKIFF_FAIL(ENOPROTOOPT);
		v = s->opt.v6only;
	} else if (level == SOL_SKIFF && name == SKIFF_SO_REQUIRE_SECPATH) {
		v = s->opt.require_secpath;
	} else if (level == SOL_MPTCP) {
		if ((e = mptcp_getsockopt(s, name, val, len)))
			SKIFF_FAIL(-e);
		return 0;
	} else {
		SKIFF_FAIL(ENOPROTOOPT);
	}
	if ((e = put_val(val, len, &v, sizeof(v))))
		SKIFF_FAIL(-e);
	return 0;
}

int skiff_set_nonblock(int fd, bool on)
{
	struct skiff_sock *s;

	if (!(s = skiff__sock_get(fd)))
		SKIFF_FAIL(EBADF);
	s->opt.nonblock = on;
	return 0;
}
