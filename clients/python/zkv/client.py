"""The zkv client: docs/PROTOCOL.md over a ZeroMQ DEALER socket.

How calls behave (as the C library, client/zkv_client.h, does: ids, deadlines,
failover, writes sent once, and the retries of docs/PROTOCOL.md "Retrying"):

- Each request carries a fresh ``id``; only the reply with that id answers it (a late
  reply to an earlier call is dropped).
- Every call has a deadline (``timeout`` seconds, the client's unless the call gives
  its own); past it the call raises :class:`~zkv.DeadlineExceeded`.
- A request goes to the member in use; when that one takes no connection within a
  share of the time left, to the next endpoint, in turn (failover). Once a member
  took a request and did not answer in time, the client moves on to the next member
  for the calls after.
- A request that reads only (get, a txn without writes, status, hash, hash_kv, member
  list, alarm list) is sent again to the next member when the one in use does not
  answer within its share of the time, or answers ``request timed out`` or ``server
  stopped``.
- A request that writes is sent once: when no answer comes its outcome is unknown,
  and the call raises ``DeadlineExceeded(sent=True)`` instead of sending it again.
- The errors docs/PROTOCOL.md says to retry (``etcdserver: no leader``, ``raft
  proposal dropped``, ``etcdserver: leader changed``: the member did nothing) are
  retried, on the next member, after a short pause, until the deadline; the last one
  is raised then. So are the refusals of a member that cannot serve anything of the
  kind (a learner, a removed member), on the next member. Every other error is raised
  at once.

A Client is not thread-safe: use one per thread.
"""
from __future__ import annotations

import hashlib
import itertools
import os
import time
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import msgpack
import zmq

from . import errors
from .errors import DeadlineExceeded, ProtocolError, RequestTooLarge, ServerError, \
    SnapshotError, ZkvError
from .events import EventStream
from .txn import Bytes, Compare, Delete, Get, Op, Put, Txn
from .types import ALARM_TYPES, Alarm, CompactResponse, DefragmentResponse, DeleteResponse, \
    HashKVResponse, HashResponse, Member, MembersResponse, MoveLeaderResponse, PutResponse, \
    RangeResponse, SnapshotInfo, StatusResponse, TxnResponse
from .zpl import load_cluster_file, load_key_pair, load_public_key

DEFAULT_ENDPOINT = "127.0.0.1:12379"
#: The largest request a client sends (a member drops bigger frames unread)
MAX_REQUEST_BYTES = 8 << 20
_SEND_SLICE = 1.0           # most seconds to wait for a connection before trying the next
_PAUSE = 0.05               # first pause before a retry (doubled up to _PAUSE_MAX)
_PAUSE_MAX = 0.5
_SNAPSHOT_CREDIT = 8        # replies in flight
_SNAPSHOT_CHUNK = 1 << 20   # image bytes per reply
_SNAPSHOT_SILENCE = 60.0    # seconds without a reply that fail a snapshot

Endpoints = Union[str, Sequence[str]]


def normalize_endpoint(endpoint: str) -> str:
    """``host:port`` as ``tcp://host:port``; ``http://`` as ``tcp://`` (etcd's URLs);
    any other ZeroMQ endpoint as it is."""
    endpoint = endpoint.strip()
    if endpoint.startswith("http://"):
        return "tcp://" + endpoint[len("http://"):]
    if "://" in endpoint:
        return endpoint
    return "tcp://" + endpoint


def _as_key(key: Optional[Union[bytes, str]], name: str) -> Optional[bytes]:
    if key is None:
        return None
    if isinstance(key, str):
        return key.encode("ascii")
    if isinstance(key, (bytes, bytearray)):
        return bytes(key)
    raise TypeError(f"{name} must be a Z85 key (str or bytes)")


class Client:
    """A client of a zkv cluster.

    ``Client("127.0.0.1:12379,127.0.0.1:22379")``, ``Client(["host:port", ...])`` or
    ``Client(cluster_file="data/cluster/cluster.zpl")`` (every member's client endpoint
    in file order, and a secure cluster's certificates, as ``zkvctl --cluster-file``
    reads them). With neither, ``127.0.0.1:12379``.

    ``timeout``: seconds each call may take in all (5 by default; each call may give
    its own).

    CURVE (a secure cluster, ``zkv-cluster up --secure``): ``cert``, this client's
    certificate file (with its ``_secret`` file beside it, as zcert writes them), and
    ``server_cert``, the cluster's public certificate; or the Z85 keys themselves
    (``curve_publickey``, ``curve_secretkey``, ``curve_serverkey``). A member that
    does not allow the key refuses the handshake: calls then end in
    ``DeadlineExceeded(sent=False)``, as if no member were there.

    ``max_request_bytes``: larger requests are refused before sending
    (:class:`~zkv.RequestTooLarge`).

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, endpoints: Optional[Endpoints] = None, *,
                 cluster_file: Optional[str] = None, timeout: float = 5.0,
                 cert: Optional[str] = None, server_cert: Optional[str] = None,
                 curve_publickey: Optional[Union[bytes, str]] = None,
                 curve_secretkey: Optional[Union[bytes, str]] = None,
                 curve_serverkey: Optional[Union[bytes, str]] = None,
                 max_request_bytes: int = MAX_REQUEST_BYTES,
                 context: Optional[zmq.Context] = None) -> None:
        if endpoints is not None and cluster_file is not None:
            raise ValueError("give endpoints or cluster_file, not both")
        if cluster_file is not None:
            loaded = load_cluster_file(cluster_file)
            endpoints = loaded.endpoints
            if cert is None and curve_secretkey is None:
                cert = loaded.cert
            if server_cert is None and curve_serverkey is None:
                server_cert = loaded.server_cert
        if endpoints is None:
            endpoints = DEFAULT_ENDPOINT
        if isinstance(endpoints, str):
            endpoints = endpoints.split(",")
        self._endpoints: List[str] = [normalize_endpoint(e) for e in endpoints if e.strip()]
        if not self._endpoints:
            raise ValueError("etcdclient: no available endpoints")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.timeout: float = float(timeout)
        self.max_request_bytes: int = max_request_bytes
        # CURVE: from certificate files, else from keys given
        if cert is not None:
            curve_publickey, curve_secretkey = load_key_pair(cert)
        if server_cert is not None:
            curve_serverkey = load_public_key(server_cert)
        self._curve: Optional[Tuple[bytes, bytes, bytes]] = None
        keys = (_as_key(curve_publickey, "curve_publickey"),
                _as_key(curve_secretkey, "curve_secretkey"),
                _as_key(curve_serverkey, "curve_serverkey"))
        if any(keys):
            if not all(keys):
                raise ValueError("CURVE needs this client's key pair and the cluster's "
                                 "public key (cert and server_cert)")
            self._curve = keys  # type: ignore[assignment]
        self._context: zmq.Context = context or zmq.Context.instance()
        self._current = 0
        self._socket: Optional[zmq.Socket] = None
        # Ids distinct across runs, as the C library makes them
        self._ids = itertools.count((int(time.time() * 1000) << 16) + 1)

    # ------------------------------------------------------------------
    # Life cycle and endpoints

    def close(self) -> None:
        """Closes the connection (a Client cannot be used after)."""
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    @property
    def endpoints(self) -> List[str]:
        """Every endpoint, normalised (``tcp://host:port``), in the order tried."""
        return list(self._endpoints)

    @property
    def endpoint(self) -> str:
        """The endpoint in use."""
        return self._endpoints[self._current]

    def at(self, endpoint: str, timeout: Optional[float] = None) -> "Client":
        """A client of that one endpoint, with this one's credentials and settings
        (for the maintenance calls that are about one member: status, hash,
        defragment, snapshot)."""
        client = Client.__new__(Client)
        client._endpoints = [normalize_endpoint(endpoint)]
        client.timeout = timeout if timeout is not None else self.timeout
        client.max_request_bytes = self.max_request_bytes
        client._curve = self._curve
        client._context = self._context
        client._current = 0
        client._socket = None
        client._ids = self._ids
        return client

    def _apply_curve(self, socket: zmq.Socket) -> None:
        if self._curve:
            socket.curve_publickey, socket.curve_secretkey, socket.curve_serverkey = \
                self._curve

    def _connect(self) -> zmq.Socket:
        """A fresh DEALER to the endpoint in use."""
        self.close()
        socket = self._context.socket(zmq.DEALER)
        # Queue nothing for a member not connected: a send then waits, and the
        # next endpoint is tried
        socket.setsockopt(zmq.IMMEDIATE, 1)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.RECONNECT_IVL, 50)
        # A member that stops answering (paused, its host gone) loses its
        # connection, so that sends go elsewhere
        socket.setsockopt(zmq.HEARTBEAT_IVL, 1000)
        socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3000)
        self._apply_curve(socket)
        socket.connect(self.endpoint)
        self._socket = socket
        return socket

    def _next_endpoint(self) -> None:
        """Moves to the next endpoint (a fresh connection: a late reply to a request
        sent on the old one can never be taken for another's)."""
        self._current = (self._current + 1) % len(self._endpoints)
        self._connect()

    # ------------------------------------------------------------------
    # Sending and receiving

    def _send(self, frame: bytes, deadline: float) -> bool:
        """Sends frame on the endpoint in use, or the next ones in turn when it takes
        no connection in time. True once sent."""
        socket = self._socket or self._connect()
        count = len(self._endpoints)
        for tried in range(count):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            remaining = count - tried
            wait = left if remaining == 1 else min(left / remaining, _SEND_SLICE)
            if socket.poll(max(1, int(wait * 1000)), zmq.POLLOUT):
                try:
                    socket.send(frame, zmq.NOBLOCK)
                    return True
                except zmq.Again:
                    pass
            self._next_endpoint()
            socket = self._socket  # type: ignore[assignment]
        return False

    def _receive(self, request_id: int, until: float) -> Optional[Dict[str, Any]]:
        """The reply to request_id, or None when none came before until."""
        socket = self._socket
        assert socket is not None
        while True:
            left = until - time.monotonic()
            if left <= 0 or not socket.poll(max(1, int(left * 1000)), zmq.POLLIN):
                return None
            frames = socket.recv_multipart()
            try:
                reply = msgpack.unpackb(frames[-1], raw=False)
            except Exception as error:
                raise ProtocolError(f"undecodable reply: {error}") from None
            if not isinstance(reply, dict):
                raise ProtocolError("a reply that is not a msgpack map")
            if reply.get("id", request_id) != request_id:
                continue            # a late reply to an earlier call
            return reply

    def _encode(self, op: str, request_id: int, body: Mapping[str, Any]) -> bytes:
        frame = msgpack.packb(dict(body, op=op, id=request_id), use_bin_type=True)
        if len(frame) > self.max_request_bytes:
            raise RequestTooLarge(len(frame), self.max_request_bytes)
        return frame

    @staticmethod
    def _error(reply: Mapping[str, Any]) -> Optional[ServerError]:
        error = reply.get("error")
        if error is None:
            return None
        member = (reply.get("header") or {}).get("member_id", 0)
        return ServerError(error.get("code", ""), error.get("message", ""), member)

    def call(self, op: str, body: Optional[Mapping[str, Any]] = None, *, reads: bool = False,
             timeout: Optional[float] = None) -> Dict[str, Any]:
        """Sends one request (``op`` and its fields, docs/PROTOCOL.md) and returns its
        reply map. ``reads``: the request changes nothing, so it may be sent again to
        another member. Raises ServerError, DeadlineExceeded, RequestTooLarge."""
        body = body or {}
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        tries = 0
        sent = False                    # a member took one of the attempts
        last: Optional[ServerError] = None
        pause = _PAUSE
        while True:
            request_id = next(self._ids)
            frame = self._encode(op, request_id, body)
            if not self._send(frame, deadline):
                if last is not None:
                    raise last
                raise DeadlineExceeded(sent=sent)
            sent = True
            tries += 1
            now = time.monotonic()
            count = len(self._endpoints)
            # A read waits for a share of the time left, so that another member may
            # be asked when this one does not answer
            until = deadline
            if reads and count > 1:
                until = now + (deadline - now) / max(1, count - (tries - 1) % count)
            reply = self._receive(request_id, until)
            if reply is None:
                endpoint = self.endpoint
                # This member took the request and did not answer: the next calls
                # go to the next member
                self._next_endpoint()
                if reads and time.monotonic() < deadline:
                    continue
                if reads and last is not None:
                    raise last          # what the members said tells more
                raise DeadlineExceeded(sent=True, endpoint=endpoint)
            error = self._error(reply)
            if error is None:
                return reply
            last = error
            # Refusals that did nothing; for a read, also those of unknown outcome
            again = any(error.is_error(text) for text in (
                errors.NO_LEADER, errors.PROPOSAL_DROPPED, errors.LEADER_CHANGED))
            if count > 1:           # another member serves what this one cannot
                again = again or error.is_error(errors.LEARNER_RPC) \
                    or error.is_error(errors.MEMBER_REMOVED)
            if reads:
                again = again or error.is_error(errors.REQUEST_TIMED_OUT) \
                    or error.is_error(errors.SERVER_STOPPED)
            if not again or time.monotonic() + pause >= deadline:
                raise error
            time.sleep(pause)
            pause = min(2 * pause, _PAUSE_MAX)
            # Another member may know a leader, or serve what this one cannot
            if not error.is_error(errors.PROPOSAL_DROPPED) and count > 1:
                self._next_endpoint()

    # ------------------------------------------------------------------
    # KV

    def get(self, key: Bytes, *, range_end: Optional[Bytes] = None, prefix: bool = False,
            from_key: bool = False, limit: int = 0, revision: int = 0,
            serializable: bool = False, keys_only: bool = False, count_only: bool = False,
            timeout: Optional[float] = None) -> RangeResponse:
        """Reads key, or a range: ``[key, range_end)``, every key starting with key
        (``prefix``; ``get("", prefix=True)``: all keys), or every key from key on
        (``from_key``). ``limit`` keys at most (0: all), at ``revision`` (0: now).
        Linearizable unless ``serializable`` (the member's own state)."""
        request = Get(key, range_end, prefix, from_key, limit, revision, keys_only, count_only)
        reply = self.call("range", request.body(serializable), reads=True, timeout=timeout)
        return RangeResponse.of(reply)

    def put(self, key: Bytes, value: Bytes, *, prev_kv: bool = False,
            ignore_value: bool = False, timeout: Optional[float] = None) -> PutResponse:
        """Puts key = value; ``header.revision`` is the put's revision. ``prev_kv``:
        return the key_value before. Never sent twice: when no answer comes in time
        it raises ``DeadlineExceeded(sent=True)`` (the put may or may not be
        applied)."""
        reply = self.call("put", Put(key, value, prev_kv, ignore_value).body(),
                          timeout=timeout)
        return PutResponse.of(reply)

    def delete(self, key: Bytes, *, range_end: Optional[Bytes] = None, prefix: bool = False,
               from_key: bool = False, prev_kv: bool = False,
               timeout: Optional[float] = None) -> DeleteResponse:
        """Deletes key, or a range (as :meth:`get` names one)."""
        reply = self.call("delete_range", Delete(key, range_end, prefix, from_key,
                                                 prev_kv).body(), timeout=timeout)
        return DeleteResponse.of(reply)

    def txn(self, compares: Sequence[Compare], success: Sequence[Op] = (),
            failure: Sequence[Op] = (), *, timeout: Optional[float] = None) -> TxnResponse:
        """If every compare holds, runs the ``success`` operations, else ``failure``
        (:class:`~zkv.Get`, :class:`~zkv.Put`, :class:`~zkv.Delete`, nested
        :class:`~zkv.Txn`), in one revision. A txn that only reads may be sent
        again; one that writes never is."""
        txn = Txn(compares, success, failure)
        reply = self.call("txn", txn.body(), reads=not txn.writes(), timeout=timeout)
        return TxnResponse.of(reply)

    def compact(self, revision: int, *, physical: bool = False,
                timeout: Optional[float] = None) -> CompactResponse:
        """Forgets the history before revision (``physical``: answer once the space
        is reclaimed)."""
        body = {"revision": revision}
        if physical:
            body["physical"] = True
        return CompactResponse.of(self.call("compact", body, timeout=timeout))

    # ------------------------------------------------------------------
    # Maintenance (of the member in use: Client.at(endpoint) names one)

    def status(self, *, timeout: Optional[float] = None) -> StatusResponse:
        """The Status of the member in use (``header.member_id`` says which)."""
        return StatusResponse.of(self.call("status", reads=True, timeout=timeout))

    def hash(self, *, timeout: Optional[float] = None) -> HashResponse:
        """etcd's Hash of the member in use."""
        return HashResponse.of(self.call("hash", reads=True, timeout=timeout))

    def hash_kv(self, revision: int = 0, *, timeout: Optional[float] = None) -> HashKVResponse:
        """etcd's HashKV of the member in use, up to revision (0: the current one)."""
        body = {"revision": revision} if revision else {}
        return HashKVResponse.of(self.call("hash_kv", body, reads=True, timeout=timeout))

    def defragment(self, *, timeout: Optional[float] = None) -> DefragmentResponse:
        """Defragments the member in use (online). Not sent again elsewhere: it is
        that member's."""
        return DefragmentResponse.of(self.call("defragment", timeout=timeout))

    def move_leader(self, target: Union[int, str], *, timeout_ms: int = 0,
                    timeout: Optional[float] = None) -> MoveLeaderResponse:
        """Moves the leadership to target (a member id, or a member's name), from any
        member; answered once the target leads."""
        body: Dict[str, Any] = {"name": target} if isinstance(target, str) \
            else {"target_id": target}
        if timeout_ms:
            body["timeout_ms"] = timeout_ms
        return MoveLeaderResponse.of(self.call("move_leader", body, timeout=timeout))

    def alarms(self, *, timeout: Optional[float] = None) -> List[Alarm]:
        """Every alarm raised in the cluster (etcdctl alarm list)."""
        reply = self.call("alarm", {}, reads=True, timeout=timeout)
        return [Alarm.of(a) for a in reply.get("alarms") or []]

    def _alarm(self, action: int, member_id: int, alarm: str,
               timeout: Optional[float]) -> List[Alarm]:
        if alarm not in ALARM_TYPES:
            raise ValueError(f"unknown alarm {alarm!r} (NOSPACE, CORRUPT)")
        body = {"action": action, "member_id": member_id, "alarm": ALARM_TYPES[alarm]}
        reply = self.call("alarm", {k: v for k, v in body.items() if v}, timeout=timeout)
        return [Alarm.of(a) for a in reply.get("alarms") or []]

    def disarm(self, alarm: Optional[Alarm] = None, *,
               timeout: Optional[float] = None) -> List[Alarm]:
        """Clears an alarm, or every alarm raised (etcdctl alarm disarm); returns
        those cleared."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        todo = [alarm] if alarm is not None else self.alarms(timeout=timeout)
        cleared: List[Alarm] = []
        for each in todo:
            left = max(0.001, deadline - time.monotonic())
            cleared += self._alarm(2, each.member_id, each.alarm, left)
        return cleared

    def activate_alarm(self, member_id: int, alarm: str, *,
                       timeout: Optional[float] = None) -> List[Alarm]:
        """Raises an alarm (``NOSPACE`` or ``CORRUPT``) for a member, as a member
        does by itself (for operators and tests); returns the alarm raised."""
        return self._alarm(1, member_id, alarm, timeout)

    def snapshot(self, path: str, *, timeout: Optional[float] = None) -> SnapshotInfo:
        """Saves a snapshot of the member in use into path (as ``zkvctl snapshot
        save``): streams it with credit into ``path.part``, checks the SHA-256 that
        ends the stream against the bytes received, syncs, and renames to path.
        ``timeout``: seconds without a reply that fail it (60 by default; the whole
        stream has no deadline). Raises SnapshotError when the checks fail."""
        silence = timeout if timeout is not None else _SNAPSHOT_SILENCE
        part = path + ".part"
        request_id = next(self._ids)
        frame = self._encode("snapshot", request_id, {"credit": _SNAPSHOT_CREDIT,
                                                      "chunk_size": _SNAPSHOT_CHUNK})
        if not self._send(frame, time.monotonic() + min(silence, self.timeout)):
            raise DeadlineExceeded(sent=False)
        endpoint = self.endpoint
        digest = hashlib.sha256()
        total = received = taken = 0
        version = ""
        try:
            with open(part, "wb") as file:
                while True:
                    reply = self._receive(request_id, time.monotonic() + silence)
                    if reply is None:
                        self._next_endpoint()
                        raise DeadlineExceeded(sent=True, endpoint=endpoint)
                    error = self._error(reply)
                    if error is not None:
                        raise error
                    blob = reply.get("blob", b"")
                    if taken == 0:
                        total = reply.get("remaining_bytes", 0) + len(blob)
                    taken += 1
                    file.write(blob)
                    if reply.get("done"):
                        if received != total or blob != digest.digest():
                            raise SnapshotError("sha256 checksum not found")
                        version = reply.get("version", "")
                        break
                    digest.update(blob)
                    received += len(blob)
                    # Half the credit used: grant it again
                    if taken % (_SNAPSHOT_CREDIT // 2) == 0:
                        grant = self._encode("snapshot_credit", next(self._ids),
                                             {"stream": request_id,
                                              "credit": _SNAPSHOT_CREDIT // 2})
                        if not self._socket or not self._socket.poll(1000, zmq.POLLOUT):
                            raise DeadlineExceeded(sent=True, endpoint=endpoint)
                        self._socket.send(grant)
                file.flush()
                os.fsync(file.fileno())
            os.rename(part, path)
        except BaseException:
            self.close()                # the stream ends with the connection
            try:
                os.unlink(part)
            except OSError:
                pass
            raise
        directory = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return SnapshotInfo(path, received + 32, version, digest.hexdigest(), endpoint)

    # ------------------------------------------------------------------
    # Cluster

    def members(self, *, linearizable: bool = True,
                timeout: Optional[float] = None) -> List[Member]:
        """Every member of the cluster (``linearizable``: confirmed with the leader
        first; else the member's own table, at once)."""
        body = {"linearizable": True} if linearizable else {}
        reply = self.call("member_list", body, reads=True, timeout=timeout)
        return MembersResponse.of(reply).members

    def _leader_endpoint(self, deadline: float) -> str:
        """The leader's client endpoint, as the members tell it (waiting while none
        is known)."""
        pause = _PAUSE
        while True:
            status = self.status(timeout=max(0.001, deadline - time.monotonic()))
            if status.leader:
                members = self.members(linearizable=False,
                                       timeout=max(0.001, deadline - time.monotonic()))
                for member in members:
                    if member.member_id == status.leader and member.client_endpoint:
                        return member.client_endpoint
                raise ZkvError(f"the leader {status.leader:x} has no client endpoint in the "
                               f"member list")
            if time.monotonic() + pause >= deadline:
                raise ServerError("Unavailable", errors.NO_LEADER, status.header.member_id)
            time.sleep(pause)
            pause = min(2 * pause, _PAUSE_MAX)

    def _change(self, op: str, body: Mapping[str, Any],
                timeout: Optional[float]) -> MembersResponse:
        """A membership change, sent to the leader (only the leader takes one), and
        again to the leader found again after a refusal that did nothing."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        pause = _PAUSE
        while True:
            endpoint = self._leader_endpoint(deadline)
            with self.at(endpoint) as leader:
                try:
                    left = max(0.001, deadline - time.monotonic())
                    return MembersResponse.of(leader.call(op, body, timeout=left))
                except ServerError as error:
                    refused = any(error.is_error(text) for text in (
                        errors.NOT_LEADER, errors.NO_LEADER, errors.LEADER_CHANGED,
                        errors.PROPOSAL_DROPPED, errors.CONF_PENDING, errors.MEMBER_REMOVED))
                    if not refused or time.monotonic() + pause >= deadline:
                        raise
            time.sleep(pause)
            pause = min(2 * pause, _PAUSE_MAX)

    def member_add(self, peer_endpoint: str, *, learner: bool = True,
                   auto_promote: bool = False,
                   timeout: Optional[float] = None) -> MembersResponse:
        """Adds a member that will listen for peers on peer_endpoint: a learner
        (unless ``learner=False``), promoted by the leader once in sync with
        ``auto_promote``. ``member`` of the result is the new member (unstarted)."""
        body: Dict[str, Any] = {"peer_endpoint": normalize_endpoint(peer_endpoint)}
        if learner:
            body["is_learner"] = True
        if auto_promote:
            body["auto_promote"] = True
        return self._change("member_add", body, timeout)

    def member_remove(self, member_id: int, *,
                      timeout: Optional[float] = None) -> MembersResponse:
        """Removes a member (a removed member stops by itself)."""
        return self._change("member_remove", {"member_id": member_id}, timeout)

    def member_promote(self, member_id: int, *,
                       timeout: Optional[float] = None) -> MembersResponse:
        """Makes a learner a voter; ``etcdserver: can only promote a learner member
        which is in sync with leader`` until it has caught up (try again then)."""
        return self._change("member_promote", {"member_id": member_id}, timeout)

    def member_update(self, member_id: int, peer_endpoint: str, *,
                      timeout: Optional[float] = None) -> MembersResponse:
        """Changes a member's peer endpoint."""
        return self._change("member_update", {"member_id": member_id,
                                              "peer_endpoint": normalize_endpoint(
                                                  peer_endpoint)}, timeout)

    # ------------------------------------------------------------------
    # Events

    def events(self, topics: Optional[Iterable[str]] = None, *, cluster: bool = False,
               timeout: Optional[float] = None) -> EventStream:
        """The events the members publish, as an iterator of :class:`~zkv.Event`
        (``topics``: ``leader``, ``transfer``, ``member``, ``defrag``, ``snapshot``,
        ``alarm``; None: all). From the members of this client's endpoints (their
        Status names their events endpoint), or with ``cluster`` every member of the
        member list. Only events published after the subscription are seen; a slow
        reader loses some (events tell, they are not a log)."""
        if cluster:
            sources = [m.events_endpoint for m in self.members(linearizable=False,
                                                               timeout=timeout)
                       if m.events_endpoint]
        else:
            sources = []
            for endpoint in self._endpoints:
                try:
                    with self.at(endpoint, timeout) as one:
                        published = one.status().events_endpoint
                except ZkvError:
                    continue            # that member is not there: listen to the others
                if published:
                    sources.append(published)
        if not sources:
            raise ZkvError("no member to listen to publishes events")
        socket = self._context.socket(zmq.SUB)
        socket.setsockopt(zmq.LINGER, 0)
        self._apply_curve(socket)
        wanted = list(topics) if topics is not None else None
        for topic in (wanted if wanted is not None else [""]):
            socket.setsockopt(zmq.SUBSCRIBE, topic.encode("utf-8"))
        for source in sources:
            socket.connect(source)
        return EventStream(socket, sources, wanted)
