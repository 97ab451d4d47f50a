/* Writes the fuzzers' seed corpora from the codecs themselves: every DSS
 * flag combination, with and without checksum, encoded for real.
 *   fuzz_seeds OUTDIR */
#include <errno.h>
#include <skiff/mptcp_dss.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int write_seed(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len) {
		fprintf(stderr, "fuzz_seeds: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f);
}

static int dss_seeds(const char *out)
{
	char dir[400], name[32];

	snprintf(dir, sizeof(dir), "%s/dss", out);
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -1;
	for (unsigned flags = 0; flags <= PKB_DSS_FLAGS; flags++) {
		for (unsigned csum = 0; csum < 2; csum++) {
			struct pkb_ext_mptcp m = {
				.flags = (uint8_t)flags,
				.data_ack = 0x0102030405060708ull,
				.data_seq = 0x1112131415161718ull,
				.subflow_seq = 0x21222324,
				.data_len = 1460,
				.csum = 0xbeef,
			};
			uint8_t buf[1 + PKB_MPTCP_DSS_MAXLEN];
			int len;

			buf[0] = (uint8_t)csum;
			len = pkb_mptcp_dss_encode(&m, csum, buf + 1, sizeof(buf) - 1);
			if (len < 0)
				return -1;
			snprintf(name, sizeof(name), "f%02x-c%u", flags, csum);
			if (write_seed(dir, name, buf, (size_t)len + 1))
				return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds OUTDIR\n");
		return 2;
	}
	if (mkdir(argv[1], 0755) && errno != EEXIST) {
		perror(argv[1]);
		return 1;
	}
	return dss_seeds(argv[1]) ? 1 : 0;
}
