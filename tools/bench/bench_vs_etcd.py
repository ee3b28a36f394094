"""tools/bench/bench_vs_etcd.py — zkv and the real etcd 3.4, side by side, every row.
Run it through tools/bench/bench-vs-etcd, which installs and builds what it needs.

Starts a 3-member zkv cluster and a 3-member etcd 3.4 cluster with equal
settings (bench_cluster.side_by_side: loopback, data in one temporary
directory on the same disk, fsync on, heartbeat 100 ms, election timeout
1000 ms, default flags otherwise), measures both, one after the other for
every row so that the machine's noise falls on both, stops them, and writes:

  - a Markdown report (the machine, both versions, the command, one table:
    etcd, zkv, zkv/etcd and the issue's target for every row) printed, and
    put into docs/BENCHMARKS.md between its bench-vs-etcd markers (--report);
  - gnuplot plots (PNG) in --plots: latency distributions (CDF) of puts at 1
    and 64 clients and of linearizable gets, and throughput and p99 against
    the number of clients.

What is timed, row by row:
  client workloads  tools/bench/bench_load.py, one Python load generator for both
                    (pyzmq + msgpack for zkv, python3-etcd3 for etcd, the same
                    processes and threads, one connection per client, closed
                    loop), against the leader, --seconds each after 1 s of
                    warm-up; 16-byte keys, 256-byte values. Native loaders
                    (zkv-bench in C, etcd-load: etcd's Go client) make
                    separate rows: each system's own ceiling here.
  maintenance       at --small and --keys keys (the client workloads' keys
                    deleted first; loaded by the native loaders, 64 clients;
                    the history compacted after each load, so that both
                    systems hold those keys and nothing more): the CLIs' wall time (zkvctl / etcdctl, process
                    start to exit) of `endpoint hashkv` of the leader and of the
                    cluster, `endpoint status --cluster`, `snapshot save` (and
                    the file's size) and `snapshot restore` into a new data
                    directory, median of --runs; Hash through each client
                    library (no CLI has it); the resident memory (VmRSS) of each
                    member at --keys keys; then, at --keys keys: a follower killed
                    and restarted (until it answers Status, and until it has
                    applied what the leader had), defrag after deleting half the
                    keys and compacting (bench_maintenance.defrag_trial: the
                    defrag's wall time, the space reclaimed, a concurrent
                    writer's p99 against its p99 without), MoveLeader (the CLI's
                    wall time, median of --moves), and the leader killed with
                    SIGKILL until a survivor leads and acknowledges a put
                    (median and max of --failovers).

usage: tools/bench/bench-vs-etcd [--seconds S] [--small N] [--keys N] [--runs N]
           [--moves N] [--failovers N] [--restarts N] [--quick]
           [--report FILE | --no-report] [--plots DIR] [--keep]
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_cluster import (BUILD, ROOT, failover, log, median, restart, run,  # noqa: E402
                           settled, side_by_side, wait_for)
from bench_maintenance import defrag_trial, make_ops, timed  # noqa: E402
from bench_move_leader import NAMES, move  # noqa: E402

BEGIN = "<!-- bench-vs-etcd: begin -->"
END = "<!-- bench-vs-etcd: end -->"
SCALING = (1, 8, 64, 256)               # clients of the put curve


def load(system, leader, workload, clients, seconds, latencies=None, **more):
    """One run of the equal-client load generator against the leader"""
    argv = ["/usr/bin/python3", os.path.join(ROOT, "tools", "bench", "bench_load.py"),
            "--system", system.name, "--endpoints", system.endpoint(leader),
            "--workload", workload, "--clients", str(clients), "--json"]
    if workload != "load":
        argv += ["--seconds", str(seconds), "--warmup", "1"]
    for flag, value in more.items():
        argv += ["--" + flag.replace("_", "-"), str(value)]
    if latencies:
        argv += ["--latencies", latencies]
    result = json.loads(run(argv).strip().splitlines()[-1])
    log("%-4s %-16s %3d clients: %7.0f /s  p50 %7.2f ms  p99 %7.2f ms  errors %d  "
        "client %.0f us/req" % (system.name, workload, clients, result["throughput"],
                                result["p50_ms"], result["p99_ms"], result["errors"],
                                result.get("client_cpu_us", 0)))
    return result


def rss_mb(system):
    """Resident memory of each member, MB"""
    sizes = []
    for name in NAMES:
        with open("/proc/%d/status" % system.pid(name)) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
    return sizes


def restore(system, path, directory):
    """Wall time (ms) of the CLI restoring a snapshot into a new data dir"""
    target = os.path.join(directory, "restore-%s" % system.name)
    shutil.rmtree(target, ignore_errors=True)
    if system.name == "zkv":
        argv = [os.path.join(BUILD, "zkvctl"), "snapshot", "restore", path,
                "--data-dir", target, "--name", "r1",
                "--initial-cluster", "r1=tcp://127.0.0.1:1", "--initial-cluster-token", "r"]
    else:
        argv = ["etcdctl", "snapshot", "restore", path, "--data-dir", target, "--name", "r1",
                "--initial-cluster", "r1=http://127.0.0.1:1",
                "--initial-advertise-peer-urls", "http://127.0.0.1:1",
                "--initial-cluster-token", "r"]
    wall = timed(argv)
    shutil.rmtree(target, ignore_errors=True)
    return wall


def compact(ops):
    """Compacts the whole history (physical): what is left is the keys"""
    ops.compact(ops.revision())


def clear(system, leader):
    """Everything written so far deleted, and the history compacted: the
    maintenance rows then see the keys they load and nothing else"""
    ops = make_ops(system, leader)
    ops.delete_range(b"\0", b"\xff")
    compact(ops)
    ops.close()


def maintenance(system, directory, keys, runs, rows):
    """The maintenance rows at keys keys: the native loader puts keys 0 ..
    keys-1 (the smaller size's keys again: the same names), then the history
    is compacted, so both systems hash and save keys live keys and nothing
    more"""
    wait_for(lambda: settled(system), 60000, "%s settles" % system.name, system)
    leader = settled(system)
    loaded = system.load(leader, 64, keys)
    log("%-4s loaded %d keys (%.0f puts/s)" % (system.name, keys, loaded["throughput"]))
    ops = make_ops(system, leader)
    compact(ops)
    wait_for(lambda: settled(system), 60000, "%s settles" % system.name, system)
    path = os.path.join(directory, "%s-%d.db" % (system.name, keys))
    measured = {"hashkv": [], "hashkv_cluster": [], "hash": [], "status_cluster": [],
                "save": [], "restore": []}
    for _ in range(runs):
        measured["hashkv"].append(ops.hashkv())
        measured["hashkv_cluster"].append(ops.hashkv_cluster())
        measured["hash"].append(ops.hash())
        measured["status_cluster"].append(ops.status_cluster())
        measured["save"].append(ops.snapshot_save(path))
        size = os.path.getsize(path)
        measured["restore"].append(restore(system, path, directory))
        os.unlink(path)
    ops.close()
    for what, values in measured.items():
        rows[(what, keys)] = median(values)
    rows[("save_size", keys)] = size / 1e6
    log("%-4s at %d keys: %s; snapshot %.1f MB" % (
        system.name, keys, ", ".join("%s %.0f ms" % (w, median(v)) for w, v in measured.items()),
        size / 1e6))


class Report:
    """The table: rows of (label, what is timed, etcd, zkv, format, better,
    target), in the order they are added."""

    def __init__(self):
        self.rows = []

    def add(self, label, what, etcd, zkv, form, better, target=None):
        self.rows.append((label, what, etcd, zkv, form, better, target))

    @staticmethod
    def ratio(etcd, zkv):
        return zkv / etcd if etcd else float("nan")

    def markdown(self):
        lines = ["| row | what is timed | etcd | zkv | zkv / etcd | target | |",
                 "|---|---|---|---|---|---|---|"]
        for label, what, etcd, zkv, form, better, target in self.rows:
            ratio = self.ratio(etcd, zkv)
            verdict = ""
            if target:
                text, holds = target
                verdict = "met" if holds(etcd, zkv) else "**missed**"
            lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                label, what, form % etcd, form % zkv,
                "%.2f×" % ratio if ratio == ratio else "", target[0] if target else "",
                verdict))
        return "\n".join(lines)


def at_most(factor):
    return ("zkv ≤ %g× etcd" % factor, lambda etcd, zkv: zkv <= factor * etcd)


def at_least(factor):
    return ("zkv ≥ %g× etcd" % factor, lambda etcd, zkv: zkv >= factor * etcd)


def faster(factor):
    return ("%g× faster" % factor, lambda etcd, zkv: zkv * factor <= etcd)


def plots(directory, latency_files, curves, out):
    """PNG plots through gnuplot; the paths written"""
    os.makedirs(out, exist_ok=True)
    written = []
    for name, title, series in (
            ("put-latency-cdf", "put latency (CDF)",
             [("put-1", "1 client"), ("put-64", "64 clients")]),
            ("get-latency-cdf", "linearizable get latency, 64 clients (CDF)",
             [("get-64", "")])):
        plot = []
        for key, label in series:
            for system in ("zkv", "etcd"):
                path = latency_files.get((system, key))
                if path and os.path.getsize(path):
                    lines = sum(1 for _ in open(path))
                    plot.append("'%s' using 1:($0/%d) with lines title '%s %s'" % (
                        path, lines, system, label))
        if not plot:
            continue
        target = os.path.join(out, name + ".png")
        script = ("set terminal pngcairo size 900,540; set output '%s'; set title '%s';"
                  "set xlabel 'latency (ms)'; set ylabel 'fraction of requests';"
                  "set logscale x; set key bottom right; set grid; plot %s"
                  % (target, title, ", ".join(plot)))
        subprocess.run(["gnuplot", "-e", script], check=True)
        written.append(target)
    data = os.path.join(directory, "scaling.dat")
    with open(data, "w") as f:
        for clients in SCALING:
            z, e = curves["zkv"][clients], curves["etcd"][clients]
            f.write("%d %f %f %f %f\n" % (clients, z["throughput"], e["throughput"],
                                          z["p99_ms"], e["p99_ms"]))
    for name, title, columns, ylabel in (
            ("put-throughput", "puts per second against clients", (2, 3), "puts/s"),
            ("put-p99", "put p99 latency against clients", (4, 5), "p99 (ms)")):
        target = os.path.join(out, name + ".png")
        script = ("set terminal pngcairo size 900,540; set output '%s'; set title '%s';"
                  "set xlabel 'concurrent clients'; set ylabel '%s'; set logscale x 2;"
                  "set key top left; set grid;"
                  "plot '%s' using 1:%d with linespoints title 'zkv', "
                  "'%s' using 1:%d with linespoints title 'etcd'"
                  % (target, title, ylabel, data, columns[0], data, columns[1]))
        subprocess.run(["gnuplot", "-e", script], check=True)
        written.append(target)
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="per client workload")
    parser.add_argument("--small", type=int, default=100000)
    parser.add_argument("--keys", type=int, default=1000000)
    parser.add_argument("--runs", type=int, default=3, help="of each maintenance command")
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument("--failovers", type=int, default=20)
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: tiny sizes and counts, no report")
    parser.add_argument("--report", default=os.path.join(ROOT, "docs", "BENCHMARKS.md"))
    parser.add_argument("--no-report", action="store_true")
    parser.add_argument("--plots", default=os.path.join(ROOT, "docs", "bench"))
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()
    if options.quick:
        options.seconds, options.small, options.keys = 2, 2000, 10000
        options.runs, options.moves, options.failovers, options.restarts = 1, 2, 2, 1
        options.no_report = True
        options.plots = None
    command = " ".join(["tools/bench/bench-vs-etcd"] + sys.argv[1:])
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")

    report = Report()
    with side_by_side("zkv-bench-vs-etcd-", options.keep) as (systems, directory):
        machine = "%s, %d cores" % (
            open("/proc/cpuinfo").read().split("model name")[1].split(":")[1]
            .split("\n")[0].strip(), os.cpu_count())
        versions = "etcd %s; zkv %s (%s)" % (
            run(["etcd", "--version"]).split("etcd Version:")[1].split()[0],
            run([os.path.join(BUILD, "zkv-node"), "--version"]).strip().split()[-1],
            run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).strip())
        log("%s; %s" % (machine, versions))
        results = {s.name: {} for s in systems}
        latency_files = {}
        leaders = {}
        for system in systems:
            wait_for(lambda: settled(system), 30000, "%s settles" % system.name, system)
            leaders[system.name] = settled(system)

        def both(key, workload, clients, **more):
            for system in systems:
                path = os.path.join(directory, "%s-%s.lat" % (system.name, key))
                latency_files[(system.name, key)] = path
                results[system.name][key] = load(system, leaders[system.name], workload,
                                                 clients, options.seconds, path, **more)

        #  The client workloads use keys of their own (prefixes p, r, c), 10,000
        #  of each at most, removed before the maintenance rows
        read_keys = min(options.small, 10000)
        for clients in SCALING:
            both("put-%d" % clients, "put", clients, key_space=read_keys, key_prefix="p")
        for system in systems:
            load(system, leaders[system.name], "load", 64, 0, key_space=read_keys,
                 key_prefix="r")
        both("get-64", "get", 64, key_space=read_keys, key_prefix="r")
        both("gets-64", "get-serializable", 64, key_space=read_keys, key_prefix="r")
        both("cas-64", "cas", 64, key_space=read_keys, key_prefix="c")
        both("mixed-64", "mixed", 64, key_space=read_keys, key_prefix="r")
        native = {s.name: s.load(leaders[s.name], 64, int(5000 * options.seconds))
                  for s in systems}
        for system in systems:
            log("%-4s native loader, 64 clients: %.0f puts/s, p99 %.2f ms" % (
                system.name, native[system.name]["throughput"],
                native[system.name]["latency_ms"]["p99"]))

        for system in systems:
            clear(system, leaders[system.name])
        maintenance_rows = {s.name: {} for s in systems}
        for keys in (options.small, options.keys):
            for system in systems:
                maintenance(system, directory, keys, options.runs,
                            maintenance_rows[system.name])
        rss = {s.name: rss_mb(s) for s in systems}
        restarts = {s.name: [restart(s) for _ in range(options.restarts)] for s in systems}
        defrags = {}
        for system in systems:
            wait_for(lambda: settled(system), 60000, "%s settles" % system.name, system)
            defrags[system.name] = defrag_trial(system, settled(system), options.keys, 5.0)
        walls = {s.name: [] for s in systems}
        for m in range(options.moves):
            for system in systems:
                wait_for(lambda: settled(system), 30000, "%s settles" % system.name, system)
                leader = settled(system)
                target = NAMES[(NAMES.index(leader) + 1 + m % 2) % 3]
                walls[system.name].append(move(system, target)[0])
                wait_for(lambda: settled(system) == target, 30000,
                         "%s follows %s" % (system.name, target), system)
        failovers = {s.name: [] for s in systems}
        for _ in range(options.failovers):
            for system in systems:
                failovers[system.name].append(failover(system))
        log("failover (ms): %s" % json.dumps(failovers))
        log("restart (ms): %s" % json.dumps(restarts))

        z, e = results["zkv"], results["etcd"]
        report.add("put, 1 client, p50", "put latency, sequential (Python client)",
                   e["put-1"]["p50_ms"], z["put-1"]["p50_ms"], "%.2f ms", "lower", at_most(0.5))
        report.add("put, 1 client, p99", "the same", e["put-1"]["p99_ms"],
                   z["put-1"]["p99_ms"], "%.2f ms", "lower")
        for clients in SCALING[1:]:
            report.add("put, %d clients" % clients, "puts/s (Python clients)",
                       e["put-%d" % clients]["throughput"], z["put-%d" % clients]["throughput"],
                       "%.0f /s", "higher", at_least(3) if clients >= 64 else None)
            report.add("put, %d clients, p99" % clients, "latency (Python clients)",
                       e["put-%d" % clients]["p99_ms"], z["put-%d" % clients]["p99_ms"],
                       "%.2f ms", "lower", at_most(1) if clients == 64 else None)
        report.add("get, linearizable, 64 clients", "gets/s (Python clients), 10,000 keys",
                   e["get-64"]["throughput"], z["get-64"]["throughput"], "%.0f /s", "higher",
                   at_least(2))
        report.add("get, serializable, 64 clients", "gets/s (Python clients)",
                   e["gets-64"]["throughput"], z["gets-64"]["throughput"], "%.0f /s", "higher")
        report.add("txn compare-and-swap, 64 clients", "txns/s (Python clients)",
                   e["cas-64"]["throughput"], z["cas-64"]["throughput"], "%.0f /s", "higher")
        report.add("mixed 90 % get / 10 % put, 64 clients", "requests/s (Python clients)",
                   e["mixed-64"]["throughput"], z["mixed-64"]["throughput"], "%.0f /s",
                   "higher")
        report.add("put, 64 clients, native loaders", "puts/s: zkv-bench (C), etcd-load (Go)",
                   native["etcd"]["throughput"], native["zkv"]["throughput"], "%.0f /s",
                   "higher")
        zm, em = maintenance_rows["zkv"], maintenance_rows["etcd"]
        for keys in (options.small, options.keys):
            k = "%dk keys" % (keys // 1000)
            for what, label, target in (
                    ("hashkv", "endpoint hashkv, one member", faster(4)),
                    ("hashkv_cluster", "endpoint hashkv --cluster", faster(4)),
                    ("hash", "Hash, one member (client library)", faster(4)),
                    ("status_cluster", "endpoint status --cluster", None),
                    ("save", "snapshot save", faster(2)),
                    ("restore", "snapshot restore", faster(2))):
                report.add("%s, %s" % (label, k), "wall time, median of %d" % options.runs,
                           em[(what, keys)], zm[(what, keys)], "%.0f ms", "lower", target)
            report.add("snapshot file, %s" % k, "size", em[("save_size", keys)],
                       zm[("save_size", keys)], "%.1f MB", "lower")
        k = "%dk keys" % (options.keys // 1000)
        zd, ed = defrags["zkv"], defrags["etcd"]
        report.add("defrag of the leader, %s, half deleted" % k, "wall time", ed["defrag"],
                   zd["defrag"], "%.0f ms", "lower")
        report.add("space reclaimed by defrag", "share of dbSize before",
                   1 - ed["size_after"] / ed["size_before"],
                   1 - zd["size_after"] / zd["size_before"], "%.2f", "higher",
                   ("≥ etcd's share", lambda etcd, zkv: zkv >= etcd))
        report.add("writer p99 during defrag", "one client's puts overlapping the defrag",
                   ed["during"][1], zd["during"][1], "%.2f ms", "lower",
                   ("≤ 2× its p99 without (zkv %.2f ms)" % zd["quiet"][1],
                    lambda etcd, zkv, quiet=zd["quiet"][1]: zkv <= 2 * quiet))
        report.add("move-leader", "CLI wall time, median of %d" % options.moves,
                   median(walls["etcd"]), median(walls["zkv"]), "%.1f ms", "lower",
                   at_most(0.25))
        report.add("leader kill -9 → new leader serving writes, median",
                   "of %d" % options.failovers, median(failovers["etcd"]),
                   median(failovers["zkv"]), "%.0f ms", "lower", at_most(1))
        report.add("… the slowest", "of %d" % options.failovers,
                   max(f for f in failovers["etcd"] if f), max(f for f in failovers["zkv"] if f),
                   "%.0f ms", "lower", at_most(0.6))
        report.add("member restart, %s → serving" % k, "median of %d" % options.restarts,
                   median([r[0] for r in restarts["etcd"]]),
                   median([r[0] for r in restarts["zkv"]]), "%.0f ms", "lower")
        report.add("member restart, %s → caught up" % k, "median of %d" % options.restarts,
                   median([r[1] for r in restarts["etcd"]]),
                   median([r[1] for r in restarts["zkv"]]), "%.0f ms", "lower", at_most(0.5))
        report.add("memory per member, %s" % k, "VmRSS, largest of the three",
                   max(rss["etcd"]), max(rss["zkv"]), "%.0f MB", "lower", at_most(0.5))
        written = []
        if options.plots:
            curves = {s: {c: results[s]["put-%d" % c] for c in SCALING} for s in results}
            written = plots(directory, latency_files, curves, options.plots)

    text = "\n".join([
        BEGIN,
        "Run of %s: `%s`. %s; %s. Client CPU per request (Python client): "
        "zkv %.0f µs, etcd %.0f µs at 64 clients." % (
            started, command, machine, versions, z["put-64"].get("client_cpu_us", 0),
            e["put-64"].get("client_cpu_us", 0)),
        "",
        report.markdown(),
        "",
        " ".join("![%s](%s)" % (os.path.basename(p)[:-4],
                                os.path.relpath(p, os.path.dirname(options.report)))
                 for p in written),
        END])
    print(text)
    if not options.no_report:
        with open(options.report) as f:
            document = f.read()
        if BEGIN in document and END in document:
            document = document[:document.index(BEGIN)] + text + \
                document[document.index(END) + len(END):]
        else:
            document = document.rstrip("\n") + "\n\n" + text + "\n"
        with open(options.report, "w") as f:
            f.write(document)
        log("report written into %s" % options.report)


if __name__ == "__main__":
    main()
