"""Keys, key ranges and the parts of a transaction.

A txn is built from compares and operations::

    from zkv import value, version, Put, Get, Delete
    client.txn([value("foo") == "bar", version("lock") == 0],
               success=[Put("foo", "baz"), Get("foo")],
               failure=[Get("foo")])

Keys and values may be ``bytes`` or ``str`` (sent as UTF-8); results are bytes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Union

Bytes = Union[bytes, bytearray, memoryview, str]


def to_bytes(data: Bytes, what: str = "key") -> bytes:
    """``data`` as bytes: str is encoded as UTF-8."""
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"{what} must be bytes or str, not {type(data).__name__}")


def prefix_end(prefix: bytes) -> bytes:
    """The end of the range of every key that starts with prefix (etcd's
    GetPrefixRangeEnd): prefix with its last byte below 0xff incremented, and what
    follows dropped; ``b"\\x00"`` (every key from there on) when there is none."""
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return b"\x00"


def key_range(key: Bytes, range_end: Optional[Bytes] = None, prefix: bool = False,
              from_key: bool = False) -> Dict[str, bytes]:
    """The ``key`` and ``range_end`` fields of a range, as etcdctl makes them: one
    key; ``[key, range_end)``; every key starting with key (``prefix``; an empty
    prefix: all keys); every key from key on (``from_key``)."""
    if sum((range_end is not None, prefix, from_key)) > 1:
        raise ValueError("give one of range_end, prefix, from_key")
    k = to_bytes(key)
    fields: Dict[str, bytes] = {}
    if prefix:
        if not k:
            k, end = b"\x00", b"\x00"
        else:
            end = prefix_end(k)
        fields["range_end"] = end
    elif from_key:
        if not k:
            k = b"\x00"
        fields["range_end"] = b"\x00"
    elif range_end is not None:
        fields["range_end"] = to_bytes(range_end, "range_end")
    if not k:
        raise ValueError("etcdserver: key is not provided")
    fields["key"] = k
    return fields


def _drop_zero(fields: Dict[str, Any]) -> Dict[str, Any]:
    """The fields without those at their zero value (the protocol omits them, and
    refuses nil)."""
    return {name: v for name, v in fields.items() if v}


@dataclass(frozen=True)
class Compare:
    """One condition of a txn (etcd's Compare). Usually made with :func:`value`,
    :func:`version`, :func:`create_revision`, :func:`mod_revision` or :func:`lease`
    and an operator: ``version("k") > 0``."""
    key: bytes
    target: str              # VERSION, CREATE, MOD, VALUE, LEASE
    result: str              # EQUAL, GREATER, LESS, NOT_EQUAL
    operand: Union[int, bytes]
    range_end: bytes = b""

    _FIELDS = {"VERSION": "version", "CREATE": "create_revision", "MOD": "mod_revision",
               "VALUE": "value", "LEASE": "lease"}

    def encode(self) -> Dict[str, Any]:
        fields: Dict[str, Any] = {"key": self.key, "target": self.target, "result": self.result,
                                  "range_end": self.range_end,
                                  self._FIELDS[self.target]: self.operand}
        return _drop_zero(fields)


class CompareTarget:
    """What a compare looks at; an operator (``==``, ``!=``, ``<``, ``>``) with the
    operand makes the :class:`Compare`."""

    def __init__(self, target: str, key: Bytes, range_end: Optional[Bytes] = None,
                 prefix: bool = False) -> None:
        fields = key_range(key, range_end, prefix)
        self.key = fields["key"]
        self.range_end = fields.get("range_end", b"")
        self.target = target

    def _make(self, result: str, operand: Any) -> Compare:
        if self.target == "VALUE":
            operand = to_bytes(operand, "value")
        elif not isinstance(operand, int) or isinstance(operand, bool):
            raise TypeError(f"a {self.target} compare takes an int")
        return Compare(self.key, self.target, result, operand, self.range_end)

    def __eq__(self, operand: Any) -> Compare:  # type: ignore[override]
        return self._make("EQUAL", operand)

    def __ne__(self, operand: Any) -> Compare:  # type: ignore[override]
        return self._make("NOT_EQUAL", operand)

    def __lt__(self, operand: Any) -> Compare:
        return self._make("LESS", operand)

    def __gt__(self, operand: Any) -> Compare:
        return self._make("GREATER", operand)

    __hash__ = None  # type: ignore[assignment]


def value(key: Bytes, **range_args: Any) -> CompareTarget:
    """Compare the value of key (a missing key's VALUE compare is false)."""
    return CompareTarget("VALUE", key, **range_args)


def version(key: Bytes, **range_args: Any) -> CompareTarget:
    """Compare the version of key (0: missing)."""
    return CompareTarget("VERSION", key, **range_args)


def create_revision(key: Bytes, **range_args: Any) -> CompareTarget:
    """Compare the revision that created key (0: missing)."""
    return CompareTarget("CREATE", key, **range_args)


def mod_revision(key: Bytes, **range_args: Any) -> CompareTarget:
    """Compare the revision of key's last change (0: missing)."""
    return CompareTarget("MOD", key, **range_args)


def lease(key: Bytes, **range_args: Any) -> CompareTarget:
    """Compare the lease of key (always 0: zkv has no leases yet)."""
    return CompareTarget("LEASE", key, **range_args)


class Op:
    """An operation of a txn branch."""

    def encode(self) -> Dict[str, Any]:
        raise NotImplementedError

    def writes(self) -> bool:
        """True if the operation changes the store (a txn that writes is never sent
        again when its outcome is unknown)."""
        raise NotImplementedError


@dataclass
class Get(Op):
    """A range, as :meth:`zkv.Client.get` takes it."""
    key: Bytes
    range_end: Optional[Bytes] = None
    prefix: bool = False
    from_key: bool = False
    limit: int = 0
    revision: int = 0
    keys_only: bool = False
    count_only: bool = False

    def body(self, serializable: bool = False) -> Dict[str, Any]:
        fields: Dict[str, Any] = key_range(self.key, self.range_end, self.prefix, self.from_key)
        fields.update(limit=self.limit, revision=self.revision, serializable=serializable,
                      keys_only=self.keys_only, count_only=self.count_only)
        return _drop_zero(fields)

    def encode(self) -> Dict[str, Any]:
        return {"request_range": self.body()}

    def writes(self) -> bool:
        return False


@dataclass
class Put(Op):
    """A put of key = value."""
    key: Bytes
    value: Bytes = b""
    prev_kv: bool = False
    ignore_value: bool = False

    def body(self) -> Dict[str, Any]:
        k = to_bytes(self.key)
        if not k:
            raise ValueError("etcdserver: key is not provided")
        return _drop_zero({"key": k, "value": to_bytes(self.value, "value"),
                           "prev_kv": self.prev_kv, "ignore_value": self.ignore_value})

    def encode(self) -> Dict[str, Any]:
        return {"request_put": self.body()}

    def writes(self) -> bool:
        return True


@dataclass
class Delete(Op):
    """A delete of a key or a range."""
    key: Bytes
    range_end: Optional[Bytes] = None
    prefix: bool = False
    from_key: bool = False
    prev_kv: bool = False

    def body(self) -> Dict[str, Any]:
        fields: Dict[str, Any] = key_range(self.key, self.range_end, self.prefix, self.from_key)
        fields["prev_kv"] = self.prev_kv
        return _drop_zero(fields)

    def encode(self) -> Dict[str, Any]:
        return {"request_delete_range": self.body()}

    def writes(self) -> bool:
        return True


@dataclass
class Txn(Op):
    """A nested txn (an operation of a branch)."""
    compares: Sequence[Compare] = ()
    success: Sequence[Op] = ()
    failure: Sequence[Op] = ()

    def body(self) -> Dict[str, Any]:
        for compare in self.compares:
            if not isinstance(compare, Compare):
                raise TypeError("compares must be Compare (value(k) == v, ...)")
        for op in list(self.success) + list(self.failure):
            if not isinstance(op, Op):
                raise TypeError("txn operations must be Get, Put, Delete or Txn")
        return _drop_zero({"compare": [c.encode() for c in self.compares],
                           "success": [op.encode() for op in self.success],
                           "failure": [op.encode() for op in self.failure]})

    def encode(self) -> Dict[str, Any]:
        return {"request_txn": self.body()}

    def writes(self) -> bool:
        return any(op.writes() for op in list(self.success) + list(self.failure))


__all__: List[str] = ["Compare", "CompareTarget", "value", "version", "create_revision",
                      "mod_revision", "lease", "Op", "Get", "Put", "Delete", "Txn",
                      "to_bytes", "prefix_end", "key_range"]
