"""tools/bench/bench_defaults.py — what the secure defaults of issue 14 (item 3)
cost, on this machine. Run it through tools/bench/bench-defaults, which builds
what it needs.

Every cluster is a fresh 3-member zkv-cluster (default flags otherwise:
heartbeat 100 ms, election timeout 1000 ms, fsync on, loopback, data in a
temporary directory), loaded by zkv-bench against the leader with 16-byte
keys and 256-byte values. CPU is utime + stime of the three member
processes (/proc/PID/stat), read before and after a load.

  peers    CURVE between the peers (zkv-cluster's default: a peer
           certificate) against --insecure-peers, runs interleaved: puts
           by one client (p50, p99), puts by 64 clients (throughput, p99,
           the cluster's CPU per put). Corruption checks off.
  check    the periodic corruption check:
           - one check at each --keys count: the cluster loaded with that
             many keys (checks every 60 s), then the time of the next
             checks as the leader logs them, and the CPU of one HashKV on
             every member (what a check costs the cluster; zkvctl endpoint
             hashkv --cluster, less the idle CPU of as long);
           - puts by 64 clients over a store of --key-space keys, checks
             off against checks every 10 s (30 times the default), runs
             interleaved, --check-total puts each;
           - the same, checks off against the default (5 minutes), with
             --default-total puts per run: long enough for a check.

Results are printed as they come, then as Markdown tables;
docs/BENCHMARKS.md records one run with what it says.

usage: tools/bench/bench-defaults [--runs N] [--keys 100000,1000000] [--key-space N]
                            [--check-total N] [--default-runs N] [--default-total N]
                            [--skip peers,check,default]
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
CLUSTER = os.path.join(BUILD, "zkv-cluster")
TICKS = os.sysconf("SC_CLK_TCK")
CHECK_LINE = re.compile(r"alarm: corruption check at revision (\d+): (\w[\w ]*) \(.*\), (\d+) ms")


def log(text):
    print(text, flush=True)


def run(argv):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True).stdout


class Cluster:
    """A fresh 3-member zkv-cluster in a temporary directory."""

    def __init__(self, cluster_flags=(), member_flags=()):
        self.dir = tempfile.mkdtemp(prefix="zkv-bench-defaults-")
        run([CLUSTER, "up", "-n", "3", "--dir", self.dir] + list(cluster_flags) + ["--"]
            + list(member_flags))
        self.leader = run([CLUSTER, "wait-leader", "--dir", self.dir]).strip()
        self.members = {}
        with open(os.path.join(self.dir, "cluster.zpl")) as f:
            member = None
            for line in f:
                line = line.strip()
                if line == "member":
                    member = {}
                elif member is not None and "=" in line:
                    key, value = (part.strip() for part in line.split("=", 1))
                    member[key] = value.strip('"')
                    if key == "pid":
                        self.members[member["name"]] = member

    def endpoint(self, name=None):
        return self.members[name or self.leader]["client"]

    def cpu(self):
        """utime + stime of every member, seconds"""
        total = 0
        for member in self.members.values():
            with open("/proc/%s/stat" % member["pid"]) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / TICKS

    def checks(self):
        """The checks the leader logged: [(revision, outcome, msecs)]"""
        with open(os.path.join(self.dir, self.leader + ".log")) as f:
            return [(int(m.group(1)), m.group(2), int(m.group(3)))
                    for m in CHECK_LINE.finditer(f.read())]

    def down(self):
        """Stops it; removes its directory unless a load failed (then kept to look into)"""
        subprocess.run([CLUSTER, "down", "--dir", self.dir], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        if sys.exc_info()[0] is None:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            log("kept %s" % self.dir)


def bench(cluster, clients, total, key_space=None):
    argv = [os.path.join(BUILD, "zkv-bench"), "--endpoints", cluster.endpoint(), "--clients",
            str(clients), "--total", str(total), "--val-size", "256", "--json"]
    if key_space:
        argv += ["--key-space", str(key_space)]
    before = cluster.cpu()
    result = json.loads(run(argv + ["put"]))
    result["cpu_us_per_put"] = (cluster.cpu() - before) * 1e6 / total
    if result["errors"]:
        sys.exit("zkv-bench: %d errors" % result["errors"])
    return result


def median(values):
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------------------

def peers(runs):
    rows = {"CURVE between peers (default)": [], "--insecure-peers": []}
    for i in range(runs):
        for label, flags in (("CURVE between peers (default)", []),
                             ("--insecure-peers", ["--insecure-peers"])):
            cluster = Cluster(flags, ["--corrupt-check-time", "0"])
            try:
                one = bench(cluster, 1, 3000)
                many = bench(cluster, 64, 40000)
            finally:
                cluster.down()
            row = (one["latency_ms"]["p50"], one["latency_ms"]["p99"], many["throughput"],
                   many["latency_ms"]["p99"], many["cpu_us_per_put"])
            rows[label].append(row)
            log("peers run %d, %-30s 1 client p50 %.3f p99 %.3f ms | 64: %.0f /s p99 %.1f ms, "
                "%.0f µs CPU per put" % ((i + 1, label) + row))
    print()
    print("| peers | put, 1 client: p50 / p99 | put, 64 clients: /s, p99 | CPU per put "
          "(3 members) |")
    print("|---|---|---|---|")
    for label, got in rows.items():
        if not got:
            continue
        print("| %s | %.3f / %.3f ms | %s /s, %.1f ms | %.0f µs |" % (
            label, median([r[0] for r in got]), median([r[1] for r in got]),
            format(round(median([r[2] for r in got])), ","), median([r[3] for r in got]),
            median([r[4] for r in got])))
    print("(medians of %d runs each, interleaved)" % runs)
    print()


def wait_checks(cluster, count, timeout):
    """Waits for count more checks in the leader's log; returns them"""
    seen = len(cluster.checks())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        checks = cluster.checks()
        if len(checks) >= seen + count:
            return checks[seen:seen + count]
        time.sleep(0.5)
    sys.exit("no corruption check within %d s" % timeout)


def one_check(keys):
    cluster = Cluster([], ["--corrupt-check-time", "60000"])
    try:
        bench(cluster, 64, keys, key_space=keys)
        checks = wait_checks(cluster, 2, 180)
        #  Right after a check: a minute before the next one
        start, before = time.monotonic(), cluster.cpu()
        run([os.path.join(BUILD, "zkvctl"), "--cluster-file",
             os.path.join(cluster.dir, "cluster.zpl"), "--command-timeout", "600s",
             "endpoint", "hashkv", "--cluster"])
        took = time.monotonic() - start
        hashing = cluster.cpu() - before
        before = cluster.cpu()
        time.sleep(took)
        idle = cluster.cpu() - before
        cpu = hashing - idle
        db = run([os.path.join(BUILD, "zkvctl"), "--endpoints", cluster.endpoint(),
                  "endpoint", "status", "-w", "json"])
        size = json.loads(db)[0]["Status"]["dbSize"]
    finally:
        cluster.down()
    log("check at %d keys (%.0f MB): checks took %s ms (%s); one HashKV on every member: "
        "%.2f s of CPU (%.2f s wall, idle %.2f s CPU)" % (
            keys, size / 1e6, ", ".join(str(c[2]) for c in checks),
            ", ".join(c[1] for c in checks), cpu, took, idle))
    return keys, size, [c[2] for c in checks], cpu


def interleaved(label, runs, total, key_space, every):
    rows = {"off": [], every: []}
    for i in range(runs):
        for setting in ("off", every):
            interval = "0" if setting == "off" else str(every)
            cluster = Cluster([], ["--corrupt-check-time", interval])
            try:
                bench(cluster, 64, key_space, key_space=key_space)
                before = len(cluster.checks())
                result = bench(cluster, 64, total, key_space=key_space)
                checks = cluster.checks()[before:]
            finally:
                cluster.down()
            row = (result["throughput"], result["latency_ms"]["p99"], result["cpu_us_per_put"],
                   len(checks), max([c[2] for c in checks], default=0))
            rows[setting].append(row)
            log("%s run %d, checks %-7s %.0f puts/s p99 %.1f ms, %.0f µs CPU per put, "
                "%d checks (longest %d ms)" % ((label, i + 1, setting) + row))
    print()
    print("| corruption check | put, 64 clients: /s | p99 | CPU per put (3 members) "
          "| checks during each run |")
    print("|---|---|---|---|---|")
    for setting, got in rows.items():
        if not got:
            continue
        name = "off" if setting == "off" else "every %g s" % (int(setting) / 1000)
        print("| %s | %s /s | %.1f ms | %.1f µs | %s |" % (
            name, format(round(median([r[0] for r in got])), ","),
            median([r[1] for r in got]), median([r[2] for r in got]),
            ", ".join(str(r[3]) for r in got)))
    print("(%d puts per run over %d keys, medians of %d runs each, interleaved)" % (
        total, key_space, runs))
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per setting (default 3)")
    parser.add_argument("--keys", default="100000,1000000",
                        help="key counts for the time of one check (default 100000,1000000)")
    parser.add_argument("--key-space", type=int, default=100000,
                        help="keys of the store under the put loads (default 100000)")
    parser.add_argument("--check-total", type=int, default=300000,
                        help="puts per run, checks every 10 s (default 300000)")
    parser.add_argument("--default-runs", type=int, default=2,
                        help="runs per setting at the default interval (default 2)")
    parser.add_argument("--default-total", type=int, default=2000000,
                        help="puts per run at the default interval (default 2000000)")
    parser.add_argument("--skip", default="", help="parts to skip: peers,check,default")
    args = parser.parse_args()
    skip = args.skip.split(",")
    log("machine: %s, %d cores; zkv at %s; load average %s" % (
        open("/proc/cpuinfo").read().split("model name")[1].split(":")[1].split("\n")[0].strip(),
        os.cpu_count(), run(["git", "rev-parse", "--short", "HEAD"]).strip(),
        open("/proc/loadavg").read().split()[0]))
    if "peers" not in skip:
        peers(args.runs)
    if "check" not in skip:
        results = [one_check(int(k)) for k in args.keys.split(",") if k]
        print()
        print("| keys | db size | one check, as the leader logs it | CPU of one HashKV on "
              "every member |")
        print("|---|---|---|---|")
        for keys, size, took, cpu in results:
            print("| %s | %.0f MB | %s ms | %.2f s |" % (
                format(keys, ","), size / 1e6, ", ".join(str(t) for t in took), cpu))
        print()
        interleaved("every 10 s", args.runs, args.check_total, args.key_space, 10000)
    if "default" not in skip:
        interleaved("default", args.default_runs, args.default_total, args.key_space, 300000)


if __name__ == "__main__":
    main()
