"""zkv — a Python client for zkv clusters (docs/PROTOCOL.md), with pyzmq and msgpack.

    import zkv
    with zkv.Client(cluster_file="data/cluster/cluster.zpl") as client:
        client.put("foo", "bar")
        print(client.get("foo").kvs[0].value)          # b'bar'

See clients/python/README.md for the whole API.
"""
from .client import MAX_REQUEST_BYTES, Client, normalize_endpoint
from .errors import DeadlineExceeded, ProtocolError, RequestTooLarge, ServerError, \
    SnapshotError, ZkvError
from .events import EventStream
from .snapshot import snapshot_status
from .txn import Compare, Delete, Get, Op, Put, Txn, create_revision, lease, mod_revision, \
    prefix_end, value, version
from .types import Alarm, CompactResponse, DefragmentResponse, DeleteResponse, ErrorInfo, \
    Event, HashKVResponse, HashResponse, Header, KeyValue, Member, MembersResponse, \
    MoveLeaderResponse, PutResponse, RangeResponse, SnapshotInfo, SnapshotStatus, \
    StatusResponse, TxnResponse

__version__ = "0.1.0"

__all__ = [
    "Client", "MAX_REQUEST_BYTES", "normalize_endpoint",
    "ZkvError", "ServerError", "DeadlineExceeded", "RequestTooLarge", "ProtocolError",
    "SnapshotError",
    "EventStream", "snapshot_status",
    "Compare", "Get", "Put", "Delete", "Txn", "Op", "value", "version", "create_revision",
    "mod_revision", "lease", "prefix_end",
    "Header", "KeyValue", "RangeResponse", "PutResponse", "DeleteResponse", "TxnResponse",
    "CompactResponse", "StatusResponse", "ErrorInfo", "HashResponse", "HashKVResponse",
    "DefragmentResponse", "MoveLeaderResponse", "Alarm", "Member", "MembersResponse",
    "SnapshotInfo", "SnapshotStatus", "Event",
]
