"""tools/bench/bench_cluster.py — zkv and etcd 3.4, side by side, on this machine.
Run it through tools/bench/bench-cluster, which installs and builds what it needs.

Starts a 3-member zkv cluster (zkv-cluster) and a 3-member etcd cluster
(Debian's etcd-server, default flags), both on loopback with their data in a
temporary directory, and measures each the same way, runs interleaved so
that machine noise falls on both:

  1. one client, sequential puts of 256-byte values (16-byte keys): latency;
  2. 64 concurrent clients: puts per second;
  3. kill -9 of the leader: time until a new leader serves a write, polling
     the survivors' Status every ~5 ms and putting through the new leader;
  4. with 100,000 keys loaded: kill -9 of a follower, then the time from its
     restart until it answers Status and until it has applied everything the
     leader had (raft applied index >= the leader's raft index).

zkv is driven by zkv-bench (C) and its own protocol; etcd by etcd-load
(tools/bench/etcd-load: etcd's Go client, clientv3 over gRPC) for the loads and
by its grpc-gateway (HTTP/JSON, as in the anchor numbers) for the Status
and put probes of 3 and 4. Results are printed as they come, then a
summary of medians; docs/BENCHMARKS.md records them.

usage: tools/bench/bench-cluster [--runs N] [--one N] [--many N] [--failovers N]
                           [--restarts N] [--keys N] [--keep]
"""
import argparse
import base64
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time

import msgpack
import zmq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")


def log(text):
    print(text, flush=True)


def now_ms():
    return time.monotonic() * 1000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(argv, **kwargs):
    return subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True, **kwargs).stdout


# ---------------------------------------------------------------------------
# zkv: the cluster through zkv-cluster, probes over its own protocol

def read_cluster_file(path):
    """Each member's name, id, endpoints and pid, from zkv-cluster's cluster
    file: {name: {"id": ..., "client": ..., "pid": ..., ...}}"""
    members, current = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line == "member":
                current = {}
            elif current is not None and "=" in line:
                key, value = (part.strip() for part in line.split("=", 1))
                current[key] = value.strip('"')
                if key == "pid":
                    members[current["name"]] = current
    return members


class ZkvProbe:
    """One member's client endpoint: status and put, each with a timeout."""

    def __init__(self, context, endpoint):
        self.context, self.endpoint, self.next_id = context, endpoint, 1
        self.socket = None

    def call(self, request, timeout_ms):
        if self.socket is None:
            self.socket = self.context.socket(zmq.DEALER)
            self.socket.setsockopt(zmq.LINGER, 0)
            self.socket.connect(self.endpoint)
        request["id"] = self.next_id
        self.next_id += 1
        self.socket.send(msgpack.packb(request))
        deadline = now_ms() + timeout_ms
        while now_ms() < deadline:
            if self.socket.poll(max(1, int(deadline - now_ms()))):
                reply = msgpack.unpackb(self.socket.recv())
                if reply.get("id") == request["id"]:
                    return reply
        self.socket.close()             # a late reply must not be read as the next one
        self.socket = None
        return None

    def status(self, timeout_ms=100):
        reply = self.call({"op": "status"}, timeout_ms)
        if not reply or "error" in reply:
            return None
        return {"member": reply["header"].get("member_id", 0), "leader": reply.get("leader", 0),
                "index": reply.get("raft_index", 0),
                "applied": reply.get("raft_applied_index", 0)}

    def put(self, timeout_ms=2000):
        reply = self.call({"op": "put", "key": b"bench-probe", "value": b"x"}, timeout_ms)
        return reply is not None and "error" not in reply


class Zkv:
    name = "zkv"

    def __init__(self, directory):
        self.dir = os.path.join(directory, "zkv")
        self.context = zmq.Context()
        run([os.path.join(BUILD, "zkv-cluster"), "up", "-n", "3", "--dir", self.dir])
        self.members = {}
        self.reload()
        self.probes = {name: ZkvProbe(self.context, m["client"])
                       for name, m in self.members.items()}

    def reload(self):
        self.members = read_cluster_file(os.path.join(self.dir, "cluster.zpl"))

    def pid(self, name):
        self.reload()
        return int(self.members[name]["pid"])

    def id_of(self, name):
        return int(self.members[name]["id"], 16)

    def endpoint(self, name):
        return self.members[name]["client"]

    def status(self, name, timeout_ms=100):
        return self.probes[name].status(timeout_ms)

    def put(self, name):
        return self.probes[name].put()

    def kill(self, name):
        """SIGKILL, then wait until the process is gone, or a zombie nobody
        reaps with no thread left: only then has it let go of its data
        directory (the main thread turns zombie while the others, holding
        the files they share, may still be exiting: a restart then found
        RocksDB's lock taken, with 1,000,000 keys)."""
        pid = self.pid(name)
        os.kill(pid, signal.SIGKILL)
        while True:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    zombie = f.read().rsplit(")", 1)[1].split()[0] in "ZX"
                if zombie and len(os.listdir("/proc/%d/task" % pid)) <= 1:
                    return
            except OSError:
                return
            time.sleep(0.001)

    def start(self, name):
        run([os.path.join(BUILD, "zkv-cluster"), "start", name, "--dir", self.dir])

    def loader(self, name, clients, total, workload="put", key_space=None, conns=None):
        """zkv-bench's command line: --total puts (keys 0..key_space-1 in
        turn) or linearizable gets (random keys of the key space) of
        256-byte values through member name, by --clients clients (on
        conns connections: by default one each)."""
        return [os.path.join(BUILD, "zkv-bench"), "--endpoints", self.endpoint(name),
                "--clients", str(clients), "--total", str(total), "--val-size", "256",
                "--key-space", str(key_space or total), "--json"] + (
                    ["--conns", str(conns)] if conns else []) + [workload]

    def load(self, name, clients, total):
        return json.loads(run(self.loader(name, clients, total)))

    def stop(self):
        subprocess.run([os.path.join(BUILD, "zkv-cluster"), "down", "--dir", self.dir],
                       stdout=subprocess.DEVNULL)
        self.context.destroy(linger=0)


# ---------------------------------------------------------------------------
# etcd: three etcd processes, loads through etcd-load, probes through the gateway

class EtcdProbe:
    def __init__(self, port):
        self.port, self.connection = port, None

    def post(self, path, body, timeout_ms):
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port,
                                                             timeout=timeout_ms / 1000)
            self.connection.timeout = timeout_ms / 1000
            if self.connection.sock:
                self.connection.sock.settimeout(timeout_ms / 1000)
            self.connection.request("POST", path, json.dumps(body),
                                    {"Content-Type": "application/json"})
            response = self.connection.getresponse()
            data = response.read()
            return json.loads(data) if response.status == 200 else None
        except (OSError, http.client.HTTPException, ValueError):
            if self.connection:
                self.connection.close()
            self.connection = None
            return None

    def status(self, timeout_ms=100):
        reply = self.post("/v3/maintenance/status", {}, timeout_ms)
        if not reply or "header" not in reply:
            return None
        return {"member": int(reply["header"]["member_id"]), "leader": int(reply.get("leader", 0)),
                "index": int(reply.get("raftIndex", 0)),
                "applied": int(reply.get("raftAppliedIndex", 0))}

    def put(self, timeout_ms=2000):
        body = {"key": base64.b64encode(b"bench-probe").decode(),
                "value": base64.b64encode(b"x").decode()}
        reply = self.post("/v3/kv/put", body, timeout_ms)
        return reply is not None and "header" in reply


class Etcd:
    name = "etcd"

    def __init__(self, directory):
        self.dir = os.path.join(directory, "etcd")
        os.makedirs(self.dir)
        self.ports = {n: (free_port(), free_port()) for n in ("n1", "n2", "n3")}
        initial = ",".join("%s=http://127.0.0.1:%d" % (n, p[1]) for n, p in self.ports.items())
        self.commands = {}
        for name, (client, peer) in self.ports.items():
            self.commands[name] = [
                "etcd", "--name", name, "--data-dir", os.path.join(self.dir, name),
                "--listen-client-urls", "http://127.0.0.1:%d" % client,
                "--advertise-client-urls", "http://127.0.0.1:%d" % client,
                "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
                "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
                "--initial-cluster", initial, "--initial-cluster-token", "bench",
                "--initial-cluster-state", "new", "--logger=zap", "--log-outputs=stderr"]
        self.processes = {}
        self.probes = {n: EtcdProbe(p[0]) for n, p in self.ports.items()}
        for name in self.ports:
            self.start(name)
        self.ids = {}
        for name in self.ports:
            wait_for(lambda: self.status(name) is not None, 20000, "etcd %s answers" % name)
            self.ids[name] = self.status(name)["member"]
        wait_for(lambda: leader_of(self) is not None, 20000, "etcd elects a leader")

    def id_of(self, name):
        return self.ids[name]

    def endpoint(self, name):
        return "127.0.0.1:%d" % self.ports[name][0]

    def status(self, name, timeout_ms=100):
        return self.probes[name].status(timeout_ms)

    def put(self, name):
        return self.probes[name].put()

    def start(self, name):
        with open(os.path.join(self.dir, name + ".log"), "a") as logfile:
            self.processes[name] = subprocess.Popen(self.commands[name], stdout=logfile,
                                                    stderr=logfile)

    def kill(self, name):
        self.processes[name].kill()
        self.processes[name].wait()

    def pid(self, name):
        return self.processes[name].pid

    def loader(self, name, clients, total, workload="put", key_space=None, conns=None):
        """etcd-load's command line for the same load as Zkv.loader's (its
        clients always share one connection: conns is zkv's alone)."""
        return [os.path.join(BUILD, "etcd-load"), "--endpoints", self.endpoint(name),
                "--clients", str(clients), "--total", str(total), "--val-size", "256",
                "--key-space", str(key_space or total), "--workload", workload, "--json"]

    def load(self, name, clients, total):
        return json.loads(run(self.loader(name, clients, total)))

    def stop(self):
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            process.wait()


# ---------------------------------------------------------------------------
# What both are measured with

def wait_for(condition, timeout_ms, what, system=None):
    deadline = now_ms() + timeout_ms
    while now_ms() < deadline:
        if condition():
            return
        time.sleep(0.01)
    seen = ""
    if system:
        seen = "; members say: " + ", ".join(
            "%s %s" % (name, system.status(name)) for name in ("n1", "n2", "n3"))
    raise SystemExit("bench-cluster: timed out waiting until %s%s" % (what, seen))


def leader_of(system, names=("n1", "n2", "n3")):
    """The name of the member every answering member names as leader, or None."""
    leaders = set()
    for name in names:
        status = system.status(name)
        if status:
            leaders.add(status["leader"])
    if len(leaders) != 1 or 0 in leaders:
        return None
    (leader_id,) = leaders
    for name in names:
        if system.id_of(name) == leader_id:
            return name
    return None


def settled(system):
    """A leader, and every member has applied everything the leader has."""
    leader = leader_of(system)
    if not leader:
        return None
    target = system.status(leader)
    if not target:
        return None
    for name in ("n1", "n2", "n3"):
        status = system.status(name)
        if not status or status["applied"] < target["index"]:
            return None
    return leader


def failover(system):
    """kill -9 of the leader; msecs until a survivor that leads accepts a put."""
    wait_for(lambda: settled(system), 30000, "%s settles" % system.name, system)
    old = settled(system)
    old_id = system.id_of(old)
    survivors = [n for n in ("n1", "n2", "n3") if n != old]
    start = now_ms()
    system.kill(old)
    result = None
    while now_ms() - start < 30000 and result is None:
        for name in survivors:
            status = system.status(name, 50)
            if status and status["leader"] not in (0, old_id) and status["leader"] == status["member"]:
                if system.put(name):
                    result = now_ms() - start
                    break
        time.sleep(0.005)
    system.start(old)
    return result


def restart(system):
    """kill -9 of a follower, restarted: msecs until it answers Status, and
    until it has applied everything the leader had."""
    wait_for(lambda: settled(system), 30000, "%s settles" % system.name, system)
    leader = settled(system)
    follower = next(n for n in ("n1", "n2", "n3") if n != leader)
    system.kill(follower)
    target = system.status(leader)["index"]
    start = now_ms()
    system.start(follower)
    answered = caught_up = None
    while now_ms() - start < 30000 and caught_up is None:
        status = system.status(follower, 50)
        if status:
            if answered is None:
                answered = now_ms() - start
            if status["applied"] >= target:
                caught_up = now_ms() - start
        else:
            time.sleep(0.002)
    return answered, caught_up


def machine():
    """This machine as the benchmarks name it: CPU model and core count."""
    with open("/proc/cpuinfo") as f:
        model = f.read().split("model name")[1].split(":")[1].split("\n")[0].strip()
    return "%s, %d cores" % (model, os.cpu_count())


def cpu_seconds(pids):
    """utime + stime of processes pids (all their threads, /proc/PID/stat)."""
    total = 0
    for pid in pids:
        with open("/proc/%s/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])     # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def side_by_side(prefix, keep=False):
    """A zkv and an etcd cluster of three members each, with their data in a
    new temporary directory, after a line naming the machine and etcd's
    version; both are stopped at the end, and the directory removed unless
    keep. Yields the systems and the directory."""
    directory = tempfile.mkdtemp(prefix=prefix)
    log("machine: %s; %s; data in %s" % (
        machine(), run(["etcd", "--version"]).splitlines()[0], directory))
    systems = []
    try:
        systems.append(Zkv(directory))
        systems.append(Etcd(directory))
        yield systems, directory
    finally:
        for system in systems:
            system.stop()
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="load runs per system")
    parser.add_argument("--one", type=int, default=3000, help="puts of the single client")
    parser.add_argument("--many", type=int, default=50000, help="puts of the 64 clients")
    parser.add_argument("--failovers", type=int, default=11)
    parser.add_argument("--restarts", type=int, default=7)
    parser.add_argument("--keys", type=int, default=100000, help="keys loaded before restarts")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    options = parser.parse_args()

    with side_by_side("zkv-bench-cluster-", options.keep) as (systems, _):
        results = {s.name: {"one": [], "many": [], "load": None, "failover": [], "restart": []}
                   for s in systems}
        for r in range(options.runs):
            for system in systems:
                wait_for(lambda: settled(system), 30000, "%s settles" % system.name, system)
                leader = settled(system)
                one = system.load(leader, 1, options.one)
                many = system.load(leader, 64, options.many)
                results[system.name]["one"].append(one)
                results[system.name]["many"].append(many)
                log("%-4s run %d: 1 client p50 %.3f ms p99 %.3f ms (%.0f/s); "
                    "64 clients %.0f puts/s p50 %.3f ms p99 %.3f ms%s" % (
                        system.name, r + 1, one["latency_ms"]["p50"], one["latency_ms"]["p99"],
                        one["throughput"], many["throughput"], many["latency_ms"]["p50"],
                        many["latency_ms"]["p99"],
                        " (errors %d)" % (one["errors"] + many["errors"])
                        if one["errors"] + many["errors"] else ""))
        for system in systems:
            wait_for(lambda: settled(system), 30000, "%s settles" % system.name, system)
            loaded = system.load(settled(system), 64, options.keys)
            results[system.name]["load"] = loaded
            log("%-4s loaded %d keys: %.0f puts/s" % (system.name, options.keys,
                                                      loaded["throughput"]))
        for t in range(options.failovers):
            for system in systems:
                took = failover(system)
                results[system.name]["failover"].append(took)
                log("%-4s failover %d: new leader serving writes after %s ms" % (
                    system.name, t + 1, "%.0f" % took if took is not None else "(none)"))
        for t in range(options.restarts):
            for system in systems:
                answered, caught_up = restart(system)
                results[system.name]["restart"].append((answered, caught_up))
                log("%-4s restart %d: Status after %.0f ms, caught up after %.0f ms" % (
                    system.name, t + 1, answered or float("nan"), caught_up or float("nan")))

        log("\nsummary (medians)")
        log("%-40s %12s %12s" % ("", "zkv", "etcd"))
        rows = [
            ("1 client put p50 (ms)", lambda x: median([o["latency_ms"]["p50"] for o in x["one"]]),
             "%.3f"),
            ("1 client put p99 (ms)", lambda x: median([o["latency_ms"]["p99"] for o in x["one"]]),
             "%.3f"),
            ("64 clients puts/s", lambda x: median([m["throughput"] for m in x["many"]]), "%.0f"),
            ("64 clients p99 (ms)", lambda x: median([m["latency_ms"]["p99"] for m in x["many"]]),
             "%.2f"),
            ("leader kill -9 -> writes (ms)", lambda x: median(x["failover"]), "%.0f"),
            ("leader kill -9 -> writes, max (ms)",
             lambda x: max([v for v in x["failover"] if v is not None] or [float("nan")]), "%.0f"),
            ("restart %dk keys -> Status (ms)" % (options.keys // 1000),
             lambda x: median([a for a, _ in x["restart"]]), "%.0f"),
            ("restart %dk keys -> caught up (ms)" % (options.keys // 1000),
             lambda x: median([c for _, c in x["restart"]]), "%.0f"),
        ]
        for label, get, form in rows:
            log("%-40s %12s %12s" % (label, form % get(results["zkv"]), form % get(results["etcd"])))


if __name__ == "__main__":
    main()
