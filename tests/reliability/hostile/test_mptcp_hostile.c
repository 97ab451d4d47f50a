/* Malformed MPTCP options (RFC 8684) from a Scapy peer, on the hostile
 * bed (hostile_bed.h) with an IPPROTO_MPTCP listener: the kernel's
 * connection beside the attacks is itself MPTCP. hostile_agent.py
 * performs the MP_CAPABLE handshake the RFC way (the stack's key from its
 * SYN-ACK, tokens and IDSNs with hashlib) so that bad DSS options reach an
 * established MPTCP connection. Each test checks the answer (or its
 * absence), the counter that says why, that what the agent's connection
 * delivered reached the application byte for byte, that the kernel's
 * MPTCP connection still echoes 1 MiB, and (teardown) that no frame
 * leaked. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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
 * stack resets the join as well (at the end of that poll round), and no
 * MPTCP state or frame is left behind. */
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
	TK_ASSERT_EQ(hb_jnum(r, "join_rst"), 3);
	TK_ASSERT_EQ(HB_DELTA(st, mptcp_join_established), 3);
	tk_score("3 connections with a join each, the first subflow reset by the peer: %lld "
		 "joins reset by the stack, mptcp_join_established +%lld, connections %s",
		 hb_jnum(r, "join_rst"), HB_DELTA(st, mptcp_join_established),
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

static const struct tk_case tests[] = {
	TK_TEST(test_mptcp_capable_bad_length_syn),
	TK_TEST(test_mptcp_unknown_subtype),
	TK_TEST(test_mptcp_join_tokens_and_hmac),
	TK_TEST(test_mptcp_join_data),
	TK_TEST(test_mptcp_join_orphan),
	TK_TEST(test_mptcp_bad_dss),
	TK_TEST_END,
};

static const struct tk_suite suite = {"mptcp_hostile", hb_setup, hb_teardown, tests};
const struct tk_suite *const tk_suites[] = {&suite, NULL};
