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
  replace    a member (the leader half the time) replaced by a fresh one in
             one joint change (zkv-cluster replace)
  replace-leader  the same, always the leader
  churn      a member (the leader half the time) removed, then a fresh one
             added as a learner and promoted once in sync, by the leader
             (--auto-promote) or by promote asked again until it is

A membership fault runs, 30 % of the time, with a member killed first (the
one it replaces or removes, or another; --change-kills replaced: that one
only, as when replacing a failed member; none: no kill): the change must
keep a quorum, or be refused, and a refusal is a fault note, not a failure.
(Never with a member paused or cut off: zkv-cluster sends a change once
every running member answers and agrees on the leader.) Fresh members are
named n4, n5, ... (never a name used before). The clients follow the
membership: after each change the cluster file is read again, the sockets
of members gone are dropped, new members get clients. Healing reconciles
the cluster file with the cluster's member list (a learner left by a change
that stopped half-way is promoted, or removed; fresh members are added back
up to the voters the run started with).

Every operation is recorded with its invoke and complete times (one
monotonic clock), its outcome (ok, fail: definitely not applied, unknown:
perhaps applied) and what the member answered (header revision, the kv read,
...). When the time is up the clients stop, every fault is healed, the
members must converge (the same applied revision everywhere), and each
member's final data and HashKV join the history (the members at the end,
whoever they are). The history goes to
DIR/history.jsonl and the checker reads it.

Exit codes: 0 nothing found; 1 a violation (the checker's report, with the
seed to repeat the run) or members that do not converge; 2 the cluster
could not be set up.

usage: tools/fault-workload [--seconds S] [--seed N] [--members 3|5]
           [--clients C] [--keys K] [--faults kill,pause,...]
           [--change-kills any|replaced|none] [--node PATH] [--dir D] [--keep]
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
          "snapshot", "replace", "replace-leader", "churn")
CLIENT_TIMEOUT_S = 3.0
CHANGE_TIMEOUT_MS = 30000       # zkv-cluster's bound on one membership command
KILL_DURING_CHANGE = 0.3        # how often a membership fault runs with a member killed
MEMBER_FLAGS = ["--snapshot-count", "300", "--request-timeout", "2000"]

#  Errors that prove a write was not applied: refused before raft took it,
#  or refused at apply (an alarm). Any other error leaves the outcome unknown.
DEFINITE_FAILURES = (
    "etcdserver: no leader",
    "raft proposal dropped",
    "etcdserver: too many requests",
    "etcdserver: mvcc: database space exceeded",
    "etcdserver: corrupt cluster",
    "etcdserver: rpc not supported for learner",
    "etcdserver: the member has been permanently removed from the cluster",
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
        self.endpoints = {}             # the membership this client follows: name -> endpoint
        self.seen = {}                  # key -> last value this client saw

    def follow(self, endpoints):
        """Takes the workload's membership: the sockets of members gone
        (or moved) are dropped; new members get theirs when first used"""
        for name in list(self.sockets):
            if endpoints.get(name) != self.endpoints.get(name):
                self.sockets.pop(name).close()
        self.endpoints = endpoints

    def socket(self, name):
        if name not in self.sockets:
            socket = self.workload.context.socket(zmq.DEALER)
            socket.setsockopt(zmq.LINGER, 0)
            socket.connect(self.endpoints[name])
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
            names, endpoints = workload.view
            if endpoints is not self.endpoints:
                self.follow(endpoints)
            member = self.random.choice(names)
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
    undone; everything recorded as fault records in the history.

    The membership faults change who the members are: the cluster file
    follows (zkv-cluster), and the nemesis makes the clients follow it
    (Workload.follow). After a change, healing also reconciles the cluster
    file with the cluster's own member list: a learner left by a change that
    stopped half-way is promoted (removed, when the voters are complete),
    a member the cluster no longer has is a ghost (no client, no fault, no final check), one the file does not know
    (added, never started) is removed, and fresh members are added until
    the cluster has as many voters as it started with."""

    def __init__(self, workload, faults, change_kills="any"):
        super().__init__(daemon=True)
        self.workload, self.faults, self.change_kills = workload, faults, change_kills
        self.random = random.Random(workload.seed)
        self.cluster = workload.cluster
        self.counts = {}
        self.changes = {"done": 0, "refused": 0}
        self.down, self.paused, self.cut = set(), set(), False
        self.ghosts = set()
        self.voters = len(self.cluster.names())     # what reconcile() restores
        self.number = self.voters                   # the last nK given
        self.changed = False                        # reconcile() due
        self.snapshots = 0
        self.error = None

    def note(self, what):
        self.workload.history.append({"type": "fault", "at": now_ns(), "what": what})

    def names(self):
        """The members in the cluster file, ghosts left out"""
        return [name for name in self.cluster.names() if name not in self.ghosts]

    def leader(self):
        """The leader's name as some member sees it, or None"""
        for name in self.names():
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
        return leader or self.random.choice(self.names())

    def groups(self):
        names = self.names()
        self.random.shuffle(names)
        minority = len(names) // 2
        return names[minority:], names[:minority]

    def run(self):
        try:
            while not self.workload.stopping.wait(self.random.uniform(0.5, 2.0)):
                fault = self.random.choice(self.faults)
                self.counts[fault] = self.counts.get(fault, 0) + 1
                getattr(self, "fault_" + fault.replace("-", "_"))()
                self.workload.stopping.wait(self.random.uniform(1.0, 3.0))
                self.heal()
        except Exception as error:      # the run is void: say why
            self.error = error
            self.workload.stopping.set()

    def heal(self):
        """Undoes whatever fault is in place; after a membership change,
        reconciles. A killed member that does not start again may have
        been removed by a change whose answer was lost: it is started
        again after reconciling, unless it turned out a ghost."""
        for name in sorted(self.paused - self.ghosts):
            self.cluster.cluster("resume", name)
            self.note("resume " + name)
        self.paused.clear()
        failed = []
        for name in sorted(self.down - self.ghosts):
            result = self.cluster.cluster("start", name, check=False)
            self.note("start %s%s" % (name, "" if result.returncode == 0 else
                                      ": failed: " + result.stdout.strip()[-200:]))
            if result.returncode:
                failed.append(name)
        self.down.clear()
        if self.cut:
            self.cluster.cluster("heal")
            self.note("heal")
            self.cut = False
        if self.changed or failed:
            self.reconcile()
        for name in failed:
            if name in self.cluster.members and name not in self.ghosts:
                self.cluster.cluster("start", name)
                self.note("start " + name)

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
        name = self.leader() or self.random.choice(self.names())
        self.note("isolate " + name)
        self.cluster.cluster("isolate", name)
        self.cut = True

    def fault_moves(self):
        for _ in range(self.random.randint(3, 6)):
            target = self.random.choice(self.names())
            result = self.cluster.zkvctl("move-leader", target)
            self.note("move-leader %s: %s" % (target, result.stdout.strip()[:80]))

    def fault_defrag(self):
        if self.random.random() < 0.5:
            self.note("defrag --cluster")
            result = self.cluster.zkvctl("defrag", "--cluster")
        else:
            name = self.random.choice(self.names())
            self.note("defrag " + name)
            result = self.cluster.tool(os.path.join(self.cluster.build, "zkvctl"),
                                       "--endpoints", self.cluster.members[name]["client"],
                                       "defrag", check=False)
        self.note("defrag done: %s" % result.stdout.strip()[:80])

    def fault_compact(self):
        name = self.random.choice(self.names())
        reply = call(self.workload.context, self.cluster.members[name]["client"],
                     {"op": "status"}, 1.0)
        if not reply or "error" in reply:
            return
        revision = reply["header"]["revision"] - self.random.randint(10, 200)
        if revision > 1:
            result = self.cluster.zkvctl("compact", str(revision))
            self.note("compact %d: %s" % (revision, result.stdout.strip()[:80]))

    def fault_snapshot(self):
        name = self.random.choice(self.names())
        self.snapshots += 1
        path = os.path.join(self.cluster.dir, "snapshot-%d.db" % self.snapshots)
        self.note("snapshot save " + name)
        result = self.cluster.tool(os.path.join(self.cluster.build, "zkvctl"),
                                   "--endpoints", self.cluster.members[name]["client"],
                                   "snapshot", "save", path, check=False)
        self.note("snapshot done: %s" % result.stdout.strip()[:80])
        if os.path.exists(path):
            os.remove(path)

    # ------------------------------------------------------------ membership

    def fault_replace(self, name=None):
        """Replaces a member (the leader half the time) by a fresh one in
        one joint change (zkv-cluster replace: a learner, in sync, then
        promoted with the old one removed); sometimes with a member killed
        first: the one replaced (replacing a failed member) or another"""
        name = name or self.victim()
        self.kill_during_change(name, self.random.random() < 0.5)
        self.change("replace", name, "--name", self.fresh_name())

    def fault_replace_leader(self):
        """Replaces the leader, sometimes with another member killed"""
        name = self.leader()
        if name is None:
            self.note("replace-leader: no leader now")
            return
        self.kill_during_change(name, False)
        self.change("replace", name, "--name", self.fresh_name())

    def fault_churn(self):
        """Removes a member (the leader half the time), then adds a fresh one
        as a learner that is promoted under load once in sync: by the
        leader itself (--auto-promote) or by promote, asked again while
        the learner is not in sync; sometimes with a member killed first:
        the one removed or another"""
        name = self.victim()
        self.kill_during_change(name, self.random.random() < 0.5)
        if not self.change("remove", name):
            return
        new = self.fresh_name()
        if self.random.random() < 0.5:
            self.change("add", new, "--auto-promote")
        elif self.change("add", new):
            self.change("promote", new)

    def kill_during_change(self, target, itself):
        """Sometimes (KILL_DURING_CHANGE) kills target (itself) or another
        member before a membership change, and waits 0-2 s (the leader
        counts a voter up for an election timeout after it last heard
        from it): the change must keep a quorum, or be refused. With
        --change-kills replaced always target, with none nobody."""
        if self.random.random() >= KILL_DURING_CHANGE or self.change_kills == "none":
            return
        itself = itself or self.change_kills == "replaced"
        others = [name for name in self.names() if name != target]
        name = target if itself or not others else self.random.choice(others)
        self.counts["kill-during-change"] = self.counts.get("kill-during-change", 0) + 1
        self.note("kill %s (before a membership change of %s)" % (name, target))
        self.cluster.cluster("kill", name)
        self.down.add(name)
        self.workload.stopping.wait(self.random.uniform(0.0, 2.0))

    def fresh_name(self):
        """nK, K above every name given so far (and no data of that name)"""
        while True:
            self.number += 1
            name = "n%d" % self.number
            if name not in self.cluster.members and \
               not os.path.exists(os.path.join(self.cluster.dir, name)):
                return name

    def change(self, command, name, *flags):
        """zkv-cluster add | remove | promote | replace NAME: noted with its
        outcome (a refusal is one: the server refuses a change that would
        leave no quorum); the clients follow the cluster file after it.
        True if it succeeded."""
        what = " ".join((command, name) + flags)
        self.note(what)
        self.changed = True
        result = self.cluster.cluster(command, name, *flags, "--timeout",
                                      str(CHANGE_TIMEOUT_MS), check=False)
        lines = result.stdout.strip().splitlines() or ["(nothing said)"]
        if result.returncode == 0:
            self.changes["done"] += 1
            self.note("%s: %s" % (what, lines[0]))
        else:
            self.changes["refused"] += 1
            errors = [line for line in lines if line.startswith("Error")]
            self.note("%s: not done (exit %d): %s" % (what, result.returncode,
                                                        (errors or lines)[-1][:200]))
        self.follow()
        return result.returncode == 0

    def follow(self):
        """Reads the cluster file again; the clients follow it"""
        self.cluster.reload()
        members = set(self.cluster.members)
        self.ghosts &= members
        self.down &= members
        self.paused &= members
        self.workload.follow(self.ghosts)

    def member_list(self):
        """The cluster's members (linearizable: as the leader has them
        applied), asked of running members in turn for up to 10 s; None
        if no member answers"""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for name in self.names():
                if name in self.down or name in self.paused:
                    continue
                reply = call(self.workload.context, self.cluster.members[name]["client"],
                             {"op": "member_list", "linearizable": True}, 2.0)
                if reply and "error" not in reply:
                    return reply.get("members", [])
            time.sleep(0.2)
        return None

    def reconcile(self):
        """The cluster file against the cluster's member list, after
        membership changes: ghosts left out, strangers removed, learners
        promoted, fresh members added up to the voters the run started
        with. Every step noted; a step that fails waits for the next heal."""
        self.follow()
        members = self.member_list()
        if members is None:
            self.note("reconcile: no member answers member_list; later")
            return
        listed = {member["member_id"]: member for member in members}
        known = {int(self.cluster.members[name]["id"], 16): name
                 for name in self.cluster.names() if self.cluster.members[name].get("id")}
        for member_id, name in known.items():
            if member_id not in listed and name not in self.ghosts:
                self.ghosts.add(name)
                self.note("reconcile: %s is no member any more (ghost)" % name)
                self.cluster.cluster("kill", name, check=False)   # if it still runs
        for member_id in listed:
            if member_id not in known:
                result = self.cluster.zkvctl("member", "remove", "%016x" % member_id)
                self.note("reconcile: member %016x, unknown to the cluster file, removed: %s"
                          % (member_id, result.stdout.strip()[:120]))
        voters = [member_id for member_id, member in listed.items()
                  if member_id in known and known[member_id] not in self.ghosts
                  and not member.get("is_learner")]
        learners = [known[member_id] for member_id, member in sorted(listed.items())
                    if member_id in known and known[member_id] not in self.ghosts
                    and member.get("is_learner")]
        count, done = len(voters), True
        for name in learners:
            if count < self.voters:
                done = self.change("promote", name) and done
                count += 1 if done else 0
            else:
                done = self.change("remove", name) and done
        while done and count < self.voters:
            done = self.change("add", self.fresh_name(), "--auto-promote")
            count += 1 if done else 0
        self.workload.follow(self.ghosts)
        self.changed = not done


class Workload:
    def __init__(self, args, cluster):
        self.seed, self.keys = args.seed, args.keys
        self.cluster = cluster
        self.context = zmq.Context()
        self.history = []               # list.append is atomic: threads share it
        self.stopping = threading.Event()
        self.follow(set())

    def follow(self, ghosts):
        """The membership the clients use from now on: the cluster file's
        members but ghosts (removed from the cluster, still in the file),
        as one (names, endpoints) pair that the clients take whole"""
        members = self.cluster.members
        names = [name for name in sorted(members) if name not in ghosts]
        self.view = (names, {name: members[name]["client"] for name in names})

    def final_state(self):
        """Waits until every member has applied the same revision, then
        records each one's keys and HashKV; False if they never agree
        (self.apart then says what each member last answered)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            revisions, self.apart = {}, []
            names, endpoints = self.view
            for name in names:
                reply = call(self.context, endpoints[name],
                             {"op": "range", "key": b"k", "range_end": b"l",
                              "serializable": True}, 2.0)
                if reply and "error" not in reply:
                    revisions[name] = reply
                status = call(self.context, endpoints[name], {"op": "status"}, 1.0) or {}
                self.apart.append("%s %s (%s, raft applied %s)" % (
                    name, "rev %d" % reply["header"]["revision"] if name in revisions else
                    error_text(reply) or "no answer", status.get("role", "no status"),
                    status.get("raft_applied_index", "?")))
            if len(revisions) == len(names) and \
               len({r["header"]["revision"] for r in revisions.values()}) == 1:
                for name, reply in sorted(revisions.items()):
                    revision = reply["header"]["revision"]
                    hashed = call(self.context, endpoints[name],
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
    parser.add_argument("--change-kills", choices=("any", "replaced", "none"), default="any",
                        help="the member killed before a membership fault, 30%% of the time: "
                        "any (the one replaced or removed, or another), replaced (that one "
                        "only), none (no kill)")
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
    nemesis = Nemesis(workload, faults, args.change_kills)
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
    meta = {"type": "meta", "seed": args.seed, "members": workload.view[0], "started": started,
            "seconds": args.seconds, "clients": args.clients, "keys": args.keys,
            "faults": nemesis.counts, "changes": nemesis.changes, "node": node}
    count = workload.write(history, meta)
    log("%d ops, faults %s, membership changes %d done, %d not (refused or failed), "
        "members at the end %s; history in %s" % (
            count, json.dumps(nemesis.counts), nemesis.changes["done"],
            nemesis.changes["refused"], ",".join(workload.view[0]), history))
    if not converged:
        log("VIOLATION: the members did not converge within 60 s after healing: %s "
            "(seed %d: rerun with --seed %d)" % ("; ".join(workload.apart), args.seed,
                                                 args.seed))
        return 1
    checked = subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "zkv_linearizable.py"),
                              history])
    if checked.returncode == 0 and not args.keep and not args.dir:
        shutil.rmtree(directory, ignore_errors=True)
    return checked.returncode


if __name__ == "__main__":
    sys.exit(main())
