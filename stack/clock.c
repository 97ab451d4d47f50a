/* skiff's clock and randomness. The clock is CLOCK_MONOTONIC in
 * milliseconds, plus whatever skiff__clock_advance() added (fuzzers and
 * tests reach lwIP's timers without sleeping); lwIP reads it through
 * sys_now(). */
#include <errno.h>
#include <stdbool.h>
#include <sys/random.h>
#include <time.h>

#include "instance.h"

static uint64_t rand_state;

/* Time skiff__clock_advance() added: fuzzers and tests reach lwIP's
 * timers (retransmission, TIME_WAIT, reassembly) without sleeping. */
static long long clock_skew_ms;

/* Inside a poll round the clock is read once per step of the round (its
 * start, each RX batch that brought frames): a segment's timestamps,
 * RACK's transmit times and lwIP's timers all take the step's reading, as
 * a NIC stamps a batch once.
 * Each read costs some 25 ns in this kind of VM and a segment in and its
 * answer out wanted five; outside a round every call reads the clock. */
static uint64_t round_ns;
static bool round_clock;

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t clock_ns(void)
{
	return round_clock ? round_ns : mono_ns();
}

void skiff__clock_round_begin(void)
{
	round_ns = mono_ns();
	round_clock = true;
}

void skiff__clock_step(void)
{
	if (round_clock)
		round_ns = mono_ns();
}

void skiff__clock_round_end(void)
{
	round_clock = false;
}

long long skiff__now_ms(void)
{
	return (long long)(clock_ns() / 1000000u) + clock_skew_ms;
}

uint32_t skiff__now_us(void)
{
	return (uint32_t)(clock_ns() / 1000u + (uint64_t)clock_skew_ms * 1000u);
}

void skiff__clock_advance(unsigned ms)
{
	clock_skew_ms += ms;
}

long long skiff__deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : skiff__now_ms() + timeout_ms;
}

/* lwIP's clock (required by NO_SYS timers). */
u32_t sys_now(void)
{
	return (u32_t)skiff__now_ms();
}

void skiff__random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* No entropy source at all: the clock is better than
			 * nothing, and ISNs stay keyed per process. */
			for (size_t i = 0; i < len; i++)
				p[i] = (uint8_t)(skiff__now_ms() * 2654435761u >> (i % 24));
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

uint32_t skiff__rand(void)
{
	/* xorshift64*: ports and the like need spread, not secrecy (the ISN
	 * uses its own keyed hash). */
	if (!rand_state)
		skiff__random(&rand_state, sizeof(rand_state));
	rand_state ^= rand_state >> 12;
	rand_state ^= rand_state << 25;
	rand_state ^= rand_state >> 27;
	return (uint32_t)((rand_state * 0x2545f4914f6cdd1dull) >> 32);
}
