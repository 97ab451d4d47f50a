/* The bed of the hostile tests (test_hostile.c, test_acceptability.c):
 * skiff on AF_XDP (copy mode) in ns[0]; in ns[1] the kernel with an
 * established connection to skiff's listener, whose skiff end echoes, and
 * hostile_agent.py (Scapy), driven one JSON line at a time, which sends
 * the bad frames and reports what came back. One bed per test: set up by
 * hb_begin(), gone in hb_teardown(), which also proves no frame leaked. */
#ifndef HOSTILE_BED_H
#define HOSTILE_BED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "stack_test.h"
#include "testbed.h"

#define HB_STACK_IP4 "10.77.0.10"
#define HB_PEER_IP4  "10.77.0.2"
#define HB_OWN_IP4   "10.77.0.3" /* the agent's connections: kernel RSTs filtered */
#define HB_STACK_IP6 "fd77::10"
#define HB_PEER_IP6  "fd77::2"
#define HB_PORT	     7001
#define HB_MAX_HELD  256

struct hostile_bed {
	struct tb_pair net;
	bool up, stack;
	pid_t agent;
	int to_agent, from_agent;
	char abuf[16384]; /* the agent's output not yet read as lines */
	size_t alen;
	int lfd;
	int held[HB_MAX_HELD]; /* the agent's connections, read and discarded */
	unsigned nheld;
	uint64_t hrx;  /* bytes read on them: what reached the application */
	uint64_t hsum; /* FNV-1a of those bytes in the order read (hb_begin sets its basis) */
	bool mptcp;    /* the listener and the kernel's connection are IPPROTO_MPTCP */
	/* the kernel's connection: kfd in ns[1], sfd its skiff end (echoes) */
	int kfd, sfd;
	uint64_t koff;
	uint8_t echo[65536];
	size_t ehave, eoff;
	uint64_t srx; /* bytes sfd's reads returned: what reached the application */
	int serr;     /* errno of sfd's first failed read or write other than EAGAIN */
	struct skiff_stats before;
};

extern struct hostile_bed hb;

/* The suite's set-up and teardown. */
void hb_setup(void);
void hb_teardown(void);
/* Namespaces, agent, stack, the kernel's connection having moved 64 KiB
 * both ways; the counters then go to hb.before. @p mtu 0: the default. */
void hb_begin(const char *tag, unsigned mtu);
/* The same with an IPPROTO_MPTCP listener, to which the kernel connects
 * with an IPPROTO_MPTCP socket (asserted to be MPTCP, not fallen back). */
void hb_begin_mptcp(const char *tag);
#define HB_DELTA(st, f) ((long long)((st).f - hb.before.f))

/* One round of the stack: the listener's new connections taken, data on
 * the agent's connections discarded and the kernel's echoed. */
void hb_pump(void);
void hb_pump_ms(int ms);
/* @p n bytes of the stream through the kernel's connection and back,
 * checked byte by byte. */
bool hb_kconn_round(size_t n);
/* The kernel's connection after an attack: 1 MiB there and back (asserted). */
bool hb_intact(void);

/* The agent's next line (the stack kept running meanwhile), or false. */
bool hb_agent_line(char *line, size_t len, int ms);
/* Runs a case: @p json is its command; the reply goes to @p out. */
void hb_agent_case(const char *json, char *out, size_t len);
/* A number or boolean of the agent's one-line JSON reply. */
long long hb_jnum(const char *json, const char *key);

#endif
