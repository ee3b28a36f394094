"""The exceptions of the zkv client.

Every failure is a :class:`ZkvError`. A member's refusal is a :class:`ServerError`
carrying the member's own text (etcd's wording, docs/PROTOCOL.md "Errors") and its
gRPC code name; a call that got no answer in time is a :class:`DeadlineExceeded`,
whose ``sent`` tells whether the request may have reached a member (its outcome is
then unknown: a write may or may not have been applied).
"""
from __future__ import annotations

from typing import Optional


class ZkvError(Exception):
    """Any failure of the zkv client."""


class ServerError(ZkvError):
    """A member refused the request.

    ``str(error)`` is the member's text, verbatim (``etcdserver: ...``, ``zkv: ...``), as
    etcdctl and zkvctl print it.
    """

    def __init__(self, code: str, message: str, member_id: int = 0) -> None:
        super().__init__(message)
        #: gRPC status code name, as etcd maps the error (``InvalidArgument``, ...)
        self.code: str = code
        #: the member's error text
        self.message: str = message
        #: the member that answered (0 when the reply had no header)
        self.member_id: int = member_id

    def is_error(self, text: str) -> bool:
        """True if this is the error of that text, alone or followed by a detail
        (``raft proposal dropped: ...``)."""
        return (self.message == text or self.message.startswith(text + ":")
                or self.message.startswith(text + " ("))

    @property
    def retryable(self) -> bool:
        """True if docs/PROTOCOL.md says to retry this error (nothing was done)."""
        return any(self.is_error(text) for text in RETRYABLE)

    def __repr__(self) -> str:
        return f"ServerError(code={self.code!r}, message={self.message!r})"


class DeadlineExceeded(ZkvError, TimeoutError):
    """No member answered within the call's timeout (etcdctl: ``context deadline
    exceeded``).

    ``sent`` is False when no member took the request (no connection could be made:
    members down, or a CURVE handshake refused), True when one took it and did not
    answer: the outcome is then unknown, and the client never sends a write again.
    """

    def __init__(self, sent: bool, endpoint: Optional[str] = None) -> None:
        super().__init__("context deadline exceeded")
        self.sent: bool = sent
        #: the endpoint the request went to, when sent
        self.endpoint: Optional[str] = endpoint


class RequestTooLarge(ServerError):
    """The request is larger than this client sends (``max_request_bytes``): refused
    before sending, with the member's own error (a member drops larger frames unread
    and never answers them)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__("InvalidArgument", "etcdserver: request is too large")
        self.size = size
        self.limit = limit


class ProtocolError(ZkvError):
    """A reply that does not follow docs/PROTOCOL.md (not a msgpack map, ...)."""


class SnapshotError(ZkvError):
    """A snapshot stream or file that fails its checks (its SHA-256, its image)."""


# The errors docs/PROTOCOL.md says to retry: the member did nothing with the request.
NO_LEADER = "etcdserver: no leader"
PROPOSAL_DROPPED = "raft proposal dropped"
LEADER_CHANGED = "etcdserver: leader changed"
NOT_LEADER = "etcdserver: not leader"
CONF_PENDING = "zkv: a membership change is still under way"
LEARNER_NOT_READY = "etcdserver: can only promote a learner member which is in sync with leader"
RETRYABLE = (NO_LEADER, PROPOSAL_DROPPED, LEADER_CHANGED, LEARNER_NOT_READY, CONF_PENDING)

# Member-specific refusals: another member may serve the request.
LEARNER_RPC = "etcdserver: rpc not supported for learner"
MEMBER_REMOVED = "etcdserver: the member has been permanently removed from the cluster"
# The outcome of these is unknown: only a read may be sent again.
REQUEST_TIMED_OUT = "etcdserver: request timed out"
SERVER_STOPPED = "etcdserver: server stopped"
