#!/usr/bin/python3
"""tests/hashkv_diff.py - differential test of zkv's HashKV against real etcd 3.4.

usage: /usr/bin/python3 tests/hashkv_diff.py --zkv-node build/zkv-node
                                             [--seed N] [--ops N] [--keep]

Starts a single-member etcd (/usr/bin/etcd, 3.4) and a single-member zkv-node,
both on loopback with their data in a temporary directory, and applies the same
seeded random history to both: puts (overwrites, empty values) to a small key
space whose keys share prefixes, single-key deletes (also of absent keys, which
take no revision), range deletes [a, b) and [a, +inf), txns of 2-4 puts and
deletes on distinct keys under compares that sometimes hold and sometimes not,
and compactions (physical) to a random revision above the last one.

After every operation both must report the same header revision (and txns the
same `succeeded`, deletes the same count); a Python model of the store checks
the script itself. Every 10 operations, after every compaction and at the end,
HashKV is compared at revision 0, at the current revision, at the compact
revision, at a few revisions between the two, and the errors at revisions
below the compact revision and above the current one; the full key space is
compared too (range over everything).

Known version differences, left out of the comparison on purpose:
- etcd here is 3.4.23, whose HashKV refuses the compact revision itself
  (`rev <= compact` -> compacted) and every older compaction's revision; zkv
  follows etcd 3.5.10+/3.6, which answer the last 10 compactions' revisions
  from a cache of hashes computed while compacting. There the script checks
  zkv against what etcd answered at that revision just before compacting
  (or, in one corner case of etcd 3.6, against the script's own computation:
  see Run.compare_cached).
- etcd 3.4.23 deletes a tombstone sitting exactly at the compaction revision,
  while 3.4.34+/3.5.16+/3.6 keep it and skip it in the hash: both give the
  same hash, so nothing is excluded for it.
- etcd 3.4 has no hash_revision in HashKVResponse: zkv's is only checked to be
  the revision asked (the current one for 0).

On the first difference it prints the seed, the operation index, the revision,
both answers and the last operations of the history, and exits 1. Otherwise it
prints one summary line and exits 0. Needs Debian's python3 (python3-etcd3,
python3-zmq, python3-msgpack, python3-grpcio).
"""
import argparse
import atexit
import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import grpc
import msgpack
import zmq
import etcd3
from etcd3 import etcdrpc
from etcd3.etcdrpc import kv_pb2

ETCD = "/usr/bin/etcd"
COMPACTED = "etcdserver: mvcc: required revision has been compacted"
FUTURE = "etcdserver: mvcc: required revision is a future revision"
HASH_CACHE = 10        # zkv (as etcd 3.6) keeps the hashes of the last 10 compactions
RPC_TIMEOUT = 10.0     # seconds, for every etcd and zkv call once they are up
START_DEADLINE = 20.0  # seconds for each server to come up

# ~20 keys, many sharing prefixes, so that range deletes cut through them
KEYS = [b"a", b"a/1", b"a/2", b"a/20", b"a/3", b"ab", b"abc", b"b", b"b/x",
        b"b/xy", b"b/y", b"c", b"c/1", b"c/1/a", b"c/2", b"d", b"dd", b"e",
        b"e/0", b"f"]
# keys that are never written: deleting them takes no revision
ABSENT = [b"a/0", b"zz", b"c/1/b"]
# extra range bounds that fall between keys
BOUNDS = [b"a/", b"a/2\x00", b"b0", b"c/", b"c/1/", b"d\xff", b"e/"]
VALUES = [b"", b"x", b"hello", b"\x00\xff", b"same value"]

TARGETS = ["VERSION", "CREATE", "MOD", "VALUE"]
RESULTS = ["EQUAL", "NOT_EQUAL", "GREATER", "LESS"]
FIELD = {"VERSION": "version", "CREATE": "create_revision",
         "MOD": "mod_revision", "VALUE": "value"}


class Failure(Exception):
    """A difference between etcd and zkv (or the script's model)."""


class Cleanup:
    """Everything to undo at exit: processes we started, the temp dir."""

    def __init__(self):
        self.procs = []
        self.tmp = None
        self.keep = False
        self.closers = []
        self.done = False

    def run(self):
        if self.done:
            return
        self.done = True
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)      # finish cleaning up first
        for close in reversed(self.closers):
            try:
                close()
            except Exception:
                pass
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.tmp:
            if self.keep:
                print("hashkv_diff: kept %s" % self.tmp, file=sys.stderr)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)


CLEANUP = Cleanup()


def free_port():
    """A port free right now; whoever binds it later may lose a race (see start_etcd)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, lines=20):
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# ---------------------------------------------------------------- etcd side

def start_etcd(tmp):
    """Start etcd on two fresh ports; if one of them was taken between the pick
    and etcd's bind (its log says "address already in use"), pick again."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
    for attempt in range(1, 6):
        client_port, peer_port = free_port(), free_port()
        while peer_port == client_port:
            peer_port = free_port()
        data = os.path.join(tmp, "etcd-%d" % attempt)
        log = os.path.join(tmp, "etcd-%d.log" % attempt)
        curl = "http://127.0.0.1:%d" % client_port
        purl = "http://127.0.0.1:%d" % peer_port
        with open(log, "wb") as logf:
            proc = subprocess.Popen(
                [ETCD, "--name", "e1", "--data-dir", data,
                 "--listen-client-urls", curl, "--advertise-client-urls", curl,
                 "--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
                 "--initial-cluster", "e1=" + purl,
                 "--initial-cluster-state", "new"],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                env=env)
        CLEANUP.procs.append(proc)
        deadline = time.monotonic() + START_DEADLINE
        client = None
        while True:
            if proc.poll() is not None:
                text = tail(log, 200)
                if "address already in use" in text and attempt < 5:
                    break           # lost the pick/bind race: new ports
                raise RuntimeError("etcd exited with %s:\n%s" % (proc.returncode, tail(log)))
            if client is None:
                # gRPC backs off for seconds after a refused connection: make the
                # client only once etcd's port accepts (it then waits for etcd
                # to serve on that connection).
                try:
                    socket.create_connection(("127.0.0.1", client_port), timeout=1.0).close()
                    client = etcd3.client(host="127.0.0.1", port=client_port,
                                          timeout=RPC_TIMEOUT,
                                          grpc_options=[("grpc.enable_http_proxy", 0)])
                    CLEANUP.closers.append(client.close)
                except OSError:
                    pass
            if client is not None:
                try:
                    st = client.maintenancestub.Status(etcdrpc.StatusRequest(), 1.0)
                    if st.leader:
                        client.kvstub.Range(etcdrpc.RangeRequest(key=b"a"), 1.0)
                        return proc, client, log
                except grpc.RpcError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError("etcd not ready within %.0f s:\n%s" % (START_DEADLINE, tail(log)))
            time.sleep(0.01)
    raise RuntimeError("etcd: could not bind free ports after 5 attempts")


class Etcd:
    def __init__(self, client):
        self.c = client
        self.kv = client.kvstub
        self.mt = client.maintenancestub

    @staticmethod
    def _compare(c):
        target, result, key, operand = c
        m = etcdrpc.Compare(key=key, target=getattr(etcdrpc.Compare, target),
                            result=getattr(etcdrpc.Compare, result))
        setattr(m, FIELD[target], operand)
        return m

    @staticmethod
    def _request_op(o):
        if o[0] == "put":
            return etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=o[1], value=o[2]))
        return etcdrpc.RequestOp(request_delete_range=etcdrpc.DeleteRangeRequest(key=o[1]))

    def apply(self, op):
        """-> (header revision, detail)"""
        kind = op["kind"]
        if kind == "put":
            r = self.kv.Put(etcdrpc.PutRequest(key=op["key"], value=op["value"]), RPC_TIMEOUT)
            return r.header.revision, None
        if kind == "delete":
            r = self.c.delete(op["key"], return_response=True)
            return r.header.revision, r.deleted
        if kind == "delete_range":
            r = self.kv.DeleteRange(etcdrpc.DeleteRangeRequest(
                key=op["key"], range_end=op["range_end"]), RPC_TIMEOUT)
            return r.header.revision, r.deleted
        if kind == "txn":
            r = self.kv.Txn(etcdrpc.TxnRequest(
                compare=[self._compare(c) for c in op["compare"]],
                success=[self._request_op(o) for o in op["success"]],
                failure=[self._request_op(o) for o in op["failure"]]), RPC_TIMEOUT)
            return r.header.revision, r.succeeded
        if kind == "compact":
            r = self.kv.Compact(etcdrpc.CompactionRequest(
                revision=op["revision"], physical=True), RPC_TIMEOUT)
            return r.header.revision, None
        raise ValueError(kind)

    def hash_kv(self, rev):
        """-> ("ok", hash, compact_revision, header revision) or ("error", code, message)"""
        try:
            r = self.mt.HashKV(etcdrpc.HashKVRequest(revision=rev), RPC_TIMEOUT)
        except grpc.RpcError as e:
            code = "".join(w.capitalize() for w in e.code().name.split("_"))
            return ("error", code, e.details())
        return ("ok", r.hash, r.compact_revision, r.header.revision)

    def everything(self):
        r = self.kv.Range(etcdrpc.RangeRequest(key=b"\x00", range_end=b"\x00"), RPC_TIMEOUT)
        return r.header.revision, [(kv.key, kv.value, kv.create_revision, kv.mod_revision,
                                    kv.version) for kv in r.kvs]


# ----------------------------------------------------------------- zkv side

def start_zkv(tmp, binary):
    peer = socket.socket()
    peer.bind(("127.0.0.1", 0))
    peer.listen(64)
    port = peer.getsockname()[1]
    purl = "tcp://127.0.0.1:%d" % port
    out_log = os.path.join(tmp, "zkv.out")
    err_log = os.path.join(tmp, "zkv.err")
    with open(err_log, "wb") as errf:
        proc = subprocess.Popen(
            [binary, "--name", "n1", "--data-dir", os.path.join(tmp, "zkv"),
             "--listen-client", "tcp://127.0.0.1:*",
             "--listen-peer-fd", str(peer.fileno()), "--listen-peer", purl,
             "--initial-cluster", "n1=" + purl],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errf,
            pass_fds=[peer.fileno()])
    CLEANUP.procs.append(proc)
    peer.close()    # the node holds its own copy

    # Drain stdout for the node's whole life (a full pipe would block it), and
    # hand the lines to the main thread until it has the client endpoint.
    lines = queue.Queue()

    def reader():
        with open(out_log, "wb") as f:
            for line in proc.stdout:
                f.write(line)
                f.flush()
                lines.put(line)
        lines.put(None)
    threading.Thread(target=reader, daemon=True).start()

    deadline = time.monotonic() + START_DEADLINE
    endpoint = None
    while endpoint is None:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise RuntimeError("zkv-node did not print its client endpoint within %.0f s:\n%s"
                               % (START_DEADLINE, tail(err_log)))
        if line is None:
            proc.wait()
            raise RuntimeError("zkv-node exited with %s:\n%s" % (proc.returncode, tail(err_log)))
        text = line.decode("utf-8", "replace").strip()
        if "serving clients on " in text:
            endpoint = text.split("serving clients on ", 1)[1].strip()

    z = Zkv(endpoint)
    CLEANUP.closers.append(z.close)
    while True:
        r = z.call({"op": "status"}, timeout=1.0)
        if r is not None and "error" not in r and r.get("leader", 0) != 0:
            return proc, z, err_log
        if proc.poll() is not None:
            raise RuntimeError("zkv-node exited with %s:\n%s" % (proc.returncode, tail(err_log)))
        if time.monotonic() > deadline:
            raise RuntimeError("zkv-node has no leader within %.0f s (last status %r):\n%s"
                               % (START_DEADLINE, r, tail(err_log)))
        time.sleep(0.02)


class Zkv:
    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.next_id = 0

    def close(self):
        self.sock.close(0)
        self.ctx.term()

    def call(self, request, timeout=RPC_TIMEOUT):
        """One request, its reply; None on timeout when timeout is short (startup)."""
        self.next_id += 1
        rid = self.next_id
        req = dict(request)
        req["id"] = rid
        self.sock.send(msgpack.packb(req, use_bin_type=True))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000) + 1):
                if timeout < RPC_TIMEOUT:
                    return None
                raise Failure("zkv: no reply to %r within %.0f s" % (request, timeout))
            rep = msgpack.unpackb(self.sock.recv(), raw=False)
            if rep.get("id") == rid:     # a late reply to an abandoned request is skipped
                return rep

    def checked(self, request):
        rep = self.call(request)
        if "error" in rep:
            raise Failure("zkv: %s failed: %r -> %r" % (request["op"], request, rep["error"]))
        return rep

    @staticmethod
    def _request_op(o):
        if o[0] == "put":
            return {"request_put": {"key": o[1], "value": o[2]}}
        return {"request_delete_range": {"key": o[1]}}

    def apply(self, op):
        kind = op["kind"]
        if kind == "put":
            r = self.checked({"op": "put", "key": op["key"], "value": op["value"]})
            return r["header"]["revision"], None
        if kind == "delete":
            r = self.checked({"op": "delete_range", "key": op["key"]})
            return r["header"]["revision"], r.get("deleted", 0)
        if kind == "delete_range":
            r = self.checked({"op": "delete_range", "key": op["key"],
                              "range_end": op["range_end"]})
            return r["header"]["revision"], r.get("deleted", 0)
        if kind == "txn":
            r = self.checked({
                "op": "txn",
                "compare": [{"target": t, "result": res, "key": k, FIELD[t]: x}
                            for t, res, k, x in op["compare"]],
                "success": [self._request_op(o) for o in op["success"]],
                "failure": [self._request_op(o) for o in op["failure"]]})
            return r["header"]["revision"], r.get("succeeded", False)
        if kind == "compact":
            r = self.checked({"op": "compact", "revision": op["revision"], "physical": True})
            return r["header"]["revision"], None
        raise ValueError(kind)

    def hash_kv(self, rev):
        """-> ("ok", hash, compact_revision, header revision, hash_revision) or ("error", code, message)"""
        r = self.call({"op": "hash_kv", "revision": rev})
        if "error" in r:
            return ("error", r["error"].get("code"), r["error"].get("message"))
        return ("ok", r.get("hash", 0), r.get("compact_revision", 0),
                r["header"]["revision"], r.get("hash_revision", 0))

    def everything(self):
        r = self.checked({"op": "range", "key": b"\x00", "range_end": b"\x00"})
        return r["header"]["revision"], [
            (kv["key"], kv.get("value", b""), kv.get("create_revision", 0),
             kv.get("mod_revision", 0), kv.get("version", 0)) for kv in r.get("kvs", [])]


# ------------------------------------------------ model and history generator

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    return table


CRC32C = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


class Model:
    """etcd's MVCC as far as this history needs it: the live keys, the revision,
    and every record written to etcd's `key` bucket (for the two hash formulas
    of compare_cached)."""

    def __init__(self):
        self.rev = 1
        self.compact = 0            # 0: never compacted
        self.kvs = {}               # key -> [value, create, mod, version]
        self.records = []           # (main, sub, tombstone, key, bucket key, KeyValue bytes)

    def holds(self, c):
        target, result, key, operand = c
        kv = self.kvs.get(key)
        if kv is None:
            if target == "VALUE":
                return False        # etcd: a VALUE compare on a missing key is false
            actual = 0
        else:
            actual = {"VALUE": kv[0], "CREATE": kv[1], "MOD": kv[2], "VERSION": kv[3]}[target]
        return {"EQUAL": actual == operand, "NOT_EQUAL": actual != operand,
                "GREATER": actual > operand, "LESS": actual < operand}[result]

    def _record(self, main, sub, key, tomb):
        bkey = main.to_bytes(8, "big") + b"_" + sub.to_bytes(8, "big") + (b"t" if tomb else b"")
        if tomb:
            kv = kv_pb2.KeyValue(key=key)
        else:
            v = self.kvs[key]
            kv = kv_pb2.KeyValue(key=key, value=v[0], create_revision=v[1],
                                 mod_revision=v[2], version=v[3])
        self.records.append((main, sub, tomb, key, bkey, kv.SerializeToString()))

    def _put(self, key, value, rev, sub):
        kv = self.kvs.get(key)
        if kv is None:
            self.kvs[key] = [value, rev, rev, 1]
        else:
            self.kvs[key] = [value, kv[1], rev, kv[3] + 1]
        self._record(rev, sub, key, False)

    def _delete(self, key, rev, sub):
        del self.kvs[key]
        self._record(rev, sub, key, True)

    def apply(self, op):
        kind = op["kind"]
        if kind == "put":
            self.rev += 1
            self._put(op["key"], op["value"], self.rev, 0)
            return self.rev, None
        if kind in ("delete", "delete_range"):
            gone = sorted(k for k in self.kvs if in_range(k, op["key"], op.get("range_end", b"")))
            for sub, k in enumerate(gone):
                self._delete(k, self.rev + 1, sub)
            if gone:
                self.rev += 1
            return self.rev, len(gone)
        if kind == "txn":
            ok = all(self.holds(c) for c in op["compare"])
            sub = 0
            for o in (op["success"] if ok else op["failure"]):
                if o[0] == "put":
                    self._put(o[1], o[2], self.rev + 1, sub)
                    sub += 1
                elif o[1] in self.kvs:
                    self._delete(o[1], self.rev + 1, sub)
                    sub += 1
            if sub:
                self.rev += 1
            return self.rev, ok
        if kind == "compact":
            self.compact = op["revision"]
            return self.rev, None
        raise ValueError(kind)

    def everything(self):
        return [(k, v[0], v[1], v[2], v[3]) for k, v in sorted(self.kvs.items())]

    def live_at(self, rev):
        """{key: the record of its live value at rev}"""
        live = {}
        for r in self.records:
            if r[0] > rev:
                break
            if r[2]:
                live.pop(r[3], None)
            else:
                live[r[3]] = r
        return live

    def tombstones_at(self, rev):
        return [r for r in self.records if r[0] == rev and r[2]]

    @staticmethod
    def _hash(records):
        return crc32c(b"key" + b"".join(r[4] + r[5] for r in records))

    def hash_before_compaction(self, rev, prev):
        """etcd 3.4.23's HashKV(rev) when the last compaction was at prev (0: none):
        the records above prev, and at or below prev those live at rev, or if no key
        is live at rev, all that compaction at prev left (the live values at prev)."""
        left = set(r[4] for r in self.live_at(prev).values()) if prev else set()
        keep = set(r[4] for r in self.live_at(rev).values())
        return self._hash([r for r in self.records if r[0] <= rev and (
            r[0] > prev or (r[4] in left and (not keep or r[4] in keep)))])

    def hash_of_compaction(self, rev, prev):
        """etcd 3.6's hash taken while compacting at rev (scheduleCompaction), which
        its HashKV answers at rev afterwards: the same, except that its keep set
        (kvindex.Compact) also holds the tombstones at exactly rev, so that when no
        key is live at rev but one was deleted at rev, the records at or below prev
        are skipped instead of all counted."""
        left = set(r[4] for r in self.live_at(prev).values()) if prev else set()
        keep = set(r[4] for r in self.live_at(rev).values())
        keep |= set(r[4] for r in self.tombstones_at(rev))
        return self._hash([r for r in self.records if r[0] <= rev and (
            r[0] > prev or (r[4] in left and (not keep or r[4] in keep)))])


def in_range(key, start, end):
    if not end:
        return key == start
    if end == b"\x00":
        return key >= start
    return start <= key < end


def random_value(rng):
    if rng.random() < 0.3:
        return rng.choice(VALUES)
    n = rng.randint(0, 40)
    if rng.random() < 0.5:
        return bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))
    return bytes(rng.getrandbits(8) for _ in range(n))


def random_compare(rng, model, keys):
    key = rng.choice(keys) if rng.random() < 0.7 else rng.choice(KEYS)
    target = rng.choice(TARGETS)
    result = rng.choice(RESULTS)
    kv = model.kvs.get(key)
    if target == "VALUE":
        if kv is not None and rng.random() < 0.6:
            operand = kv[0]
        else:
            operand = random_value(rng)
    else:
        actual = 0 if kv is None else {"CREATE": kv[1], "MOD": kv[2], "VERSION": kv[3]}[target]
        operand = actual + rng.choice([0, 0, 0, 1, -1, 2]) if rng.random() < 0.8 \
            else rng.randint(0, model.rev + 1)
        operand = max(0, operand)
    return (target, result, key, operand)


def random_branch(rng, lo, hi):
    keys = rng.sample(KEYS, rng.randint(lo, hi))
    return [("put", k, random_value(rng)) if rng.random() < 0.65 else ("delete", k)
            for k in keys]


def random_op(rng, model):
    while True:
        x = rng.random()
        if x < 0.40:
            return {"kind": "put", "key": rng.choice(KEYS), "value": random_value(rng)}
        if x < 0.52:
            pool = KEYS if rng.random() < 0.7 else ABSENT
            return {"kind": "delete", "key": rng.choice(pool)}
        if x < 0.60:
            if rng.random() < 0.1:      # everything
                return {"kind": "delete_range", "key": b"\x00", "range_end": b"\x00"}
            if rng.random() < 0.3:      # a prefix
                p = rng.choice([b"a", b"a/", b"b/", b"c", b"c/1", b"e"])
                return {"kind": "delete_range", "key": p, "range_end": p[:-1] + bytes([p[-1] + 1])}
            a, b = rng.sample(KEYS + BOUNDS, 2)
            if a > b:
                a, b = b, a
            if rng.random() < 0.15:
                b = b"\x00"             # everything from a on
            return {"kind": "delete_range", "key": a, "range_end": b}
        if x < 0.96:
            success = random_branch(rng, 2, 4)
            failure = random_branch(rng, 1, 3) if rng.random() < 0.5 else []
            touched = [o[1] for o in success + failure]
            # each compare holds with probability ~0.7: a txn succeeds about half the time
            compare = []
            for _ in range(rng.choice([1, 1, 2])):
                want = rng.random() < 0.7
                for _ in range(8):
                    c = random_compare(rng, model, touched)
                    if model.holds(c) == want:
                        break
                compare.append(c)
            return {"kind": "txn", "compare": compare, "success": success, "failure": failure}
        lo = model.compact + 1
        if lo <= model.rev:
            rev = model.rev if rng.random() < 0.3 else rng.randint(lo, model.rev)
            return {"kind": "compact", "revision": rev}


def describe(op):
    def short(b):
        return repr(b) if len(b) <= 12 else "%r..(%d bytes)" % (b[:10], len(b))
    kind = op["kind"]
    if kind == "put":
        return "put %r = %s" % (op["key"], short(op["value"]))
    if kind == "delete":
        return "delete %r" % op["key"]
    if kind == "delete_range":
        return "delete_range [%r, %r)" % (op["key"], op["range_end"])
    if kind == "compact":
        return "compact %d" % op["revision"]
    def branch(ops):
        return "[" + ", ".join("put %r=%s" % (o[1], short(o[2])) if o[0] == "put"
                               else "del %r" % o[1] for o in ops) + "]"
    cmp = " && ".join("%s(%r) %s %s" % (t, k, r, short(x) if t == "VALUE" else x)
                      for t, r, k, x in op["compare"])
    return "txn if %s then %s else %s" % (cmp, branch(op["success"]), branch(op["failure"]))


# ------------------------------------------------------------------ the run

class Run:
    def __init__(self, seed, etcd, zkv):
        self.seed = seed
        self.etcd = etcd
        self.zkv = zkv
        self.model = Model()
        self.history = []           # (index, op, revision after it)
        self.index = -1             # index of the op last applied (-1: none yet)
        self.pending = None         # the op about to be applied
        self.equal = 0              # HashKV comparisons that matched
        self.errors = 0             # HashKV error answers that matched
        # [(revision, zkv's expected cached hash, the compact revision before it,
        #   whether etcd 3.6's compaction hash differs from HashKV just before)]
        self.compactions = []

    def fail(self, what, revision=None, etcd=None, zkv=None):
        lines = ["hashkv_diff: MISMATCH: %s" % what,
                 "  seed %d, after op #%d, current revision %d%s"
                 % (self.seed, self.index, self.model.rev,
                    "" if revision is None else ", at revision %r" % (revision,))]
        if self.pending is not None:
            lines.append("  before op #%d: %s" % (self.index + 1, describe(self.pending)))
        if etcd is not None or zkv is not None:
            lines.append("  etcd: %r" % (etcd,))
            lines.append("  zkv:  %r" % (zkv,))
        lines.append("  compactions so far: %s"
                     % ([c[0] for c in self.compactions] or "none"))
        lines.append("  last ops of the history (index: op -> revision):")
        for i, op, rev in self.history[-15:]:
            lines.append("    #%d: %s -> %d" % (i, describe(op), rev))
        raise Failure("\n".join(lines))

    def step(self, op):
        self.pending = op
        if op["kind"] == "compact":
            self.before_compaction(op["revision"])
        self.index += 1
        self.pending = None
        e_rev, e_detail = self.etcd.apply(op)
        z_rev, z_detail = self.zkv.apply(op)
        m_rev, m_detail = self.model.apply(op)
        self.history.append((self.index, op, e_rev))
        if e_rev != z_rev:
            self.fail("revision after %s differs" % describe(op), e_rev, e_rev, z_rev)
        if e_detail != z_detail:
            self.fail("%s of %s differs" % ("succeeded" if op["kind"] == "txn" else "deleted",
                                            describe(op)), e_rev, e_detail, z_detail)
        if (m_rev, m_detail) != (e_rev, e_detail):
            self.fail("the script's model disagrees with etcd (a bug of this script): "
                      "model %r" % ((m_rev, m_detail),), e_rev, (e_rev, e_detail), (z_rev, z_detail))

    def compare_hash(self, rev):
        e = self.etcd.hash_kv(rev)
        z = self.zkv.hash_kv(rev)
        if e[0] == "error" or z[0] == "error":
            if e != z:
                self.fail("HashKV answers differ", rev, e, z)
            self.errors += 1
            return
        if (e[1], e[2], e[3]) != (z[1], z[2], z[3]):
            self.fail("HashKV (hash, compact_revision, header revision) differ", rev, e, z)
        if z[4] != (rev or z[3]):
            self.fail("zkv's hash_revision is not the revision asked", rev, e, z)
        self.equal += 1

    def before_compaction(self, rev):
        """Compare HashKV at the revision about to be compacted, and work out what
        zkv must answer there once it is compacted (see compare_cached)."""
        self.compare_hash(rev)
        e = self.etcd.hash_kv(rev)
        if e[0] != "ok":
            self.fail("etcd refuses HashKV just before compacting", rev, e)
        prev = self.model.compact
        # the script's record of etcd's key bucket must reproduce etcd's hash
        model = self.model.hash_before_compaction(rev, prev)
        if model != e[1]:
            self.fail("the script's model of etcd's HashKV (%d) disagrees with etcd "
                      "(a bug of this script)" % model, rev, e)
        cached = self.model.hash_of_compaction(rev, prev)
        self.compactions.append((rev, cached, e[2], cached != e[1]))

    def compare_cached(self, rev):
        """HashKV at a compaction's revision. Known version difference: etcd 3.4.23
        refuses it (`rev <= compact` -> compacted; for older compactions anyway),
        while zkv follows etcd 3.5.10+/3.6, which answers it from a cache of the
        hashes of the last 10 compactions, each computed while compacting, with
        the compaction before it as compact_revision.

        That hash is etcd's HashKV at that revision just before the compaction
        (compared with etcd there, in before_compaction), with one exception in
        etcd 3.6: when no key is live at the compaction revision but some key was
        deleted exactly at it, 3.6's compaction keep set (kvindex.Compact) holds
        those tombstones where HashKV's (kvindex.Keep) is empty, so the records at
        or below the previous compaction are skipped instead of all counted. E.g.
        put a=1 (rev 2), compact 2, delete a (rev 3): HashKV(3) is crc32c over
        "key", a@2, the tombstone a@3; after compact 3, etcd 3.6 answers
        HashKV(3) with crc32c over "key" and a@3 only. In that case the expected
        hash comes from the script's record of etcd's key bucket (whose HashKV
        formula is checked against etcd before every compaction)."""
        i = [c[0] for c in self.compactions].index(rev)
        _, expected, pre_compact, quirk = self.compactions[i]
        e = self.etcd.hash_kv(rev)
        z = self.zkv.hash_kv(rev)
        if e[0] == "ok":            # a newer etcd: compare directly
            self.compare_hash(rev)
            return
        if e[1:] != ("OutOfRange", COMPACTED):
            self.fail("etcd 3.4 should refuse HashKV at a compaction's revision", rev, e, z)
        if i < len(self.compactions) - HASH_CACHE:
            if z[:3] != ("error", "OutOfRange", COMPACTED):
                self.fail("zkv answers HashKV at a compaction's revision no longer cached",
                          rev, e, z)
            self.errors += 1
            return
        if z[0] != "ok" or (z[1], z[2]) != (expected, pre_compact) or z[4] != rev:
            self.fail("zkv's cached HashKV at compaction %d differs from %s (hash, "
                      "compact_revision %d)" % (rev, "etcd 3.6's compaction hash computed "
                      "by the script" if quirk else "etcd's HashKV just before that "
                      "compaction", pre_compact), rev, ("ok", expected, pre_compact), z)
        self.equal += 1

    def checkpoint(self, rng):
        cur, compact = self.model.rev, self.model.compact
        revs = [0, cur]
        if cur - compact > 1:
            revs += [rng.randint(compact + 1, cur) for _ in range(3)]
        for rev in revs:
            if rev > 0 and rev == compact:
                self.compare_cached(rev)
            else:
                self.compare_hash(rev)
        # the compaction revisions: those zkv still has the hash of, two older ones
        older = [c[0] for c in self.compactions[:-HASH_CACHE]]
        for rev in rng.sample(older, min(2, len(older))):
            self.compare_cached(rev)
        for c in self.compactions[-HASH_CACHE:]:
            self.compare_cached(c[0])
        # below the compact revision (not at an older compaction, which zkv may
        # answer from its cache): both must say compacted
        below = sorted(set(range(1, compact)) - {c[0] for c in self.compactions})
        for rev in rng.sample(below, min(2, len(below))):
            e = self.etcd.hash_kv(rev)
            if e[1:] != ("OutOfRange", COMPACTED):
                self.fail("etcd does not say compacted below the compact revision", rev, e)
            self.compare_hash(rev)
        # above the current revision: both must say future
        for rev in (cur + 1, cur + rng.randint(2, 100)):
            e = self.etcd.hash_kv(rev)
            if e[1:] != ("OutOfRange", FUTURE):
                self.fail("etcd does not say future above the current revision", rev, e)
            self.compare_hash(rev)
        # and the data itself
        e_rev, e_kvs = self.etcd.everything()
        z_rev, z_kvs = self.zkv.everything()
        if (e_rev, e_kvs) != (z_rev, z_kvs):
            self.fail("range over everything differs", cur, (e_rev, e_kvs), (z_rev, z_kvs))
        if e_kvs != self.model.everything():
            self.fail("the script's model disagrees with etcd's keys (a bug of this script)",
                      cur, e_kvs, self.model.everything())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zkv-node", required=True, help="path of the zkv-node binary")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ops", type=int, default=300)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    args = ap.parse_args()
    binary = os.path.abspath(args.zkv_node)
    if not os.access(binary, os.X_OK):
        ap.error("not an executable: %s" % binary)

    atexit.register(CLEANUP.run)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, _: sys.exit(128 + signum))
    CLEANUP.keep = args.keep
    CLEANUP.tmp = tempfile.mkdtemp(prefix="hashkv_diff.")
    started = time.monotonic()
    try:
        _, eclient, _ = start_etcd(CLEANUP.tmp)
        _, zkv, _ = start_zkv(CLEANUP.tmp, binary)
        run = Run(args.seed, Etcd(eclient), zkv)
        ops_rng = random.Random(args.seed)
        check_rng = random.Random(args.seed * 7919 + 1)
        run.checkpoint(check_rng)
        for i in range(args.ops):
            op = random_op(ops_rng, run.model)
            run.step(op)
            if op["kind"] == "compact" or (i + 1) % 10 == 0 or i + 1 == args.ops:
                run.checkpoint(check_rng)
    except Failure as f:
        print(str(f), file=sys.stderr)
        return 1
    except RuntimeError as e:       # a server did not come up
        print("hashkv_diff: %s" % e, file=sys.stderr)
        return 2
    finally:
        CLEANUP.run()
    print("hashkv_diff: seed %d: %d ops, %d HashKV comparisons equal "
          "(and %d equal HashKV errors), %d compactions (%d with etcd 3.6's tombstone keep), "
          "revision %d, %.1f s"
          % (args.seed, args.ops, run.equal, run.errors, len(run.compactions),
             sum(1 for c in run.compactions if c[3]),
             run.model.rev, time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
