#!/usr/bin/env python3
"""bench/chart.py: SVG bar chart of the reference workload (bench/run.sh, R1..R7).

    python3 bench/chart.py results-reference.csv results-reference.svg

Reads the CSV bench/run.sh writes for the shapes R1..R7 (one row per shape and
pgbench -c) and draws one panel per -c: a group of bars per shape, one bar per
anchor, transactions per second on a logarithmic axis (the shapes differ by orders
of magnitude: R6 reads every row), each bar labelled with its value.  Cells that
are not numbers (n/a, error) are drawn as a label at the baseline.  Only the
Python standard library is used.
"""
import csv
import math
import sys
from xml.sax.saxutils import escape

ANCHORS = [
    ("shardfdw", "#1f77b4"),
    ("postgres_fdw", "#ff7f0e"),
    ("plproxy", "#2ca02c"),
    ("direct", "#9467bd"),
    ("local", "#8c564b"),
]
WIDTH = 1100
PANEL_H = 330          # height of one panel's plot area
MARGIN_L, MARGIN_R = 70, 20
TOP = 70               # title and legend
PANEL_GAP = 95         # shape labels under a panel and the next panel's title


def number(cell):
    cell = (cell or "").strip().rstrip("!")
    try:
        v = float(cell)
    except ValueError:
        return None
    return v if v > 0 else None


def wrap(text, width):
    """Split text into lines of at most width characters, at spaces."""
    lines, cur = [], ""
    for word in text.split():
        if cur and len(cur) + 1 + len(word) > width:
            lines.append(cur)
            cur = word
        else:
            cur = (cur + " " + word).strip()
    if cur:
        lines.append(cur)
    return lines


def main(csv_path, svg_path):
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit("chart.py: %s has no rows" % csv_path)
    shapes, desc, clients = [], {}, []
    data = {}
    for r in rows:
        s, c = r["shape"], int(r["clients"])
        if s not in shapes:
            shapes.append(s)
        if c not in clients:
            clients.append(c)
        desc[s] = r.get("description", "")
        data[(s, c)] = {a: r.get(a, "") for a, _ in ANCHORS}
    values = [number(v) for d in data.values() for v in d.values()]
    values = [v for v in values if v is not None]
    if not values:
        sys.exit("chart.py: no numbers in %s" % csv_path)
    # at least a third of a decade under the smallest bar, so that it shows
    lo = 10 ** math.floor(math.log10(min(values)) - 0.3)
    hi = 10 ** math.ceil(math.log10(max(values)))
    if hi <= lo:
        hi = lo * 10
    rows_per_shard = rows[0].get("rows_per_shard", "?")
    seconds = rows[0].get("seconds", "?")
    runs = rows[0].get("runs", "?")

    height = TOP + len(clients) * (PANEL_H + PANEL_GAP) + 10
    out = []
    out.append('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
               'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">'
               % (WIDTH, height, WIDTH, height))
    out.append('<rect width="100%" height="100%" fill="white"/>')
    out.append('<text x="%d" y="22" font-size="16" font-weight="bold">%s</text>' % (
        MARGIN_L, escape("shardfdw reference workload: transactions/s per shape and system")))
    out.append('<text x="%d" y="40" fill="#444">%s</text>' % (MARGIN_L, escape(
        "4 shards x ~%s rows, pgbench -M prepared, %s s per run, best of %s; "
        "log scale, higher is better" % (rows_per_shard, seconds, runs))))
    # legend
    x = MARGIN_L
    for a, color in ANCHORS:
        out.append('<rect x="%d" y="50" width="12" height="12" fill="%s"/>' % (x, color))
        out.append('<text x="%d" y="60">%s</text>' % (x + 16, escape(a)))
        x += 30 + 8 * len(a)

    plot_w = WIDTH - MARGIN_L - MARGIN_R
    group_w = plot_w / max(1, len(shapes))
    bar_w = group_w * 0.8 / len(ANCHORS)
    span = math.log10(hi) - math.log10(lo)

    for pi, c in enumerate(clients):
        top = TOP + 20 + pi * (PANEL_H + PANEL_GAP)
        bottom = top + PANEL_H

        def y_of(v):
            return bottom - (math.log10(v) - math.log10(lo)) / span * PANEL_H

        label = "-c %d (%s)" % (c, "latency" if c == 1 else "throughput")
        out.append('<text x="%d" y="%d" font-size="14" font-weight="bold">%s</text>'
                   % (MARGIN_L, top - 8, escape(label)))
        # decade grid lines
        d = lo
        while d <= hi * 1.0001:
            y = y_of(d)
            out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>'
                       % (MARGIN_L, y, WIDTH - MARGIN_R, y))
            out.append('<text x="%d" y="%.1f" text-anchor="end" fill="#444">%s</text>'
                       % (MARGIN_L - 6, y + 4, "{:,.0f}".format(d) if d >= 1 else "%g" % d))
            d *= 10
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>'
                   % (MARGIN_L, bottom, WIDTH - MARGIN_R, bottom))
        out.append('<text transform="translate(16,%d) rotate(-90)" text-anchor="middle" '
                   'fill="#444">transactions/s</text>' % (top + PANEL_H // 2))
        for si, s in enumerate(shapes):
            gx = MARGIN_L + si * group_w + group_w * 0.1
            cells = data.get((s, c), {})
            for ai, (a, color) in enumerate(ANCHORS):
                bx = gx + ai * bar_w
                cell = (cells.get(a) or "").strip()
                v = number(cell)
                cx = bx + bar_w / 2
                if v is None:
                    out.append('<text x="%.1f" y="%d" font-size="9" text-anchor="start" '
                               'transform="rotate(-90 %.1f %d)" fill="#999">%s</text>'
                               % (cx + 3, bottom - 4, cx + 3, bottom - 4, escape(cell or "-")))
                    continue
                y = y_of(v)
                out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s">'
                           '<title>%s %s -c %d: %s tps</title></rect>'
                           % (bx, y, bar_w - 1, bottom - y, color, escape(s), escape(a), c,
                              escape(cell)))
                out.append('<text x="%.1f" y="%.1f" font-size="9" '
                           'transform="rotate(-90 %.1f %.1f)">%s</text>'
                           % (cx + 3, y - 3, cx + 3, y - 3, escape(cell)))
            lx = MARGIN_L + si * group_w + group_w / 2
            out.append('<text x="%.1f" y="%d" text-anchor="middle" font-weight="bold">%s</text>'
                       % (lx, bottom + 16, escape(s)))
            for li, text in enumerate(wrap(desc.get(s, ""), max(8, int(group_w / 6.2)))):
                out.append('<text x="%.1f" y="%d" text-anchor="middle" font-size="10" '
                           'fill="#444">%s</text>' % (lx, bottom + 30 + 12 * li, escape(text)))
    out.append("</svg>")
    with open(svg_path, "w") as f:
        f.write("\n".join(out) + "\n")
    print("chart.py: wrote %s (%d shapes, -c %s)" % (
        svg_path, len(shapes), ", ".join(str(c) for c in clients)))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: chart.py RESULTS.csv OUT.svg")
    main(sys.argv[1], sys.argv[2])
