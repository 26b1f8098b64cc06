"""Turns the RESULT lines of the reactor benchmarks into a Markdown report with ratios and the
pass/fail against each target.

Usage: python3 benches/summarize.py target/bench-results/raw.txt
"""

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone

# Targets from the reactor's performance bar.
ECHO_VS_MIO_MIN = 0.9
ECHO_VS_TWISTED_MIN = 15.0
SCHEDULE_CANCEL_MAX_NS = 100.0
FIRE_MAX_NS = 150.0
IDLE_BYTES_MAX = 1024.0
# A saturated echo server uses its whole core; less means it was disturbed.
DISTURBED_SERVER_CPU = 0.9


def parse(path):
    """The RESULT lines of `path`, each as a dict of its key=value pairs."""
    results = []
    with open(path) as lines:
        for line in lines:
            words = line.split()
            if not words or words[0] != "RESULT":
                continue
            results.append(dict(word.split("=", 1) for word in words[1:] if "=" in word))
    return results


def verdict(ok):
    return "PASS" if ok else "FAIL"


def machine_line():
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    ).stdout.strip()
    if commit and dirty:
        commit += " with uncommitted changes"
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{when}, commit {commit or '?'}, {os.cpu_count()} x {model}, "
        f"Linux {platform.release()}, rustc release profile"
    )


def echo_section(results):
    runs, rounds = {}, {}
    for run in (r for r in results if r.get("bench") == "echo"):
        name = run["server"]
        rounds[name] = rounds.get(name, 0) + 1
        # With several rounds, each server's best run counts: disturbances only slow it down.
        if name not in runs or float(run["msgs_per_sec"]) > float(runs[name]["msgs_per_sec"]):
            runs[name] = run
    if not runs:
        return []
    first = next(iter(runs.values()))
    out = [
        "## TCP echo",
        "",
        f"{first['connections']} connections, {first['size']}-byte messages, "
        f"{first['pipeline']} in flight per connection, {first['seconds']} s measured after "
        "a 1 s warm-up; server on CPU 0, load generator on CPU 1. CPU columns: share of one "
        "core used during the measurement."
        + (f" Best of {max(rounds.values())} rounds per server." if max(rounds.values()) > 1 else ""),
        "",
        "| server | messages/s | mean latency (µs) | p99 latency (µs) | server CPU | client CPU |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, run in runs.items():
        out.append(
            f"| {name} | {float(run['msgs_per_sec']):,.0f} | {run['mean_us']} | "
            f"{run['p99_us']} | {run['server_cpu']} | {run['client_cpu']} |"
        )
    disturbed = [
        name
        for name, run in runs.items()
        if run["server_cpu"] != "na" and float(run["server_cpu"]) < DISTURBED_SERVER_CPU
    ]
    if disturbed:
        out += [
            "",
            f"**Warning:** {', '.join(disturbed)} used less than {DISTURBED_SERVER_CPU:.0%} of "
            "its core: something else ran on CPU 0 (or the load generator could not keep up). "
            "Its ratios are not trustworthy; run again.",
        ]
    out += ["", "| ratio (messages/s) | value | target | result |", "|---|---:|---:|---|"]
    rate = {name: float(run["msgs_per_sec"]) for name, run in runs.items()}
    torsion = rate.get("torsion")
    if torsion and "mio" in rate:
        ratio = torsion / rate["mio"]
        out.append(
            f"| torsion / mio | {ratio:.2f} | ≥ {ECHO_VS_MIO_MIN} | "
            f"{verdict(ratio >= ECHO_VS_MIO_MIN)} |"
        )
    if torsion and "mio-short-read" in rate:
        ratio = torsion / rate["mio-short-read"]
        out.append(f"| torsion / mio-short-read | {ratio:.2f} | — | for reference |")
    if torsion and "twisted" in rate:
        ratio = torsion / rate["twisted"]
        out.append(
            f"| torsion / Twisted | {ratio:.2f} | ≥ {ECHO_VS_TWISTED_MIN:g} | "
            f"{verdict(ratio >= ECHO_VS_TWISTED_MIN)} |"
        )
    if "mio" in rate and "twisted" in rate:
        ratio = rate["mio"] / rate["twisted"]
        out.append(f"| mio / Twisted (ceiling for any reactor) | {ratio:.2f} | — | for reference |")
    return out + [""]


def timers_section(results):
    cancels = [r for r in results if r.get("bench") == "timers" and r["case"] == "schedule_cancel"]
    fires = [r for r in results if r.get("bench") == "timers" and r["case"] == "fire"]
    if not cancels and not fires:
        return []
    out = [
        "## Timers",
        "",
        "1,000,000 delayed calls per case, best of 5 repetitions, pinned to CPU 0. "
        "`heap len after` is `Clock::timer_heap_len()` once every call is cancelled; "
        "`RSS growth` is the process's resident-memory growth over the case's repetitions.",
        "",
        "| schedule + cancel | clock | ns per call | target | result | heap len after | RSS growth (KiB) |",
        "|---|---|---:|---:|---|---:|---:|",
    ]
    for run in cancels:
        ns = float(run["ns_per_op"])
        out.append(
            f"| {run['order']} | {run['clock']} | {ns:.1f} | ≤ {SCHEDULE_CANCEL_MAX_NS:g} | "
            f"{verdict(ns <= SCHEDULE_CANCEL_MAX_NS)} | {run['heap_len_after']} | "
            f"{run['rss_growth_kib']} |"
        )
    out += [
        "",
        "| fire | clock | schedule ns per call | fire ns per call | target (fire) | result |",
        "|---|---|---:|---:|---:|---|",
    ]
    for run in fires:
        ns = float(run["fire_ns_per_op"])
        out.append(
            f"| {run['order']} | {run['clock']} | {float(run['schedule_ns_per_op']):.1f} | {ns:.1f} | "
            f"≤ {FIRE_MAX_NS:g} | {verdict(ns <= FIRE_MAX_NS)} |"
        )
    return out + [""]


def idle_section(results):
    runs = [r for r in results if r.get("bench") == "idle"]
    if not runs:
        return []
    out = [
        "## Idle connections",
        "",
        "Server RSS before and after opening the connections (each echoed one byte, then left "
        "idle); server on CPU 0.",
        "",
        "| server | connections | RSS before (KiB) | RSS after (KiB) | bytes per connection | target | result |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        per = float(run["bytes_per_connection"])
        target, result = "—", "for reference"
        if run["server"] == "torsion":
            target, result = f"≤ {IDLE_BYTES_MAX:g}", verdict(per <= IDLE_BYTES_MAX)
        out.append(
            f"| {run['server']} | {run['connections']} | {run['rss_before_kib']} | "
            f"{run['rss_after_kib']} | {per:.0f} | {target} | {result} |"
        )
    return out + [""]


def main():
    results = parse(sys.argv[1])
    lines = ["# Reactor benchmarks", "", machine_line(), ""]
    lines += echo_section(results) + timers_section(results) + idle_section(results)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
