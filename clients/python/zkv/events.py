"""The events members publish (docs/PROTOCOL.md "Events"), as an iterator."""
from __future__ import annotations

import time
from typing import Any, Iterator, List, Optional, Sequence

import msgpack
import zmq

from .types import Event


class EventStream:
    """Events as they come, from a SUB socket connected to members' events endpoints
    (made by :meth:`zkv.Client.events`).

    ``for event in stream:`` blocks for each; ``stream.get(timeout)`` waits at most
    timeout seconds (None when none came). Use it as a context manager, or call
    :meth:`close`. A message that is no event (not a msgpack map) is skipped.
    """

    def __init__(self, socket: zmq.Socket, endpoints: Sequence[str],
                 topics: Optional[Sequence[str]] = None) -> None:
        self._socket: Optional[zmq.Socket] = socket
        #: the events endpoints listened to
        self.endpoints: List[str] = list(endpoints)
        # SUB filters by prefix: keep the topics asked for exactly
        self._topics = set(topics) if topics else None

    def get(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, waiting at most timeout seconds (None: for ever); None if
        none came."""
        if self._socket is None:
            raise ValueError("the event stream is closed")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = -1 if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            if not self._socket.poll(wait, zmq.POLLIN):
                if deadline is None:
                    continue
                return None
            frames = self._socket.recv_multipart()
            if len(frames) != 2:
                continue
            topic = frames[0].decode("utf-8", "replace")
            if self._topics is not None and topic not in self._topics:
                continue
            try:
                data: Any = msgpack.unpackb(frames[1], raw=False)
            except Exception:
                continue
            if isinstance(data, dict):
                return Event(topic, data)

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        event = self.get()
        assert event is not None
        return event

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
