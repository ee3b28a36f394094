"""tools/bench/bench_scale.py — how zkv's writes and reads change with more members
and with members on distant hosts, measured on this one machine. Run it
through tools/bench/bench-scale, which builds what it needs.

For each setting a fresh zkv cluster (zkv-cluster up, default flags:
heartbeat 100 ms, election timeout 1000 ms, fsync on, loopback, data in a
temporary directory) is loaded by zkv-bench (C, zkv's own protocol, against
the leader), 256-byte values, 16-byte keys:

  members   3 and 5 members, no delay;
  distance  3 members whose every raft frame is held --delays msecs before
            it leaves (zkv-cluster delay: the peer transport's delay fault),
            so that each member-to-member hop costs that much, as between
            hosts that far apart; the client stays near the leader.

Rows: puts by one client (p50, p99), puts by 64 and by 256 clients
(throughput, p99), linearizable gets by 64 clients (throughput, p50): one
run each, printed as a Markdown table; docs/BENCHMARKS.md (issue 7, section
3) records one with what it says.

usage: tools/bench/bench-scale [--delays 1,5,10] [--total N] [--keep]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_cluster import BUILD, log, run  # noqa: E402

CLUSTER = os.path.join(BUILD, "zkv-cluster")


def bench(endpoint, workload, clients, total, key_space=None):
    argv = [os.path.join(BUILD, "zkv-bench"), "--endpoints", endpoint, "--clients", str(clients),
            "--total", str(total), "--val-size", "256", "--json", workload]
    if key_space:
        argv[-1:-1] = ["--key-space", str(key_space)]
    return json.loads(run(argv))


def measure(label, members, delay, total, keep):
    """One cluster, every row; returns the row's cells"""
    directory = tempfile.mkdtemp(prefix="zkv-bench-scale-")
    try:
        run([CLUSTER, "up", "-n", str(members), "--dir", directory])
        leader = run([CLUSTER, "wait-leader", "--dir", directory]).strip()
        if delay:
            run([CLUSTER, "delay", str(delay), "--dir", directory])
        endpoint = None
        with open(os.path.join(directory, "cluster.zpl")) as f:
            name = None
            for line in f:
                line = line.strip()
                if line.startswith("name = "):
                    name = line.split('"')[1]
                if line.startswith("client = ") and name == leader:
                    endpoint = line.split('"')[1]
        # one client: few puts when every one crosses the slow links twice
        one = bench(endpoint, "put", 1, max(200, total // (25 * (1 + delay))))
        many = bench(endpoint, "put", 64, total)
        most = bench(endpoint, "put", 256, total)
        gets = bench(endpoint, "get", 64, total, key_space=total)
        cells = {
            "label": label,
            "one_p50": one["latency_ms"]["p50"], "one_p99": one["latency_ms"]["p99"],
            "many": many["throughput"], "many_p99": many["latency_ms"]["p99"],
            "most": most["throughput"], "most_p99": most["latency_ms"]["p99"],
            "gets": gets["throughput"], "gets_p50": gets["latency_ms"]["p50"],
            "errors": one["errors"] + many["errors"] + most["errors"] + gets["errors"],
        }
        log("%-28s 1 client p50 %.2f ms p99 %.2f | 64: %.0f /s p99 %.1f | 256: %.0f /s "
            "p99 %.1f | gets 64: %.0f /s p50 %.2f | errors %d" % (
                label, cells["one_p50"], cells["one_p99"], cells["many"], cells["many_p99"],
                cells["most"], cells["most_p99"], cells["gets"], cells["gets_p50"],
                cells["errors"]))
        return cells
    finally:
        subprocess.run([CLUSTER, "down", "--dir", directory], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delays", default="1,5,10",
                        help="one-way peer delays to try, msecs (default 1,5,10)")
    parser.add_argument("--total", type=int, default=30000,
                        help="requests per many-client row (default 30000)")
    parser.add_argument("--keep", action="store_true", help="keep the data directories")
    args = parser.parse_args()
    log("machine: %s, %d cores; zkv at %s" % (
        open("/proc/cpuinfo").read().split("model name")[1].split(":")[1].split("\n")[0].strip(),
        os.cpu_count(), run(["git", "rev-parse", "--short", "HEAD"]).strip()))
    rows = [measure("3 members", 3, 0, args.total, args.keep),
            measure("5 members", 5, 0, args.total, args.keep)]
    for delay in [int(d) for d in args.delays.split(",") if d]:
        rows.append(measure("3 members, %d ms per hop" % delay, 3, delay, args.total,
                            args.keep))
    print()
    print("| setting | put, 1 client: p50 / p99 | put, 64 clients: /s, p99 "
          "| put, 256 clients: /s, p99 | get (linearizable), 64 clients: /s, p50 |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| %s | %.2f / %.2f ms | %s /s, %.1f ms | %s /s, %.1f ms | %s /s, %.2f ms |" % (
            r["label"], r["one_p50"], r["one_p99"], format(round(r["many"]), ","),
            r["many_p99"], format(round(r["most"]), ","), r["most_p99"],
            format(round(r["gets"]), ","), r["gets_p50"]))
    if any(r["errors"] for r in rows):
        sys.exit("some requests failed")


if __name__ == "__main__":
    main()
