"""The stream fast path under daphne: the client's socket behind an ASGI ``send``.

ASGI gives an application no way to see how much its client has left unread,
and daphne buffers every write in memory, so two things need the Twisted
objects underneath:

* the **slow-reader bound** (``fiido.realtime.stream.serve``) reads how many
  bytes Twisted still holds for the client and cuts off one that stopped
  reading;
* the hub's **direct writes** (``Subscription.push``) hand an idle stream's
  next frame straight to the socket during dispatch, with no task wake-up;
* the **body limit** (``limit_request_bodies``) answers 413 from a request's
  ``Content-Length`` before daphne reads the body (it reads all of it before
  the application runs), larger for uploads than for the rest;
* ``skip_form_parsing`` stops Twisted parsing every POST body into
  ``Request.args``, which daphne never reads;
* ``light_input_queues`` gives each connection an ``InputQueue`` instead of
  an ``asyncio.Queue`` (a third of an idle stream's memory went there).

What this relies on (daphne 4.2.3 and Twisted 26.10.0, pinned in
requirements.txt; check each after an upgrade):

* daphne's ``send`` is ``functools.partial(server.handle_reply, protocol)``,
  whose first argument is the ``twisted.web.http.Request`` of the response;
* ``Server.create_application`` (copied with its queue swapped) and the
  protocols' use of the queue: ``put_nowait`` and truthiness only;
* ``Request``: ``transport``, ``finished``, ``_disconnected``, ``channel``,
  ``startedWriting``, ``chunked``, ``sentLength``, ``Request.write`` and
  ``notifyFinish`` (failed by ``connectionLost``, where daphne also queues
  ``http.disconnect``);
* daphne's ``WebRequest`` (``http_protocol``): ``gotLength``,
  ``handleContentChunk``, ``process`` and ``__init__``, Twisted's
  ``Request._parsePOSTFormSubmission``, and the channel's ``transport``,
  ``dataReceived``, ``loseConnection`` and, until a body is complete, the
  request line in ``_command`` and ``_path``;
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

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from urllib.parse import unquote

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

    def on_disconnect(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once if the client goes away before the response ends.

        The same moment daphne puts ``http.disconnect`` in the input queue
        (its ``connectionLost`` does both), without a task per stream parked
        on ``receive()`` to hear it: Twisted's ``notifyFinish``, which fails
        on a lost connection and succeeds on a finished response.
        """
        if self.request._disconnected:
            callback()
            return
        self.request.notifyFinish().addErrback(lambda _reason: callback())

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


# ---------------------------------------------------------------------------
# Request bodies: refused from their declared length, before they are read
# ---------------------------------------------------------------------------
class _Discard:
    """Stands in for a refused request's body: what still arrives is dropped."""

    def write(self, data: bytes) -> None:
        pass

    def seek(self, *args) -> int:
        return 0

    def read(self, *args) -> bytes:
        return b""

    def close(self) -> None:
        pass


TOO_LARGE_BODY = b'{"error": "The request body is too large."}'


def _refuse_too_large(request: Request) -> None:
    """Answer 413 and close, without reading (or keeping) the rest of the body."""
    request._fiido_refused = True
    request.content = _Discard()
    request.requestHeaders.removeHeader(b"expect")  # no "100 Continue" after the refusal
    channel = request.channel
    if channel is None or channel.transport is None:
        return
    channel.transport.write(
        b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(TOO_LARGE_BODY), TOO_LARGE_BODY)
    )
    channel.dataReceived = lambda data: None  # as Twisted does after a non-persistent request
    channel.loseConnection()


def _request_line(request: Request) -> tuple[str, str]:
    """The method and path of a request whose headers have arrived but not its
    body: Twisted's channel holds the request line (``_command``, ``_path``)
    until the body is complete. ("", "") if it does not."""
    channel = request.channel
    method = getattr(channel, "_command", b"")
    target = getattr(channel, "_path", b"")
    if not isinstance(method, bytes) or not isinstance(target, bytes):
        return "", ""
    path = target.split(b"?", 1)[0]
    return method.decode("latin-1"), unquote(path.decode("latin-1"))


def limit_request_bodies(max_bytes: Callable[[str, str], int]) -> None:
    """Make daphne refuse a body over ``max_bytes(method, path)`` with 413 as
    soon as its ``Content-Length`` (or, chunked, its running size) says so.

    daphne hands the application a request only after Twisted has read its
    whole body into memory or a temporary file, so an application-level limit
    comes too late: one anonymous 300 MB POST took a worker from 80 to 394 MB.
    The limit depends on the request line, read when the headers are in:
    uploads get their own (``fiido.http.request_body_limit``). This hooks
    daphne's ``WebRequest`` (``gotLength``, ``handleContentChunk``,
    ``process``) once per process.

    A body within the limit is held by Twisted (in memory below 100 kB, in a
    temporary file above), then handed to the application in 8 KiB chunks,
    which Django spools to a temporary file past ``FILE_UPLOAD_MAX_MEMORY_SIZE``:
    what one upload costs in memory is bounded by the limit.
    """
    from daphne.http_protocol import WebRequest

    if getattr(WebRequest, "_fiido_body_limit", False):
        return
    got_length, content_chunk, process = WebRequest.gotLength, WebRequest.handleContentChunk, WebRequest.process

    def gotLength(self, length):
        self._fiido_room = max_bytes(*_request_line(self))
        if length is not None and length > self._fiido_room:
            _refuse_too_large(self)
            return
        got_length(self, length)

    def handleContentChunk(self, data):
        if getattr(self, "_fiido_refused", False):
            return
        room = getattr(self, "_fiido_room", None)
        if room is None:
            room = max_bytes(*_request_line(self))
        self._fiido_room = room - len(data)
        if self._fiido_room < 0:
            _refuse_too_large(self)
            return
        content_chunk(self, data)

    def guarded_process(self):
        if getattr(self, "_fiido_refused", False):
            return None  # answered 413 already; the connection is closing
        return process(self)

    WebRequest.gotLength = gotLength
    WebRequest.handleContentChunk = handleContentChunk
    WebRequest.process = guarded_process
    WebRequest._fiido_body_limit = True


# ---------------------------------------------------------------------------
# Request bodies: no form parsing nobody reads
# ---------------------------------------------------------------------------
def skip_form_parsing() -> None:
    """Stop Twisted parsing POST bodies into ``Request.args``, which daphne never reads.

    For every POST with a body, Twisted's ``Request.requestReceived`` parses
    the ``Content-Type`` header with the ``email`` package (to see whether the
    body is a form) and, for a form, the body itself; daphne hands the raw
    body to the application and ignores ``args``. Measured with
    ``bench/postcost.py``: the header parse alone was ≈ 0.1 CPU-ms of a
    1.3 ms request. Twisted's own switch for it is the request's
    ``_parsePOSTFormSubmission`` (its ``parsePOSTFormSubmission`` argument);
    this sets it on every request daphne makes, once per process. For an
    upload it matters more: Twisted would parse the whole multipart body
    (copies of the file in memory) and answer an empty 400 for one it cannot
    parse; Django parses it, once, from disk.
    """
    from daphne.http_protocol import WebRequest

    if getattr(WebRequest, "_fiido_no_form_parsing", False):
        return
    init = WebRequest.__init__

    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self._parsePOSTFormSubmission = False

    WebRequest.__init__ = __init__
    WebRequest._fiido_no_form_parsing = True


# ---------------------------------------------------------------------------
# The per-connection input queue: what receive() reads
# ---------------------------------------------------------------------------
class InputQueue:
    """What an ASGI application's ``receive`` reads from: daphne puts the
    request body and ``http.disconnect`` here, and nothing else.

    daphne makes an ``asyncio.Queue`` per connection: four deques (its items,
    getters, putters, and the waiters of its ``join`` event), ≈ 3 KB before
    anything is queued, which an idle stream holds for hours (tracemalloc
    over 1,000 idle streams, ``bench/stream_memory.py --trace``). This holds
    two empty slots until something is queued or awaited. FIFO, any number
    of waiting ``get`` calls, cancellation as ``asyncio.Queue`` does it (a
    woken getter that is cancelled passes its turn on); no ``maxsize``,
    ``join`` or ``task_done``, which daphne never uses.
    It has no ``__len__``, so it is always true, as daphne's
    ``if self.application_queue:`` expects of a queue it made.
    """

    __slots__ = ("_getters", "_items")

    def __init__(self) -> None:
        self._items: list | None = None
        self._getters: list[asyncio.Future] | None = None

    def put_nowait(self, item) -> None:
        if self._items is None:
            self._items = []
        self._items.append(item)
        self._wake_one()

    async def get(self):
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            if self._getters is None:
                self._getters = []
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                if self._getters and getter in self._getters:
                    self._getters.remove(getter)
                elif self._items:
                    self._wake_one()  # it was woken for an item it will not take
                raise
        items = self._items
        item = items.pop(0)
        if not items:
            self._items = None
        return item

    def _wake_one(self) -> None:
        getters = self._getters
        while getters:
            getter = getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                break
        if not getters:
            self._getters = None


def light_input_queues() -> None:
    """Make daphne give each connection an ``InputQueue`` (see there)."""
    from daphne.server import Server

    if getattr(Server, "_fiido_input_queue", False):
        return

    def create_application(self, protocol, scope):
        # daphne 4.2.3's Server.create_application, with InputQueue for asyncio.Queue.
        assert "application_instance" not in self.connections[protocol]
        input_queue = InputQueue()
        scope.setdefault("asgi", {"version": "3.0"})
        application_instance = self.application(
            scope=scope,
            receive=input_queue.get,
            send=partial(self.handle_reply, protocol),
        )
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(
            application_instance,
            loop=asyncio.get_event_loop(),
        )
        return input_queue

    Server.create_application = create_application
    Server._fiido_input_queue = True
