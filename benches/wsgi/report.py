"""Turns the measurements of benches/wsgi/run.sh into a Markdown report: each server's median
over the rounds, and torsion's ratios against the peers with the bar each must meet.

Usage: python3 benches/wsgi/report.py target/bench-results/wsgi.tsv SECONDS

A ratio is taken within each round (the servers of one round ran minutes apart, the rounds
further apart), so the report gives its median over the rounds and how many rounds met the bar.
When the floor server ran too, each rate bar is also put as the share of the floor's req/s that
torsion would need to meet it: the floor's rate is the most the load generator drives, so a
bar needing more than 100% of it cannot be shown on this machine by any server.
"""

import csv
import statistics
import sys
from datetime import datetime, timezone

# The bar: (scenario, connections) -> [(peer, measure, target)], measure "rate" (torsion's
# req/s over the peer's, at least target) or "p99" (torsion's p99 at most the peer's).
BAR = {
    ("hello", "64"): [("granian", "rate", 2.0), ("bjoern", "rate", 1.0), ("bjoern", "p99", None),
                      ("twisted", "rate", 20.0)],
    ("hello", "256"): [("granian", "rate", 2.0), ("bjoern", "rate", 1.0), ("bjoern", "p99", None),
                       ("twisted", "rate", 20.0)],
    ("big", "64"): [("granian", "rate", 1.2)],
    ("echo", "64"): [("bjoern", "rate", 1.3)],
}
# Server RSS under the 256-connection hello load, at most 25 MB.
RSS_LIMIT_KIB = 25_000_000 / 1024
TITLES = {"hello": "hello world", "big": "64 KiB response", "echo": "16 KiB POST echo"}


def milliseconds(text):
    """wrk's latency ("850.00us", "1.07ms", "1.20s") in milliseconds; None when absent."""
    for suffix, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * scale
            except ValueError:
                return None
    return None


def load(path):
    """{(scenario, connections): {round: {server: row}}} from the tab-separated file."""
    runs = {}
    with open(path, newline="") as rows:
        for row in csv.DictReader(rows, delimiter="\t"):
            key = (row["scenario"], row["connections"])
            row["rate"] = float(row["req_per_sec"] or 0)
            row["p99_ms"] = milliseconds(row["p99"])
            runs.setdefault(key, {}).setdefault(int(row["round"]), {})[row["server"]] = row
    return runs


def fmt_rate(value):
    return f"{value / 1000:.1f}k"


def fmt_ms(value):
    return "—" if value is None else f"{value:.2f} ms"


def server_table(rounds):
    names = []
    for servers in rounds.values():
        names += [name for name in servers if name not in names]
    out = [
        "| server | req/s (median) | p99 (median) | RSS KiB (max) | req/s per round | errors |",
        "|---|---:|---:|---:|---|---|",
    ]
    for name in names:
        rows = [servers[name] for _, servers in sorted(rounds.items()) if name in servers]
        rates = [row["rate"] for row in rows]
        p99s = [row["p99_ms"] for row in rows if row["p99_ms"] is not None]
        rss = max(int(row["rss_kib"] or 0) for row in rows)
        errors = "; ".join(sorted({row["errors"].strip() for row in rows if row["errors"].strip()}))
        out.append(
            f"| {name} | {fmt_rate(statistics.median(rates))} | "
            f"{fmt_ms(statistics.median(p99s) if p99s else None)} | {rss} | "
            f"{' / '.join(fmt_rate(rate) for rate in rates)} | {errors} |"
        )
    return out


def ratio_rows(key, rounds):
    out = []
    for peer, measure, target in BAR.get(key, []):
        values, needs = [], []
        for servers in rounds.values():
            ours, theirs = servers.get("torsion"), servers.get(peer)
            if not ours or not theirs:
                continue
            if measure == "rate" and theirs["rate"] > 0:
                values.append(ours["rate"] / theirs["rate"])
                floor = servers.get("floor")
                if floor and floor["rate"] > 0:
                    needs.append(target * theirs["rate"] / floor["rate"])
            elif measure == "p99" and ours["p99_ms"] is not None and theirs["p99_ms"] is not None:
                values.append(ours["p99_ms"] - theirs["p99_ms"])
        if not values:
            continue
        if measure == "rate":
            met = sum(value >= target for value in values)
            label, bar = f"req/s, torsion / {peer}", f"≥ {target:g}×"
            shown = " / ".join(f"{value:.2f}×" for value in values)
            median = f"{statistics.median(values):.2f}×"
            verdict = statistics.median(values) >= target
        else:
            met = sum(value <= 0 for value in values)
            label, bar = f"p99, torsion − {peer}", "≤ 0"
            shown = " / ".join(f"{value:+.2f} ms" for value in values)
            median = f"{statistics.median(values):+.2f} ms"
            verdict = statistics.median(values) <= 0
        need = " / ".join(f"{value:.0%}" for value in needs) if needs else "—"
        out.append(
            f"| {label} | {median} | {shown} | {bar} | {met} of {len(values)} | "
            f"{'met' if verdict else 'missed'} | {need} |"
        )
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: report.py WSGI.TSV SECONDS")
    runs = load(sys.argv[1])
    count = max((len(rounds) for rounds in runs.values()), default=0)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"# WSGI benchmark ({when}, wrk -t1, {sys.argv[2]} s per measurement, "
        f"{count} round{'s' if count != 1 else ''}, server on CPU 0, wrk on CPU 1)"
    )
    for key, rounds in runs.items():
        scenario, connections = key
        print(f"\n## {TITLES.get(scenario, scenario)}, {connections} connections\n")
        print("\n".join(server_table(rounds)))
        rows = ratio_rows(key, rounds)
        if key == ("hello", "256"):
            rss = [int(servers["torsion"]["rss_kib"] or 0)
                   for servers in rounds.values() if "torsion" in servers]
            if rss:
                met = sum(value <= RSS_LIMIT_KIB for value in rss)
                rows.append(
                    f"| torsion RSS | {max(rss) / 1024:.1f} MiB (max) | "
                    f"{' / '.join(f'{value / 1024:.1f}' for value in rss)} MiB | ≤ 25 MB | "
                    f"{met} of {len(rss)} | {'met' if met == len(rss) else 'missed'} | — |"
                )
        if rows:
            print(
                "\n| measure | median | per round | bar | rounds meeting it | on the median "
                "| needs, share of the floor's req/s |"
            )
            print("|---|---:|---|---|---:|---|---|")
            print("\n".join(rows))


if __name__ == "__main__":
    main()
