"""tools/bench/bench_cpu.py — CPU per request, zkv against etcd 3.4, measured so
that it reproduces (issue 19). Run it through tools/bench/bench-cpu, which
installs and builds what it needs.

Wall-clock throughput on a small shared machine moves by 15-30 % from run to
run; the CPU time a cluster spends per request was expected to move less (on
a nested VM it moves about as much: docs/BENCHMARKS.md, issue 19, says how
far). The primary figure is CPU per request: utime + stime (/proc/PID/stat,
every thread) of the three member processes, summed, over a fixed number of
requests, divided by the requests; the load generator's own CPU per request
(its rusage) beside it; throughput and latency of the same run beside those.

Starts a 3-member zkv cluster (zkv-cluster up) and a 3-member etcd 3.4
cluster (Debian's etcd, default flags) with bench_cluster.side_by_side: both
on loopback, data in a fresh temporary directory, both alive for the whole
run. Each system first gets an untimed warm-up (--puts puts by --clients
clients, which also writes the keys the gets read), then --runs runs,
interleaved (zkv then etcd in odd runs, etcd then zkv in even runs). In each
run, through the leader, each measured window after every member has
applied everything the leader has:

  put   --puts puts by --clients clients (16-byte keys 0..puts-1 in turn,
        256-byte values): members' CPU per put, the loader's CPU per put,
        puts/s, p50 and p99;
  get   --gets linearizable gets by --clients clients, of random keys of
        those the puts wrote: the same figures per get;
  one   --one puts by one client: p50.

zkv is loaded by zkv-bench (C, zkv's protocol), etcd by etcd-load (etcd's Go
client, clientv3 over gRPC): the fastest client each has. etcd-load's clients
share one gRPC connection, as etcd's own benchmark tool's do; zkv-bench's
share --zkv-conns connections (default 1, the same shape; 0: one per client,
as the first rows of the history had it: its column
zkv_conns).

Prints each run, then a table (Markdown) of each figure: median and min–max
of the runs for zkv and for etcd, and zkv / etcd (the ratio of the medians,
and the min–max of the runs' own ratios, zkv's run i against etcd's run i);
with the commit, the machine, the load average at start and end and the
date. Then how this run compares with the last row of the history
(docs/bench/history.csv) recorded on the same machine with the same counts:
each figure last -> now and the change in %; a figure is flagged as a
possible regression when zkv's median moved the worse way and lies beyond
the last row's min–max, or when the zkv / etcd ratio does (zkv moved the
worse way inside its own spread while etcd did not). --record appends this
run's row to the history (the columns are described in docs/BENCHMARKS.md).

--perf FILE: after the runs, one more (unmeasured) put run of zkv with
`perf record -g` on the leader, written to FILE, and the leader's CPU by
thread, by library and by function, from `perf report`.

--quick: a smoke run (1 run, 300 puts, 300 gets, 50 one-client puts), not
recorded and not compared.

usage: tools/bench/bench-cpu [--runs 3] [--puts 30000] [--gets 30000] [--one 2000]
                             [--clients 64] [--zkv-conns 1] [--record] [--history FILE]
                             [--perf FILE] [--quick] [--keep]
"""
import argparse
import csv
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_cluster import (ROOT, cpu_seconds, log, machine, run, settled,  # noqa: E402
                           side_by_side, wait_for)

NAMES = ("n1", "n2", "n3")
HISTORY = os.path.join(ROOT, "docs", "bench", "history.csv")

#  The figures: key (history column stem), label, format, which way is better
FIGURES = [
    ("put_cpu_us", "put, {clients} clients: members' CPU per put (µs)", "%.1f", "lower"),
    ("put_loader_us", "put, {clients} clients: loader's CPU per put (µs)", "%.1f", "lower"),
    ("put_per_s", "put, {clients} clients: puts/s", "%.0f", "higher"),
    ("put_p50_ms", "put, {clients} clients: p50 (ms)", "%.3f", "lower"),
    ("put_p99_ms", "put, {clients} clients: p99 (ms)", "%.3f", "lower"),
    ("get_cpu_us", "linearizable get, {clients} clients: members' CPU per get (µs)", "%.1f",
     "lower"),
    ("get_loader_us", "linearizable get, {clients} clients: loader's CPU per get (µs)", "%.1f",
     "lower"),
    ("get_per_s", "linearizable get, {clients} clients: gets/s", "%.0f", "higher"),
    ("get_p50_ms", "linearizable get, {clients} clients: p50 (ms)", "%.3f", "lower"),
    ("get_p99_ms", "linearizable get, {clients} clients: p99 (ms)", "%.3f", "lower"),
    ("one_p50_ms", "put, 1 client: p50 (ms)", "%.3f", "lower"),
]
#  What a history row says about the run besides its figures
META = ["date", "commit", "describe", "dirty", "machine", "etcd", "runs", "clients", "zkv_conns",
        "puts", "gets", "one", "load_start", "load_end", "others_pct"]
#  What must match for two rows to be compared
SAME = ["machine", "clients", "zkv_conns", "puts", "gets", "one"]


def columns():
    """The history's header: META, then per figure the medians, minima and
    maxima of zkv, etcd and the runs' ratios."""
    names = list(META)
    for key, _, _, _ in FIGURES:
        for who in ("zkv", "etcd", "ratio"):
            names += ["%s_%s" % (who, key), "%s_%s_min" % (who, key), "%s_%s_max" % (who, key)]
    return names


def machine_busy():
    """CPU seconds the whole machine has spent busy (every core; /proc/stat:
    user, nice, system, irq, softirq, steal)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:9]]
    user, nice, system, _, _, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def commit():
    """(git rev-parse HEAD, git describe, whether tracked files differ from
    it); the history itself does not count, --record changes it."""
    def git(*args):
        return run(["git", "-C", ROOT] + list(args)).strip()
    history = ":(exclude)" + os.path.relpath(HISTORY, ROOT)
    dirty = subprocess.run(["git", "-C", ROOT, "diff", "--quiet", "HEAD", "--", ".",
                            history]).returncode != 0
    sha = git("rev-parse", "HEAD")
    return sha, git("describe", "--always") + ("-dirty" if dirty else ""), dirty


# ---------------------------------------------------------------------------
# One measured window

def measured(argv, pids, requests):
    """Runs the loader argv; returns its report (zkv-bench's and etcd-load's
    JSON), the CPU each of pids spent meanwhile (seconds), the loader's own
    CPU (seconds, from its rusage), and the CPU the rest of the machine
    spent meanwhile (seconds: what else ran, the idle other cluster
    included) and the window's wall time (seconds)."""
    busy, began = machine_busy(), time.monotonic()
    before = [cpu_seconds([pid]) for pid in pids]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    out = process.stdout.read()
    process.stdout.close()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    after = [cpu_seconds([pid]) for pid in pids]
    busy, wall = machine_busy() - busy, time.monotonic() - began
    members = [a - b for a, b in zip(after, before)]
    loader = usage.ru_utime + usage.ru_stime
    try:
        report = json.loads(out)
    except ValueError:
        raise SystemExit("bench-cpu: %s failed (exit %d): %s" % (
            os.path.basename(argv[0]), process.returncode, out.strip())) from None
    if report["total"] != requests:
        raise SystemExit("bench-cpu: %s did %d requests, not %d" % (
            os.path.basename(argv[0]), report["total"], requests))
    return report, members, loader, max(0.0, busy - sum(members) - loader), wall


def settle(system):
    """The leader, once every member has applied everything it has."""
    wait_for(lambda: settled(system), 30000, "%s settles" % system.name, system)
    return settled(system)


def measure(system, options):
    """One run of one system: its figures, and a line saying them."""
    figures, errors, parts, others, wall = {}, 0, [], 0.0, 0.0
    for label, clients, total, workload, key_space in (
            ("put", options.clients, options.puts, "put", None),
            ("get", options.clients, options.gets, "get", options.puts),
            ("one", 1, options.one, "put", None)):
        leader = settle(system)
        pids = [system.pid(name) for name in NAMES]
        report, members, loader, rest, seconds = measured(
            system.loader(leader, clients, total, workload, key_space, options.zkv_conns),
            pids, total)
        errors += report["errors"]
        others, wall = others + rest, wall + seconds
        latency = report["latency_ms"]
        figures[label + "_p50_ms"] = latency["p50"]
        if label == "one":
            parts.append("1 client p50 %.3f ms" % latency["p50"])
            continue
        figures[label + "_cpu_us"] = sum(members) * 1e6 / total
        figures[label + "_loader_us"] = loader * 1e6 / total
        figures[label + "_per_s"] = report["throughput"]
        figures[label + "_p99_ms"] = latency["p99"]
        leader_us = members[NAMES.index(leader)] * 1e6 / total
        parts.append("%ss %.1f us CPU (leader %.1f) + loader %.1f; %.0f/s p50 %.3f p99 %.3f ms" % (
            label, figures[label + "_cpu_us"], leader_us, figures[label + "_loader_us"],
            report["throughput"], latency["p50"], latency["p99"]))
    #  The rest of the machine, as a share of one core over the windows
    figures["others_pct"] = others / wall * 100 if wall else 0.0
    parts.append("rest of the machine %.0f %% of a core" % figures["others_pct"])
    return figures, errors, "; ".join(parts)


# ---------------------------------------------------------------------------
# The summary

def summary(results):
    """Per figure, per "zkv", "etcd", "ratio": (median, min, max)."""
    table = {}
    for key, _, _, _ in FIGURES:
        zkv = [r[key] for r in results["zkv"]]
        etcd = [r[key] for r in results["etcd"]]
        ratios = [z / e for z, e in zip(zkv, etcd) if e]
        table[key] = {
            "zkv": (statistics.median(zkv), min(zkv), max(zkv)),
            "etcd": (statistics.median(etcd), min(etcd), max(etcd)),
            "ratio": (statistics.median(zkv) / statistics.median(etcd)
                      if statistics.median(etcd) else float("nan"),
                      min(ratios, default=float("nan")), max(ratios, default=float("nan")))}
    return table


def print_table(table, options):
    log("")
    log("| figure (%d runs) | zkv: median (min–max) | etcd: median (min–max) | zkv / etcd (runs) |"
        % options.runs)
    log("|---|---|---|---|")
    for key, label, form, _ in FIGURES:
        cells = []
        for who in ("zkv", "etcd"):
            mid, low, high = table[key][who]
            cells.append(("%s (%s–%s)" % (form, form, form)) % (mid, low, high))
        mid, low, high = table[key]["ratio"]
        cells.append("%.2f (%.2f–%.2f)" % (mid, low, high))
        log("| %s | %s |" % (label.format(clients=options.clients), " | ".join(cells)))


def history_row(table, meta):
    row = dict(meta)
    for key, _, form, _ in FIGURES:
        for who in ("zkv", "etcd", "ratio"):
            mid, low, high = table[key][who]
            fmt = "%.4f" if who == "ratio" else form
            row["%s_%s" % (who, key)] = fmt % mid
            row["%s_%s_min" % (who, key)] = fmt % low
            row["%s_%s_max" % (who, key)] = fmt % high
    return row


def last_recorded(path, meta):
    """The last row of the history from this machine, or None."""
    if not os.path.exists(path):
        return None
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("machine") == meta["machine"]]
    return rows[-1] if rows else None


def compare(last, table, meta):
    """Prints each figure last -> now; flags what moved beyond the last
    row's spread in the worse direction. Returns the flagged labels."""
    log("")
    if last is None:
        log("history: no recorded row from this machine yet; nothing to compare with")
        return []
    differs = [name for name in SAME if str(last.get(name)) != str(meta[name])]
    if differs:
        log("history: the last row from this machine (%s, %s) used other %s; not compared" % (
            last["date"], last["describe"], ", ".join(differs)))
        return []
    log("against the last recorded row from this machine: %s, zkv at %s%s, %s runs; "
        "rest of the machine %s %% of a core then, %s %% now" % (
            last["date"], last["describe"], " (dirty tree)" if last["dirty"] == "yes" else "",
            last["runs"], last.get("others_pct") or "?", meta["others_pct"]))
    flagged = []
    for key, label, form, better in FIGURES:
        def worse(now, then):
            return now > then if better == "lower" else now < then
        parts, flags = [], []
        zkv_worse = worse(table[key]["zkv"][0], float(last["zkv_" + key]))
        for who in ("zkv", "etcd", "ratio"):
            then = float(last["%s_%s" % (who, key)])
            low = float(last["%s_%s_min" % (who, key)])
            high = float(last["%s_%s_max" % (who, key)])
            now = table[key][who][0]
            fmt = "%.3f" if who == "ratio" else form
            change = (now - then) / then * 100 if then else float("nan")
            parts.append(("%s " + fmt + " -> " + fmt + " (%+.1f %%)") % (
                "zkv/etcd" if who == "ratio" else who, then, now, change))
            #  zkv itself moved the worse way, and beyond its own spread or
            #  (etcd not moving with it) the ratio beyond the ratio's
            if who != "etcd" and zkv_worse and worse(now, high if better == "lower" else low):
                flags.append("%s beyond the last spread %s–%s" % (
                    "zkv/etcd" if who == "ratio" else "zkv", fmt % low, fmt % high))
        text = "  %s: %s" % (label.format(clients=meta["clients"]), ", ".join(parts))
        if flags:
            text += "\n      POSSIBLE REGRESSION: " + "; ".join(flags)
            flagged.append(label.format(clients=meta["clients"]))
        log(text)
    if flagged:
        log("possible regressions: %d figure(s); rerun to confirm before believing it "
            "(a figure of etcd that moved as far says it was the machine)" % len(flagged))
    else:
        log("no figure moved beyond the last recorded spread in the worse direction")
    return flagged


def record(path, row):
    new = not os.path.exists(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns(), lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerow(row)
    log("recorded in %s" % os.path.relpath(path, ROOT))


# ---------------------------------------------------------------------------
# perf of the zkv leader

def perf_leader(system, options, path):
    """One more put run of zkv, unmeasured, with perf record -g on the
    leader; prints where its samples fall."""
    leader = settle(system)
    pid = system.pid(leader)
    perf = subprocess.Popen(["perf", "record", "-g", "-o", path, "-p", str(pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)                   # perf attached to every thread before the load
        report = json.loads(run(system.loader(leader, options.clients, options.puts,
                                                    conns=options.zkv_conns)))
    finally:
        perf.send_signal(signal.SIGINT)
        _, err = perf.communicate()
    if perf.returncode not in (0, -signal.SIGINT):
        raise SystemExit("bench-cpu: perf record failed: %s" % err.strip())
    log("")
    log("perf record -g of the zkv leader (%s, pid %d) over %d puts by %d clients (%.0f/s), "
        "in %s:" % (leader, pid, options.puts, options.clients, report["throughput"], path))
    for sort, limit in (("comm", "1"), ("dso", "1"), ("dso,sym", "0.7")):
        out = run(["perf", "report", "-i", path, "--stdio", "--no-children", "-g", "none",
                   "--sort", sort, "--percent-limit", limit], stderr=subprocess.DEVNULL)
        log("-- samples by %s (self, >= %s %%)" % (sort, limit))
        for line in out.splitlines():
            if line.strip() and not line.startswith("#"):
                log("   " + line.strip())


# ---------------------------------------------------------------------------

def parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each system (default 3)")
    parser.add_argument("--puts", type=int, default=30000,
                        help="puts per run at --clients clients (default 30000)")
    parser.add_argument("--gets", type=int, default=30000,
                        help="linearizable gets per run at --clients clients (default 30000)")
    parser.add_argument("--one", type=int, default=2000,
                        help="puts per run by one client (default 2000)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (default 64)")
    parser.add_argument("--zkv-conns", type=int, default=1, metavar="N",
                        help="connections zkv-bench's clients share (default 1, as etcd-load's "
                             "share one; 0: one each, as before 2026-12-08)")
    parser.add_argument("--record", action="store_true",
                        help="append this run's row to the history")
    parser.add_argument("--history", default=HISTORY,
                        help="the history file (default docs/bench/history.csv)")
    parser.add_argument("--perf", metavar="FILE",
                        help="then perf record -g the zkv leader over one more put run")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 run, 300 puts, 300 gets, 50 one-client puts; "
                             "neither recorded nor compared")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    options = parser.parse_args()
    if options.quick:
        if options.record:
            parser.error("--quick runs are not recorded")
        options.runs, options.puts, options.gets, options.one = 1, 300, 300, 50
    if min(options.runs, options.puts, options.gets, options.one, options.clients) < 1:
        parser.error("--runs, --puts, --gets, --one and --clients must be at least 1")
    return options


def main():
    options = parse()
    sha, describe, dirty = commit()
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = load_average()
    log("bench-cpu %s UTC; zkv at %s (%s, tree %s); load average at start %s" % (
        started.strftime("%Y-%m-%d %H:%M"), describe, sha, "dirty" if dirty else "clean",
        load_start))
    results, errors = {"zkv": [], "etcd": []}, 0
    with side_by_side("zkv-bench-cpu-", options.keep) as (systems, _):
        etcd_version = run(["etcd", "--version"]).splitlines()[0].split()[-1]
        for system in systems:
            leader = settle(system)
            warm = json.loads(run(system.loader(leader, options.clients, options.puts,
                                                    conns=options.zkv_conns)))
            log("%-4s warm-up: %d puts by %d clients, %.0f/s" % (
                system.name, options.puts, options.clients, warm["throughput"]))
        for r in range(options.runs):
            for system in (systems if r % 2 == 0 else systems[::-1]):
                figures, failed, line = measure(system, options)
                results[system.name].append(figures)
                errors += failed
                log("%-4s run %d: %s%s" % (system.name, r + 1, line,
                                           " (%d errors)" % failed if failed else ""))
        if options.perf:
            perf_leader(systems[0], options, options.perf)
    load_end = load_average()
    table = summary(results)
    meta = {"date": started.strftime("%Y-%m-%d %H:%M"), "commit": sha, "describe": describe,
            "dirty": "yes" if dirty else "no", "machine": machine(), "etcd": etcd_version,
            "runs": options.runs, "clients": options.clients,
            "zkv_conns": options.zkv_conns or options.clients, "puts": options.puts,
            "gets": options.gets, "one": options.one,
            "load_start": load_start.split()[0], "load_end": load_end.split()[0],
            "others_pct": "%.0f" % max(r["others_pct"] for rs in results.values() for r in rs)}
    log("")
    log("bench-cpu: %s UTC, zkv at %s (%s, tree %s), etcd %s; %s; load average %s at start, "
        "%s at end; %d runs of %d puts and %d linearizable gets at %d clients, %d puts at 1; "
        "the rest of the machine took up to %s %% of a core in the measured windows" % (
            meta["date"], describe, sha[:12], "dirty" if dirty else "clean", etcd_version,
            meta["machine"], load_start, load_end, options.runs, options.puts, options.gets,
            options.clients, options.one, meta["others_pct"]))
    print_table(table, options)
    if not options.quick:
        compare(last_recorded(options.history, meta), table, meta)
        if options.record:
            record(options.history, history_row(table, meta))
    if errors:
        sys.exit("bench-cpu: %d requests failed" % errors)


if __name__ == "__main__":
    main()
