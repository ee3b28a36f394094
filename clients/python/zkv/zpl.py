"""ZPL (ZeroMQ Property Language, CZMQ's zconfig) as zkv's files use it: the
cluster file zkv-cluster writes, and zcert's certificate files."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import zmq
import zmq.utils.z85

from .errors import ZkvError


@dataclass
class Node:
    """One ZPL item: a name, a value ("" when none) and its children."""
    name: str
    value: str = ""
    children: List["Node"] = field(default_factory=list)

    def child(self, name: str) -> Optional["Node"]:
        for node in self.children:
            if node.name == name:
                return node
        return None

    def get(self, path: str, default: str = "") -> str:
        """The value at a slash-separated path below this item."""
        node: Optional[Node] = self
        for part in path.split("/"):
            node = node.child(part) if node else None
        return node.value if node else default


def _value(text: str, lineno: int) -> str:
    text = text.strip()
    if text[:1] in ('"', "'"):
        end = text.find(text[0], 1)
        if end < 0:
            raise ZkvError(f"line {lineno}: {text[0]} missing")
        return text[1:end]
    hash_at = text.find("#")
    return (text[:hash_at] if hash_at >= 0 else text).strip()


def parse(text: str) -> Node:
    """Parses ZPL text: 4 spaces of indentation per level, ``name = value`` or a bare
    ``name``, ``#`` comments. Raises ZkvError (``line N: ...``) on a bad line."""
    root = Node("root")
    stack: List[Tuple[int, Node]] = [(-1, root)]
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent % 4:
            raise ZkvError(f"line {lineno}: indentation error")
        level = indent // 4
        while stack[-1][0] >= level:
            stack.pop()
        if stack[-1][0] != level - 1:
            raise ZkvError(f"line {lineno}: indentation error")
        name, sep, rest = stripped.partition("=")
        name = name.split("#")[0].strip()
        if not name:
            raise ZkvError(f"line {lineno}: name missing")
        node = Node(name, _value(rest, lineno) if sep else "")
        stack[-1][1].children.append(node)
        stack.append((level, node))
    return root


def load(path: str) -> Node:
    try:
        with open(path, "r", encoding="utf-8") as file:
            text = file.read(1 << 20)
    except OSError as error:
        raise ZkvError(f"cannot read {path}: {error.strerror.lower()}") from None
    try:
        return parse(text)
    except ZkvError as error:
        raise ZkvError(f"cannot parse {path}: {error}") from None


def _key(node: Node, name: str, path: str) -> bytes:
    key = node.get("curve/" + name)
    if len(key) != 40:
        raise ZkvError(f"{path} is no certificate (no curve {name})")
    try:
        zmq.utils.z85.decode(key)
    except Exception:
        raise ZkvError(f"{path} is no certificate (bad curve {name})") from None
    return key.encode("ascii")


def load_public_key(path: str) -> bytes:
    """The public key (Z85) of a zcert certificate file."""
    return _key(load(path), "public-key", path)


def load_key_pair(path: str) -> Tuple[bytes, bytes]:
    """(public, secret) keys (Z85) of the certificate at path and its ``path_secret``
    file, as zcert_save writes them (zkvctl's --cert)."""
    secret_path = path + "_secret"
    node = load(secret_path)
    return _key(node, "public-key", secret_path), _key(node, "secret-key", secret_path)


@dataclass(frozen=True)
class ClusterFile:
    """What a client takes from a cluster file: every member's client endpoint in
    file order, and for a secure cluster the certificates (absolute paths)."""
    endpoints: List[str]
    cert: Optional[str]
    server_cert: Optional[str]
    members: List[Node]


def load_cluster_file(path: str) -> ClusterFile:
    """Reads a cluster file written by zkv-cluster (as zkvctl --cluster-file does):
    ``cluster/member/client`` of every member; ``cluster/cert`` and
    ``cluster/server-cert``, relative to the file's directory unless absolute."""
    root = load(path)
    cluster = root.child("cluster")
    members = [m for m in cluster.children if m.name == "member"] if cluster else []
    endpoints = [m.get("client") for m in members if m.get("client")]
    if not endpoints:
        raise ZkvError(f"cluster file {path} lists no member client endpoint")
    here = os.path.dirname(path)

    def relative(name: str) -> Optional[str]:
        value = cluster.get(name) if cluster else ""
        return os.path.join(here, value) if value else None

    return ClusterFile(endpoints, relative("cert"), relative("server-cert"), members)
