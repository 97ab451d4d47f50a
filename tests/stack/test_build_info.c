/* The stack is built from lwIP 2.2.1 with the options skiff depends on. */
#include "testkit.h"

#include <skiff/skiff.h>
#include <string.h>

static void test_lwip_is_2_2_1(void)
{
	struct skiff_build_info bi;

	skiff_get_build_info(&bi);
	CU_ASSERT_STRING_EQUAL(bi.lwip_version, "2.2.1");
	CU_ASSERT_PTR_NOT_NULL(bi.skiff_version);
}

static void test_windows_of_at_least_1mib(void)
{
	struct skiff_build_info bi;

	skiff_get_build_info(&bi);
	CU_ASSERT(bi.window_scaling);
	CU_ASSERT(bi.tcp_wnd >= 1024 * 1024);
	CU_ASSERT(bi.tcp_snd_buf >= 1024 * 1024);
	/* The announced scale must cover the window in lwIP's 16-bit field. */
	CU_ASSERT((bi.tcp_wnd >> bi.tcp_rcv_scale) <= 0xFFFF);
	CU_ASSERT(bi.tcp_rcv_scale <= 14);
	TK_ASSERT_EQ(bi.tcp_mss, 1460);
}

static void test_features(void)
{
	struct skiff_build_info bi;

	skiff_get_build_info(&bi);
	CU_ASSERT(bi.timestamps);
	CU_ASSERT(bi.sack_out);
	CU_ASSERT(bi.ipv4);
	CU_ASSERT(bi.ipv6);
	CU_ASSERT(bi.custom_pbufs);
#ifdef SKIFF_DEBUG_FRAMES
	CU_ASSERT(bi.frame_tracking);
#endif
}

static const struct tk_case build_info_tests[] = {
	TK_TEST(test_lwip_is_2_2_1),
	TK_TEST(test_windows_of_at_least_1mib),
	TK_TEST(test_features),
	TK_TEST_END,
};

static const struct tk_suite build_info_suite = {
	.name = "build_info",
	.tests = build_info_tests,
};

const struct tk_suite *const tk_suites[] = {&build_info_suite, NULL};
