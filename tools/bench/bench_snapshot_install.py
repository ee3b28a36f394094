"""tools/bench/bench_snapshot_install.py — a follower that catches up a large
state by snapshot: its peak memory, and how long the install takes.
Run it through tools/bench/bench-snapshot-install, which builds zkv first.

  1. zkv-cluster up -n 3, the members with --snapshot-count (10000: the
     leader compacts its raft log every 10,000 entries, keeping 5,000);
  2. n3 is stopped (SIGTERM), its data directory kept aside, and zkv-bench
     loads --keys keys (16-byte keys, --val-size 100-byte values, 64
     clients) into the leader of the two left: the leader's log is then
     compacted far past n3's last entry;
  3. n3 starts again (zkv-cluster start; the flags are the defaults, the
     same --snapshot-count), and the script polls its Status every 50 ms
     until its applied index reaches the leader's raft index;
  4. reported: n3's peak RSS (VmHWM in /proc/PID/status, the high-water
     mark of the whole process) once it has caught up and again --settle
     seconds later, the time from its start to caught up, the install as
     n3's log tells it ("installed a snapshot ... in N ms": from the first
     chunk to the state replaced), and how many snapshots n3 installed;
     with the leader's VmHWM for comparison. It fails if n3 caught up
     without a snapshot.
  5. --runs N: for each further run every member stops, n3 gets back its
     data directory of step 2, n1 and n2 start, then n3 as in 3 and 4.

--build DIR runs the binaries of another build (e.g. an older commit's, to
compare); --keep keeps the cluster's directory.

usage: tools/bench/bench-snapshot-install [--keys N] [--val-size N] [--runs N]
                                          [--settle S] [--snapshot-count N]
                                          [--build DIR] [--keep]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_cluster import BUILD, ZkvProbe, log, read_cluster_file  # noqa: E402


def memory_kib(pid, field):
    """A figure of /proc/PID/status, in KiB ("VmHWM", "VmRSS")"""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise SystemExit("bench-snapshot-install: no %s for pid %d" % (field, pid))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=1000000)
    parser.add_argument("--val-size", type=int, default=100)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--settle", type=float, default=10)
    parser.add_argument("--snapshot-count", type=int, default=10000)
    parser.add_argument("--build", default=BUILD)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    cluster_bin = os.path.join(args.build, "zkv-cluster")
    directory = tempfile.mkdtemp(prefix="zkv-bench-install-")
    cluster_file = os.path.join(directory, "cluster.zpl")
    context = zmq.Context()

    def cluster(*words, flags=()):
        subprocess.run([cluster_bin, *words, "--dir", directory, "--", *flags] if flags
                       else [cluster_bin, *words, "--dir", directory], check=True,
                       stdout=subprocess.DEVNULL)

    try:
        cluster("up", "-n", "3", flags=("--snapshot-count", str(args.snapshot_count)))
        members = read_cluster_file(cluster_file)
        probes = {name: ZkvProbe(context, m["client"]) for name, m in members.items()}

        def leader():
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                for name in ("n1", "n2"):
                    status = probes[name].status()
                    if status and status["leader"] and status["leader"] == status["member"]:
                        return name
                time.sleep(0.05)
            raise SystemExit("bench-snapshot-install: no leader among n1 and n2")

        cluster("stop", "n3")
        data = members["n3"]["data"]
        shutil.copytree(data, data + ".before")
        name = leader()
        log("loading %d keys of %d bytes into %s (n3 stopped)..." % (args.keys, args.val_size,
                                                                     name))
        start = time.monotonic()
        subprocess.run([os.path.join(args.build, "zkv-bench"), "--endpoints",
                        members[name]["client"], "--clients", "64", "--total", str(args.keys),
                        "--val-size", str(args.val_size), "--json", "put"], check=True,
                       stdout=subprocess.DEVNULL)
        log("loaded in %.0f s" % (time.monotonic() - start))
        for run in range(args.runs):
            if run:
                cluster("down")
                shutil.rmtree(data)
                shutil.copytree(data + ".before", data)
                cluster("start", "n1")
                cluster("start", "n2")
                name = leader()
            target = probes[name].status(1000)["index"]
            with open(members["n3"]["log"]) as f:
                seen = len(f.read())
            cluster("start", "n3")
            started = time.monotonic()
            members = read_cluster_file(cluster_file)
            pid = int(members["n3"]["pid"])
            while True:
                status = probes["n3"].status(1000)
                if status and status["applied"] >= target:
                    break
                if time.monotonic() - started > 1800:
                    raise SystemExit("bench-snapshot-install: n3 did not catch up in 30 min")
                time.sleep(0.05)
            caught_up = time.monotonic() - started
            peak = memory_kib(pid, "VmHWM")
            time.sleep(args.settle)
            settled = memory_kib(pid, "VmHWM")
            leader_peak = memory_kib(int(members[name]["pid"]), "VmHWM")
            with open(members["n3"]["log"]) as f:
                text = f.read()[seen:]
            installs = re.findall(r"storage: installed a snapshot at (\d+) \(revision (\d+)\)"
                                  r"(?: in (\d+) ms)?", text)
            if not installs:
                raise SystemExit("bench-snapshot-install: n3 caught up without a snapshot")
            log("run %d: n3 caught up to index %d in %.1f s from its start; first install %s ms "
                "(snapshot at %s, revision %s); %d installs in %.0f s" % (
                    run + 1, target, caught_up, installs[0][2] or "(not logged)",
                    installs[0][0], installs[0][1], len(installs), caught_up + args.settle))
            log("run %d: n3's peak RSS (VmHWM) %.0f MiB when caught up, %.0f MiB %.0f s later; "
                "the leader's %.0f MiB" % (run + 1, peak / 1024, settled / 1024, args.settle,
                                           leader_peak / 1024))
    finally:
        subprocess.run([cluster_bin, "down", "--dir", directory], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        context.destroy(linger=0)
        if args.keep:
            log("kept %s" % directory)
        else:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
