/* Loss recovery for the sender (recovery.c): NewReno's partial ACKs (RFC
 * 6582) and a SACK scoreboard (RFC 6675, simplified) on top of lwIP's Reno,
 * which recovers one hole per round trip. */
#ifndef SKIFF_RECOVERY_H
#define SKIFF_RECOVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "lwip/arch.h"

struct skiff_sock;
struct tcp_pcb;

#ifndef SKIFF_SACK_MAX
#define SKIFF_SACK_MAX 8
#endif

struct skiff_sack_range {
	u32_t left, right;
};

/* A connection's recovery state. In fast recovery until everything sent
 * before it began is ACKed; a partial ACK resends the next hole at once
 * instead of waiting for an RTO. */
struct skiff_recovery {
	bool active;
	u32_t recover;	   /* snd_nxt when the episode began */
	u32_t rexmit_high; /* holes below this were resent in this episode */
	u32_t rexmit_mark; /* snd_nxt when they were: SACKs well past it mean a resend was lost */
	struct skiff_sack_range sacked[SKIFF_SACK_MAX]; /* SACKed ranges above the ACK */
	uint8_t n_sacked;
};

/* lwIP's own fast retransmit is going out (output hook): the episode
 * begins, ending once @p snd_nxt is ACKed. */
void skiff__recovery_begin(struct skiff_sock *s, u32_t snd_nxt, u32_t resent_end);
/* New data ACKed (lwIP's sent callback): a partial ACK in recovery resends. */
void skiff__recovery_acked(struct skiff_sock *s, struct tcp_pcb *pcb, u16_t acked);
/* Forgets SACKed ranges the ACK passed, then records the blocks of the
 * ACK's SACK option @p sack (its kind byte; NULL: none); true when there
 * were any. */
bool skiff__sack_input(struct skiff_sock *s, struct tcp_pcb *pcb, u32_t ackno, const uint8_t *sack);
/* Resends the holes the scoreboard shows lost; true when it did. Never
 * inside lwIP's input (it forbids touching the queues): after the batch. */
bool skiff__sack_recover(struct skiff_sock *s, struct tcp_pcb *pcb);

#endif
