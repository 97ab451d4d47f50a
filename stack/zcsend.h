/* Zero-copy sends on skiff sockets (zcsend.c), over zerocopy/'s contract
 * (<skiff/zc.h>, docs/zerocopy.md): the buffers TCP may still reference,
 * and the completions the application has not taken yet. */
#ifndef SKIFF_ZCSEND_H
#define SKIFF_ZCSEND_H

#include <stdbool.h>
#include <stdint.h>

#include <skiff/skiff.h>

struct pkb;
struct skiff_sock;
struct zc_sock;

struct skiff_zcstate {
	struct zc_sock *zs;
	skiff_zc_fn cb;
	void *opaque;
	int fd; /* the descriptor reported to completion callbacks */
	/* buffers TCP may still reference, oldest first (linked through
	 * pkb->next, end sequence number in the cb) */
	struct pkb *q_head, *q_tail;
	unsigned q_len;
	/* completed ranges not taken by a callback */
	struct skiff_zc_range *done;
	unsigned done_len, done_cap;
};

/* New data was ACKed: buffers no queued segment references go. */
void skiff__zc_release_acked(struct skiff_sock *s);
/* The pcb is gone: every buffer goes (@p aborted: sends with bytes the
 * peer never acknowledged are reported ABORTED; acknowledged ones still
 * complete plainly when their frames come back). */
void skiff__zc_release_all(struct skiff_sock *s, bool aborted);
/* MPTCP moved the connection onto another subflow, its data not yet
 * acknowledged kept in copies (stack/mptcp/): every buffer goes, each
 * send completes plainly (skiff, not the buffer, holds its bytes now). */
void skiff__zc_release_moved(struct skiff_sock *s);
/* The application closed the socket: outstanding sends still complete. */
void skiff__zc_sock_close(struct skiff_sock *s);
/* Sends or buffers still outstanding: the struct must stay. */
bool skiff__zc_busy(const struct skiff_sock *s);
/* The completed ranges' memory (fdtable.c frees the struct). */
void skiff__zc_forget(struct skiff_sock *s);
/* True while the application may pin one more frame in a send or a loan
 * sent on: the receive reserve stays free or on the fill ring. */
bool skiff__zc_reserve_ok(void);
/* The payload a buffer for @p fd holds (-1: the default segment); 0 or
 * -errno. */
int skiff__zc_buf_cap(int fd, uint32_t *cap);

#endif
