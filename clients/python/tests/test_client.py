"""Tests of the zkv Python client.

Run by tests/test_python_client.c (zkv-system-tests, suite python_client), which starts
the members and runs ``python3 -m unittest test_client`` with:

    ZKV_TEST_SUITE          which classes: offline (no member), api, faults, secure
    ZKV_TEST_CLUSTER_FILE   the cluster file of the members it started (not offline)
    ZKVCTL_BIN              zkvctl, to check snapshot files against
    PYTHONPATH              clients/python and clients/python/tests

The fault tests pause (SIGSTOP) and kill members by the pids of the cluster file.
By hand: ``zkv-cluster up -n 3 --dir D`` (add ``--secure`` for the secure suite), then
``ZKV_TEST_SUITE=api ZKV_TEST_CLUSTER_FILE=D/cluster.zpl PYTHONPATH=clients/python
/usr/bin/python3 -m unittest -v clients/python/tests/test_client.py``.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from typing import Any, Callable, Dict, List, Optional

import msgpack
import zmq

import zkv
from zkv import Delete, Get, Put, Txn, value, version
from zkv.zpl import load, load_cluster_file

SUITE = os.environ.get("ZKV_TEST_SUITE", "offline")
CLUSTER_FILE = os.environ.get("ZKV_TEST_CLUSTER_FILE", "")
ZKVCTL = os.environ.get("ZKVCTL_BIN", "")


def eventually(check: Callable[[], Any], timeout: float = 20.0, pause: float = 0.05) -> Any:
    """Calls check until it returns something true (or stops raising); that value.
    Fails the test after timeout seconds (a bound, never an expectation)."""
    deadline = time.monotonic() + timeout
    last: Optional[BaseException] = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
            last = None
        except (zkv.ZkvError, AssertionError) as error:
            last = error
        time.sleep(pause)
    raise AssertionError(f"not within {timeout} s (last: {last!r})")


class Member:
    """A member of the cluster under test, from the cluster file."""

    def __init__(self, node: Any) -> None:
        self.name: str = node.get("name")
        self.id = int(node.get("id"), 16)
        self.endpoint: str = node.get("client")
        self.pid = int(node.get("pid") or 0)

    def signal(self, number: int) -> None:
        os.kill(self.pid, number)

    def _threads_in(self, states: str) -> bool:
        """True if every thread of the process is in one of states (a thread gone
        counts as dead)."""
        try:
            threads = os.listdir(f"/proc/{self.pid}/task")
        except FileNotFoundError:
            return True
        for thread in threads:
            try:
                with open(f"/proc/{self.pid}/task/{thread}/stat") as stat:
                    state = stat.read().rsplit(")", 1)[1].split()[0]
            except (FileNotFoundError, ProcessLookupError):
                continue
            if state not in states:
                return False
        return True

    def pause(self) -> None:
        """SIGSTOP, and waits until every thread stopped (a signal is not taken at
        once: a request sent before may still be served)."""
        self.signal(signal.SIGSTOP)
        eventually(lambda: self._threads_in("Tt"))

    def kill(self) -> None:
        """SIGKILL, and waits until the process is dead (its connections closed)."""
        self.signal(signal.SIGKILL)
        eventually(lambda: self._threads_in("ZX"))


def members() -> List[Member]:
    return [Member(m) for m in load_cluster_file(CLUSTER_FILE).members]


def member_at(endpoint: str) -> Member:
    """The member serving clients on endpoint."""
    return next(m for m in members() if m.endpoint == endpoint)


def settle(running: Optional[List[Member]] = None) -> str:
    """Waits until the running members agree on a leader that every one of them has
    applied up to; its name."""
    running = running if running is not None else members()

    def agreed() -> Optional[str]:
        statuses = []
        for member in running:
            with client_of().at(member.endpoint, 2.0) as one:
                statuses.append(one.status())
        leaders = {s.leader for s in statuses}
        if len(leaders) != 1 or 0 in leaders:
            return None
        by_id = {m.id: m.name for m in running}
        return by_id.get(leaders.pop())
    return eventually(agreed)


_CLIENT: Optional[zkv.Client] = None


def client_of() -> zkv.Client:
    """A client of the whole cluster, as the cluster file describes it."""
    global _CLIENT
    if _CLIENT is None:
        _CLIENT = zkv.Client(cluster_file=CLUSTER_FILE)
    return _CLIENT


def dead_endpoint() -> tuple:
    """An endpoint nothing answers on, for as long as the returned socket stays open:
    a port bound and not listening (no parallel test can be given it meanwhile)."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    return f"127.0.0.1:{held.getsockname()[1]}", held


# ----------------------------------------------------------------------
# offline: against fake members (a ROUTER socket answering as told)


class FakeMember:
    """A ROUTER socket in a thread, answering each request with what answer(request)
    returns (a reply map, a list of them, or None: no answer). Keeps every request."""

    def __init__(self, answer: Callable[[Dict[str, Any]], Any]) -> None:
        self.answer = answer
        self.requests: List[Dict[str, Any]] = []
        self._socket = zmq.Context.instance().socket(zmq.ROUTER)
        self._socket.setsockopt(zmq.LINGER, 0)
        port = self._socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"127.0.0.1:{port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._socket.poll(20):
                continue
            routing, frame = self._socket.recv_multipart()
            request = msgpack.unpackb(frame, raw=False)
            self.requests.append(request)
            replies = self.answer(request)
            if replies is None:
                continue
            for reply in replies if isinstance(replies, list) else [replies]:
                self._socket.send_multipart([routing, msgpack.packb(reply, use_bin_type=True)])

    def ops(self) -> List[str]:
        return [r["op"] for r in self.requests]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()


def ok(request: Dict[str, Any], **fields: Any) -> Dict[str, Any]:
    return dict(fields, op=request["op"], id=request["id"], header={"member_id": 7, "revision": 9})


def refused(request: Dict[str, Any], code: str, message: str) -> Dict[str, Any]:
    return {"op": request["op"], "id": request["id"], "header": {"member_id": 7},
            "error": {"code": code, "message": message}}


class OfflineTests(unittest.TestCase):
    """The client's own rules, against fake members."""

    def setUp(self) -> None:
        self.fakes: List[FakeMember] = []

    def tearDown(self) -> None:
        for fake in self.fakes:
            fake.close()

    def fake(self, answer: Callable[[Dict[str, Any]], Any]) -> FakeMember:
        fake = FakeMember(answer)
        self.fakes.append(fake)
        return fake

    def test_requests_are_encoded_as_the_protocol_says(self) -> None:
        fake = self.fake(lambda r: ok(r))
        with zkv.Client(fake.endpoint) as client:
            client.put("k", "v")
            client.get("k", prefix=True, limit=3, serializable=True)
            client.get("", prefix=True)
            client.get(b"a", from_key=True, keys_only=True)
            client.delete("p", prefix=True, prev_kv=True)
            client.txn([value("k") == "v", version("k") > 1],
                       [Put("k", b"w"), Get("k")], [Delete("k"), Txn([], [Get("x")])])
        requests = [{k: v for k, v in r.items() if k != "id"} for r in fake.requests]
        self.assertEqual(requests, [
            {"op": "put", "key": b"k", "value": b"v"},
            {"op": "range", "key": b"k", "range_end": b"l", "limit": 3, "serializable": True},
            {"op": "range", "key": b"\x00", "range_end": b"\x00"},
            {"op": "range", "key": b"a", "range_end": b"\x00", "keys_only": True},
            {"op": "delete_range", "key": b"p", "range_end": b"q", "prev_kv": True},
            {"op": "txn",
             "compare": [{"key": b"k", "target": "VALUE", "result": "EQUAL", "value": b"v"},
                         {"key": b"k", "target": "VERSION", "result": "GREATER",
                          "version": 1}],
             "success": [{"request_put": {"key": b"k", "value": b"w"}},
                         {"request_range": {"key": b"k"}}],
             "failure": [{"request_delete_range": {"key": b"k"}},
                         {"request_txn": {"success": [{"request_range": {"key": b"x"}}]}}]}])
        ids = [r["id"] for r in fake.requests]
        self.assertEqual(len(set(ids)), len(ids), "every request has an id of its own")

    def test_prefix_ends_as_etcd_makes_them(self) -> None:
        self.assertEqual(zkv.prefix_end(b"a\xff"), b"b")
        self.assertEqual(zkv.prefix_end(b"\xff\xff"), b"\x00")
        self.assertEqual(zkv.prefix_end("foo".encode()), b"fop")

    def test_a_reply_with_another_id_is_not_taken(self) -> None:
        def answer(request: Dict[str, Any]) -> List[Dict[str, Any]]:
            stale = ok(request, kvs=[{"key": b"stale"}])
            stale["id"] = request["id"] - 1
            return [stale, ok(request, kvs=[{"key": b"k", "value": b"right"}], count=1)]
        fake = self.fake(answer)
        with zkv.Client(fake.endpoint) as client:
            result = client.get("k")
        self.assertEqual(result.kvs, [zkv.KeyValue(b"k", b"right")])
        self.assertEqual(result.count, 1)
        self.assertEqual(result.header.member_id, 7)

    def test_errors_carry_the_members_text_and_code(self) -> None:
        fake = self.fake(lambda r: refused(r, "OutOfRange",
                                           "etcdserver: mvcc: required revision has been "
                                           "compacted"))
        with zkv.Client(fake.endpoint) as client:
            with self.assertRaises(zkv.ServerError) as caught:
                client.get("k", revision=1)
        self.assertEqual(caught.exception.code, "OutOfRange")
        self.assertEqual(str(caught.exception),
                         "etcdserver: mvcc: required revision has been compacted")
        self.assertFalse(caught.exception.retryable)
        self.assertEqual(len(fake.requests), 1, "not retried")

    def test_a_write_refused_with_no_leader_is_sent_again(self) -> None:
        def answer(request: Dict[str, Any]) -> Dict[str, Any]:
            if len(fake.requests) < 3:
                return refused(request, "Unavailable", "etcdserver: no leader")
            return ok(request)
        fake = self.fake(answer)
        with zkv.Client(fake.endpoint) as client:
            self.assertEqual(client.put("k", "v").header.revision, 9)
        self.assertEqual(fake.ops(), ["put"] * 3)

    def test_a_dropped_proposal_is_retried_until_the_deadline(self) -> None:
        fake = self.fake(lambda r: refused(r, "Unavailable",
                                           "raft proposal dropped: leader transfer to 2"))
        with zkv.Client(fake.endpoint, timeout=2) as client:
            with self.assertRaises(zkv.ServerError) as caught:
                client.put("k", "v")
        self.assertTrue(caught.exception.retryable)
        self.assertGreater(len(fake.requests), 1)

    def test_a_learners_refusal_goes_to_the_next_member(self) -> None:
        learner = self.fake(lambda r: refused(r, "Unavailable",
                                              "etcdserver: rpc not supported for learner"))
        voter = self.fake(lambda r: ok(r))
        with zkv.Client([learner.endpoint, voter.endpoint]) as client:
            client.put("k", "v")
        self.assertEqual((learner.ops(), voter.ops()), (["put"], ["put"]))
        # the learner alone: raised at once
        with zkv.Client(learner.endpoint) as client:
            with self.assertRaises(zkv.ServerError) as caught:
                client.put("k", "v")
        self.assertEqual(caught.exception.code, "Unavailable")
        self.assertEqual(learner.ops(), ["put", "put"])

    def test_a_write_that_timed_out_at_the_member_is_not_sent_again(self) -> None:
        fake = self.fake(lambda r: refused(r, "Unavailable", "etcdserver: request timed out"))
        other = self.fake(lambda r: ok(r))
        with zkv.Client([fake.endpoint, other.endpoint]) as client:
            with self.assertRaises(zkv.ServerError) as caught:
                client.put("k", "v")
            self.assertEqual(str(caught.exception), "etcdserver: request timed out")
            self.assertEqual(fake.ops() + other.ops(), ["put"])
            # a read is sent again, to the next member
            client.get("k")
        self.assertEqual(fake.ops(), ["put", "range"])
        self.assertEqual(other.ops(), ["range"])

    def test_a_write_with_no_answer_is_not_sent_again(self) -> None:
        silent = self.fake(lambda r: None)
        other = self.fake(lambda r: ok(r))
        with zkv.Client([silent.endpoint, other.endpoint], timeout=1) as client:
            with self.assertRaises(zkv.DeadlineExceeded) as caught:
                client.put("k", "v")
            self.assertTrue(caught.exception.sent)
            self.assertEqual(str(caught.exception), "context deadline exceeded")
            self.assertEqual(silent.ops(), ["put"])
            self.assertEqual(other.ops(), [])
            # the calls after go to the next member
            client.put("k2", "v")
            self.assertEqual(other.ops(), ["put"])
            self.assertEqual(client.endpoint, "tcp://" + other.endpoint)

    def test_a_read_with_no_answer_goes_to_the_next_member(self) -> None:
        silent = self.fake(lambda r: None)
        other = self.fake(lambda r: ok(r, count=0))
        with zkv.Client([silent.endpoint, other.endpoint], timeout=5) as client:
            client.get("k")
            client.status()
        self.assertEqual(silent.ops(), ["range"])
        self.assertEqual(other.ops(), ["range", "status"])

    def test_no_member_there(self) -> None:
        endpoint, held = dead_endpoint()
        try:
            with zkv.Client(endpoint, timeout=0.3) as client:
                with self.assertRaises(zkv.DeadlineExceeded) as caught:
                    client.put("k", "v")
                self.assertFalse(caught.exception.sent)
        finally:
            held.close()

    def test_a_dead_endpoint_is_skipped(self) -> None:
        endpoint, held = dead_endpoint()
        fake = self.fake(lambda r: ok(r))
        try:
            with zkv.Client([endpoint, fake.endpoint], timeout=3) as client:
                client.put("k", "v")
            self.assertEqual(fake.ops(), ["put"])
        finally:
            held.close()

    def test_a_request_too_large_is_not_sent(self) -> None:
        fake = self.fake(lambda r: ok(r))
        with zkv.Client(fake.endpoint, max_request_bytes=1000) as client:
            with self.assertRaises(zkv.RequestTooLarge) as caught:
                client.put("k", "x" * 1000)
            client.put("k", "x" * 900)
        self.assertEqual(str(caught.exception), "etcdserver: request is too large")
        self.assertEqual(fake.ops(), ["put"])

    def test_membership_changes_go_to_the_leader(self) -> None:
        leader = self.fake(lambda r: ok(r, members=[{"member_id": 2, "name": "b"}]))

        def follower_answer(request: Dict[str, Any]) -> Dict[str, Any]:
            if request["op"] == "status":
                return ok(request, leader=2)
            if request["op"] == "member_list":
                return ok(request, members=[
                    {"member_id": 1, "client_endpoint": "tcp://" + follower.endpoint},
                    {"member_id": 2, "client_endpoint": "tcp://" + leader.endpoint}])
            return refused(request, "Unavailable", "etcdserver: not leader")
        follower = self.fake(follower_answer)
        with zkv.Client(follower.endpoint) as client:
            result = client.member_remove(5)
        self.assertEqual(result.members, [zkv.Member(2, "b")])
        self.assertEqual(follower.ops(), ["status", "member_list"])
        self.assertEqual(leader.ops(), ["member_remove"])
        self.assertEqual(leader.requests[0]["member_id"], 5)

    def test_keys_and_arguments(self) -> None:
        with self.assertRaises(TypeError):
            zkv.Client("127.0.0.1:1").put(5, "v")  # type: ignore[arg-type]
        with self.assertRaises(ValueError):
            zkv.Client("127.0.0.1:1", cluster_file="x")
        with self.assertRaises(ValueError):
            zkv.Client("127.0.0.1:1").get("")
        self.assertEqual(zkv.Client("a:1, http://b:2,ipc:///x").endpoints,
                         ["tcp://a:1", "tcp://b:2", "ipc:///x"])
        self.assertEqual(zkv.Client().endpoints, ["tcp://127.0.0.1:12379"])

    def test_cluster_files_and_certificates(self) -> None:
        public, secret = zmq.curve_keypair()
        server, _ = zmq.curve_keypair()
        with tempfile.TemporaryDirectory() as here:
            with open(os.path.join(here, "c.cert"), "w") as f:
                f.write(f'curve\n    public-key = "{public.decode()}"\n')
            with open(os.path.join(here, "c.cert_secret"), "w") as f:
                f.write(f'#   comment\nmetadata\n    name = "x"  # a note\ncurve\n'
                        f'    public-key = "{public.decode()}"\n'
                        f'    secret-key = "{secret.decode()}"\n')
            with open(os.path.join(here, "s.cert"), "w") as f:
                f.write(f'curve\n    public-key = "{server.decode()}"\n')
            path = os.path.join(here, "cluster.zpl")
            with open(path, "w") as f:
                f.write("#  zkv cluster file\ncluster\n    cert = c.cert\n"
                        f"    server-cert = {here}/s.cert\n"
                        "    member\n        name = n1\n        client = tcp://127.0.0.1:7\n"
                        "    member\n        name = n2\n        client = tcp://127.0.0.1:8\n")
            client = zkv.Client(cluster_file=path)
            self.assertEqual(client.endpoints, ["tcp://127.0.0.1:7", "tcp://127.0.0.1:8"])
            self.assertEqual(client._curve, (public, secret, server))
            with open(path, "w") as f:
                f.write("cluster\n  member\n")
            with self.assertRaises(zkv.ZkvError) as caught:
                zkv.Client(cluster_file=path)
            self.assertIn("line 2: indentation error", str(caught.exception))
            self.assertEqual(load(os.path.join(here, "s.cert")).get("curve/public-key"),
                             server.decode())


# ----------------------------------------------------------------------
# api: every method against a live cluster


class ApiTests(unittest.TestCase):

    @classmethod
    def setUpClass(cls) -> None:
        settle()
        cls.client = zkv.Client(cluster_file=CLUSTER_FILE, timeout=10)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()

    def test_put_and_get(self) -> None:
        c = self.client
        put = c.put("api/str", "välue")
        self.assertGreater(put.header.revision, 0)
        self.assertNotEqual(put.header.cluster_id, 0)
        got = c.get("api/str")
        self.assertEqual(got.count, 1)
        kv = got.kvs[0]
        self.assertEqual((kv.key, kv.value), (b"api/str", "välue".encode()))
        self.assertEqual((kv.create_revision, kv.mod_revision, kv.version),
                         (put.header.revision, put.header.revision, 1))
        c.put(b"api/\x00\xff", b"\x01\x02")
        self.assertEqual(c.get(b"api/\x00\xff").kvs[0].value, b"\x01\x02")
        again = c.put("api/str", "second", prev_kv=True)
        self.assertEqual(again.prev_kv.value, "välue".encode())
        self.assertEqual(c.get("api/str").kvs[0].version, 2)
        missing = c.get("api/missing")
        self.assertEqual((missing.kvs, missing.count, missing.more), ([], 0, False))

    def test_get_options(self) -> None:
        c = self.client
        first = c.put("opt/a", "1").header.revision
        for key in ("opt/b", "opt/c", "opt/d"):
            c.put(key, key)
        c.put("opt/a", "2")
        c.put("opu", "outside")
        every = c.get("opt/", prefix=True)
        self.assertEqual([kv.key for kv in every.kvs], [b"opt/a", b"opt/b", b"opt/c", b"opt/d"])
        limited = c.get("opt/", prefix=True, limit=2)
        self.assertEqual((len(limited.kvs), limited.more, limited.count), (2, True, 4))
        self.assertEqual([kv.value for kv in c.get("opt/", prefix=True, keys_only=True).kvs],
                         [b""] * 4)
        counted = c.get("opt/", prefix=True, count_only=True)
        self.assertEqual((counted.kvs, counted.count), ([], 4))
        self.assertEqual(c.get("opt/b", range_end="opt/d").count, 2)
        self.assertEqual(c.get("opt/c", from_key=True).count, 3)
        self.assertEqual(c.get("opt/a", revision=first).kvs[0].value, b"1")
        self.assertEqual(c.get("opt/a", serializable=True).kvs[0].value, b"2")
        self.assertGreaterEqual(c.get("", prefix=True, count_only=True).count, 5)
        with self.assertRaises(zkv.ServerError) as caught:
            c.get("opt/a", revision=c.get("opt/a").header.revision + 1000)
        self.assertEqual(caught.exception.code, "OutOfRange")
        self.assertEqual(caught.exception.message,
                         "etcdserver: mvcc: required revision is a future revision")

    def test_delete(self) -> None:
        c = self.client
        for key in ("del/a", "del/b", "del/c", "del/d"):
            c.put(key, "x")
        self.assertEqual(c.delete("del/a").deleted, 1)
        self.assertEqual(c.delete("del/a").deleted, 0)
        gone = c.delete("del/", prefix=True, prev_kv=True)
        self.assertEqual(gone.deleted, 3)
        self.assertEqual([kv.key for kv in gone.prev_kvs], [b"del/b", b"del/c", b"del/d"])
        self.assertEqual(c.get("del/", prefix=True).count, 0)

    def test_txn(self) -> None:
        c = self.client
        c.put("txn/k", "bar")
        done = c.txn([value("txn/k") == "bar"], [Put("txn/k", "baz"), Get("txn/k")],
                     [Get("txn/k")])
        self.assertTrue(done.succeeded)
        self.assertIsInstance(done.responses[0], zkv.PutResponse)
        self.assertEqual(done.responses[1].kvs[0].value, b"baz")
        missed = c.txn([value("txn/k") == "bar"], [Put("txn/k", "no")],
                       [Get("txn/k"), Txn([version("txn/k") > 0], [Delete("txn/k")])])
        self.assertFalse(missed.succeeded)
        self.assertEqual(missed.responses[0].kvs[0].value, b"baz")
        self.assertEqual(missed.responses[1].responses[0].deleted, 1)
        reads = c.txn([], [Get("txn/k")])
        self.assertTrue(reads.succeeded)
        self.assertEqual(reads.responses[0].count, 0)
        with self.assertRaises(zkv.ServerError) as caught:
            c.txn([], [Put("txn/d", "1"), Put("txn/d", "2")])
        self.assertEqual((caught.exception.code, caught.exception.message),
                         ("InvalidArgument", "etcdserver: duplicate key given in txn request"))

    def test_compact(self) -> None:
        c = self.client
        old = c.put("cmp/k", "1").header.revision
        now = c.put("cmp/k", "2").header.revision
        c.compact(now, physical=True)
        with self.assertRaises(zkv.ServerError) as caught:
            c.get("cmp/k", revision=old)
        self.assertEqual(caught.exception.code, "OutOfRange")
        self.assertEqual(str(caught.exception),
                         "etcdserver: mvcc: required revision has been compacted")
        with self.assertRaises(zkv.ServerError):
            c.compact(old)

    def test_requests_too_large(self) -> None:
        with self.assertRaises(zkv.RequestTooLarge):
            self.client.put("big", b"x" * (9 << 20))
        # within what the client sends, over what the member takes: the member's own
        with self.assertRaises(zkv.ServerError) as caught:
            self.client.put("big", b"x" * (2 << 20))
        self.assertEqual(str(caught.exception), "etcdserver: request is too large")

    def test_status(self) -> None:
        names = {m.id: m.name for m in members()}
        for member in members():
            status = self.client.at(member.endpoint).status()
            self.assertEqual(status.header.member_id, member.id)
            self.assertEqual(status.name, member.name)
            self.assertIn(status.leader, names)
            self.assertIn(status.role, ("leader", "follower"))
            self.assertEqual(status.storage_version, "1.0.0")
            self.assertTrue(status.version)
            self.assertGreater(status.db_size, 0)
            self.assertTrue(status.events_endpoint.startswith("tcp://"))
            self.assertEqual(status.errors, [])

    def test_hash_and_hash_kv(self) -> None:
        revision = self.client.put("hash/k", "v").header.revision
        every = members()

        def same_hash_kv() -> bool:
            hashes = {self.client.at(m.endpoint).hash_kv(revision) for m in every}
            return len({(h.hash, h.hash_revision) for h in hashes}) == 1
        eventually(same_hash_kv)
        one = self.client.at(every[0].endpoint).hash_kv(revision)
        self.assertEqual(one.hash_revision, revision)
        self.assertNotEqual(one.hash, 0)
        whole = self.client.hash()
        self.assertNotEqual(whole.hash, 0)
        self.assertGreater(whole.header.revision, 0)

    def test_defragment(self) -> None:
        member = members()[1]
        done = self.client.at(member.endpoint, timeout=60).defragment()
        self.assertEqual(done.header.member_id, member.id)
        self.assertGreater(done.db_size_before, 0)
        self.assertGreater(done.db_size, 0)

    def test_snapshot(self) -> None:
        for i in range(20):
            self.client.put(f"snap/{i:02}", "v" * 1000)
        self.client.delete("snap/00")
        with tempfile.TemporaryDirectory() as here:
            path = os.path.join(here, "backup.db")
            info = self.client.snapshot(path)
            self.assertEqual(info.path, path)
            self.assertEqual(info.size, os.path.getsize(path))
            self.assertEqual(info.version, "1.0.0")
            self.assertFalse(os.path.exists(path + ".part"))
            status = zkv.snapshot_status(path)
            self.assertGreaterEqual(status.total_key, 19)
            if ZKVCTL:
                out = subprocess.run([ZKVCTL, "snapshot", "status", path, "-w", "json"],
                                     check=True, capture_output=True, text=True).stdout
                theirs = json.loads(out)
                self.assertEqual(theirs, {"hash": status.hash, "revision": status.revision,
                                          "totalKey": status.total_key,
                                          "totalSize": status.total_size,
                                          "version": status.version})
            # a file whose bytes changed fails its check
            with open(path, "r+b") as f:
                f.seek(20)
                byte = f.read(1)
                f.seek(20)
                f.write(bytes([byte[0] ^ 1]))
            with self.assertRaises(zkv.SnapshotError) as caught:
                zkv.snapshot_status(path)
            self.assertIn("expected sha256", str(caught.exception))

    def test_move_leader(self) -> None:
        leader_name = settle()
        every = members()
        target = next(m for m in every if m.name != leader_name)
        # (a transfer may time out on a loaded machine: then again)
        moved = eventually(lambda: self.client.move_leader(target.id))
        self.assertEqual(moved.leader, target.id)
        self.assertEqual(settle(), target.name)
        back = next(m for m in every if m.name == leader_name)
        self.assertEqual(eventually(lambda: self.client.move_leader(back.name)).leader,
                         back.id)
        settle()

    def test_alarms(self) -> None:
        member = members()[0]
        self.assertEqual(self.client.alarms(), [])
        raised = self.client.activate_alarm(member.id, "NOSPACE")
        self.assertEqual(raised, [zkv.Alarm(member.id, "NOSPACE")])
        self.assertEqual(self.client.alarms(), [zkv.Alarm(member.id, "NOSPACE")])
        try:
            with self.assertRaises(zkv.ServerError) as caught:
                self.client.put("alarm/k", "v")
            self.assertEqual((caught.exception.code, caught.exception.message),
                             ("ResourceExhausted",
                              "etcdserver: mvcc: database space exceeded"))
        finally:
            cleared = self.client.disarm()
        self.assertEqual(cleared, [zkv.Alarm(member.id, "NOSPACE")])
        self.assertEqual(self.client.alarms(), [])
        self.client.put("alarm/k", "v")

    def test_members(self) -> None:
        every = members()
        listed = self.client.members()
        self.assertEqual(sorted((m.member_id, m.name, m.client_endpoint) for m in listed),
                         sorted((m.id, m.name, m.endpoint) for m in every))
        self.assertEqual(len(self.client.members(linearizable=False)), 3)
        peer, held = dead_endpoint()
        moved, held_too = dead_endpoint()
        try:
            added = self.client.member_add(peer, timeout=20)
            new = added.member
            self.assertTrue(new.is_learner)
            self.assertEqual(new.peer_endpoint, "tcp://" + peer)
            self.assertEqual(new.name, "")
            self.assertIn(new.member_id, [m.member_id for m in added.members])
            # never started: never in sync
            with self.assertRaises(zkv.ServerError) as caught:
                self.client.member_promote(new.member_id, timeout=20)
            self.assertEqual(caught.exception.message, "etcdserver: can only promote a "
                             "learner member which is in sync with leader")
            self.assertTrue(caught.exception.retryable)
            updated = self.client.member_update(new.member_id, moved, timeout=20)
            self.assertIn("tcp://" + moved, [m.peer_endpoint for m in updated.members])
            left = self.client.member_remove(new.member_id, timeout=20)
            self.assertNotIn(new.member_id, [m.member_id for m in left.members])
            with self.assertRaises(zkv.ServerError) as caught:
                self.client.member_remove(new.member_id, timeout=20)
            self.assertEqual((caught.exception.code, caught.exception.message),
                             ("NotFound", "etcdserver: member not found"))
        finally:
            held.close()
            held_too.close()

    def test_events(self) -> None:
        member = members()[2]
        with self.client.events(["defrag"], cluster=True) as stream:
            self.assertEqual(len(stream.endpoints), 3)

            def defragmented() -> Optional[zkv.Event]:
                # only what is published after the subscription is seen: ask again
                self.client.at(member.endpoint, timeout=60).defragment()
                return stream.get(timeout=1)
            event = eventually(defragmented, timeout=60)
        self.assertEqual(event.topic, "defrag")
        self.assertEqual(event.member, member.id)
        self.assertGreater(event["db_size_before"], 0)
        # leader events, from the members of the client's endpoints
        with self.client.events(["leader"]) as stream:
            def transferred() -> Optional[zkv.Event]:
                # a move to a member that does not lead, each time: a leader event
                leader_name = settle()
                target = next(m for m in members() if m.name != leader_name)
                self.client.move_leader(target.id)
                event = stream.get(timeout=1)
                while event is not None and event["leader"] != target.id:
                    event = stream.get(timeout=1)
                return event
            seen = eventually(transferred, timeout=60)
            self.assertEqual(seen.topic, "leader")
            self.assertIn(seen.member, [m.id for m in members()])
        settle()


# ----------------------------------------------------------------------
# faults: members paused and killed


class FaultTests(unittest.TestCase):
    """Pauses restore the member; the kill comes last (KillTests)."""

    def setUp(self) -> None:
        self.members = members()
        settle(self.members)
        self.paused: List[Member] = []

    def tearDown(self) -> None:
        for member in self.paused:
            member.signal(signal.SIGCONT)
        settle(self.members)

    def pause(self, member: Member) -> None:
        self.paused.append(member)
        member.pause()

    def test_a_paused_member_times_out(self) -> None:
        member = self.members[0]
        with zkv.Client(member.endpoint, timeout=1) as client:
            client.get("pause/k")
            self.pause(member)
            # it took the request (the connection was up): the outcome is unknown
            with self.assertRaises(zkv.DeadlineExceeded) as caught:
                client.put("pause/k", "v")
            self.assertTrue(caught.exception.sent)
        # a fresh connection never completes its handshake: nothing was sent
        with zkv.Client(member.endpoint, timeout=1) as client:
            with self.assertRaises(zkv.DeadlineExceeded) as caught:
                client.get("pause/k")
            self.assertFalse(caught.exception.sent)

    def test_reads_fail_over_from_a_paused_member(self) -> None:
        with zkv.Client(cluster_file=CLUSTER_FILE, timeout=10) as client:
            client.put("failover/k", "v")
            first = member_at(client.endpoint)
            self.pause(first)
            self.assertEqual(client.get("failover/k").kvs[0].value, b"v")
            self.assertNotEqual(client.endpoint, first.endpoint)
            # a client that starts now skips it too
            with zkv.Client(cluster_file=CLUSTER_FILE, timeout=10) as fresh:
                self.assertEqual(fresh.get("failover/k").count, 1)
                fresh.put("failover/k2", "v")

    def test_a_write_that_timed_out_is_not_sent_again(self) -> None:
        with zkv.Client(cluster_file=CLUSTER_FILE, timeout=10) as client:
            client.get("unsent/k")
            first = member_at(client.endpoint)
            others = [m.endpoint for m in self.members if m.endpoint != first.endpoint]
            self.pause(first)
            with self.assertRaises(zkv.DeadlineExceeded) as caught:
                client.put("unsent/k", "v", timeout=1)
            self.assertTrue(caught.exception.sent)
            # the members that run never got it (a linearizable read through them)
            with zkv.Client(others, timeout=10) as them:
                self.assertEqual(them.get("unsent/k").count, 0)
            # the calls after go to another member
            client.put("unsent/after", "v")
            self.assertNotEqual(client.endpoint, first.endpoint)
        first.signal(signal.SIGCONT)
        self.paused.remove(first)
        settle(self.members)
        # resumed, the paused member may serve what it held: once at most
        with zkv.Client(cluster_file=CLUSTER_FILE, timeout=10) as client:
            self.assertLessEqual(sum(kv.version for kv in client.get("unsent/k").kvs), 1)


class KillTests(unittest.TestCase):

    def test_a_killed_member_is_failed_over(self) -> None:
        every = members()
        settle(every)
        connected = zkv.Client(cluster_file=CLUSTER_FILE, timeout=10)
        connected.put("kill/k", "1")
        first = member_at(connected.endpoint)
        first.kill()
        settle([m for m in every if m.name != first.name])
        # the client that was connected to it, and a new one
        started = time.monotonic()
        try:
            connected.put("kill/k", "2")
        except zkv.DeadlineExceeded as error:
            raise AssertionError(f"sent={error.sent} to {error.endpoint} (killed: "
                                 f"{first.endpoint}) after {time.monotonic() - started:.1f} s"
                                 ) from error
        self.assertNotEqual(connected.endpoint, first.endpoint)
        with zkv.Client(cluster_file=CLUSTER_FILE, timeout=10) as fresh:
            self.assertEqual(fresh.get("kill/k").kvs[0].value, b"2")
            fresh.put("kill/k", "3")
            self.assertEqual(fresh.status().header.member_id != first.id, True)
        self.assertEqual(connected.get("kill/k").kvs[0].value, b"3")
        connected.close()


# ----------------------------------------------------------------------
# secure: CURVE


class CurveTests(unittest.TestCase):

    @classmethod
    def setUpClass(cls) -> None:
        cls.certs = os.path.join(os.path.dirname(CLUSTER_FILE), "certs")
        cls.admin = zkv.Client(cluster_file=CLUSTER_FILE, timeout=10)
        settle()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.admin.close()

    def test_the_admin_of_the_cluster_file(self) -> None:
        self.admin.put("curve/k", "v")
        self.assertEqual(self.admin.get("curve/k").kvs[0].value, b"v")
        self.admin.compact(self.admin.put("curve/k", "w").header.revision)
        with tempfile.TemporaryDirectory() as here:
            info = self.admin.snapshot(os.path.join(here, "s.db"))
            self.assertGreater(zkv.snapshot_status(info.path).revision, 0)

    def test_an_ordinary_client(self) -> None:
        with zkv.Client(cluster_file=CLUSTER_FILE, timeout=10,
                        cert=os.path.join(self.certs, "client.cert")) as client:
            client.put("curve/c", "v")
            self.assertEqual(client.get("curve/c").kvs[0].value, b"v")
            with self.assertRaises(zkv.ServerError) as caught:
                client.compact(1)
            self.assertEqual((caught.exception.code, str(caught.exception)),
                             ("PermissionDenied", "etcdserver: permission denied"))
            with self.assertRaises(zkv.ServerError) as caught:
                client.defragment()
            self.assertEqual(str(caught.exception), "etcdserver: permission denied")
            # membership changes are an admin's too (members listed: anyone)
            self.assertEqual(len(client.members()), 3)
            with self.assertRaises(zkv.ServerError) as caught:
                client.member_remove(members()[0].id)
            self.assertEqual(str(caught.exception), "etcdserver: permission denied")

    def test_keys_the_members_refuse(self) -> None:
        endpoints = [m.endpoint for m in members()]
        with zkv.Client(endpoints, timeout=1) as plain:
            with self.assertRaises(zkv.DeadlineExceeded) as caught:
                plain.get("curve/k")
            self.assertFalse(caught.exception.sent)
        public, secret = zmq.curve_keypair()
        server = load(os.path.join(self.certs, "cluster.cert")).get("curve/public-key")
        with zkv.Client(endpoints, timeout=1, curve_publickey=public, curve_secretkey=secret,
                        curve_serverkey=server) as stranger:
            with self.assertRaises(zkv.DeadlineExceeded) as caught:
                stranger.get("curve/k")
            self.assertFalse(caught.exception.sent)

    def test_events(self) -> None:
        member = members()[0]
        with self.admin.events(["defrag"]) as stream:
            def defragmented() -> Optional[zkv.Event]:
                self.admin.at(member.endpoint, timeout=60).defragment()
                return stream.get(timeout=1)
            event = eventually(defragmented, timeout=60)
        self.assertEqual(event.member, member.id)


# ----------------------------------------------------------------------
# Which classes each suite runs (every class is in one: checked at load)

SUITES = {
    "offline": [OfflineTests],
    "api": [ApiTests],
    "faults": [FaultTests, KillTests],
    "secure": [CurveTests],
}


def load_tests(loader: unittest.TestLoader, tests: Any, pattern: Any) -> unittest.TestSuite:
    classes = {c for c in globals().values()
               if isinstance(c, type) and issubclass(c, unittest.TestCase)}
    listed = {c for suite in SUITES.values() for c in suite}
    if classes != listed:
        raise RuntimeError(f"test classes in no suite: {classes - listed}")
    if SUITE not in SUITES:
        raise RuntimeError(f"ZKV_TEST_SUITE: {SUITE!r} is none of {sorted(SUITES)}")
    if SUITE != "offline" and not CLUSTER_FILE:
        raise RuntimeError(f"suite {SUITE} needs ZKV_TEST_CLUSTER_FILE")
    suite = unittest.TestSuite()
    for cls in SUITES[SUITE]:
        suite.addTests(loader.loadTestsFromTestCase(cls))
    return suite
