"""Saved snapshot files: their checks and status, as ``zkvctl snapshot status``."""
from __future__ import annotations

import hashlib
import os
from typing import Any, Dict, Optional

import msgpack

from .errors import SnapshotError
from .types import SnapshotStatus

MAGIC = b"ZKVIMG\x00\x01"
_SHA256_SIZE = 32


def _crc32c_table() -> list:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(crc: int, data: bytes) -> int:
    """CRC-32C of data, continuing crc (Go's convention, as zkv's: start from 0 and
    chain calls). Pure Python: a few MB/s."""
    crc ^= 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _index_user_key(key: bytes) -> bytes:
    """The escaped user key of an index record: what is before the ``00 01`` that
    ends it (escape () writes a 00 of the key as 00 FF), and 16 bytes of revision."""
    if len(key) < 18 or key[-18:-16] != b"\x00\x01":
        raise SnapshotError("snapshot image: a corrupt index record")
    return key[:-18]


def snapshot_status(path: str, *, skip_hash_check: bool = False) -> SnapshotStatus:
    """Checks a saved snapshot file (its SHA-256 and its image, read through) and
    tells what ``zkvctl snapshot status -w json`` tells: the CRC-32C over every record
    (family name, key, value), the revision, the live keys, the file's size and the
    storage version; and the image header's other fields. Raises SnapshotError."""
    size = os.path.getsize(path)
    if size < _SHA256_SIZE:
        raise SnapshotError(f"{path}: sha256 checksum not found")
    image_size = size - _SHA256_SIZE
    digest = hashlib.sha256()
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=64 << 20)
    header: Optional[Dict[str, Any]] = None
    ended = False
    crc = 0
    total_keys = 0
    last_key: Optional[bytes] = None
    magic = b""
    with open(path, "rb") as file:
        done = 0
        while done < image_size:
            chunk = file.read(min(1 << 20, image_size - done))
            if not chunk:
                raise SnapshotError(f"read {path}: cut short")
            done += len(chunk)
            digest.update(chunk)
            if len(magic) < len(MAGIC):
                need = len(MAGIC) - len(magic)
                magic += chunk[:need]
                chunk = chunk[need:]
                if len(magic) == len(MAGIC) and magic != MAGIC:
                    raise SnapshotError(f"{path}: not a snapshot image")
            unpacker.feed(chunk)
            for item in unpacker:
                if ended:
                    raise SnapshotError(f"{path}: snapshot image: bytes after its end")
                if header is None:
                    if not isinstance(item, dict) or "revision" not in item:
                        raise SnapshotError(f"{path}: not a snapshot image: bad header")
                    header = item
                elif item is None:
                    ended = True
                elif isinstance(item, list) and len(item) == 3:
                    family, key, value = item
                    crc = crc32c(crc, family.encode("utf-8"))
                    crc = crc32c(crc, key)
                    crc = crc32c(crc, value)
                    if family == "index":
                        # The newest revision of each key comes first: a live key
                        # unless it is a tombstone (etcd 3.6 counts them so)
                        user_key = _index_user_key(key)
                        if user_key != last_key:
                            last_key = user_key
                            if len(value) != 17 or value[0] > 1:
                                raise SnapshotError(
                                    f"{path}: snapshot image: a corrupt index record")
                            total_keys += value[0] == 0
                else:
                    raise SnapshotError(f"{path}: snapshot image: a bad record")
        expected = file.read(_SHA256_SIZE)
    if len(expected) != _SHA256_SIZE:
        raise SnapshotError(f"read {path}: cut short")
    if not skip_hash_check and digest.digest() != expected:
        raise SnapshotError(f"{path}: expected sha256 {expected.hex()}, got "
                            f"{digest.hexdigest()}")
    if header is None or not ended:
        raise SnapshotError(f"{path}: snapshot image: cut short")
    return SnapshotStatus(crc, header.get("revision", 0), total_keys, size,
                          header.get("storage_version", ""),
                          header.get("compact_revision", 0), header.get("applied_index", 0),
                          header.get("applied_term", 0))
