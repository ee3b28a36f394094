"""fuzz/make_seeds.py — writes the seed corpora of the fuzz targets into
fuzz/corpus/<target>/ (committed; run again after the protocol changes):
valid examples of what each target reads, from the documented formats
(docs/PROTOCOL.md) and the tests' vectors, for libFuzzer to mutate.

usage: /usr/bin/python3 fuzz/make_seeds.py
"""
import os

import msgpack

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data)


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


# Client requests: one of each op, and a few that must be refused
requests = {
    "put": {"op": "put", "id": 1, "key": b"foo", "value": b"bar"},
    "range": {"op": "range", "id": 2, "key": b"a", "range_end": b"z", "limit": 10,
              "revision": 3, "serializable": True},
    "delete_range": {"op": "delete_range", "id": 3, "key": b"a", "range_end": b"\0",
                     "prev_kv": True},
    "txn": {"op": "txn", "id": 4,
            "compare": [{"result": 0, "target": 3, "key": b"k", "value": b"v"}],
            "success": [{"request_put": {"key": b"k", "value": b"w"}},
                        {"request_txn": {"success": [{"request_range": {"key": b"k"}}]}}],
            "failure": [{"request_delete_range": {"key": b"k"}}]},
    "compact": {"op": "compact", "id": 5, "revision": 7, "physical": True},
    "status": {"op": "status", "id": 6},
    "hash_kv": {"op": "hash_kv", "id": 7, "revision": 4},
    "snapshot": {"op": "snapshot", "id": 8, "credit": 8, "chunk_size": 32768},
    "snapshot_credit": {"op": "snapshot_credit", "id": 9, "stream": 8, "credit": 4},
    "move_leader": {"op": "move_leader", "id": 10, "target_id": 0x1234, "name": "n2",
                    "timeout_ms": 100},
    "alarm": {"op": "alarm", "id": 11, "action": 1, "member_id": 5, "alarm": 2},
    "member_list": {"op": "member_list", "id": 12, "linearizable": True},
    "bad_type": {"op": "put", "id": 13, "key": "str, not bin"},
    "unknown_op": {"op": "nope", "id": 14},
    "no_op": {"id": 15},
}
for name, request in requests.items():
    write("request", name, pack(request))
write("request", "not_a_map", pack([1, 2, 3]))

# Peer frames: raft messages with entries (each a client request inside an
# internal_request), events, hash asks and answers, a snapshot chunk
internal = pack({"origin": 1, "wait": 9, "put": {"key": b"k", "value": b"v"}})
frame = {"op": "peer_frame", "cluster_id": 7, "from": 2, "to": 1, "messages": [
    {"type": 1, "to": 1, "from": 2, "term": 3, "log_term": 2, "index": 5, "commit": 4,
     "entries": [{"index": 6, "term": 3, "data": internal}, {"index": 7, "term": 3}]},
    {"type": 3, "to": 1, "from": 2, "term": 4, "log_term": 3, "index": 7, "context": 1},
]}
write("peer", "append", pack(frame))
transfer = pack({"member": 2, "phase": "started", "from": 2, "to": 3, "term": 4,
                 "reporter": 2})
write("peer", "events", pack({"op": "peer_frame", "cluster_id": 7, "from": 2, "to": 1,
                              "events": [{"topic": "transfer", "body": transfer}]}))
write("peer", "hashes", pack({"op": "peer_frame", "cluster_id": 7, "from": 2, "to": 1,
                              "hash_asks": [{"number": 8, "asker": 2, "to": 1, "revision": 5}],
                              "hash_answers": [{"number": 4, "asker": 1, "member": 2,
                                                "response": {"hash": 99, "hash_revision": 5,
                                                             "compact_revision": -1}}]}))
write("peer", "chunk", pack({"op": "peer_frame", "cluster_id": 7, "from": 2, "to": 1,
                             "chunk": {"to": 1, "from": 2, "stream": 1, "index": 9, "term": 3,
                                       "seq": 0, "data": pack([["key", b"k", b"v"]]),
                                       "last": True, "digest": b"\0" * 32}}))

# Snapshot images: a small valid one, and one cut short
header = pack({"storage_version": "1.0.0", "revision": 3, "compact_revision": -1,
               "applied_index": 9, "applied_term": 2})
records = b"".join(pack([family, key, value]) for family, key, value in [
    ("key", b"\0" * 7 + b"\2_" + b"\0" * 8, b"\x0a\x03foo"),
    ("index", b"foo\0\1" + b"\xff" * 16, b"\0" * 17),
    ("meta", b"consistent_index", b"\0" * 7 + b"\x09"),
    ("members", b"\0" * 7 + b"\1", pack({"member_id": 1, "name": "n1"})),
])
image = b"ZKVIMG\0\1" + header + records + pack(None)
write("image", "small", b"\x10" + image)
write("image", "cut", b"\x04" + image[:len(image) // 2])

# Config files and --initial-cluster lists
write("config", "zpl", b"zkv\n    name = n1\n    data-dir = /tmp/x\n"
                       b"    listen-client = tcp://127.0.0.1:12379\n"
                       b"    quota-backend-bytes = 1000\n    corrupt-check-time = 500\n")
write("config", "cluster", b"n1=tcp://127.0.0.1:12380,n2=http://127.0.0.1:22380")
write("config", "bad", b"zkv\n  nonsense = 1\n")
write("config", "secure", b"zkv\n    cert = /etc/zkv/cluster.cert\n"
                          b"    client-certs-dir = /etc/zkv/clients\n"
                          b"    peer-certs-dir = /etc/zkv/peers\n")

# The raft core: a few driving sequences (op bytes and message fields)
write("raft", "campaign", bytes([4, 5, 4, 2, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 10, 0]))
write("raft", "append", bytes([6, 1, 2, 0, 2, 1, 3, 4, 0, 0, 0, 2, 4, 2, 3, 5, 2, 4]))
write("raft", "ticks", bytes([0] * 40 + [5, 2, 2, 0, 3, 0, 0, 0, 0, 0, 0, 0]))
