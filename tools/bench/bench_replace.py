"""tools/bench/bench_replace.py — replacing a member of a 3-member cluster holding 1M keys,
zkv beside etcd 3.4, on this machine. Run it through tools/bench/bench-replace, which
installs and builds what it needs.

Starts a 3-member zkv cluster (zkv-cluster up, default flags) and a 3-member etcd
cluster (Debian's etcd-server, default flags: bench_cluster.py), both on loopback
with their data in one temporary directory, loads --keys keys into each (16-byte
keys, 256-byte values, 64 clients: zkv-bench and etcd-load), then replaces a
follower --runs times in each, the systems interleaved (zkv first in odd runs,
etcd first in even ones) so that the machine's noise falls on both. The old
member is alive (a planned replacement): etcd 3.4 refuses to add even a learner
while a voter is unreachable ("etcdserver: unhealthy cluster"), so its add-first
procedure cannot replace a dead member at all.

One trial, the same for both systems:

  1. a writer starts against the leader: zkv-bench / etcd-load (etcd's Go
     client) --rate R --clients 8 put, paced and open loop (request i is due at
     start + i/R, its latency counts from then, so a stall counts against every
     put due during it); after --baseline seconds (the first 2 s left out) its
     puts are the baseline ("without");
  2. the replace, timed from the moment its first command starts:
     (every command goes to the two members that stay, as an operator's would)
     zkv:  `zkvctl --endpoints <the two> member replace OLD --name NEW
           --peer-endpoint tcp://127.0.0.1:P`; as soon as it has printed the
           flags, zkv-node starts with them (and --data-dir, --listen-client,
           --listen-events, --peer-cert); zkvctl waits, promotes NEW and removes
           OLD in one change, and exits;
     etcd: etcd's documented procedure: `etcdctl member add NEW
           --peer-urls=http://127.0.0.1:P --learner`; etcd starts at once with
           the printed ETCD_* variables (ETCD_INITIAL_CLUSTER_STATE=existing) and
           its own flags; `etcdctl member promote ID` every --promote-every
           seconds (zkvctl asks every 0.2 s) until it is in sync; then `etcdctl
           member remove OLD`;
  3. the end: the leader's member list has three voters, NEW among them and OLD
     gone, and each of the three has applied at least the raft index the leader
     had just before (Status: raft_applied_index against raft_index), polled
     every 10 ms once the commands are done (every 100 ms before, to note the
     milestones: NEW answers, NEW has applied a snapshot, NEW has caught up);
  4. the writer's puts due between the start and the end are "during"; it stops;
     the new member's peak RSS is VmHWM of /proc/PID/status at the end (etcd's
     counts the pages of its bolt file that it has mapped and touched, as RSS
     does); the old member stops by itself once removed (its exit is noted) and
     its data is deleted.

Printed: every trial as it ends, then a table (medians, with the spread), the
commit, the machine and the load averages. docs/BENCHMARKS.md records them.

usage: tools/bench/bench-replace [--keys N] [--runs N] [--rate R] [--baseline S]
                                 [--promote-every S] [--keep]
                                 [--new-member-dir DIR] [--new-member-nice N]
(the last two, for both systems alike, tell how much of the writer's latency
during a replace comes from the new member sharing the disk and the two cores)
"""
import argparse
import calendar
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_cluster import (BUILD, ROOT, EtcdProbe, ZkvProbe, free_port, log,  # noqa: E402
                           read_cluster_file, run, side_by_side)

WARMUP = 2.0                            # seconds of the writer left out of the baseline
# Where a new member keeps its data and at which nice it runs (--new-member-dir,
# --new-member-nice: the same for both systems; to tell what of the writer's
# latency during a replace comes from sharing one disk and two cores with it)
NEW_MEMBER = {"dir": None, "nice": 0}


def new_member_data(system, default_dir, name):
    """The new member's data directory."""
    if NEW_MEMBER["dir"]:
        return os.path.join(NEW_MEMBER["dir"], system + "-" + name)
    return os.path.join(default_dir, name)


def new_member_argv(argv):
    """The new member's command line, at NEW_MEMBER's nice."""
    return (["nice", "-n", str(NEW_MEMBER["nice"])] if NEW_MEMBER["nice"] else []) + argv
AFTER = 5.0                             # seconds the new member is watched after the end


def now():
    return time.time()


def load(argv):
    """A zkv-bench / etcd-load run: its JSON report (it exits 1 when some puts failed)."""
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise SystemExit("bench-replace: %s failed: %s" % (argv[0], done.stderr))
    return json.loads(done.stdout)


def vm_field(pid, field):
    """VmHWM / VmRSS of a process in bytes, or None once it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid):
    """CPU seconds (utime + stime) of each thread of pid, by thread: {tid: (name, s)}."""
    out = {}
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[tid] = (name, (int(fields[11]) + int(fields[12])) / TICK)
    return out


def cpu_by_name(before, after):
    """CPU seconds spent between two thread_cpu readings, by thread name (the
    digits of a name dropped: rocksdb:low, ZMQbg/IO/…), largest first."""
    spent = {}
    for tid, (name, seconds) in after.items():
        name = re.sub(r"\d+$", "", name)
        spent[name] = spent.get(name, 0) + seconds - before.get(tid, (name, 0))[1]
    return sorted(spent.items(), key=lambda item: -item[1])


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


class Died(Exception):
    """The new member of a trial stopped (before or soon after the end)."""

    def __init__(self, text, old, new):
        super().__init__(text)
        self.old, self.new = old, new


class Member:
    def __init__(self, name, member_id, client, pid, data, proc=None):
        self.name, self.id, self.client, self.pid, self.data = name, member_id, client, pid, data
        self.proc = proc                # ours (a new member), else zkv-cluster's or etcd's


# ---------------------------------------------------------------------------
# zkv

class Zkv:
    name = "zkv"

    def __init__(self, system):
        """Takes over bench_cluster's 3-member cluster (zkv-cluster up)."""
        self.base, self.dir = system, system.dir
        self.context = system.context
        self.cert = os.path.join(self.dir, "certs", "peer.cert")
        self.members = {}
        for name, m in read_cluster_file(os.path.join(self.dir, "cluster.zpl")).items():
            self.members[name] = Member(name, int(m["id"], 16), m["client"], int(m["pid"]),
                                        m["data"])
        self.probes = {}

    def probe(self, member):
        if member.client not in self.probes:
            self.probes[member.client] = ZkvProbe(self.context, member.client)
        return self.probes[member.client]

    def status(self, member, timeout_ms=100):
        return self.probe(member).status(timeout_ms)

    def member_list(self, member, timeout_ms=200):
        """[(id, is_learner)] of member's table, or None."""
        reply = self.probe(member).call({"op": "member_list"}, timeout_ms)
        if not reply or "error" in reply:
            return None
        return [(m["member_id"], bool(m.get("is_learner"))) for m in reply.get("members", [])]

    def load(self, member, clients, total):
        return load([os.path.join(BUILD, "zkv-bench"), "--endpoints", member.client, "--clients",
                     str(clients), "--total", str(total), "--val-size", "256", "--json", "put"])

    def writer(self, member, rate, trace):
        return [os.path.join(BUILD, "zkv-bench"), "--endpoints", member.client, "--clients", "8",
                "--rate", str(rate), "--total", str(int(rate * 3600)), "--val-size", "256",
                "--trace", trace, "--json", "put"]

    def replace(self, old, new_name, marks):
        """zkvctl member replace, and the new member started with the flags it
        printed as soon as they are printed. Returns the new Member."""
        client = "tcp://127.0.0.1:%d" % free_port()
        peer = "tcp://127.0.0.1:%d" % free_port()
        argv = [os.path.join(BUILD, "zkvctl"), "--endpoints",
                ",".join(m.client for m in self.members.values() if m is not old),
                "member", "replace", old.name,
                "--name", new_name, "--peer-endpoint", peer]
        marks["start"] = now()
        ctl = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               bufsize=1)
        marks["ctl"] = ctl              # the watcher stops it if the new member stops
        flags, new_id, output = {}, None, []
        for line in ctl.stdout:
            output.append(line)
            line = line.strip()
            found = re.match(r"Member +([0-9a-f]+) added to cluster", line)
            if found:
                new_id = int(found.group(1), 16)
                marks["added"] = now()
            if line.startswith("--") and "=" in line:
                flag, value = line[2:].split("=", 1)
                flags[flag] = value.strip('"')
                if flag == "initial-cluster-state":
                    break
        if "initial-cluster-state" not in flags:
            ctl.wait()
            raise SystemExit("bench-replace: zkvctl member replace printed no flags:\n%s%s" % (
                "".join(output), ctl.stderr.read()))
        data = new_member_data("zkv", self.dir, new_name)
        node = [os.path.join(BUILD, "zkv-node")]
        for flag in ("name", "initial-cluster", "listen-peer", "initial-cluster-state"):
            node += ["--" + flag, flags[flag]]
        node += ["--data-dir", data, "--listen-client", client,
                 "--listen-events", "tcp://127.0.0.1:*", "--peer-cert", self.cert]
        with open(os.path.join(self.dir, new_name + ".log"), "w") as logfile:
            proc = subprocess.Popen(new_member_argv(node), stdout=logfile,
                                    stderr=subprocess.STDOUT)
        marks["spawned"] = now()
        new = Member(new_name, new_id, client, proc.pid, data, proc)
        marks["new"] = new
        for line in ctl.stdout:
            output.append(line)
            if re.match(r"Member +[0-9a-f]+ started", line.strip()):
                marks["said started"] = now()
            elif " promoted in cluster " in line:
                marks["promoted"] = now()
            elif " removed from cluster " in line:
                marks["removed"] = now()
        error = ctl.stderr.read()
        if ctl.wait() != 0 and new.proc.poll() is not None:
            raise Died("%s stopped while zkvctl waited" % new.name, old, new)
        if ctl.returncode != 0:
            raise SystemExit("bench-replace: zkvctl member replace failed:\n%s%s" % (
                "".join(output), error))
        marks["command done"] = now()
        return new

    def forget(self, old):
        """Once the old member is out: it stops by itself; its data goes."""
        del self.members[old.name]
        deadline = now() + 30
        while alive(old.pid) and now() < deadline:
            time.sleep(0.05)
        exited = not alive(old.pid)
        if not exited:
            os.kill(old.pid, signal.SIGKILL)
        if old.proc:
            old.proc.wait()
        shutil.rmtree(old.data, ignore_errors=True)
        return exited

    def stop(self):
        for member in self.members.values():
            if member.proc:
                member.proc.terminate()
        for member in self.members.values():
            if member.proc:
                member.proc.wait()
        self.base.stop()


# ---------------------------------------------------------------------------
# etcd

class Etcd:
    name = "etcd"

    def __init__(self, system):
        """Takes over bench_cluster's 3-member etcd cluster."""
        self.base, self.dir = system, system.dir
        self.members = {}
        for name, (client, peer) in system.ports.items():
            self.members[name] = Member(name, system.id_of(name), "127.0.0.1:%d" % client,
                                        system.pid(name), os.path.join(self.dir, name),
                                        system.processes[name])
        self.probes = {}

    def probe(self, member):
        if member.client not in self.probes:
            self.probes[member.client] = EtcdProbe(int(member.client.split(":")[1]))
        return self.probes[member.client]

    def status(self, member, timeout_ms=100):
        return self.probe(member).status(timeout_ms)

    def member_list(self, member, timeout_ms=200):
        reply = self.probe(member).post("/v3/cluster/member/list", {}, timeout_ms)
        if not reply or "members" not in reply:
            return None
        return [(int(m["ID"]), bool(m.get("isLearner"))) for m in reply["members"]]

    def load(self, member, clients, total):
        return load([os.path.join(BUILD, "etcd-load"), "--endpoints", member.client, "--clients",
                     str(clients), "--total", str(total), "--val-size", "256", "--json"])

    def writer(self, member, rate, trace):
        return [os.path.join(BUILD, "etcd-load"), "--endpoints", member.client, "--clients", "8",
                "--rate", str(rate), "--total", str(int(rate * 3600)), "--val-size", "256",
                "--trace", trace, "--json"]

    def ctl(self, old, *args):
        """etcdctl against the members that stay; (rc, stdout, stderr)."""
        argv = ["etcdctl", "--endpoints",
                ",".join(m.client for m in self.members.values() if m is not old),
                "--command-timeout", "60s"] + list(args)
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, ETCDCTL_API="3"))
        return done.returncode, done.stdout, done.stderr

    def replace(self, old, new_name, marks, promote_every):
        """etcd's documented procedure: member add --learner, start it with the
        printed variables, member promote until in sync, member remove."""
        client_port, peer_port = free_port(), free_port()
        marks["start"] = now()
        rc, out, err = self.ctl(old, "member", "add", new_name,
                                "--peer-urls=http://127.0.0.1:%d" % peer_port, "--learner")
        if rc:
            raise SystemExit("bench-replace: etcdctl member add failed: %s%s" % (out, err))
        marks["added"] = now()
        new_id = int(re.search(r"Member +([0-9a-f]+) added to cluster", out).group(1), 16)
        env = dict(os.environ)
        for name, value in re.findall(r'^(ETCD_[A-Z_]+)="(.*)"$', out, re.M):
            env[name] = value
        data = new_member_data("etcd", self.dir, new_name)
        argv = ["etcd", "--data-dir", data,
                "--listen-client-urls", "http://127.0.0.1:%d" % client_port,
                "--advertise-client-urls", "http://127.0.0.1:%d" % client_port,
                "--listen-peer-urls", "http://127.0.0.1:%d" % peer_port,
                "--logger=zap", "--log-outputs=stderr"]
        with open(os.path.join(self.dir, new_name + ".log"), "w") as logfile:
            proc = subprocess.Popen(new_member_argv(argv), stdout=logfile, stderr=logfile,
                                    env=env)
        marks["spawned"] = now()
        new = Member(new_name, new_id, "127.0.0.1:%d" % client_port, proc.pid, data, proc)
        marks["new"] = new
        tries = 0
        while True:
            tries += 1
            rc, out, err = self.ctl(old, "member", "promote", "%x" % new_id)
            if rc == 0:
                break
            if proc.poll() is not None:
                raise Died("%s stopped while promotes were refused" % new_name, old, new)
            if "in sync" not in err:
                raise SystemExit("bench-replace: etcdctl member promote failed: %s%s" % (out, err))
            time.sleep(promote_every)
        marks["promoted"], marks["promote tries"] = now(), tries
        rc, out, err = self.ctl(old, "member", "remove", "%x" % old.id)
        if rc:
            raise SystemExit("bench-replace: etcdctl member remove failed: %s%s" % (out, err))
        marks["removed"] = marks["command done"] = now()
        return new

    def forget(self, old):
        del self.members[old.name]
        try:
            old.proc.wait(30)
            exited = True
        except subprocess.TimeoutExpired:
            old.proc.kill()
            old.proc.wait()
            exited = False
        shutil.rmtree(old.data, ignore_errors=True)
        return exited

    def stop(self):
        for member in self.members.values():
            member.proc.terminate()
        for member in self.members.values():
            member.proc.wait()


# ---------------------------------------------------------------------------
# What both are measured with

def leader_of(system, members=None, among=None):
    """The Member every answering one of members names as leader (one of
    among, by default members), or None."""
    members = list(members or system.members.values())
    leaders = {s["leader"] for s in (system.status(m) for m in members) if s}
    if len(leaders) != 1:
        return None
    (leader_id,) = leaders
    return next((m for m in list(among or members) if m.id == leader_id), None)


def in_sync(system, members, leader):
    """Whether each of members has applied the raft index the leader has now."""
    target = system.status(leader, 200)
    if not target:
        return False
    for member in members:
        status = target if member is leader else system.status(member, 200)
        if not status or status["applied"] < target["index"]:
            return False
    return True


def settle(system, timeout=120):
    deadline = now() + timeout
    while now() < deadline:
        leader = leader_of(system)
        if leader and in_sync(system, system.members.values(), leader):
            return leader
        time.sleep(0.05)
    raise SystemExit("bench-replace: %s did not settle: %s" % (
        system.name, {m.name: system.status(m) for m in system.members.values()}))


class Watcher(threading.Thread):
    """Polls the cluster from the start of a replace: the milestones of the
    new member, its RSS, and the end (three voters, the new one among them,
    the old one gone, all in sync)."""

    def __init__(self, system, old, marks):
        super().__init__(daemon=True)
        self.system, self.old, self.marks = system, old, marks
        self.peak_rss, self.error = 0, None
        self.stop = threading.Event()

    def mark(self, what):
        self.marks.setdefault(what, now())

    def run(self):
        try:
            self.watch()
        except Exception as e:          # reported by the trial
            self.error = e

    def watch(self):
        system, marks = self.system, self.marks
        stay = [m for m in system.members.values() if m is not self.old]
        while not self.stop.is_set():
            done = "command done" in marks
            new = marks.get("new")
            if new and new.proc.poll() is not None:
                if marks.get("ctl") and marks["ctl"].poll() is None:
                    marks["ctl"].terminate()
                return                  # it stopped: no end
            if new:
                self.peak_rss = max(self.peak_rss, vm_field(new.pid, "VmRSS") or 0)
                status = system.status(new, 100)
                if status:
                    self.mark("new answers")
                    if status["applied"] > 0:
                        self.mark("new has a snapshot")
                    if "new caught up" not in marks and status["applied"] > 0:
                        leader = leader_of(system, stay, stay + [self.old, new])
                        if leader and in_sync(system, [new], leader):
                            self.mark("new caught up")
            if done and new:
                members = stay + [new]
                leader = leader_of(system, members)
                table = leader and system.member_list(leader)
                if (table and sorted(i for i, _ in table) == sorted(m.id for m in members)
                        and not any(learner for _, learner in table)
                        and in_sync(system, members, leader)):
                    self.mark("end")
                    return
            time.sleep(0.01 if done else 0.1)


def log_offsets(system):
    """Where each member log of system ends now."""
    out = {}
    for name in os.listdir(system.dir):
        if name.endswith(".log"):
            out[name] = os.path.getsize(os.path.join(system.dir, name))
    return out


def log_time(line):
    """When a log line was written (epoch seconds), or None: zkv's
    'I: (zkv-node) 26-12-07 14:47:09 ...' (to the second), etcd's '"ts":"...Z"'."""
    found = re.search(r'"ts":"(\d+-\d+-\d+T\d+:\d+:\d+)(\.\d+)?Z"', line)
    if found:
        return calendar.timegm(time.strptime(found.group(1), "%Y-%m-%dT%H:%M:%S")) + float(
            found.group(2) or 0)
    found = re.search(r"\) (\d\d-\d\d-\d\d \d\d:\d\d:\d\d) ", line)
    if found:
        return time.mktime(time.strptime(found.group(1), "%y-%m-%d %H:%M:%S"))
    return None


# What the members' logs say about a replace: (label, pattern, what to show)
PROFILE = {
    "zkv": [
        ("snapshot streams", r"raft: streaming a snapshot to", "count"),
        ("elections", r"raft: \w+ leads in term (\d+)", "distinct"),
        ("new member receives a snapshot", r"storage: receiving a snapshot at (\d+)", "times"),
        ("new member installed", r"storage: installed a snapshot at (\d+)[^\n]*?(?: in (\d+) ms)?$",
         "times"),
        ("stale snapshots ignored", r"storage: ignoring a snapshot", "count"),
        ("fatal", r"fatal: (.*)", "text"),
    ],
    "etcd": [
        ("snapshots sent", r'"msg":"sent database snapshot".*"bytes":(\d+)', "times"),
        ("elections", r'"msg":"\w+ became leader at term (\d+)"', "distinct"),
        ("new member saved the snapshot", r'"msg":"saved database snapshot to disk"', "times"),
        ("new member restored mvcc", r'"msg":"restored mvcc store"', "times"),
        ("new member applied the snapshot", r'"msg":"applied snapshot"', "times"),
    ],
}


def profile(system, offsets, new, start):
    """One line: what the logs written since offsets say (PROFILE), times in
    s from start (zkv's logs tell the second only)."""
    lines = []
    for name in sorted(os.listdir(system.dir)):
        if not name.endswith(".log"):
            continue
        with open(os.path.join(system.dir, name), errors="replace") as f:
            f.seek(offsets.get(name, 0))
            lines += [(name[:-4], line.rstrip("\n")) for line in f]
    parts = []
    for label, pattern, show in PROFILE[system.name]:
        hits = [(member, line, m) for member, line in lines
                for m in [re.search(pattern, line)] if m]
        if label.startswith("new member"):
            hits = [h for h in hits if h[0] == new.name]
        if not hits or show is None:
            if show == "count" or show == "distinct":
                parts.append("%s 0" % label)
            continue
        if show == "count":
            parts.append("%s %d" % (label, len(hits)))
        elif show == "distinct":
            terms = sorted({int(m.group(1)) for _, _, m in hits})
            parts.append("%s %d (term %s)" % (label, len(terms), ", ".join(map(str, terms))))
        elif show == "text":
            parts.append("%s: %s (%s)" % (label, hits[0][2].group(1), hits[0][0]))
        else:
            items = []
            for member, line, m in hits:
                t = log_time(line)
                extra = [g for g in m.groups() if g]
                items.append(("%+.1f s" % (t - start) if t else "?")
                             + (" [%s]" % " ".join(extra) if extra else ""))
            parts.append("%s at %s" % (label, ", ".join(items)))
    return "; ".join(parts)


def window(trace, start, end):
    """p50, p99, max (ms), count and failed puts of the writer's puts due in [start, end]."""
    latencies, failed = [], 0
    for due, usecs, bad in trace:
        if start <= due <= end:
            latencies.append(usecs / 1000)
            failed += bad
    worst = max(((usecs, due) for due, usecs, _ in trace if start <= due <= end), default=(0, 0))
    latencies.sort()
    if not latencies:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan"), "n": 0,
                "failed": failed, "worst at": None}
    rank = lambda p: latencies[max(0, min(len(latencies) - 1, -(-p * len(latencies) // 100) - 1))]
    return {"p50": rank(50), "p99": rank(99), "max": latencies[-1], "n": len(latencies),
            "failed": failed, "worst at": worst[1] - start}


def read_trace(path):
    out = []
    with open(path) as f:
        for line in f:
            due, usecs, bad = line.split()
            out.append((int(due) / 1e6, int(usecs), int(bad)))
    return out


def trial(system, options, run_number, directory, next_name):
    """One replace of a follower of system; returns its results."""
    leader = settle(system)
    old = next(m for m in sorted(system.members.values(), key=lambda m: m.name)
               if m is not leader)
    new_name = next_name()
    trace = os.path.join(directory, "%s-writer-%d.trace" % (system.name, run_number))
    load_before = os.getloadavg()
    offsets = log_offsets(system)
    writer = subprocess.Popen(system.writer(leader, options.rate, trace), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    writer_start = now()
    time.sleep(options.baseline)
    marks = {}
    watcher = Watcher(system, old, marks)
    leader_cpu = thread_cpu(leader.pid)
    watcher.start()
    try:
        if system.name == "zkv":
            new = system.replace(old, new_name, marks)
        else:
            new = system.replace(old, new_name, marks, options.promote_every)
        watcher.join(600)
        if watcher.error:
            raise watcher.error
        if "end" not in marks:
            steps = ", ".join("%s %.2f s" % (k, v - marks["start"]) for k, v in marks.items()
                              if isinstance(v, float))
            if new.proc.poll() is not None:
                raise Died("%s stopped before the end (after %s)" % (new.name, steps), old, new)
            raise SystemExit("bench-replace: %s never reached three voters in sync (after %s)"
                             % (system.name, steps))
    except Died as died:
        died.args = ("%s: %s" % (died.args[0], last_words(system, died.new)),)
        raise
    except BaseException:
        if "new" in marks:              # ours: it must not outlive the run
            marks["new"].proc.kill()
            marks["new"].proc.wait()
        raise
    finally:
        watcher.stop.set()
        writer.send_signal(signal.SIGTERM)
        writer_out, writer_err = writer.communicate()
    hwm = vm_field(new.pid, "VmHWM")
    rss = vm_field(new.pid, "VmRSS")
    cpu = {"leader": cpu_by_name(leader_cpu, thread_cpu(leader.pid)),
           "new member": cpu_by_name({}, thread_cpu(new.pid))}
    load_after = os.getloadavg()
    start = marks["start"]
    samples = read_trace(trace)
    r = {
        "old": old.name, "new": new.name, "leader": leader.name,
        "seconds": marks["end"] - start,
        "steps": {k: v - start for k, v in marks.items() if isinstance(v, float)},
        "promote tries": marks.get("promote tries"),
        "without": window(samples, writer_start + WARMUP, start),
        "during": window(samples, start, marks["end"]),
        "hwm": hwm, "rss_end": rss, "rss_peak_sampled": watcher.peak_rss,
        "load": (load_before[0], load_after[0]),
        "writer_errors": writer_err.strip().splitlines()[-1:] if writer.returncode not in (0, 1)
        else [],
    }
    system.members[new.name] = new
    r["old exited"] = system.forget(old)
    r["old exit s"] = now() - marks["end"]
    r["profile"] = profile(system, offsets, new, start)
    r["cpu"] = "; ".join("%s (%s) %.1f s: %s" % (
        who, name, sum(s for _, s in spent),
        ", ".join("%s %.2f" % (thread, s) for thread, s in spent[:4] if s >= 0.01))
        for who, name, spent in (("leader", leader.name, cpu["leader"]),
                                 ("new member", new.name, cpu["new member"])))
    # A member that stops soon after catching up did not catch up for good
    deadline = now() + AFTER
    while now() < deadline and new.proc.poll() is None:
        time.sleep(0.1)
    r["died"] = None if new.proc.poll() is None else last_words(system, new)
    log_trial(system, run_number, r)
    return r


def last_words(system, member):
    """The last error line of member's log."""
    with open(os.path.join(system.dir, member.name + ".log"), errors="replace") as f:
        errors = [line.strip() for line in f if line.startswith(("E:", "F:"))
                  or '"level":"fatal"' in line or '"level":"panic"' in line]
    return errors[-1] if errors else "(no error logged)"


def recover(system, old, new, next_name, options, directory):
    """After the new member of a trial stopped before the end: the cluster
    made whole again, untimed (the learner removed, or, once it had replaced
    the old member, replaced in turn)."""
    if system.name != "zkv":
        raise SystemExit("bench-replace: etcd's new member stopped; stopping")
    stay = [m for m in system.members.values() if m is not old]
    deadline, table = now() + 60, None
    while now() < deadline and not table:
        leader = leader_of(system, stay, stay + [old, new])
        table = leader and system.member_list(leader)
        time.sleep(0.1)
    if not table:
        raise SystemExit("bench-replace: %s has no leader after a failed replace" % system.name)
    ids = {i for i, _ in table}
    if new.id in ids and old.id in ids:
        subprocess.run([os.path.join(BUILD, "zkvctl"), "--endpoints",
                        ",".join(m.client for m in stay), "member", "remove", "%x" % new.id],
                       check=True, stdout=subprocess.DEVNULL)
        log("%-4s recovered: the learner %s removed (untimed)" % (system.name, new.name))
    elif new.id in ids:
        system.members[new.name] = new
        system.forget(old)
        repair(system, new, next_name, options, directory)
        return
    shutil.rmtree(new.data, ignore_errors=True)


def repair(system, dead, next_name, options, directory):
    """The new member of a trial stopped after the end: replace it (untimed)
    until the cluster has three voters running again."""
    if system.name != "zkv":
        raise SystemExit("bench-replace: etcd cannot replace a dead member (its add-first "
                         "procedure is refused while a voter is down); stopping")
    for attempt in range(3):
        marks = {}
        watcher = Watcher(system, dead, marks)
        watcher.start()
        new = system.replace(dead, next_name(), marks)
        watcher.join(600)
        system.members[new.name] = new
        system.forget(dead)
        time.sleep(AFTER)
        if new.proc.poll() is None and "end" in marks:
            log("%-4s repaired: %s replaced the stopped member %s (untimed)" % (
                system.name, new.name, dead.name))
            return
        log("%-4s repair: %s stopped too: %s" % (system.name, new.name, last_words(system, new)))
        dead = new
    raise SystemExit("bench-replace: could not repair %s" % system.name)


def log_trial(system, run_number, r):
    steps = r["steps"]
    order = ["added", "spawned", "new answers", "new has a snapshot", "new caught up",
             "said started", "promoted", "removed", "command done", "end"]
    log("%-4s run %d: replaced %s (a follower; leader %s) by %s in %.2f s; writer p50/p99/max "
        "%.2f/%.2f/%.1f ms over %d puts (%d failed), without %.2f/%.2f/%.1f ms over %d puts "
        "(%d failed): p99 x%.2f; new member VmHWM %.0f MB (RSS %.0f MB at the end); "
        "load %.1f -> %.1f" % (
            system.name, run_number, r["old"], r["leader"], r["new"], r["seconds"],
            r["during"]["p50"], r["during"]["p99"], r["during"]["max"], r["during"]["n"],
            r["during"]["failed"], r["without"]["p50"], r["without"]["p99"], r["without"]["max"],
            r["without"]["n"], r["without"]["failed"], r["during"]["p99"] / r["without"]["p99"],
            (r["hwm"] or 0) / 1e6, (r["rss_end"] or 0) / 1e6, r["load"][0], r["load"][1]))
    log("       steps (s from the first command): " + ", ".join(
        "%s %.2f" % (k, steps[k]) for k in order if k in steps)
        + ("; %d promotes" % r["promote tries"] if r["promote tries"] else "")
        + "; the writer's slowest put was due at %.2f" % r["during"]["worst at"]
        + "; old member %s %.1f s after the end" % (
            "exited" if r["old exited"] else "KILLED (did not exit)", r["old exit s"])
        + ("; writer: %s" % r["writer_errors"] if r["writer_errors"] else ""))
    log("       logs: " + r["profile"])
    log("       CPU from the start to the end: " + r["cpu"])
    if r["died"]:
        log("       THE NEW MEMBER STOPPED within %.0f s after the end: %s" % (AFTER, r["died"]))


def spread(values, form):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return (form + " (" + form + "–" + form + ")") % (statistics.median(values), min(values),
                                                       max(values))


def commit():
    head = run(["git", "-C", ROOT, "log", "-1", "--format=%h %cd", "--date=format:%Y-%m-%d %H:%M"])
    dirty = run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"]).strip()
    return head.strip() + (" (with uncommitted changes)" if dirty else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=1000000, help="keys loaded before the runs")
    parser.add_argument("--runs", type=int, default=3, help="replaces per system")
    parser.add_argument("--rate", type=float, default=200, help="the writer's puts per second")
    parser.add_argument("--baseline", type=float, default=20,
                        help="seconds of the writer before each replace")
    parser.add_argument("--promote-every", type=float, default=0.2,
                        help="etcd: seconds between two member promote tries (zkvctl: 0.2)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    parser.add_argument("--new-member-dir", metavar="DIR",
                        help="new members' data under DIR (another disk, or /dev/shm: as if "
                             "the new member had a machine of its own)")
    parser.add_argument("--new-member-nice", type=int, default=0, metavar="N",
                        help="new members run at nice N")
    options = parser.parse_args()
    NEW_MEMBER["nice"] = options.new_member_nice
    if options.new_member_dir:
        NEW_MEMBER["dir"] = tempfile.mkdtemp(prefix="zkv-bench-replace-new-",
                                             dir=options.new_member_dir)

    log("zkv at %s; %s" % (commit(), time.strftime("%Y-%m-%d %H:%M %Z")))
    log("load average at the start: %.2f %.2f %.2f" % os.getloadavg())
    with side_by_side("zkv-bench-replace-", options.keep) as (bases, directory):
        systems = [Zkv(bases[0]), Etcd(bases[1])]
        try:
            for system in systems:
                leader = settle(system)
                loaded = system.load(leader, 64, options.keys)
                log("%-4s loaded %d keys: %.0f puts/s (%d errors)" % (
                    system.name, options.keys, loaded["throughput"], loaded["errors"]))
            results = {s.name: [] for s in systems}
            failures = {s.name: 0 for s in systems}
            counters = {s.name: 3 for s in systems}

            def namer(system):
                def next_name():
                    counters[system.name] += 1
                    return "n%d" % counters[system.name]
                return next_name

            for r in range(options.runs):
                for system in systems if r % 2 == 0 else systems[::-1]:
                    for attempt in range(3):
                        try:
                            result = trial(system, options, r + 1, directory, namer(system))
                        except Died as died:
                            log("%-4s run %d: THE NEW MEMBER STOPPED BEFORE THE END: %s" % (
                                system.name, r + 1, died))
                            failures[system.name] += 1
                            recover(system, died.old, died.new, namer(system), options,
                                    directory)
                            time.sleep(3)
                            continue
                        results[system.name].append(result)
                        if result["died"]:
                            repair(system, system.members[result["new"]], namer(system),
                                   options, directory)
                        time.sleep(3)
                        break
                    else:
                        raise SystemExit("bench-replace: three failed trials in a row")
        finally:
            # the new members are ours; zkv-cluster and bench_cluster stop the rest
            for system in systems:
                for member in system.members.values():
                    if member.proc and system.name == "zkv":
                        member.proc.terminate()
                        member.proc.wait()
            bases[1].processes = {m.name: m.proc for m in systems[1].members.values()}
            if NEW_MEMBER["dir"] and not options.keep:
                shutil.rmtree(NEW_MEMBER["dir"], ignore_errors=True)

        log("\nsummary: %d runs, %d keys, a writer of %.0f puts/s; median (min–max)" % (
            options.runs, options.keys, options.rate))
        z, e = results["zkv"], results["etcd"]
        rows = [
            ("replace -> three voters in sync (s)", lambda x: x["seconds"], "%.2f"),
            ("  new member has a snapshot (s)", lambda x: x["steps"].get("new has a snapshot"),
             "%.2f"),
            ("  new member caught up (s)", lambda x: x["steps"].get("new caught up"), "%.2f"),
            ("  promoted (s)", lambda x: x["steps"].get("promoted"), "%.2f"),
            ("writer p99 without (ms)", lambda x: x["without"]["p99"], "%.2f"),
            ("writer p99 during (ms)", lambda x: x["during"]["p99"], "%.2f"),
            ("writer p99 during / without", lambda x: x["during"]["p99"] / x["without"]["p99"],
             "%.2f"),
            ("writer max during (ms)", lambda x: x["during"]["max"], "%.1f"),
            ("writer failed puts during", lambda x: x["during"]["failed"], "%d"),
            ("new member peak RSS, VmHWM (MB)", lambda x: (x["hwm"] or 0) / 1e6, "%.0f"),
        ]
        log("%-38s %26s %26s" % ("", "zkv", "etcd"))
        for label, get, form in rows:
            log("%-38s %26s %26s" % (label, spread([get(x) for x in z], form),
                                     spread([get(x) for x in e], form)))
        log("%-38s %26s %26s" % ("new member stopped after the end", *(
            "%d of %d" % (sum(1 for x in xs if x["died"]), len(xs)) for xs in (z, e))))
        log("%-38s %26s %26s" % ("... before the end (trial repeated)", *(
            "%d" % failures[name] for name in ("zkv", "etcd"))))
        ratio = statistics.median(x["seconds"] for x in z) / statistics.median(
            x["seconds"] for x in e)
        p99 = statistics.median(x["during"]["p99"] / x["without"]["p99"] for x in z)
        log("\ntargets: zkv's replace %.2fx etcd's (<= 0.5: %s); zkv's writer p99 during %.2fx "
            "without (<= 2: %s)" % (ratio, "met" if ratio <= 0.5 else "MISSED", p99,
                                    "met" if p99 <= 2 else "MISSED"))
        log("load average at the end: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
