/* The path manager's commands (RFC 8684 3.3.8, 3.4.2): a port's subflows
 * made backup or regular again (MP_PRIO), and a port's address withdrawn
 * (REMOVE_ADDR), as Linux's `ip mptcp endpoint change ... backup` and
 * `ip mptcp endpoint delete` do for its endpoints.
 *
 * Backup: each established subflow over the port gets our MP_PRIO on its
 * next segment with room for it, and skiff's scheduler keeps off it while
 * a regular subflow has room (as off one the peer asked to be backup);
 * subflows opened over it later start as backup (the B flag of our
 * MP_JOIN, or an MP_PRIO once a first subflow is established).
 *
 * Withdrawn: every connection that announced the address, or has a
 * subflow over it, sends REMOVE_ADDR with its id on its first subflow,
 * and closes those subflows with a FIN (what they hold that the peer has
 * not DATA_ACKed goes again on the others when they go: send.c); no
 * connection announces it any more, joins to it are refused with a RST
 * and none is opened from it. The first port's address cannot be
 * withdrawn: a connection's socket rides its first subflow. */
#include <errno.h>

#include "engine.h"
#include "instance.h"
#include "mptcp/conn.h"
#include "netif.h"
#include "sock.h"
#include "tcpglue.h"

#include "lwip/priv/tcp_priv.h"

static struct skiff_link *link_of(const ip_addr_t *local)
{
	int k = skiff__link_index_of(local);

	return k >= 0 ? &skiff__s.link[k] : NULL;
}

void skiff__mptcp_port_prio(struct skiff_mptcp_sf *sf, const struct tcp_pcb *pcb, bool est)
{
	struct skiff_link *l = link_of(&pcb->local_ip);

	if (!l || !l->mptcp_backup)
		return;
	sf->lbackup = true;
	if (est)
		sf->prio_owed = true;
}

bool skiff__mptcp_port_gone(const ip_addr_t *local)
{
	struct skiff_link *l = link_of(local);

	return l && l->mptcp_gone;
}

void skiff__mptcp_pm_established(struct skiff_mptcp_conn *c)
{
	struct skiff_stack *st = &skiff__s;

	if (!c->client || c->fb.failed || c->data_fin_rcvd || !c->main_pcb)
		return;
	for (unsigned i = 1; i < st->n_links; i++) {
		const struct skiff_link *l = &st->link[i];
		ip_addr_t from;

		if (!l->cfg.mptcp_subflow || !l->cfg.ipv4 || l->mptcp_gone)
			continue;
		/* Port joins are IPv4 only; a connection at its limit takes
		 * no more: counted, not silent. */
		if (!IP_IS_V4(&c->main_pcb->remote_ip) || c->nsf >= SKIFF_MPTCP_MAX_SUBFLOWS) {
			st->stats.mptcp_join_not_opened++;
			continue;
		}
		ip_addr_set_ip4_u32_val(from, l->cfg.ipv4);
		if (skiff__mptcp_join_from(c, &from))
			st->stats.mptcp_join_from_port++;
		else
			st->stats.mptcp_join_open_fail++;
	}
}

/* Tells the peer on @p sf's next segment (an ACK now, unless data goes). */
static void prio_tell(struct skiff_mptcp_conn *c, struct skiff_mptcp_sf *sf, bool backup)
{
	struct tcp_pcb *pcb = skiff__mptcp_sf_pcb(c, sf);

	sf->lbackup = backup;
	sf->prio_owed = true;
	tcp_ack_now(pcb);
	tcp_output(pcb);
}

struct port_cmd {
	unsigned port;
	bool backup;
	unsigned subflows; /* subflows told or closed */
};

static void conn_backup(struct skiff_mptcp_conn *c, void *arg)
{
	struct port_cmd *cmd = arg;
	const struct tcp_pcb *pcb;

	if (!c->main_pcb || c->fb.failed)
		return;
	for (struct skiff_mptcp_sf *sf = c->main_sf; sf; sf = skiff__mptcp_sf_next(c, sf))
		if ((pcb = skiff__mptcp_sf_open(c, sf)) &&
		    skiff__link_index_of(&pcb->local_ip) == (int)cmd->port &&
		    sf->lbackup != cmd->backup) {
			prio_tell(c, sf, cmd->backup);
			cmd->subflows++;
		}
	skiff__tcp_notify_pcb(c->main_pcb);
}

int skiff_mptcp_set_backup(unsigned port, bool backup)
{
	struct skiff_stack *st = &skiff__s;
	struct port_cmd cmd = {.port = port, .backup = backup};

	if (!skiff__running())
		SKIFF_FAIL(ENOTCONN);
	if (port >= st->n_links)
		SKIFF_FAIL(EINVAL);
	st->link[port].mptcp_backup = backup;
	skiff__mptcp_each_conn(conn_backup, &cmd);
	return (int)cmd.subflows;
}

static void conn_withdraw(struct skiff_mptcp_conn *c, void *arg)
{
	struct port_cmd *cmd = arg;
	unsigned id = cmd->port + 1, bit = 1u << (id - 1);
	bool told = c->adv_tries[id - 1] > 0, used = false;
	struct skiff_mptcp_sf *j, *nx;

	c->adv_owed &= (uint8_t)~bit;
	if (!c->main_pcb || c->main_sf->phase != SKIFF_MPTCP_EST || c->fb.failed)
		return;
	for (j = c->joins; j; j = nx) {
		nx = j->next;
		if (!j->pcb || j->closing ||
		    skiff__link_index_of(&j->pcb->local_ip) != (int)cmd->port)
			continue;
		used = true;
		cmd->subflows++;
		j->closing = true;
		if (tcp_close(j->pcb) != ERR_OK)
			tcp_abort(j->pcb); /* frees j */
	}
	if (!told && !used)
		return;
	c->rm_owed |= (uint8_t)bit;
	tcp_ack_now(c->main_pcb);
	tcp_output(c->main_pcb);
}

int skiff_mptcp_withdraw(unsigned port)
{
	struct skiff_stack *st = &skiff__s;
	struct port_cmd cmd = {.port = port};

	if (!skiff__running())
		SKIFF_FAIL(ENOTCONN);
	if (port == 0 || port >= st->n_links)
		SKIFF_FAIL(EINVAL);
	if (st->link[port].mptcp_gone)
		return 0;
	st->link[port].mptcp_gone = true;
	skiff__mptcp_each_conn(conn_withdraw, &cmd);
	return (int)cmd.subflows;
}
