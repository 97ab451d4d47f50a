/* Malformed MPTCP options (RFC 8684) from a Scapy peer, on the hostile
 * bed (hostile_bed.h) with an IPPROTO_MPTCP listener: the kernel's
 * connection beside the attacks is itself MPTCP. hostile_agent.py
 * performs the MP_CAPABLE handshake the RFC way (the stack's key from its
 * SYN-ACK, tokens and IDSNs with hashlib) so that bad DSS options, the
 * path manager's signals and the closing options reach an established
 * MPTCP connection. Each test checks the answer (or its absence), the
 * counter that says why, that what the agent's connection delivered
 * reached the application byte for byte, that the kernel's MPTCP
 * connection still echoes 1 MiB, and (teardown) that no frame leaked. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "hostile_bed.h"

/* What the agent's connection delivered: the application read @p want
 * bytes on it (the pump reads while the stack runs). */
static long long delivered(long long want)
{
	for (long long end = st_now_ms() + 2000; (long long)hb.hrx < want && st_now_ms() < end;)
		hb_pump();
	return (long long)hb.hrx;
}

/* MP_CAPABLE on a SYN has 4 bytes (version 1): SYNs whose option has 2,
 * 3, 5, 8, 12 (with version 1) or 20 get a plain SYN-ACK, the option
 * ignored as Linux ignores it, and are counted. */
static void test_mptcp_capable_bad_length_syn(void)
{
	char r[1024];
	struct skiff_stats st;
	bool ok;

	hb_begin_mptcp("mpclen");
	hb_agent_case("{\"case\": \"mptcp_syn_lengths\", \"n\": 12}", r, sizeof(r));
	hb_pump_ms(100);
	skiff_get_stats(&st);
	ok = hb_intact();
	TK_ASSERT_EQ(hb_jnum(r, "plain_synack"), 12);
	TK_ASSERT_EQ(hb_jnum(r, "mpc_synack"), 0);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_bad_option), 12);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_declined), 0);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_passive_established), 0);
	tk_score("12 SYNs with MP_CAPABLE of length 2, 3, 5, 8, 12 or 20 to an MPTCP listener: "
		 "%lld plain SYN-ACKs, %lld with MP_CAPABLE, mptcp_bad_option +%lld, "
		 "the kernel's MPTCP connection %s",
		 hb_jnum(r, "plain_synack"), hb_jnum(r, "mpc_synack"),
		 HB_DELTA(st, mptcp_bad_option), ok ? "intact" : "BROKEN");
}

/* A subtype RFC 8684 does not define (0xe) is ignored: beside MP_CAPABLE
 * on a SYN the handshake still happens; beside a DSS on data the data and
 * its mapping are taken. */
static void test_mptcp_unknown_subtype(void)
{
	char r[1024];
	struct skiff_stats st;
	long long got;
	bool ok;

	hb_begin_mptcp("mpunk");
	hb_agent_case("{\"case\": \"mptcp_unknown_subtype\", \"n\": 10}", r, sizeof(r));
	got = delivered(hb_jnum(r, "sent_bytes"));
	skiff_get_stats(&st);
	ok = hb_intact();
	TK_ASSERT_EQ(hb_jnum(r, "data_acked"), 10);
	TK_ASSERT_EQ(hb_jnum(r, "alive"), 1);
	TK_ASSERT_EQ(got, hb_jnum(r, "sent_bytes"));
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_passive_established), 1);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_unknown_subtype), 11);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_bad_option), 0);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_map_mismatch), 0);
	tk_score("subtype 0xe beside MP_CAPABLE on a SYN and beside the DSS on 10 data "
		 "segments: MPTCP handshake done (+%lld), %lld/10 ACKed, %lld of %lld bytes "
		 "delivered, mptcp_unknown_subtype +%lld, connections %s",
		 HB_DELTA(st, mptcp_passive_established), hb_jnum(r, "data_acked"), got,
		 hb_jnum(r, "sent_bytes"), HB_DELTA(st, mptcp_unknown_subtype),
		 ok && hb_jnum(r, "alive") ? "intact" : "BROKEN");
}

/* MP_JOIN SYNs to an MPTCP listener (RFC 8684 3.2): a random token is
 * reset (the RST ACKing the SYN), no state kept; a live connection's token
 * gets an MP_JOIN SYN-ACK whose truncated HMAC-B the agent checks with
 * both keys, and a third ACK with a wrong HMAC-A is reset; a join of the
 * wrong length is ignored (plain TCP). The connection is untouched. */
static void test_mptcp_join_tokens_and_hmac(void)
{
	char r[1024];
	struct skiff_stats st;
	long long got;
	bool ok;

	hb_begin_mptcp("mpjoin");
	hb_agent_case("{\"case\": \"mptcp_join\", \"n\": 5}", r, sizeof(r));
	got = delivered(hb_jnum(r, "sent_bytes"));
	hb_pump_ms(100);
	skiff_get_stats(&st);
	ok = hb_intact();
	TK_ASSERT_EQ(hb_jnum(r, "rst_random"), 5);
	TK_ASSERT_EQ(hb_jnum(r, "rst_ack_ok"), 5);
	TK_ASSERT_EQ(hb_jnum(r, "live_synack"), 5);
	TK_ASSERT_EQ(hb_jnum(r, "live_hmac_ok"), 5);
	TK_ASSERT_EQ(hb_jnum(r, "bad_hmac_rst"), 5);
	TK_ASSERT_EQ(hb_jnum(r, "bad_len_synack"), 5);
	TK_ASSERT_EQ(hb_jnum(r, "other"), 0);
	TK_ASSERT_EQ(hb_jnum(r, "alive"), 1);
	TK_ASSERT_EQ(got, hb_jnum(r, "sent_bytes"));
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_join_rejected), 5);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_join_bad_hmac), 5);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_join_established), 0);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_bad_option), 5);
	TK_ASSERT_EQ(st.tcp_half_open, 0);
	tk_score("MP_JOIN SYNs to an MPTCP listener: 5 random tokens -> %lld RSTs (%lld ACK "
		 "the SYN); 5 with a live connection's token -> %lld MP_JOIN SYN-ACKs (%lld with "
		 "the right HMAC-B), a wrong HMAC-A -> %lld RSTs; 5 of length 10 -> %lld plain "
		 "SYN-ACKs; mptcp_join_rejected +%lld, mptcp_join_bad_hmac +%lld, "
		 "mptcp_bad_option +%lld, connections %s",
		 hb_jnum(r, "rst_random"), hb_jnum(r, "rst_ack_ok"), hb_jnum(r, "live_synack"),
		 hb_jnum(r, "live_hmac_ok"), hb_jnum(r, "bad_hmac_rst"),
		 hb_jnum(r, "bad_len_synack"), HB_DELTA(st, mptcp_join_rejected),
		 HB_DELTA(st, mptcp_join_bad_hmac), HB_DELTA(st, mptcp_bad_option),
		 ok && hb_jnum(r, "alive") ? "intact" : "BROKEN");
}

/* A join that carries data: the handshake with the right HMACs (the third
 * ACK ACKed at once), then 10 times 100 bytes on the join mapped ahead of
 * the data-level pointer before the 100 bytes due on the first subflow.
 * The application reads every byte once, in data order (FNV-1a of the
 * stream equal), the DATA_ACK covers it all, a FIN on the join is
 * answered with a FIN, and the connection carries on. */
static void test_mptcp_join_data(void)
{
	char r[1024];
	struct skiff_stats st;
	long long got;
	bool ok;

	hb_begin_mptcp("mpjdata");
	hb_agent_case("{\"case\": \"mptcp_join_data\", \"n\": 10}", r, sizeof(r));
	got = delivered(hb_jnum(r, "sent_bytes"));
	hb_pump_ms(100);
	skiff_get_stats(&st);
	ok = hb_intact();
	TK_ASSERT_EQ(hb_jnum(r, "synack_ok"), 1);
	TK_ASSERT_EQ(hb_jnum(r, "join_acked"), 1);
	TK_ASSERT_EQ(hb_jnum(r, "join_rst"), 0);
	TK_ASSERT_EQ(hb_jnum(r, "ahead_acked"), 10);
	TK_ASSERT_EQ(hb_jnum(r, "due_acked"), 10);
	TK_ASSERT_EQ(hb_jnum(r, "after_acked"), 1);
	TK_ASSERT_EQ(hb_jnum(r, "data_ack_ok"), 1);
	TK_ASSERT_EQ(hb_jnum(r, "join_fin"), 1);
	TK_ASSERT_EQ(hb_jnum(r, "alive"), 1);
	TK_ASSERT_EQ(got, hb_jnum(r, "sent_bytes"));
	TK_ASSERT_EQ((long long)(hb.hsum & INT64_MAX), hb_jnum(r, "fnv"));
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_join_established), 1);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_join_rx_bytes), 1000);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_ooo_bytes), 1000);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_ooo_drop), 0);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_map_mismatch), 0);
	tk_score("a joined subflow (HMAC-B %s, third ACK %s) carrying 10 x 100 bytes ahead of "
		 "the 100 due on the first subflow: %lld of %lld bytes delivered, in data order "
		 "%s, DATA_ACK %s, the join's FIN answered %s; mptcp_join_rx_bytes +%lld, "
		 "mptcp_ooo_bytes +%lld, connections %s",
		 hb_jnum(r, "synack_ok") ? "right" : "WRONG",
		 hb_jnum(r, "join_acked") ? "ACKed" : "NOT ACKed", got, hb_jnum(r, "sent_bytes"),
		 (long long)(hb.hsum & INT64_MAX) == hb_jnum(r, "fnv") ? "yes" : "NO",
		 hb_jnum(r, "data_ack_ok") ? "right" : "WRONG",
		 hb_jnum(r, "join_fin") ? "yes" : "NO", HB_DELTA(st, mptcp_join_rx_bytes),
		 HB_DELTA(st, mptcp_ooo_bytes), ok && hb_jnum(r, "alive") ? "intact" : "BROKEN");
}

/* A join whose connection's first subflow is reset by the peer: the
 * connection goes on over the join, which becomes its first subflow (the
 * socket moves onto it); data sent there next is ACKed, and no MPTCP
 * state or frame is left behind. */
static void test_mptcp_join_orphan(void)
{
	char r[1024];
	struct skiff_stats st;
	bool ok;

	hb_begin_mptcp("mpjorph");
	hb_agent_case("{\"case\": \"mptcp_join_orphan\", \"n\": 3}", r, sizeof(r));
	hb_pump_ms(100);
	skiff_get_stats(&st);
	ok = hb_intact();
	TK_ASSERT_EQ(hb_jnum(r, "joined"), 3);
	TK_ASSERT_EQ(hb_jnum(r, "join_rst"), 0);
	TK_ASSERT_EQ(hb_jnum(r, "join_carried"), 3);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_join_established), 3);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_handover), 3);
	tk_score("3 connections with a join each, the first subflow reset by the peer: %lld "
		 "joins reset by the stack, %lld carried the connection on (100 bytes ACKed), "
		 "mptcp_handover +%lld, connections %s",
		 hb_jnum(r, "join_rst"), hb_jnum(r, "join_carried"), HB_DELTA(st, mptcp_handover),
		 ok ? "intact" : "BROKEN");
}

/* Bad DSS options on an established MPTCP connection, each on 100 bytes:
 * a length that does not fit its flags (the option ignored, the data
 * taken), an infinite mapping (data-level length 0: counted, the data
 * taken), a mapping past what the connection is owed and one at subflow
 * sequence 0 (dropped, not ACKed), a mapping contradicting the one taken
 * for the same out-of-order bytes (dropped; the first one stands when the
 * hole is filled). Every byte ACKed reaches the application once. */
static void test_mptcp_bad_dss(void)
{
	char r[1024];
	struct skiff_stats st;
	long long got;
	bool ok;

	hb_begin_mptcp("mpdss");
	hb_agent_case("{\"case\": \"mptcp_bad_dss\", \"n\": 10}", r, sizeof(r));
	got = delivered(hb_jnum(r, "sent_bytes"));
	hb_pump_ms(100);
	skiff_get_stats(&st);
	ok = hb_intact();
	TK_ASSERT_EQ(hb_jnum(r, "bad_len_acked"), 1);
	TK_ASSERT_EQ(hb_jnum(r, "infinite_acked"), 1);
	TK_ASSERT_EQ(hb_jnum(r, "ahead_acked"), 0);
	TK_ASSERT_EQ(hb_jnum(r, "ssn0_acked"), 0);
	TK_ASSERT_EQ(hb_jnum(r, "contradict_acked"), 0);
	TK_ASSERT_EQ(hb_jnum(r, "fill_acked"), 1);
	TK_ASSERT_EQ(hb_jnum(r, "alive"), 1);
	TK_ASSERT_EQ(got, hb_jnum(r, "sent_bytes"));
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_bad_option), 1);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_map_mismatch), 4);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_dup_data_rx), 0);
	tk_score("DSS of a bad length, an infinite mapping, a mapping 1000 bytes ahead, one at "
		 "subflow sequence 0, one contradicting the mapping taken: ACKed %lld/%lld/%lld/"
		 "%lld/%lld (want 1/1/0/0/0), %lld of %lld bytes delivered, mptcp_bad_option "
		 "+%lld, mptcp_map_mismatch +%lld, connections %s",
		 hb_jnum(r, "bad_len_acked"), hb_jnum(r, "infinite_acked"),
		 hb_jnum(r, "ahead_acked"), hb_jnum(r, "ssn0_acked"),
		 hb_jnum(r, "contradict_acked"), got, hb_jnum(r, "sent_bytes"),
		 HB_DELTA(st, mptcp_bad_option), HB_DELTA(st, mptcp_map_mismatch),
		 ok && hb_jnum(r, "alive") ? "intact" : "BROKEN");
}

/* The path manager's signals on an established MPTCP connection (RFC 8684
 * 3.4, 3.3.8) and the closing options that must not close it (3.5, 3.6):
 * 3 ADD_ADDRs with the right HMAC are each echoed at once (a pure ACK, the
 * same id and address, no HMAC, beside a DATA_ACK); 3 with a wrong one (its
 * leftmost 64 bits, the keys the wrong way round, one bit off) and 3 of
 * lengths ADD_ADDR cannot have are not; then MP_PRIO, REMOVE_ADDR of the id
 * announced and of two unknown, an ADD_ADDR echo, MP_TCPRST on an ACK,
 * MP_FASTCLOSE with a wrong key and with the sender's own: the connection
 * carries on, every byte delivered. With add_addr_accepted 0 no join is
 * opened to the address. */
static void test_mptcp_signals(void)
{
	char r[1024];
	struct skiff_stats st;
	long long got;
	bool ok;

	hb_begin_mptcp("mpsig");
	hb_agent_case("{\"case\": \"mptcp_signals\", \"n\": 3}", r, sizeof(r));
	got = delivered(hb_jnum(r, "sent_bytes"));
	hb_pump_ms(100);
	skiff_get_stats(&st);
	ok = hb_intact();
	TK_ASSERT_EQ(hb_jnum(r, "echo_ok"), 3);
	TK_ASSERT_EQ(hb_jnum(r, "echoes"), 3);
	TK_ASSERT_EQ(hb_jnum(r, "bad_hmac_echoed"), 0);
	TK_ASSERT_EQ(hb_jnum(r, "bad_len_echoed"), 0);
	TK_ASSERT_EQ(hb_jnum(r, "d_echoed"), 0);
	TK_ASSERT_EQ(hb_jnum(r, "pushed"), 16);
	TK_ASSERT_EQ(hb_jnum(r, "acked"), 16);
	TK_ASSERT_EQ(hb_jnum(r, "rst"), 0);
	TK_ASSERT_EQ(hb_jnum(r, "stack_syn"), 0);
	TK_ASSERT_EQ(hb_jnum(r, "data_ack_ok"), 1);
	TK_ASSERT_EQ(hb_jnum(r, "alive"), 1);
	TK_ASSERT_EQ(got, hb_jnum(r, "sent_bytes"));
	TK_ASSERT_EQ((long long)(hb.hsum & INT64_MAX), hb_jnum(r, "fnv"));
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_passive_established), 1);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_add_addr_rx), 3);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_add_addr_bad_hmac), 3);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_add_addr_echo_tx), 3);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_add_addr_echo_rx), 1);
	/* 3 lengths, MP_TCPRST off a RST, 2 MP_FASTCLOSEs with another key */
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_bad_option), 6);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_prio_rx), 1);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_rm_addr_rx), 2);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_join_syn_tx), 0);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_fastclose_rx), 0);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_rst_rx), 0);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_rst_tx), 0);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_map_mismatch), 0);
	tk_score(
		"ADD_ADDR: 3 right HMACs -> %lld echoed right; 3 wrong, 3 bad lengths -> %lld "
		"echoed; 7 other signals -> %lld echoes, %lld RSTs; %lld/16 ACKed, %lld/%lld bytes "
		"delivered; add_addr_rx +%lld, bad_hmac +%lld, echo_tx +%lld, joins %lld; %s",
		hb_jnum(r, "echo_ok"), hb_jnum(r, "bad_hmac_echoed") + hb_jnum(r, "bad_len_echoed"),
		hb_jnum(r, "d_echoed"), hb_jnum(r, "rst"), hb_jnum(r, "acked"), got,
		hb_jnum(r, "sent_bytes"), HB_DELTA(st, mptcp_add_addr_rx),
		HB_DELTA(st, mptcp_add_addr_bad_hmac), HB_DELTA(st, mptcp_add_addr_echo_tx),
		HB_DELTA(st, mptcp_join_syn_tx), ok && hb_jnum(r, "alive") ? "intact" : "BROKEN");
}

/* The agent's connection from @p port, taken from the pump (hb.held): the
 * pump reads it no more, so an error it reads is the test's. -1: none. */
static int take_held(long long port)
{
	for (unsigned i = 0; i < hb.nheld; i++) {
		struct sockaddr_in a;
		socklen_t alen = sizeof(a);

		if (skiff_getpeername(hb.held[i], (struct sockaddr *)&a, &alen) == 0 &&
		    ntohs(a.sin_port) == port) {
			int fd = hb.held[i];

			hb.held[i] = hb.held[--hb.nheld];
			return fd;
		}
	}
	return -1;
}

/* Closing an MPTCP connection at once (RFC 8684 3.5, 3.6). The application
 * resets one connection: its RST carries MP_FASTCLOSE with the peer's key
 * and MP_TCPRST. The peer sends MP_FASTCLOSE with the stack's key on an
 * ACK of another's join: the stack resets both subflows (each RST at its
 * SND.NXT with MP_TCPRST) and the socket reads ECONNRESET. RSTs of the
 * peer with MP_TCPRST, alone or beside MP_FASTCLOSE, close their
 * connections unanswered and are counted. */
static void test_mptcp_fastclose(void)
{
	char r[1024], r2[1024];
	struct skiff_stats st;
	struct linger l = {1, 0};
	uint8_t buf[256];
	long long got, sent;
	ssize_t k;
	int fc, ar, err;
	bool ok;

	hb_begin_mptcp("mpfclose");
	hb_agent_case("{\"case\": \"mptcp_fastclose_open\", \"n\": 5}", r, sizeof(r));
	sent = hb_jnum(r, "sent_bytes");
	got = delivered(sent);
	TK_ASSERT_EQ(hb_jnum(r, "data_acked"), 10);
	TK_ASSERT_EQ(hb_jnum(r, "joined"), 1);
	TK_ASSERT_EQ(got, sent);
	fc = take_held(hb_jnum(r, "fc_port"));
	ar = take_held(hb_jnum(r, "ar_port"));
	CU_ASSERT_FATAL(fc >= 0 && ar >= 0);
	TK_ASSERT_EQ(hb.nheld, 0);
	skiff_setsockopt(ar, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	TK_ASSERT_EQ(skiff_close(ar), 0);
	hb_agent_case("{\"case\": \"mptcp_fastclose\", \"n\": 3}", r2, sizeof(r2));
	errno = 0;
	k = skiff_recv(fc, buf, sizeof(buf), 0);
	err = errno;
	hb.held[hb.nheld++] = fc; /* the teardown closes it */
	got = delivered(sent + hb_jnum(r2, "sent_bytes"));
	hb_pump_ms(100);
	skiff_get_stats(&st);
	ok = hb_intact();
	TK_ASSERT_EQ(hb_jnum(r2, "ar_rst"), 1);
	TK_ASSERT_EQ(hb_jnum(r2, "ar_fastclose_ok"), 1);
	TK_ASSERT_EQ(hb_jnum(r2, "ar_tcprst"), 1);
	TK_ASSERT_EQ(hb_jnum(r2, "fc_rst"), 2);
	TK_ASSERT_EQ(hb_jnum(r2, "fc_other"), 0);
	TK_ASSERT_EQ(hb_jnum(r2, "fc_tcprst"), 2);
	TK_ASSERT_EQ(hb_jnum(r2, "fc_fastclose"), 0);
	TK_ASSERT_EQ(hb_jnum(r2, "fc_seq_ok"), 2);
	TK_ASSERT_EQ(hb_jnum(r2, "fc_after_acked"), 0);
	TK_ASSERT_EQ(hb_jnum(r2, "fc_after_rst"), 1);
	TK_ASSERT_EQ(hb_jnum(r2, "rst_answered"), 0);
	TK_ASSERT_EQ(hb_jnum(r2, "rst_dead"), 2);
	TK_ASSERT_EQ(k, -1);
	TK_ASSERT_EQ(err, ECONNRESET);
	TK_ASSERT_EQ(got, sent + hb_jnum(r2, "sent_bytes"));
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_passive_established), 4);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_join_established), 1);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_fastclose_rx), 2);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_fastclose_tx), 1);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_rst_rx), 2);
	/* the application's RST, the two of the MP_FASTCLOSE */
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_rst_tx), 3);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_bad_option), 0);
	tk_score("app reset: RST with MP_FASTCLOSE %s, MP_TCPRST %s; MP_FASTCLOSE on a join's "
		 "ACK: %lld RSTs (%lld with MP_TCPRST), recv %s; 2 peer RSTs: %lld answers; "
		 "fastclose rx/tx +%lld/+%lld, rst rx/tx +%lld/+%lld; %s",
		 hb_jnum(r2, "ar_fastclose_ok") ? "ok" : "BAD",
		 hb_jnum(r2, "ar_tcprst") ? "ok" : "BAD", hb_jnum(r2, "fc_rst"),
		 hb_jnum(r2, "fc_tcprst"), k < 0 ? strerror(err) : "no error",
		 hb_jnum(r2, "rst_answered"), HB_DELTA(st, mptcp_fastclose_rx),
		 HB_DELTA(st, mptcp_fastclose_tx), HB_DELTA(st, mptcp_rst_rx),
		 HB_DELTA(st, mptcp_rst_tx), ok ? "intact" : "BROKEN");
}

/* Signals on segments TCP would not take (RFC 5961, RFC 9293 3.10.7.4),
 * on a connection with a join from address id 4, 500 bytes on each
 * subflow: REMOVE_ADDR of id 4 on a pure ACK 2^30 left of RCV.NXT, and in
 * sequence with an ACK 2^30 past SND.NXT; MP_PRIO on the join with an ACK
 * 2^30 behind SND.UNA; MP_FASTCLOSE with the stack's key on a pure ACK of
 * the join 100000 left of RCV.NXT; a RST|ACK with MP_FASTCLOSE (the stack's
 * key) and MP_TCPRST at RCV.NXT + 10; an ADD_ADDR with the right HMAC on a
 * pure ACK at RCV.NXT - 1. Each draws an ACK on its subflow (the RST a
 * challenge ACK) and nothing else, and is counted as not taken; both
 * subflows still carry data. Then, in sequence, the same REMOVE_ADDR
 * closes the join (a FIN from the stack) and the connection carries on. */
static void test_mptcp_signals_not_taken(void)
{
	char r[2048];
	struct skiff_stats st;
	long long got;
	bool ok;

	hb_begin_mptcp("mpsignt");
	hb_agent_case("{\"case\": \"mptcp_signals_oow\", \"n\": 5}", r, sizeof(r));
	got = delivered(hb_jnum(r, "sent_bytes"));
	hb_pump_ms(100);
	skiff_get_stats(&st);
	ok = hb_intact();
	TK_ASSERT_EQ(hb_jnum(r, "joined"), 1);
	TK_ASSERT_EQ(hb_jnum(r, "join_data_acked"), 5);
	TK_ASSERT_EQ(hb_jnum(r, "probes"), 6);
	TK_ASSERT_EQ(hb_jnum(r, "answered_ok"), 6);
	TK_ASSERT_EQ(hb_jnum(r, "rst_challenge_acks"), 1);
	TK_ASSERT_EQ(hb_jnum(r, "fin_rst"), 0);
	TK_ASSERT_EQ(hb_jnum(r, "echoes"), 0);
	TK_ASSERT_EQ(hb_jnum(r, "main_acked"), 1);
	TK_ASSERT_EQ(hb_jnum(r, "join_acked"), 1);
	TK_ASSERT_EQ(hb_jnum(r, "data_ack_ok"), 1);
	TK_ASSERT_EQ(hb_jnum(r, "rm_join_fin"), 1);
	TK_ASSERT_EQ(hb_jnum(r, "rm_rst"), 0);
	TK_ASSERT_EQ(hb_jnum(r, "rm_main_fin"), 0);
	TK_ASSERT_EQ(hb_jnum(r, "alive"), 1);
	TK_ASSERT_EQ(got, hb_jnum(r, "sent_bytes"));
	TK_ASSERT_EQ((long long)(hb.hsum & INT64_MAX), hb_jnum(r, "fnv"));
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_passive_established), 1);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_join_established), 1);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_signal_not_taken), 6);
	/* each probe reached MPTCP: none was over the challenge-ACK limit */
	TK_ASSERT_EQ(HB_DELTA(st, tcp_challenge_acks), 3);
	TK_ASSERT_EQ(HB_DELTA(st, tcp_challenge_acks_limited), 0);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_rm_addr_rx), 1); /* the control's */
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_prio_rx), 0);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_fastclose_rx), 0);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_rst_rx), 0);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_add_addr_rx), 0);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_add_addr_echo_tx), 0);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_bad_option), 0);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_rst_tx), 0);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_map_mismatch), 0);
	tk_score("6 signals on segments TCP would not take: %lld/6 answered by an ACK alone, %lld "
		 "FIN/RSTs, %lld echoes, signal_not_taken +%lld; then data %s on both subflows; "
		 "REMOVE_ADDR in sequence: join FIN %s, rm_addr_rx +%lld; %lld/%lld bytes "
		 "delivered; %s",
		 hb_jnum(r, "answered_ok"), hb_jnum(r, "fin_rst"), hb_jnum(r, "echoes"),
		 HB_DELTA(st, mptcp_signal_not_taken),
		 hb_jnum(r, "main_acked") && hb_jnum(r, "join_acked") ? "ACKed" : "NOT ACKed",
		 hb_jnum(r, "rm_join_fin") ? "yes" : "NO", HB_DELTA(st, mptcp_rm_addr_rx), got,
		 hb_jnum(r, "sent_bytes"), ok && hb_jnum(r, "alive") ? "intact" : "BROKEN");
}

static const struct tk_case tests[] = {
	TK_TEST(test_mptcp_capable_bad_length_syn),
	TK_TEST(test_mptcp_unknown_subtype),
	TK_TEST(test_mptcp_join_tokens_and_hmac),
	TK_TEST(test_mptcp_join_data),
	TK_TEST(test_mptcp_join_orphan),
	TK_TEST(test_mptcp_bad_dss),
	TK_TEST(test_mptcp_signals),
	TK_TEST(test_mptcp_fastclose),
	TK_TEST(test_mptcp_signals_not_taken),
	TK_TEST_END,
};

static const struct tk_suite suite = {"mptcp_hostile", hb_setup, hb_teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
