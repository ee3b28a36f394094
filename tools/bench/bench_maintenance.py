"""tools/bench/bench_maintenance.py — zkv's and etcd 3.4's maintenance, side by side.
Run it through tools/bench/bench-maintenance, which installs and builds what it needs.

The same 3-member clusters as tools/bench/bench_cluster.py (zkv-cluster; Debian's
etcd with default flags), loaded the same way (zkv-bench and etcd-load, 64
clients, 16-byte keys, 256-byte values). Then, for each system in turn:

  1. at --small keys (100,000): `snapshot save` of the leader, wall time of
     the command (zkvctl / etcdctl) and the file's size, median of --runs;
     `endpoint hashkv` of the leader, the same way;
  2. grown to --keys keys (1,000,000): half of them deleted (in --keys/20
     key ranges) and the history compacted (physical); then a writer (one
     client, sequential puts of 256-byte values, Python: pyzmq + msgpack for
     zkv, python3-etcd3 over gRPC for etcd) runs for --quiet seconds with no
     defrag (its p99 is the baseline), then again while the leader is
     defragmented (`zkvctl defrag` / `etcdctl defrag`); reported: the defrag's
     wall time, the writer's p50 / p99 / max latency and failed puts during
     it, and dbSize before and after (Status, from each system's own figures).

With --scans, only the full scans instead (issue 19): --keys keys loaded into
each system (native loaders, 64 clients) and the history compacted (physical),
so both hold --keys live keys and nothing more (as bench-vs-etcd's maintenance
rows); then --runs rounds, each timing on zkv, then on etcd: Hash of the leader
(one request through the client library), `endpoint hashkv` of the leader and
`snapshot save` of the leader (the CLIs' wall time, process start to exit).
Medians, the ratios and every run's figures are printed.

usage: tools/bench/bench-maintenance [--small N] [--keys N] [--runs N] [--quiet S] [--keep]
       tools/bench/bench-maintenance --scans [--keys N] [--runs N] [--keep]
"""
import argparse
import os
import subprocess
import sys
import threading
import time

import msgpack
import zmq
import etcd3
from etcd3 import etcdrpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_cluster import BUILD, log, median, settled, side_by_side, wait_for  # noqa: E402


def timed(argv):
    """Runs argv; its wall time in ms (it must succeed)."""
    start = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return (time.monotonic() - start) * 1000


def key(n):
    return b"%016d" % n


class Ops:
    """The maintenance commands of one member, through its CLI (self.ctl)."""

    def snapshot_save(self, path):
        return timed(self.ctl + ["snapshot", "save", path])

    def hashkv(self):
        return timed(self.ctl + ["endpoint", "hashkv"])

    def defrag(self):
        return timed(self.ctl + ["defrag"])

    def hashkv_cluster(self):
        return timed(self.ctl + ["endpoint", "hashkv", "--cluster"])

    def status_cluster(self):
        return timed(self.ctl + ["endpoint", "status", "--cluster"])

    def hash(self):
        """One Hash request through the client library (neither CLI has one); ms"""
        start = time.monotonic()
        self.hash_once()
        return (time.monotonic() - start) * 1000


class ZkvOps(Ops):
    """A raw client of one zkv member (pyzmq + msgpack)."""

    def __init__(self, system, name):
        self.endpoint = system.endpoint(name)
        #  The same generous timeout as etcdctl's below: a row measures the
        #  time a command takes, it does not give up after the CLI's 5 s
        self.ctl = [os.path.join(BUILD, "zkvctl"), "--endpoints", self.endpoint,
                    "--command-timeout", "600s"]
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.connect(self.endpoint)
        self.next_id = 0

    def call(self, request):
        self.next_id += 1
        request["id"] = self.next_id
        self.socket.send(msgpack.packb(request, use_bin_type=True))
        while True:
            reply = msgpack.unpackb(self.socket.recv(), raw=False)
            if reply.get("id") == self.next_id:
                return reply

    def put(self, k, v):
        return "error" not in self.call({"op": "put", "key": k, "value": v})

    def delete_range(self, start, end):
        self.call({"op": "delete_range", "key": start, "range_end": end})

    def revision(self):
        return self.call({"op": "status"})["header"]["revision"]

    def compact(self, revision):
        reply = self.call({"op": "compact", "revision": revision, "physical": True})
        assert "error" not in reply, reply

    def db_size(self):
        return self.call({"op": "status"}).get("db_size", 0)

    def hash_once(self):
        reply = self.call({"op": "hash"})
        assert "error" not in reply, reply

    def close(self):
        self.context.destroy(linger=0)


class EtcdOps(Ops):
    """A client of one etcd member (python3-etcd3 over gRPC)."""

    def __init__(self, system, name):
        self.endpoint = system.endpoint(name)
        host, port = self.endpoint.split(":")
        self.client = etcd3.client(host=host, port=int(port), timeout=60)
        self.ctl = ["etcdctl", "--endpoints", self.endpoint, "--command-timeout", "600s"]

    def put(self, k, v):
        try:
            self.client.put(k, v)
            return True
        except Exception:
            return False

    def delete_range(self, start, end):
        self.client.kvstub.DeleteRange(etcdrpc.DeleteRangeRequest(key=start, range_end=end),
                                       60)

    def revision(self):
        request = etcdrpc.RangeRequest(key=b"\x00", count_only=True)
        return self.client.kvstub.Range(request, 60).header.revision

    def compact(self, revision):
        self.client.compact(revision, physical=True)

    def db_size(self):
        return self.client.status().db_size

    def hash_once(self):
        self.client.maintenancestub.Hash(etcdrpc.HashRequest(), 600)

    def close(self):
        self.client.close()


class Writer(threading.Thread):
    """Sequential puts until stopped: (start, end, ok) of each."""

    def __init__(self, ops, prefix):
        super().__init__(daemon=True)
        self.ops, self.prefix = ops, prefix
        self.samples, self.stop = [], threading.Event()

    def run(self):
        value, n = b"w" * 256, 0
        while not self.stop.is_set():
            start = time.monotonic()
            ok = self.ops.put(self.prefix + b"%08d" % n, value)
            self.samples.append((start, time.monotonic(), ok))
            n += 1


def latencies(samples, start, end):
    """p50, p99, max (ms) and failures of the puts overlapping [start, end]."""
    window = [(b - a) * 1000 for a, b, ok in samples if b >= start and a <= end]
    failed = sum(1 for a, b, ok in samples if b >= start and a <= end and not ok)
    window.sort()
    if not window:
        return float("nan"), float("nan"), float("nan"), failed
    rank = lambda p: window[max(0, min(len(window) - 1, int(-(-p * len(window) // 100)) - 1))]
    return rank(50), rank(99), window[-1], failed


def make_ops(system, name):
    return ZkvOps(system, name) if system.name == "zkv" else EtcdOps(system, name)


def defrag_trial(system, leader, keys, quiet):
    """With keys loaded: half of them deleted (in keys/20 ranges) and the
    history compacted (physical); a writer's latency for quiet seconds alone,
    then while the leader is defragmented. Returns defrag (ms), size_before,
    size_after (Status dbSize), quiet and during ((p50, p99, max, failed))."""
    r = {}
    ops = make_ops(system, leader)
    step = keys // 20
    for start in range(0, keys, 2 * step):
        ops.delete_range(key(start), key(start + step))
    revision = ops.revision()
    began = time.monotonic()
    ops.compact(revision)
    log("%-4s deleted half and compacted at %d (%.1f s)" % (
        system.name, revision, time.monotonic() - began))
    time.sleep(2)
    r["size_before"] = ops.db_size()
    writer = Writer(make_ops(system, leader), b"quiet/")
    writer.start()
    time.sleep(quiet)
    writer.stop.set()
    writer.join()
    r["quiet"] = latencies(writer.samples, 0, float("inf"))
    writer = Writer(make_ops(system, leader), b"defrag/")
    writer.start()
    time.sleep(0.5)
    start = time.monotonic()
    r["defrag"] = ops.defrag()
    end = time.monotonic()
    time.sleep(0.5)
    writer.stop.set()
    writer.join()
    r["during"] = latencies(writer.samples, start, end)
    time.sleep(2)
    r["size_after"] = ops.db_size()
    log("%-4s defrag of the leader: %.0f ms, db size %d -> %d bytes; writer p50/p99/max "
        "%.2f/%.2f/%.2f ms (%d failed) vs %.2f/%.2f/%.2f ms without" % (
            system.name, r["defrag"], r["size_before"], r["size_after"],
            r["during"][0], r["during"][1], r["during"][2], r["during"][3],
            r["quiet"][0], r["quiet"][1], r["quiet"][2]))
    ops.close()
    return r


def scans(systems, directory, keys, runs):
    """The --scans rows: Hash, HashKV and snapshot save at keys keys, the
    two systems interleaved round after round"""
    ops = {}
    for system in systems:
        wait_for(lambda: settled(system), 60000, "%s settles" % system.name, system)
        leader = settled(system)
        loaded = system.load(leader, 64, keys)
        log("%-4s loaded %d keys (%.0f puts/s)" % (system.name, keys, loaded["throughput"]))
        ops[system.name] = make_ops(system, leader)
        ops[system.name].compact(ops[system.name].revision())
        wait_for(lambda: settled(system), 60000, "%s settles" % system.name, system)
    measured = {name: {"hash": [], "hashkv": [], "save": [], "size": []} for name in ops}
    for run in range(runs):
        for system in systems:
            o, m = ops[system.name], measured[system.name]
            path = os.path.join(directory, "%s-scan.db" % system.name)
            m["hash"].append(o.hash())
            m["hashkv"].append(o.hashkv())
            m["save"].append(o.snapshot_save(path))
            m["size"].append(os.path.getsize(path))
            os.unlink(path)
            log("%-4s run %d: hash %.0f ms, hashkv %.0f ms, snapshot save %.0f ms (%.1f MB)" % (
                system.name, run + 1, m["hash"][-1], m["hashkv"][-1], m["save"][-1],
                m["size"][-1] / 1e6))
    for o in ops.values():
        o.close()
    log("\nsummary, %dk keys, median of %d" % (keys // 1000, runs))
    log("%-34s %10s %10s %12s" % ("", "zkv", "etcd", "zkv / etcd"))
    z, e = measured["zkv"], measured["etcd"]
    for label, what in (("Hash, one member (ms)", "hash"), ("endpoint hashkv (ms)", "hashkv"),
                        ("snapshot save (ms)", "save")):
        log("%-34s %10.0f %10.0f %11.2fx" % (label, median(z[what]), median(e[what]),
                                             median(z[what]) / median(e[what])))
    log("%-34s %10.1f %10.1f" % ("snapshot file (MB)", median(z["size"]) / 1e6,
                                 median(e["size"]) / 1e6))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=100000, help="keys for snapshot and hashkv")
    parser.add_argument("--keys", type=int, default=1000000, help="keys for defrag (0: none)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quiet", type=float, default=5.0, help="seconds of baseline writes")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--scans", action="store_true",
                        help="only Hash, HashKV and snapshot save at --keys keys")
    options = parser.parse_args()

    results = {}
    with side_by_side("zkv-bench-maintenance-", options.keep) as (systems, directory):
        if options.scans:
            scans(systems, directory, options.keys, options.runs)
            return
        for system in systems:
            r = results[system.name] = {}
            wait_for(lambda: settled(system), 30000, "%s settles" % system.name, system)
            leader = settled(system)
            loaded = system.load(leader, 64, options.small)
            log("%-4s loaded %d keys (%.0f puts/s)" % (system.name, options.small,
                                                      loaded["throughput"]))
            ops = make_ops(system, leader)
            saves, sizes, hashes = [], [], []
            for i in range(options.runs):
                path = os.path.join(directory, "%s-%d.db" % (system.name, i))
                saves.append(ops.snapshot_save(path))
                sizes.append(os.path.getsize(path))
                os.unlink(path)
                hashes.append(ops.hashkv())
            r["save"], r["save_size"], r["hashkv"] = median(saves), median(sizes), median(hashes)
            log("%-4s snapshot save of %d keys: %s ms, %d bytes; endpoint hashkv: %s ms" % (
                system.name, options.small, ["%.0f" % s for s in saves], r["save_size"],
                ["%.0f" % h for h in hashes]))
            ops.close()

        for system in systems if options.keys else []:
            wait_for(lambda: settled(system), 60000, "%s settles" % system.name, system)
            leader = settled(system)
            loaded = system.load(leader, 64, options.keys)
            log("%-4s loaded %d keys (%.0f puts/s)" % (system.name, options.keys,
                                                      loaded["throughput"]))
            results[system.name].update(defrag_trial(system, leader, options.keys,
                                                     options.quiet))

        log("\nsummary")
        log("%-46s %14s %14s" % ("", "zkv", "etcd"))
        z, e = results["zkv"], results["etcd"]
        rows = [
            ("snapshot save, %dk keys (ms)" % (options.small // 1000), "save", "%.0f"),
            ("snapshot file (MB)", lambda x: x["save_size"] / 1e6, "%.1f"),
            ("endpoint hashkv, %dk keys (ms)" % (options.small // 1000), "hashkv", "%.0f"),
            ("defrag of the leader, %dk keys (ms)" % (options.keys // 1000), "defrag", "%.0f"),
            ("db size before defrag (MB)", lambda x: x["size_before"] / 1e6, "%.1f"),
            ("db size after defrag (MB)", lambda x: x["size_after"] / 1e6, "%.1f"),
            ("writer p99 without defrag (ms)", lambda x: x["quiet"][1], "%.2f"),
            ("writer p99 during defrag (ms)", lambda x: x["during"][1], "%.2f"),
            ("writer max during defrag (ms)", lambda x: x["during"][2], "%.2f"),
            ("writer failed puts during defrag", lambda x: x["during"][3], "%d"),
        ]
        if not options.keys:
            rows = rows[:3]
        for label, get, form in rows:
            value = (lambda x: x[get]) if isinstance(get, str) else get
            log("%-46s %14s %14s" % (label, form % value(z), form % value(e)))


if __name__ == "__main__":
    main()
