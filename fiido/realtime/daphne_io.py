"""The stream fast path under daphne: the client's socket behind an ASGI ``send``.

ASGI gives an application no way to see how much its client has left unread,
and daphne buffers every write in memory, so two things need the Twisted
objects underneath:

* the **slow-reader bound** (``fiido.realtime.stream.serve``) reads how many
  bytes Twisted still holds for the client and cuts off one that stopped
  reading;
* the hub's **direct writes** (``Subscription.push``) hand an idle stream's
  next frame straight to the socket during dispatch, with no task wake-up.

What this relies on (daphne 4.2.3 and Twisted 26.10.0, pinned in
requirements.txt; check each after an upgrade):

* daphne's ``send`` is ``functools.partial(server.handle_reply, protocol)``,
  whose first argument is the ``twisted.web.http.Request`` of the response;
* ``Request``: ``transport``, ``finished``, ``_disconnected``, ``channel``,
  ``startedWriting``, ``chunked``, ``sentLength`` and ``Request.write``;
* the plain TCP transport (``twisted.internet.tcp.Connection``):
  ``dataBuffer``, ``offset``, ``_tempDataLen`` (together: bytes queued),
  ``socket``, ``connected``, ``disconnecting``, ``abortConnection`` and
  ``write``; TLS transports (``TLS`` set) take Twisted's own path.

When ``send`` is anything else (another server, or an ASGI middleware that
wraps ``send``), ``client_socket`` returns None: streams then send through
``send`` like any ASGI app, with a byte budget instead of the slow-reader
bound, and one warning says so. ``tests/e2e/test_fast_path.py`` fails when
the fast path is not in use under the pinned daphne.
"""

from __future__ import annotations

import logging

from twisted.web.http import Request

logger = logging.getLogger(__name__)


class ClientSocket:
    """One response's client connection, as Twisted holds it under daphne."""

    __slots__ = ("request", "transport")

    def __init__(self, request: Request) -> None:
        self.request = request
        self.transport = request.transport

    def queued_bytes(self) -> int:
        """Bytes Twisted holds for this client that the socket has not taken yet."""
        transport = self.transport
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen

    def abort(self) -> None:
        """Drop the connection now, whatever is still queued for it."""
        self.transport.abortConnection()

    def write_now(self, frame: bytes, *, limit: int) -> bool:
        """Write ``frame`` to the client at once, as daphne's ``send`` would, minus the coroutine.

        When nothing is queued it goes one step further and hands the chunk
        to the socket itself: Twisted would queue it, register the socket with
        the event loop, write it on the next turn and unregister it, and that
        round trip (two ``epoll_ctl`` calls and their selector bookkeeping) was
        most of a fan-out's CPU. What the socket does not take is queued in
        Twisted behind it, so order is kept. False (write nothing) when the
        response is finished or the connection closing, or when more than
        ``limit`` bytes already wait for the client: the frame then takes the
        stream's own path, which waits for the client or cuts it off.
        """
        request, transport = self.request, self.transport
        if (
            request.finished
            or request._disconnected
            or request.channel is None
            or transport.disconnecting
            or not transport.connected
        ):
            return False
        waiting = self.queued_bytes()
        if waiting or getattr(transport, "TLS", False) or not request.startedWriting:
            if waiting > limit:
                return False
            Request.write(request, frame)
            return True
        chunk = b"%x\r\n%b\r\n" % (len(frame), frame) if request.chunked else frame
        try:
            sent = transport.socket.send(chunk)
        except BlockingIOError:
            sent = 0
        except OSError:
            return False  # the connection is going; the stream's path sees it
        if sent < len(chunk):
            transport.write(chunk[sent:])
        request.sentLength += len(frame)
        _note_fast_path()
        return True


_fast_path_seen = False


def _note_fast_path() -> None:
    """Say once per process that the fast path works (tests and operators look for it)."""
    global _fast_path_seen
    if not _fast_path_seen:
        _fast_path_seen = True
        logger.info("Streams write straight to their clients' sockets (daphne fast path in use).")


def client_socket(send) -> ClientSocket | None:
    """The client behind daphne's ``send`` on a plain TCP transport; None elsewhere."""
    request = next(iter(getattr(send, "args", ())), None)
    if not isinstance(request, Request) or not hasattr(request.transport, "_tempDataLen"):
        return None
    return ClientSocket(request)
