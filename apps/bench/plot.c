/* skiff-bench's bar charts in SVG (plot.h). */
#define _GNU_SOURCE
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define WIDTH	   760
#define LABEL_W	   190 /* the bars' names, left of them */
#define BAR_W	   330 /* the longest bar */
#define BAR_H	   22
#define BAR_GAP	   10
#define TOP	   78 /* title, subtitle and note above the first bar */
#define BOTTOM	   34
#define SKIFF_FILL "#2b7bb9"
#define KERN_FILL  "#9a9a9a"
#define BASE_FILL  "#5a5a5a"

void plot_xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&apos;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

static void text(FILE *f, int x, int y, const char *anchor, const char *style, const char *s)
{
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"%s\" %s>", x, y, anchor, style);
	plot_xml_text(f, s);
	fputs("</text>\n", f);
}

int plot_svg(const char *path, const struct plot_chart *c)
{
	int height = TOP + (int)c->n * (BAR_H + BAR_GAP) + BOTTOM, rc = 0;
	double max = 0;
	char buf[160], val[64];
	FILE *f;

	for (unsigned i = 0; i < c->n; i++)
		if (c->bars[i].have && isfinite(c->bars[i].value) && c->bars[i].value > max)
			max = c->bars[i].value;
	f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		WIDTH, height, WIDTH, height);
	fputs("<title>", f);
	plot_xml_text(f, c->title);
	fputs("</title>\n", f);
	text(f, 12, 22, "start", "font-size=\"15\" font-weight=\"bold\"", c->title);
	text(f, 12, 40, "start", "fill=\"#555\" font-size=\"11\"", c->subtitle);
	snprintf(buf, sizeof(buf), "%s; ratios to %s%s",
		 c->lower_better ? "lower is better" : "higher is better",
		 c->base >= 0 ? c->bars[c->base].label : "none",
		 c->base >= 0 && c->bars[c->base].have ? "" : " (not measured)");
	text(f, 12, 58, "start", "fill=\"#555\" font-size=\"11\"", buf);
	for (unsigned i = 0; i < c->n; i++) {
		const struct plot_bar *b = &c->bars[i];
		int y = TOP + (int)i * (BAR_H + BAR_GAP);
		int w = b->have && max > 0 ? (int)lround(b->value / max * BAR_W) : 0;
		const char *fill = (int)i == c->base ? BASE_FILL
				   : b->skiff	     ? SKIFF_FILL
						     : KERN_FILL;

		text(f, LABEL_W - 8, y + BAR_H - 6, "end",
		     (int)i == c->base ? "font-weight=\"bold\"" : "", b->label);
		if (!b->have) {
			text(f, LABEL_W + 4, y + BAR_H - 6, "start", "fill=\"#a00\"", "n/a");
			continue;
		}
		fprintf(f,
			"<rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
			"fill=\"%s\"><title>",
			LABEL_W, y, w > 0 ? w : 1, BAR_H, fill);
		plot_xml_text(f, b->label);
		fputs("</title></rect>\n", f);
		snprintf(val, sizeof(val), c->fmt, b->value);
		if (c->base >= 0 && (int)i != c->base && c->bars[c->base].have &&
		    c->bars[c->base].value > 0)
			snprintf(buf, sizeof(buf), "%s %s  (%.2fx)", val, c->unit,
				 b->value / c->bars[c->base].value);
		else if ((int)i == c->base)
			snprintf(buf, sizeof(buf), "%s %s  (baseline)", val, c->unit);
		else
			snprintf(buf, sizeof(buf), "%s %s", val, c->unit);
		text(f, LABEL_W + (w > 0 ? w : 1) + 6, y + BAR_H - 6, "start", "", buf);
	}
	text(f, 12, height - 12, "start", "fill=\"#555\" font-size=\"10\"",
	     "blue: skiff at one end or both; grey: the Linux kernel at both ends");
	fputs("</svg>\n", f);
	if (fflush(f) != 0 || ferror(f))
		rc = -EIO;
	if (fclose(f) != 0 && !rc)
		rc = -errno;
	return rc;
}
