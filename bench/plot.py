#!/usr/bin/env python3
"""bench/plot.py: an SVG bar chart of a peers harness run.

    python3 bench/plot.py RESULTS.jsonl [OUT.svg]     (no OUT: standard output)

Reads the harness's results.jsonl (one JSON object a line with peer, scn,
conc, ok or requests, server_cpu_s; see ../shared/peers/run.sh) and draws,
for each scenario and concurrency, a panel on its own scale with one bar
per peer: requests (flows for "flow" and "flow-es256", sign-ins for
"signin") per server CPU-second, the figure bench/README.md compares. A
scenario only some peers run (signin: ours only) has bars for those. Our
peers ("ours", "ours-<storage>") come first, in their own colours. Failed
runs and runs without server CPU are left out. Python 3 standard library
only; the SVG is written by hand.
"""

import json
import sys
from xml.sax.saxutils import escape

SCENARIOS = {
    "disc": "discovery",
    "jwks": "JWKS",
    "cc": "client_credentials",
    "flow": "code flow",
    "refresh": "refresh",
    "flow-es256": "code flow, ES256",
    "refresh-es256": "refresh, ES256",
    "signin": "sign-in",
}
OURS_COLOURS = ["#d62728", "#ff7f0e", "#8c564b"]
PEER_COLOURS = ["#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#7f7f7f", "#bcbd22", "#e377c2"]

BAR_W, BAR_GAP = 24, 4
PANEL_PAD, PANEL_MIN, PANEL_GAP = 40, 150, 16
PLOT_H, TOP, LEFT, BOTTOM = 260, 70, 40, 50


def runs(path, tool="plot"):
    """Yields (record, requests done, server CPU seconds) for each run of the
    harness's results.jsonl that succeeded and has server CPU; tool names the
    caller in errors."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except ValueError as e:
                raise SystemExit(f"{tool}: {path}:{n}: {e}")
            if not isinstance(r, dict) or r.get("failed") or "scn" not in r or "peer" not in r:
                continue
            cpu = float(r.get("server_cpu_s") or 0)
            done = r.get("ok", r.get("requests"))
            if cpu <= 0 or done is None:
                continue
            yield r, float(done), cpu


def load(path):
    """Returns (rows, peers): rows map (scn, conc) to {peer: value}."""
    rows, peers = {}, []
    for r, done, cpu in runs(path):
        peer = r["peer"]
        if peer not in peers:
            peers.append(peer)
        rows.setdefault((r["scn"], int(r.get("conc", 0))), {})[peer] = done / cpu
    ours = [p for p in peers if p == "ours" or p.startswith("ours-")]
    return rows, ours + [p for p in peers if p not in ours]


def colours(peers):
    out, o, p = {}, 0, 0
    for peer in peers:
        if peer == "ours" or peer.startswith("ours-"):
            out[peer] = OURS_COLOURS[o % len(OURS_COLOURS)]
            o += 1
        else:
            out[peer] = PEER_COLOURS[p % len(PEER_COLOURS)]
            p += 1
    return out


def group_order(rows):
    order = list(SCENARIOS)
    return sorted(rows, key=lambda k: (order.index(k[0]) if k[0] in order else len(order), k[0], k[1]))


def nice_max(v):
    """A round axis maximum at or above v."""
    if v <= 0:
        return 1
    step = 10 ** (len(str(int(v))) - 1)
    for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * step >= v:
            return m * step
    return 10 * step


def svg(rows, peers, title):
    """One panel per scenario and concurrency, each on its own scale (the
    scenarios differ by two orders of magnitude), bars in peer order."""
    col = colours(peers)
    groups = group_order(rows)
    widths = [max(PANEL_MIN, PANEL_PAD + len(rows[g]) * (BAR_W + BAR_GAP)) for g in groups]
    legend_w = sum(30 + 7 * len(p) for p in peers)
    width = max(LEFT + sum(widths) + PANEL_GAP * len(groups), LEFT + legend_w, 20 + 8 * len(title)) + 20
    height = TOP + PLOT_H + BOTTOM
    base = TOP + PLOT_H
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    x = LEFT
    for p in peers:
        out.append(f'<rect x="{x}" y="34" width="12" height="12" fill="{col[p]}"/>')
        out.append(f'<text x="{x + 16}" y="44">{escape(p)}</text>')
        x += 30 + 7 * len(p)
    out.append(f'<text transform="translate(16 {base - PLOT_H / 2}) rotate(-90)" text-anchor="middle">'
               "requests per server CPU-second (own scale per panel)</text>")
    x = LEFT
    for g, w in zip(groups, widths):
        scn, conc = g
        top = nice_max(max(rows[g].values()))
        y = lambda v: base - PLOT_H * v / top  # noqa: E731
        ax = x + PANEL_PAD - 6  # the panel's axis
        out.append(f'<g class="panel" data-scenario="{escape(scn)}" data-conc="{conc}">')
        for i in range(3):
            v = top * i / 2
            out.append(f'<line x1="{ax}" y1="{y(v):.1f}" x2="{x + w}" y2="{y(v):.1f}" stroke="#ddd"/>')
            out.append(f'<text x="{ax - 3}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="9">{v:g}</text>')
        bx = ax + 6
        for p in peers:
            if p not in rows[g]:
                continue
            v = rows[g][p]
            out.append(f'<rect class="bar" x="{bx}" y="{y(v):.1f}" width="{BAR_W}" height="{base - y(v):.1f}" '
                       f'fill="{col[p]}"><title>{escape(p)} {escape(scn)} c={conc}: {v:.0f}</title></rect>')
            out.append(f'<text x="{bx + BAR_W / 2}" y="{y(v) - 3:.1f}" text-anchor="middle" font-size="8">{v:.0f}</text>')
            bx += BAR_W + BAR_GAP
        out.append(f'<line x1="{ax}" y1="{base}" x2="{x + w}" y2="{base}" stroke="black"/>')
        cx = ax + (x + w - ax) / 2
        out.append(f'<text x="{cx}" y="{base + 16}" text-anchor="middle">{escape(SCENARIOS.get(scn, scn))}</text>')
        out.append(f'<text x="{cx}" y="{base + 30}" text-anchor="middle" fill="#555">c={conc}</text>')
        out.append("</g>")
        x += w + PANEL_GAP
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) not in (2, 3) or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    rows, peers = load(argv[1])
    if not rows:
        raise SystemExit(f"plot: {argv[1]}: no successful run with server CPU")
    doc = svg(rows, peers, "caddy-oidc and peers: requests per server CPU-second")
    if len(argv) == 3:
        with open(argv[2], "w", encoding="utf-8") as f:
            f.write(doc)
    else:
        sys.stdout.write(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
