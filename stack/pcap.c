/* Capture into pcap files (pcap.h). The file format is libpcap's with
 * nanosecond timestamps (magic 0xa1b23c4d), link type Ethernet. A frame
 * costs a clock read and a copy into a 1 MiB buffer; the buffer goes to
 * the file when it is full or 64 KiB of it waits, every 100 ms from the
 * loop's periodic turn, and at skiff_stop(). Past pcap_max_bytes the file
 * rotates: FILE becomes FILE.1, FILE.1 FILE.2 ..., and pcap_files of them
 * are kept, the current one included. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pcap.h"

#define PCAP_MAGIC_NS	   0xa1b23c4du
#define PCAP_LINK_ETH	   1u
#define PCAP_SNAPLEN_MAX   65535u
#define PCAP_BUF	   (1u << 20)
#define PCAP_FLUSH_BYTES   (64u << 10)
#define PCAP_FLUSH_NS	   100000000ull
#define PCAP_FILES_DEFAULT 2u

struct pcap_file_header {
	uint32_t magic;
	uint16_t major, minor;
	int32_t thiszone;
	uint32_t sigfigs, snaplen, linktype;
};

struct pcap_rec_header {
	uint32_t sec, nsec, caplen, len;
};

struct skiff_pcap {
	int fd;
	char path[4096];
	uint32_t snaplen;
	uint64_t max_bytes;
	uint32_t files;
	uint64_t file_bytes; /* of the current file, the buffer included */
	uint8_t *buf;
	size_t len;
	uint64_t next_flush_ns;
	bool failed;
};

/* "%p" in @p in becomes the pid (two processes, one environment). */
static int expand(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = in; *p; p++) {
		int n;

		if (p[0] == '%' && p[1] == 'p') {
			n = snprintf(out + o, len - o, "%d", (int)getpid());
			p++;
		} else {
			n = snprintf(out + o, len - o, "%c", *p);
		}
		if (n < 0 || (size_t)n >= len - o)
			return -ENAMETOOLONG;
		o += (size_t)n;
	}
	return 0;
}

/* "123", "64k", "10M", "1G" (powers of 1024). */
static uint64_t size_of(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);

	switch (*end) {
	case 'k':
	case 'K':
		return v << 10;
	case 'm':
	case 'M':
		return v << 20;
	case 'g':
	case 'G':
		return v << 30;
	default:
		return v;
	}
}

static uint64_t env_u64(const char *name)
{
	const char *e = getenv(name);

	return e && e[0] ? size_of(e) : 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int open_file(struct skiff_pcap *c)
{
	struct pcap_file_header h = {
		.magic = PCAP_MAGIC_NS,
		.major = 2,
		.minor = 4,
		.snaplen = c->snaplen,
		.linktype = PCAP_LINK_ETH,
	};

	c->fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (c->fd < 0)
		return -errno;
	memcpy(c->buf, &h, sizeof(h));
	c->len = sizeof(h);
	c->file_bytes = sizeof(h);
	return 0;
}

static void fail(struct skiff_pcap *c, const char *what, int e)
{
	fprintf(stderr, "skiff: capture to %s stopped: %s: %s\n", c->path, what, strerror(-e));
	c->failed = true;
	c->len = 0;
}

static void flush(struct skiff_pcap *c)
{
	int e;

	if (!c->len || c->failed)
		return;
	e = write_all(c->fd, c->buf, c->len);
	if (e)
		fail(c, "write", e);
	c->len = 0;
}

/* FILE.(n-1) -> FILE.n ... FILE -> FILE.1, then a fresh FILE. */
static void rotate(struct skiff_pcap *c)
{
	char from[4200], to[4200];
	int e;

	flush(c);
	close(c->fd);
	c->fd = -1;
	for (uint32_t i = c->files - 1; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof(from), "%s", c->path);
		else
			snprintf(from, sizeof(from), "%s.%u", c->path, i - 1);
		snprintf(to, sizeof(to), "%s.%u", c->path, i);
		rename(from, to);
	}
	e = open_file(c);
	if (e)
		fail(c, "open", e);
}

void skiff__pcap_write(const void *frame, uint32_t len)
{
	struct skiff_pcap *c = skiff__s.pcap;
	uint32_t cap = len < c->snaplen ? len : c->snaplen;
	size_t need = sizeof(struct pcap_rec_header) + cap;
	struct pcap_rec_header r;
	struct timespec ts;

	if (c->failed)
		return;
	if (c->max_bytes && c->file_bytes + need > c->max_bytes &&
	    c->file_bytes > sizeof(struct pcap_file_header)) {
		rotate(c);
		if (c->failed)
			return;
	}
	if (c->len + need > PCAP_BUF) {
		flush(c);
		if (c->failed)
			return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	r.sec = (uint32_t)ts.tv_sec;
	r.nsec = (uint32_t)ts.tv_nsec;
	r.caplen = cap;
	r.len = len;
	memcpy(c->buf + c->len, &r, sizeof(r));
	memcpy(c->buf + c->len + sizeof(r), frame, cap);
	c->len += need;
	c->file_bytes += need;
}

void skiff__pcap_tick(uint64_t now_ns)
{
	struct skiff_pcap *c = skiff__s.pcap;

	if (c->len >= PCAP_FLUSH_BYTES || (c->len && now_ns >= c->next_flush_ns)) {
		flush(c);
		c->next_flush_ns = now_ns + PCAP_FLUSH_NS;
	}
}

void skiff__pcap_flush(void)
{
	if (skiff__s.pcap)
		flush(skiff__s.pcap);
}

int skiff__pcap_open(void)
{
	struct skiff_stack *st = &skiff__s;
	const struct skiff_config *cfg = &st->cfg;
	const char *path = cfg->pcap_path ? cfg->pcap_path : getenv("SKIFF_PCAP");
	struct skiff_pcap *c;
	int e;

	if (!path || !path[0])
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->buf = malloc(PCAP_BUF);
	if (!c->buf) {
		e = -ENOMEM;
		goto out_free;
	}
	e = expand(path, c->path, sizeof(c->path));
	if (e) {
		skiff__set_error("pcap %s: name too long", path);
		goto out_free;
	}
	c->snaplen =
		cfg->pcap_snaplen ? cfg->pcap_snaplen : (uint32_t)env_u64("SKIFF_PCAP_SNAPLEN");
	if (!c->snaplen || c->snaplen > PCAP_SNAPLEN_MAX)
		c->snaplen = PCAP_SNAPLEN_MAX;
	c->max_bytes = cfg->pcap_max_bytes ? cfg->pcap_max_bytes : env_u64("SKIFF_PCAP_MAX");
	c->files = cfg->pcap_files ? cfg->pcap_files : (uint32_t)env_u64("SKIFF_PCAP_FILES");
	if (!c->files)
		c->files = PCAP_FILES_DEFAULT;
	if (c->max_bytes && c->max_bytes < sizeof(struct pcap_file_header) + 16 + c->snaplen &&
	    c->max_bytes < sizeof(struct pcap_file_header) + 16 + 1514) {
		skiff__set_error("pcap %s: a size bound of %llu bytes holds no frame", c->path,
				 (unsigned long long)c->max_bytes);
		e = -EINVAL;
		goto out_free;
	}
	e = open_file(c);
	if (e) {
		skiff__set_error("pcap %s: %s", c->path, strerror(-e));
		goto out_free;
	}
	st->pcap = c;
	st->observing = true;
	return 0;

out_free:
	free(c->buf);
	free(c);
	return e;
}

void skiff__pcap_close(void)
{
	struct skiff_pcap *c = skiff__s.pcap;

	if (!c)
		return;
	flush(c);
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
	skiff__s.pcap = NULL;
	skiff__s.observing = skiff__s.pub != NULL;
}
