"""The results of zkv calls: small frozen dataclasses, one per reply of
docs/PROTOCOL.md. Keys and values are ``bytes``; a field the member left out (it
omits zero values, as proto3 does) holds its zero value here."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Union


@dataclass(frozen=True)
class Header:
    """Every reply's header: who answered, and the store's revision then."""
    cluster_id: int = 0
    member_id: int = 0
    revision: int = 0
    raft_term: int = 0

    @classmethod
    def of(cls, reply: Mapping[str, Any]) -> "Header":
        h = reply.get("header") or {}
        return cls(h.get("cluster_id", 0), h.get("member_id", 0), h.get("revision", 0),
                   h.get("raft_term", 0))


@dataclass(frozen=True)
class KeyValue:
    """etcd's mvccpb.KeyValue."""
    key: bytes
    value: bytes = b""
    create_revision: int = 0
    mod_revision: int = 0
    version: int = 0
    lease: int = 0

    @classmethod
    def of(cls, kv: Mapping[str, Any]) -> "KeyValue":
        return cls(kv.get("key", b""), kv.get("value", b""), kv.get("create_revision", 0),
                   kv.get("mod_revision", 0), kv.get("version", 0), kv.get("lease", 0))


def _kvs(items: Optional[List[Mapping[str, Any]]]) -> List[KeyValue]:
    return [KeyValue.of(kv) for kv in items or []]


@dataclass(frozen=True)
class RangeResponse:
    """The keys of a get, in key order; ``count`` counts the whole range, whatever
    the limit; ``more``: the limit left keys out."""
    header: Header
    kvs: List[KeyValue] = field(default_factory=list)
    more: bool = False
    count: int = 0

    @classmethod
    def of(cls, r: Mapping[str, Any]) -> "RangeResponse":
        return cls(Header.of(r), _kvs(r.get("kvs")), r.get("more", False), r.get("count", 0))


@dataclass(frozen=True)
class PutResponse:
    """``header.revision`` is the put's revision; ``prev_kv`` the key_value before,
    when asked and it existed."""
    header: Header
    prev_kv: Optional[KeyValue] = None

    @classmethod
    def of(cls, r: Mapping[str, Any]) -> "PutResponse":
        prev = r.get("prev_kv")
        return cls(Header.of(r), KeyValue.of(prev) if prev else None)


@dataclass(frozen=True)
class DeleteResponse:
    """How many keys were deleted, and the deleted key_values when asked."""
    header: Header
    deleted: int = 0
    prev_kvs: List[KeyValue] = field(default_factory=list)

    @classmethod
    def of(cls, r: Mapping[str, Any]) -> "DeleteResponse":
        return cls(Header.of(r), r.get("deleted", 0), _kvs(r.get("prev_kvs")))


@dataclass(frozen=True)
class TxnResponse:
    """Whether the compares held, and one response per operation of the branch that
    ran (their headers hold only ``revision``)."""
    header: Header
    succeeded: bool = False
    responses: List[Union[RangeResponse, PutResponse, DeleteResponse, "TxnResponse"]] = \
        field(default_factory=list)

    @classmethod
    def of(cls, r: Mapping[str, Any]) -> "TxnResponse":
        responses: List[Union[RangeResponse, PutResponse, DeleteResponse, TxnResponse]] = []
        for op in r.get("responses") or []:
            if "response_range" in op:
                responses.append(RangeResponse.of(op["response_range"]))
            elif "response_put" in op:
                responses.append(PutResponse.of(op["response_put"]))
            elif "response_delete_range" in op:
                responses.append(DeleteResponse.of(op["response_delete_range"]))
            elif "response_txn" in op:
                responses.append(TxnResponse.of(op["response_txn"]))
        return cls(Header.of(r), r.get("succeeded", False), responses)


@dataclass(frozen=True)
class CompactResponse:
    header: Header

    @classmethod
    def of(cls, r: Mapping[str, Any]) -> "CompactResponse":
        return cls(Header.of(r))


@dataclass(frozen=True)
class ErrorInfo:
    """An error listed in a Status (``etcdserver: no leader``, an alarm)."""
    code: str
    message: str


@dataclass(frozen=True)
class StatusResponse:
    """One member's state, as etcd's Maintenance.Status (plus zkv's ``name``,
    ``role`` and ``events_endpoint``)."""
    header: Header
    version: str = ""
    db_size: int = 0
    leader: int = 0
    raft_index: int = 0
    raft_term: int = 0
    raft_applied_index: int = 0
    errors: List[ErrorInfo] = field(default_factory=list)
    db_size_in_use: int = 0
    is_learner: bool = False
    storage_version: str = ""
    db_size_quota: int = 0
    name: str = ""
    role: str = ""
    events_endpoint: str = ""

    @classmethod
    def of(cls, r: Mapping[str, Any]) -> "StatusResponse":
        errors = [ErrorInfo(e.get("code", ""), e.get("message", ""))
                  for e in r.get("errors") or []]
        return cls(Header.of(r), r.get("version", ""), r.get("db_size", 0),
                   r.get("leader", 0), r.get("raft_index", 0), r.get("raft_term", 0),
                   r.get("raft_applied_index", 0), errors, r.get("db_size_in_use", 0),
                   r.get("is_learner", False), r.get("storage_version", ""),
                   r.get("db_size_quota", 0), r.get("name", ""), r.get("role", ""),
                   r.get("events_endpoint", ""))


@dataclass(frozen=True)
class HashResponse:
    """etcd's Hash (CRC-32C) of one member's whole state; ``header.revision``: the
    revision it was taken at."""
    header: Header
    hash: int = 0

    @classmethod
    def of(cls, r: Mapping[str, Any]) -> "HashResponse":
        return cls(Header.of(r), r.get("hash", 0))


@dataclass(frozen=True)
class HashKVResponse:
    """etcd's HashKV up to ``hash_revision``, under ``compact_revision`` (-1: never
    compacted)."""
    header: Header
    hash: int = 0
    compact_revision: int = 0
    hash_revision: int = 0

    @classmethod
    def of(cls, r: Mapping[str, Any]) -> "HashKVResponse":
        return cls(Header.of(r), r.get("hash", 0), r.get("compact_revision", 0),
                   r.get("hash_revision", 0))


@dataclass(frozen=True)
class DefragmentResponse:
    """What one member's defragmentation did (Status sizes before and after)."""
    header: Header
    db_size_before: int = 0
    db_size_in_use_before: int = 0
    db_size: int = 0
    db_size_in_use: int = 0
    took_usecs: int = 0

    @classmethod
    def of(cls, r: Mapping[str, Any]) -> "DefragmentResponse":
        return cls(Header.of(r), r.get("db_size_before", 0), r.get("db_size_in_use_before", 0),
                   r.get("db_size", 0), r.get("db_size_in_use", 0), r.get("took_usecs", 0))


@dataclass(frozen=True)
class MoveLeaderResponse:
    """The leader before (``previous``) and now (``leader``: the target)."""
    header: Header
    previous: int = 0
    leader: int = 0
    took_usecs: int = 0

    @classmethod
    def of(cls, r: Mapping[str, Any]) -> "MoveLeaderResponse":
        return cls(Header.of(r), r.get("previous", 0), r.get("leader", 0),
                   r.get("took_usecs", 0))


#: Alarm types by number, as the protocol carries them
ALARM_NAMES = {0: "NONE", 1: "NOSPACE", 2: "CORRUPT"}
ALARM_TYPES = {name: number for number, name in ALARM_NAMES.items()}


@dataclass(frozen=True)
class Alarm:
    """An alarm raised for a member: ``alarm`` is ``NOSPACE`` or ``CORRUPT``."""
    member_id: int
    alarm: str

    @classmethod
    def of(cls, a: Mapping[str, Any]) -> "Alarm":
        number = a.get("alarm", 0)
        return cls(a.get("member_id", 0), ALARM_NAMES.get(number, str(number)))


@dataclass(frozen=True)
class Member:
    """A member of the cluster. One added and not started yet has no ``name`` and no
    ``client_endpoint``."""
    member_id: int
    name: str = ""
    peer_endpoint: str = ""
    client_endpoint: str = ""
    events_endpoint: str = ""
    is_learner: bool = False
    auto_promote: bool = False

    @classmethod
    def of(cls, m: Mapping[str, Any]) -> "Member":
        return cls(m.get("member_id", 0), m.get("name", ""), m.get("peer_endpoint", ""),
                   m.get("client_endpoint", ""), m.get("events_endpoint", ""),
                   m.get("is_learner", False), m.get("auto_promote", False))


@dataclass(frozen=True)
class MembersResponse:
    """The members (after a change, for a change); ``member``: the one added."""
    header: Header
    members: List[Member] = field(default_factory=list)
    member: Optional[Member] = None

    @classmethod
    def of(cls, r: Mapping[str, Any]) -> "MembersResponse":
        added = r.get("member")
        return cls(Header.of(r), [Member.of(m) for m in r.get("members") or []],
                   Member.of(added) if added else None)


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot saved by :meth:`zkv.Client.snapshot`: the file (image and its
    SHA-256, checked), its size, the member's storage version and which member."""
    path: str
    size: int
    version: str
    sha256: str
    member_endpoint: str


@dataclass(frozen=True)
class SnapshotStatus:
    """A saved snapshot file, as ``zkvctl snapshot status -w json`` tells it (the
    field names are etcdctl's JSON ones, in Python's case)."""
    hash: int
    revision: int
    total_key: int
    total_size: int
    version: str
    compact_revision: int
    applied_index: int
    applied_term: int


@dataclass(frozen=True)
class Event:
    """One event a member published: its ``topic`` (``leader``, ``transfer``,
    ``member``, ``defrag``, ``snapshot``, ``alarm``) and its fields, as
    docs/PROTOCOL.md "Events" lists them. A member leaves out the fields at their
    zero value: ``event["leader"]`` gives the zero value then (0, ``""`` for a
    text, ``[]`` for ``members``, False for ``joint``); ``event.get("leader")``
    gives None. ``member`` is the member publishing."""
    topic: str
    data: Dict[str, Any]

    _TEXT = frozenset(("phase", "reason", "state", "change", "peer_endpoint", "alarm",
                       "error"))

    @property
    def member(self) -> int:
        return int(self.data.get("member", 0))

    def get(self, name: str, default: Any = None) -> Any:
        return self.data.get(name, default)

    def __getitem__(self, name: str) -> Any:
        if name in self.data:
            return self.data[name]
        if name in self._TEXT:
            return ""
        if name == "members":
            return []
        return False if name == "joint" else 0
