"""tests/workload/zkv_workload.py — the fault-injection workload: many clients, a
nemesis, a recorded history, and the checker (tests/workload/zkv_linearizable.py) at the end.
Run it through tools/fault-workload, which builds what it needs.

A cluster of real zkv-node processes (zkv-cluster up) serves concurrent
clients doing puts of unique values, gets (linearizable and serializable),
deletes and compare-and-swap txns on a few keys, each request to a member
picked at random, while a nemesis draws faults from a seeded schedule:

  kill       kill -9 of a member (the leader half the time), restarted later
  pause      SIGSTOP of a member (the leader half the time), SIGCONT later
  partition  the members cut into a majority and a minority, healed later
  oneway     the same, one direction only
  isolate    the leader cut off from everyone, healed later
  moves      a storm of 3 to 6 MoveLeader requests to random members
  defrag     Defragment of a member, or of every member
  compact    compaction at a recent revision
  snapshot   a snapshot saved from a member

Every operation is recorded with its invoke and complete times (one
monotonic clock), its outcome (ok, fail: definitely not applied, unknown:
perhaps applied) and what the member answered (header revision, the kv read,
...). When the time is up the clients stop, every fault is healed, the
members must converge (the same applied revision everywhere), and each
member's final data and HashKV join the history. The history goes to
DIR/history.jsonl and the checker reads it.

Exit codes: 0 nothing found; 1 a violation (the checker's report, with the
seed to repeat the run) or members that do not converge; 2 the cluster
could not be set up.

usage: tools/fault-workload [--seconds S] [--seed N] [--members 3|5]
           [--clients C] [--keys K] [--faults kill,pause,...] [--node PATH]
           [--dir D] [--keep]
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import msgpack
import zmq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#  the cluster file's reader is the benchmarks' (tools/bench/bench_cluster.py)
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))
from bench_cluster import read_cluster_file  # noqa: E402
FAULTS = ("kill", "pause", "partition", "oneway", "isolate", "moves", "defrag", "compact",
          "snapshot")
CLIENT_TIMEOUT_S = 3.0
MEMBER_FLAGS = ["--snapshot-count", "300", "--request-timeout", "2000"]

#  Errors that prove a write was not applied: refused before raft took it,
#  or refused at apply (an alarm). Any other error leaves the outcome unknown.
DEFINITE_FAILURES = (
    "etcdserver: no leader",
    "raft proposal dropped",
    "etcdserver: too many requests",
    "etcdserver: mvcc: database space exceeded",
    "etcdserver: corrupt cluster",
)


def now_ns():
    return time.monotonic_ns()


def log(text):
    print("fault-workload: " + text, flush=True)


class Cluster:
    """The cluster through zkv-cluster and zkvctl, plus one-shot requests."""

    def __init__(self, directory, node, build):
        self.dir, self.node, self.build = directory, node, build
        self.file = os.path.join(directory, "cluster.zpl")
        self.members = {}

    def tool(self, *argv, check=True, timeout=120):
        result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError("%s failed: %s" % (" ".join(argv), result.stdout.strip()))
        return result

    def cluster(self, *args, check=True):
        return self.tool(os.path.join(self.build, "zkv-cluster"), args[0], "--dir", self.dir,
                         *args[1:], check=check)

    def zkvctl(self, *args):
        return self.tool(os.path.join(self.build, "zkvctl"), "--cluster-file", self.file,
                         "--command-timeout", "5s", *args, check=False)

    def up(self, size):
        self.cluster("up", "-n", str(size), "--node", self.node, "--", *MEMBER_FLAGS)
        self.reload()

    def reload(self):
        self.members = read_cluster_file(self.file)

    def names(self):
        return sorted(self.members)

    def name_of(self, member_id):
        for name, member in self.members.items():
            if int(member["id"], 16) == member_id:
                return name
        return None

    def down(self):
        self.cluster("down", check=False)


def call(context, endpoint, request, timeout_s):
    """One request on a fresh DEALER; the reply map, or None after timeout_s."""
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    try:
        socket.connect(endpoint)
        request["id"] = 1
        socket.send(msgpack.packb(request))
        if socket.poll(int(timeout_s * 1000)):
            return msgpack.unpackb(socket.recv())
        return None
    finally:
        socket.close()


def error_text(reply):
    return reply["error"]["message"] if reply and "error" in reply else None


class Client(threading.Thread):
    """One client: random ops on random keys through random members, each
    recorded; a DEALER per member, dropped after a timeout so that a late
    reply is never taken for the next one."""

    def __init__(self, number, workload):
        super().__init__(daemon=True)
        self.number, self.workload = number, workload
        self.random = random.Random(workload.seed * 1000 + number)
        self.sockets, self.next_id, self.seq = {}, 1, 0
        self.seen = {}                  # key -> last value this client saw

    def socket(self, name):
        if name not in self.sockets:
            socket = self.workload.context.socket(zmq.DEALER)
            socket.setsockopt(zmq.LINGER, 0)
            socket.connect(self.workload.cluster.members[name]["client"])
            self.sockets[name] = socket
        return self.sockets[name]

    def request(self, name, request):
        """Sends, waits; the reply, or None after the timeout (socket dropped)"""
        socket = self.socket(name)
        request["id"] = self.next_id
        self.next_id += 1
        socket.send(msgpack.packb(request))
        deadline = time.monotonic() + CLIENT_TIMEOUT_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not socket.poll(max(1, int(left * 1000))):
                socket.close()
                del self.sockets[name]
                return None
            reply = msgpack.unpackb(socket.recv())
            if reply.get("id") == request["id"]:
                return reply

    def run(self):
        workload = self.workload
        while not workload.stopping.is_set():
            key = "k%02d" % self.random.randrange(workload.keys)
            member = self.random.choice(workload.names)
            roll = self.random.random()
            if roll < 0.30:
                self.put(member, key)
            elif roll < 0.55:
                self.get(member, key, serializable=False)
            elif roll < 0.65:
                self.get(member, key, serializable=True)
            elif roll < 0.75:
                self.delete(member, key)
            else:
                self.cas(member, key)
        for socket in self.sockets.values():
            socket.close()

    def unique(self):
        self.seq += 1
        return "c%d-%d" % (self.number, self.seq)

    def record(self, op, reply, write):
        """Completes op from the reply; returns True when it succeeded"""
        op["complete"] = now_ns()
        error = error_text(reply)
        if reply is None:
            op["outcome"], op["error"] = "unknown", "no reply in %.0f s" % CLIENT_TIMEOUT_S
        elif error is not None:
            definite = not write or error.startswith(DEFINITE_FAILURES)
            op["outcome"], op["error"] = ("fail" if definite else "unknown"), error
        else:
            op["outcome"], op["rev"] = "ok", reply["header"]["revision"]
        self.workload.history.append(op)
        return op["outcome"] == "ok"

    def begin(self, member, f, key, **fields):
        op = {"type": "op", "client": self.number, "member": member, "f": f, "key": key}
        op.update(fields)
        op["invoke"] = now_ns()
        return op

    def put(self, member, key):
        value = self.unique()
        op = self.begin(member, "put", key, value=value)
        reply = self.request(member, {"op": "put", "key": key.encode(), "value": value.encode()})
        if self.record(op, reply, write=True):
            self.seen[key] = value

    def get(self, member, key, serializable):
        op = self.begin(member, "get", key, serializable=serializable)
        reply = self.request(member, {"op": "range", "key": key.encode(),
                                      "serializable": serializable})
        if self.record(op, reply, write=False):
            kvs = reply.get("kvs", [])
            op["found"] = ({"value": kvs[0]["value"].decode(), "mod": kvs[0]["mod_revision"]}
                           if kvs else None)
            if kvs:
                self.seen[key] = op["found"]["value"]
            else:
                self.seen.pop(key, None)

    def delete(self, member, key):
        op = self.begin(member, "del", key)
        reply = self.request(member, {"op": "delete_range", "key": key.encode()})
        if self.record(op, reply, write=True):
            op["deleted"] = reply.get("deleted", 0)
            self.seen.pop(key, None)

    def cas(self, member, key):
        """txn: if value(key) == what this client last saw, put a new value"""
        expect, value = self.seen.get(key, "none"), self.unique()
        op = self.begin(member, "cas", key, expect=expect, value=value)
        reply = self.request(member, {
            "op": "txn",
            "compare": [{"result": "EQUAL", "target": "VALUE", "key": key.encode(),
                         "value": expect.encode()}],
            "success": [{"request_put": {"key": key.encode(), "value": value.encode()}}],
            "failure": []})
        if self.record(op, reply, write=True):
            op["succeeded"] = bool(reply.get("succeeded"))
            if op["succeeded"]:
                self.seen[key] = value


class Nemesis(threading.Thread):
    """Faults on a seeded schedule: one at a time, each held a while, then
    undone; everything recorded as fault records in the history."""

    def __init__(self, workload, faults):
        super().__init__(daemon=True)
        self.workload, self.faults = workload, faults
        self.random = random.Random(workload.seed)
        self.cluster = workload.cluster
        self.counts = {}
        self.down, self.paused, self.cut = set(), set(), False
        self.snapshots = 0
        self.error = None

    def note(self, what):
        self.workload.history.append({"type": "fault", "at": now_ns(), "what": what})

    def leader(self):
        """The leader's name as some member sees it, or None"""
        for name in self.cluster.names():
            if name in self.down or name in self.paused:
                continue
            reply = call(self.workload.context, self.cluster.members[name]["client"],
                         {"op": "status"}, 0.5)
            if reply and "error" not in reply and reply.get("leader"):
                return self.cluster.name_of(reply["leader"])
        return None

    def victim(self):
        """The leader half the time, else any member"""
        leader = self.leader() if self.random.random() < 0.5 else None
        return leader or self.random.choice(self.cluster.names())

    def groups(self):
        names = self.cluster.names()
        self.random.shuffle(names)
        minority = len(names) // 2
        return names[minority:], names[:minority]

    def run(self):
        try:
            while not self.workload.stopping.wait(self.random.uniform(0.5, 2.0)):
                fault = self.random.choice(self.faults)
                self.counts[fault] = self.counts.get(fault, 0) + 1
                getattr(self, "fault_" + fault)()
                self.workload.stopping.wait(self.random.uniform(1.0, 3.0))
                self.heal()
        except Exception as error:      # the run is void: say why
            self.error = error
            self.workload.stopping.set()

    def heal(self):
        """Undoes whatever fault is in place"""
        for name in sorted(self.paused):
            self.cluster.cluster("resume", name)
            self.note("resume " + name)
        self.paused.clear()
        for name in sorted(self.down):
            self.cluster.cluster("start", name)
            self.note("start " + name)
        self.down.clear()
        if self.cut:
            self.cluster.cluster("heal")
            self.note("heal")
            self.cut = False

    def fault_kill(self):
        name = self.victim()
        self.note("kill " + name)
        self.cluster.cluster("kill", name)
        self.down.add(name)

    def fault_pause(self):
        name = self.victim()
        self.note("pause " + name)
        self.cluster.cluster("pause", name)
        self.paused.add(name)

    def fault_partition(self, oneway=False):
        majority, minority = self.groups()
        spec = ",".join(majority) + "|" + ",".join(minority)
        self.note("partition %s%s" % (spec, " oneway" if oneway else ""))
        self.cluster.cluster("partition", spec, *(["--oneway"] if oneway else []))
        self.cut = True

    def fault_oneway(self):
        self.fault_partition(oneway=True)

    def fault_isolate(self):
        name = self.leader() or self.random.choice(self.cluster.names())
        self.note("isolate " + name)
        self.cluster.cluster("isolate", name)
        self.cut = True

    def fault_moves(self):
        for _ in range(self.random.randint(3, 6)):
            target = self.random.choice(self.cluster.names())
            result = self.cluster.zkvctl("move-leader", target)
            self.note("move-leader %s: %s" % (target, result.stdout.strip()[:80]))

    def fault_defrag(self):
        if self.random.random() < 0.5:
            self.note("defrag --cluster")
            result = self.cluster.zkvctl("defrag", "--cluster")
        else:
            name = self.random.choice(self.cluster.names())
            self.note("defrag " + name)
            result = self.cluster.tool(os.path.join(self.cluster.build, "zkvctl"),
                                       "--endpoints", self.cluster.members[name]["client"],
                                       "defrag", check=False)
        self.note("defrag done: %s" % result.stdout.strip()[:80])

    def fault_compact(self):
        name = self.random.choice(self.cluster.names())
        reply = call(self.workload.context, self.cluster.members[name]["client"],
                     {"op": "status"}, 1.0)
        if not reply or "error" in reply:
            return
        revision = reply["header"]["revision"] - self.random.randint(10, 200)
        if revision > 1:
            result = self.cluster.zkvctl("compact", str(revision))
            self.note("compact %d: %s" % (revision, result.stdout.strip()[:80]))

    def fault_snapshot(self):
        name = self.random.choice(self.cluster.names())
        self.snapshots += 1
        path = os.path.join(self.cluster.dir, "snapshot-%d.db" % self.snapshots)
        self.note("snapshot save " + name)
        result = self.cluster.tool(os.path.join(self.cluster.build, "zkvctl"),
                                   "--endpoints", self.cluster.members[name]["client"],
                                   "snapshot", "save", path, check=False)
        self.note("snapshot done: %s" % result.stdout.strip()[:80])
        if os.path.exists(path):
            os.remove(path)


class Workload:
    def __init__(self, args, cluster):
        self.seed, self.keys = args.seed, args.keys
        self.cluster = cluster
        self.context = zmq.Context()
        self.history = []               # list.append is atomic: threads share it
        self.stopping = threading.Event()
        self.names = cluster.names()

    def final_state(self):
        """Waits until every member has applied the same revision, then
        records each one's keys and HashKV; False if they never agree."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            revisions = {}
            for name in self.names:
                reply = call(self.context, self.cluster.members[name]["client"],
                             {"op": "range", "key": b"k", "range_end": b"l",
                              "serializable": True}, 2.0)
                if reply and "error" not in reply:
                    revisions[name] = reply
            if len(revisions) == len(self.names) and \
               len({r["header"]["revision"] for r in revisions.values()}) == 1:
                for name, reply in sorted(revisions.items()):
                    revision = reply["header"]["revision"]
                    hashed = call(self.context, self.cluster.members[name]["client"],
                                  {"op": "hash_kv", "revision": revision}, 10.0) or {}
                    self.history.append({
                        "type": "final", "member": name, "rev": revision,
                        "kvs": {kv["key"].decode(): {"value": kv["value"].decode(),
                                                     "mod": kv["mod_revision"]}
                                for kv in reply.get("kvs", [])},
                        "hashkv": hashed.get("hash"),
                        "hash_revision": hashed.get("header", {}).get("revision"),
                        "compact_revision": hashed.get("compact_revision")})
                return True
            time.sleep(0.2)
        return False

    def write(self, path, meta):
        ops = [record for record in self.history if record["type"] == "op"]
        ops.sort(key=lambda op: op["invoke"])
        for index, op in enumerate(ops):
            op["index"] = index
        others = [record for record in self.history if record["type"] != "op"]
        with open(path, "w") as f:
            f.write(json.dumps(meta) + "\n")
            for record in ops + others:
                f.write(json.dumps(record) + "\n")
        return len(ops)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--keys", type=int, default=12)
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--node", default=None, help="zkv-node to run (default: build/zkv-node)")
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--dir", default=None, help="cluster directory (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the directory")
    args = parser.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 1 << 31)
    faults = [fault for fault in args.faults.split(",") if fault]
    unknown = [fault for fault in faults if fault not in FAULTS]
    if unknown or not faults:
        parser.error("unknown faults %s (known: %s)" % (unknown, ",".join(FAULTS)))
    node = args.node or os.path.join(args.build, "zkv-node")
    directory = args.dir or tempfile.mkdtemp(prefix="zkv-workload-")
    os.makedirs(directory, exist_ok=True)
    cluster = Cluster(os.path.join(directory, "cluster"), node, args.build)
    log("seed %d, %d members, %d clients, %d keys, %.0f s, faults %s, in %s"
        % (args.seed, args.members, args.clients, args.keys, args.seconds, ",".join(faults),
           directory))
    try:
        cluster.up(args.members)
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        log("cannot start the cluster: %s" % error)
        return 2
    workload = Workload(args, cluster)
    nemesis = Nemesis(workload, faults)
    clients = [Client(number, workload) for number in range(1, args.clients + 1)]
    started = now_ns()
    try:
        for thread in clients + [nemesis]:
            thread.start()
        workload.stopping.wait(args.seconds)
        workload.stopping.set()
        for thread in clients + [nemesis]:
            thread.join()
        if nemesis.error:
            log("the nemesis failed: %s" % nemesis.error)
            return 2
        nemesis.heal()
        converged = workload.final_state()
    finally:
        cluster.down()
        workload.context.destroy(linger=0)
    history = os.path.join(directory, "history.jsonl")
    meta = {"type": "meta", "seed": args.seed, "members": cluster.names(), "started": started,
            "seconds": args.seconds, "clients": args.clients, "keys": args.keys,
            "faults": nemesis.counts, "node": node}
    count = workload.write(history, meta)
    log("%d ops, faults %s; history in %s" % (count, json.dumps(nemesis.counts), history))
    if not converged:
        log("VIOLATION: the members did not converge within 60 s after healing "
            "(seed %d: rerun with --seed %d)" % (args.seed, args.seed))
        return 1
    checked = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "zkv_linearizable.py"),
                              history])
    if checked.returncode == 0 and not args.keep and not args.dir:
        shutil.rmtree(directory, ignore_errors=True)
    return checked.returncode


if __name__ == "__main__":
    sys.exit(main())
