#!/usr/bin/env python3
"""bench/table.py: the README's performance table from a peers harness run.

    python3 bench/table.py RESULTS.jsonl

Reads the harness's results.jsonl (see bench/plot.py) and prints, as a
Markdown table, one row per scenario and concurrency: our SQLite peer's
requests (flows, sign-ins) per server CPU-second, its ratio to Caddy's
`respond`, node oidc-provider and zitadel/oidc, our PostgreSQL peer's figure,
that figure counting the database server's CPU too (the run's other CPU:
machine busy minus server minus load generator, for the scenarios that
touch the database), and that against node. A figure a run lacks is "–".
Python 3 standard library only.
"""

import sys

from plot import runs  # bench/plot.py, beside this script

ROWS = [
    ("disc", "discovery", False),
    ("jwks", "JWKS", False),
    ("cc", "client_credentials", True),
    ("flow", "code flow, RS256", True),
    ("refresh", "refresh, RS256", True),
    ("flow-es256", "code flow, ES256", True),
    ("refresh-es256", "refresh, ES256", True),
    ("signin", "sign-in (argon2id, Authelia's defaults)", False),
]
HEADER = ("| scenario | c | SQLite | vs Caddy `respond` | vs node oidc-provider | "
          "vs zitadel/oidc (in-memory) | PostgreSQL | PostgreSQL, counting its server's CPU | "
          "PostgreSQL vs node, counting its CPU |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|")


def load(path):
    """Returns {(peer, scn, conc): (per server CPU-second, per CPU-second with other CPU)}."""
    out = {}
    for r, done, cpu in runs(path, "table"):
        other = float(r.get("machine_busy_s") or 0) - cpu - float(r.get("loadgen_cpu_s") or 0)
        out[(r["peer"], r["scn"], int(r.get("conc", 0)))] = (done / cpu, done / (cpu + max(other, 0)))
    return out


def number(v):
    return "–" if v is None else f"{round(v):,}".replace(",", " ")


def ratio(a, b):
    return "–" if a is None or not b else f"{a / b:.2f}×"


def table(runs):
    concs = sorted({c for (_, _, c) in runs})
    out = [HEADER]
    for scn, name, counts_server in ROWS:
        for c in concs:
            def per(peer, with_server=False):
                r = runs.get((peer, scn, c))
                return None if r is None else r[1 if with_server else 0]
            ours, pg = per("ours"), per("ours-postgres")
            if ours is None and pg is None:
                continue
            pg_all = per("ours-postgres", True) if counts_server else None
            node = per("node")
            cells = [name, str(c), number(ours), ratio(ours, per("caddy-respond")), ratio(ours, node),
                     ratio(ours, per("zitadel")), number(pg), number(pg_all),
                     ratio(pg_all if counts_server else pg, node)]
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv):
    if len(argv) != 2:
        raise SystemExit(__doc__.strip().splitlines()[2].strip())
    print(table(load(argv[1])))


if __name__ == "__main__":
    main(sys.argv)
