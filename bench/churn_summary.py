#!/usr/bin/env python3
"""bench/churn_summary.py: the markdown summary of a bench/churn.sh run.

    python3 bench/churn_summary.py DIR     (DIR holds churn.csv, load-*.jsonl)

Compares the first third of the run with the last: the mean and the slope
(least squares, per minute) of the Caddy process's RSS, the Go heap, the
database's size (file + WAL) and the live grant rows. A flat RSS and a
database that stops growing show as last-third slopes near zero. It also
totals the load generators' lines (load-flow.jsonl, load-refresh.jsonl).
Exit status 1 when the load saw errors or the CSV has fewer than 3 samples
(errors, not figures); 0 otherwise. Python 3 standard library only.
"""

import csv
import json
import os
import sys

METRICS = [
    ("RSS (MiB)", lambda r: r["rss_bytes"] / 2**20),
    ("Go heap alloc (MiB)", lambda r: r["heap_alloc_bytes"] / 2**20),
    ("Go heap in use (MiB)", lambda r: r["heap_inuse_bytes"] / 2**20),
    ("database + WAL (KiB)", lambda r: (r["db_bytes"] + r["wal_bytes"]) / 2**10),
    ("access token rows", lambda r: r["access_rows"]),
    ("refresh token rows", lambda r: r["refresh_rows"]),
]


def read_samples(path):
    with open(path, encoding="utf-8", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def slope(ts, vs):
    """Least-squares slope of vs over ts, per minute (0 for < 2 points)."""
    n = len(ts)
    if n < 2:
        return 0.0
    mt, mv = sum(ts) / n, sum(vs) / n
    den = sum((t - mt) ** 2 for t in ts)
    return 0.0 if den == 0 else 60 * sum((t - mt) * (v - mv) for t, v in zip(ts, vs)) / den


def load_totals(d):
    """{mode: (chunks, ok, errors, failed chunks, first error)} from load-*.jsonl."""
    out = {}
    for mode in ("flow", "refresh"):
        path = os.path.join(d, f"load-{mode}.jsonl")
        chunks = ok = errors = failed = 0
        first = ""
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if not line.strip():
                        continue
                    chunks += 1
                    try:
                        r = json.loads(line)
                    except ValueError:
                        failed += 1
                        continue
                    ok += int(r.get("ok", 0))
                    errors += int(r.get("errors", 0))
                    first = first or r.get("first_error", "")
        out[mode] = (chunks, ok, errors, failed, first)
    return out


def summary(d):
    """Returns (markdown, ok)."""
    rows = read_samples(os.path.join(d, "churn.csv"))
    lines = [f"# Churn run {os.path.basename(os.path.normpath(d))}", ""]
    good = len(rows) >= 3
    if not good:
        lines.append(f"Only {len(rows)} samples: no comparison.")
    else:
        third = max(1, len(rows) // 3)
        first, last = rows[:third], rows[-third:]
        span = lambda part: f"{part[0]['t_s']:.0f}–{part[-1]['t_s']:.0f} s"  # noqa: E731
        lines += [
            f"{len(rows)} samples over {rows[-1]['t_s']:.0f} s; first third {span(first)}, "
            f"last third {span(last)}. Slopes are per minute.",
            "",
            "| metric | first third mean | last third mean | first third slope | last third slope |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, f in METRICS:
            m1 = sum(map(f, first)) / len(first)
            m2 = sum(map(f, last)) / len(last)
            s1 = slope([r["t_s"] for r in first], [f(r) for r in first])
            s2 = slope([r["t_s"] for r in last], [f(r) for r in last])
            lines.append(f"| {name} | {m1:.2f} | {m2:.2f} | {s1:+.3f} | {s2:+.3f} |")
        grants = rows[-1]["access_rows"] + rows[-1]["refresh_rows"]
        if grants > 0:
            per = rows[-1]["heap_alloc_bytes"] / grants
            lines += ["", f"Go heap per token row at the end (whole heap, an upper bound): {per:.0f} B."]
    lines += ["", "| load | chunks | ok | errors |", "|---|---:|---:|---:|"]
    problems = []
    for mode, (chunks, ok, errors, failed, first) in load_totals(d).items():
        lines.append(f"| {mode} | {chunks} | {ok} | {errors} |")
        if errors or failed or not chunks:
            good = False
            why = first or ("no output" if not chunks else f"{failed} unreadable lines")
            problems.append(f"- {mode}: {why}")
    if problems:
        lines += ["", "Load errors:", ""] + problems
    return "\n".join(lines) + "\n", good


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    text, good = summary(argv[1])
    sys.stdout.write(text)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
