/**
 * @file
 * skiff-bench's figures as pictures (--plot DIR): horizontal bar charts in
 * SVG, written directly (no plotting program needed), one per figure, with
 * each bar's value and its ratio to a baseline bar.
 *
 * Threading: one thread; nothing here keeps state between calls.
 */
#ifndef SKIFF_APPS_BENCH_PLOT_H
#define SKIFF_APPS_BENCH_PLOT_H

#include <stdbool.h>
#include <stdio.h>

/** One bar: a pair (or a transfer of the loss run) and its figure. */
struct plot_bar {
	const char *label;
	double value;
	bool have;  /* measured: else the bar says "n/a" */
	bool skiff; /* drawn in skiff's colour, else the kernel's */
};

/** One chart. */
struct plot_chart {
	const char *title;    /* what is measured, e.g. "echo64 c64: requests/s" */
	const char *subtitle; /* when, where, how (date, machine, build) */
	const char *unit;     /* after each value */
	const char *fmt;      /* printf format of a value, e.g. "%.0f" */
	bool lower_better;    /* said under the title */
	const struct plot_bar *bars;
	unsigned n;
	int base; /* the bar the ratios are to; -1: none */
};

/**
 * Writes @p c as an SVG file at @p path.
 * @return 0, or -errno of creating or writing the file
 */
int plot_svg(const char *path, const struct plot_chart *c);

/** Writes @p s to @p f with XML's five special characters escaped. */
void plot_xml_text(FILE *f, const char *s);

#endif
