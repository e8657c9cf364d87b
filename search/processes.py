"""The pipeline's processes: the index writer in a process of its own, and log records from any of them.

Under search/pipeline.py, which decides when a run uses processes. A run
with cleaning workers (search/pipeline.py's pool) also writes the index in a
process of its own, fed through a pipe: the writer's work per article (its
copies found, its postings sorted and written) was as much as everything
else the parent does, so in one process the parent, not the workers, set
the pace. The writer process runs ``write_articles`` unchanged — one writer,
the articles in the order they came, the same batches and commits, instant
alerts after each commit — so a run writes the same index either way.

Failures cross back as they happened: an error of Newsdesk's (the index busy,
say) is raised in the parent as itself; a bug is raised with the writer's
traceback; a writer that dies (killed, out of memory) is an error naming how.
The parent stopping (an error, Ctrl-C) tells the writer to abandon the batch
it is filling: the batches committed before are kept, as in one process. A
parent killed outright leaves a writer that notices and leaves at once,
mid-commit or not, which the index's commits are made to survive.
"""

from __future__ import annotations

import gc
import logging
import logging.handlers
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from multiprocessing.connection import Connection, wait
from typing import Any

from search.alerts import after_commit
from search.errors import NewsdeskError
from search.index import ArticleStore, IndexReport, PreparedArticle
from search.records import Article
from search.settings import Settings

__all__ = ["WRITER_NAME", "context", "death", "forwarded_logs", "log_to", "watch_parent", "write_in_process"]

log = logging.getLogger(__name__)

#: Articles per message to the writer: fewer, larger writes to the pipe.
_CHUNK = 32
#: The message that ends the articles, and the one that abandons them.
_END, _ABORT = "end", "abort"
#: Seconds an abandoned writer gets to stop before it is terminated.
_STOP_WAIT = 30.0
#: Allocations between the writer's youngest-generation collections (Python's default: 700).
_GC_THRESHOLD = 10_000


def context() -> Any:
    """The processes' start method: "forkserver", not plain fork.

    The parent has threads (the progress bar's, logging's, the pool's own
    manager), and a fork copies any lock one of them holds, locked forever
    in the child. The fork server is a fresh, single-threaded process that
    imports the pipeline once and forks every process from there, so one
    starts in well under a second, where "spawn" would import everything
    again in each.
    """
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["search.pipeline"])
    return ctx


@contextmanager
def forwarded_logs(ctx: Any) -> Iterator[Any]:
    """A queue for processes' log records, each handled here by the logger of its name."""
    logs = ctx.Queue()
    listener = logging.handlers.QueueListener(logs, _LocalHandler())
    listener.start()
    try:
        yield logs
    finally:
        listener.stop()
        logs.close()


def log_to(logs: Any, level: int) -> None:
    """In a child process: send every log record to the parent's ``forwarded_logs`` queue."""
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(logs)]
    root.setLevel(level)


def watch_parent() -> None:
    """In a child process: Ctrl-C left to the parent (it stops its children itself, so none dies halfway
    through its work with a traceback), and an exit as soon as the parent is gone (a parent killed outright
    cannot stop its children)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(sentinel: int) -> None:
    wait([sentinel])
    os._exit(1)


class _LocalHandler(logging.Handler):
    """Hands a child's log record to this process's logger of the same name, if it logs at that level."""

    def handle(self, record: logging.LogRecord) -> bool:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:  # handle() does the work
        pass


# --- the index writer's process ------------------------------------------------


def write_in_process(
    items: Iterable[Article | PreparedArticle],
    settings: Settings,
    report: IndexReport,
    *,
    store: ArticleStore,
    alerts: bool = True,
) -> IndexReport:
    """``store.write`` in a process of its own, fed ``items`` as they come; its counts added to ``report``.

    ``alerts`` runs instant alerts after each commit, as ``Pipeline.commit``
    does (in the writer's process).
    """
    ctx = context()
    with forwarded_logs(ctx) as logs:
        articles_out, articles_in = ctx.Pipe(duplex=False)
        result_out, result_in = ctx.Pipe(duplex=False)
        writer = ctx.Process(
            target=_writer, name=WRITER_NAME,
            args=(settings, store, alerts, articles_out, result_in, logs, logging.getLogger().getEffectiveLevel()),
        )
        writer.start()
        articles_out.close()  # the writer's ends: once it is gone, sending fails rather than blocks
        result_in.close()
        try:
            _send(items, articles_in)
            outcome = _result(writer, result_out)
        except BaseException:
            _abandon(writer, articles_in)
            raise
        finally:
            # What produced the items (worker processes, say) stops now, not when the garbage collector
            # comes to it, at whatever moment and in whatever thread, which can deadlock.
            close = getattr(items, "close", None)
            if close is not None:
                close()
            articles_in.close()
            result_out.close()
        writer.join()
    for name in ("added", "updated", "unchanged", "duplicate", "removed"):
        setattr(report, name, getattr(report, name) + getattr(outcome, name))
    report.duplicates += outcome.duplicates
    return report


#: The writer process's name, as ``multiprocessing.active_children()`` lists it.
WRITER_NAME = "newsdesk-index-writer"


def _send(items: Iterable[Article | PreparedArticle], connection: Connection) -> None:
    """The items to the writer in chunks, then the end; a writer that stopped early is left to ``_result``."""
    chunk: list[Article | PreparedArticle] = []
    try:
        for item in items:
            chunk.append(item)
            if len(chunk) >= _CHUNK:
                connection.send(chunk)
                chunk = []
        if chunk:
            connection.send(chunk)
        connection.send(_END)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the writer stopped (an error, or killed): its result says which


def _result(writer: Any, connection: Connection) -> IndexReport:
    """The writer's report, or its failure raised here."""
    ready = wait([connection, writer.sentinel])
    message: tuple[str, Any] | None = None
    if connection in ready:
        try:
            message = connection.recv()
        except EOFError:
            message = None
    if message is None:
        writer.join()
        raise NewsdeskError(
            f"the index writer process died ({death(writer.exitcode)})",
            hint="the batches committed before are kept, and a run again completes the rest; "
                 "a process killed by SIGKILL is often the out-of-memory killer's doing (see the system log)",
        )
    kind, value = message
    if kind == "done":
        report: IndexReport = value
        return report
    if kind == "error":
        raise value
    raise RuntimeError(f"the index writer process failed:\n{value}")


def _abandon(writer: Any, connection: Connection) -> None:
    """The parent is stopping: the writer drops the batch it is filling and leaves, or is made to.

    The pipe is closed after the word, so a writer left reading a message
    cut short (Ctrl-C in the middle of sending it) reads its end instead.
    """
    try:
        connection.send(_ABORT)
    except OSError:
        pass
    connection.close()
    writer.join(_STOP_WAIT)
    if writer.exitcode is None:
        writer.terminate()
        writer.join()


def death(exitcode: int | None) -> str:
    """How a child process ended, from its exit code: the signal's name, or its status."""
    if exitcode is not None and exitcode < 0:
        return signal.Signals(-exitcode).name
    if exitcode == _STATUS_LOST:
        return "how is unknown: the fork server did not report it"
    return f"exit status {exitcode}"


#: What ``multiprocessing`` makes a fork-server child's exit code when the fork
#: server's report of it cannot be read (popen_forkserver.Popen.poll); our
#: processes' own exit status is never 255.
_STATUS_LOST = 255


class _Abandoned(Exception):
    """The parent abandoned the run: the batch being filled is not written."""


def _writer(settings: Settings, store: ArticleStore, alerts: bool, articles: Connection, result: Connection,
            logs: Any, level: int) -> None:
    """The writer process: ``store.write`` over what the parent sends, its report or error sent back."""
    watch_parent()
    log_to(logs, level)
    # The writer makes and drops a great many small objects (postings), none of them in cycles: the cycle
    # collector is asked in less often, and never to walk what the process imported (measured: 5 % less time
    # writing 8,000 prepared articles).
    gc.freeze()
    gc.set_threshold(_GC_THRESHOLD)
    # Read ahead in a thread, so the parent goes on sending while a batch is written here; bounded, so that
    # memory does not grow when the parent is faster.
    received: queue.Queue[Any] = queue.Queue(maxsize=max(2 * settings.batch_size // _CHUNK, 4))
    threading.Thread(target=_receive, args=(articles, received), daemon=True).start()
    on_commit = partial(after_commit, settings) if alerts else None
    try:
        report = store.write(_items(received), on_commit=on_commit)
        result.send(("done", report))
    except _Abandoned:
        result.send(("abandoned", None))
    except NewsdeskError as e:
        result.send(("error", _portable(e)))
    except Exception:  # noqa: BLE001 - a bug of ours: its traceback goes to the parent, which raises it
        result.send(("failed", traceback.format_exc()))


def _receive(connection: Connection, received: queue.Queue[Any]) -> None:
    while True:
        try:
            message = connection.recv()
        except Exception:  # noqa: BLE001 - the parent gone, or a message cut short: the run is abandoned
            message = _ABORT
        received.put(message)
        if message in (_END, _ABORT):
            return


def _items(received: queue.Queue[Any]) -> Iterator[Article | PreparedArticle]:
    while True:
        message = received.get()
        if message == _END:
            return
        if message == _ABORT:
            raise _Abandoned()
        yield from message


def _portable(error: NewsdeskError) -> NewsdeskError:
    """The error as it pickles back to the parent: itself, or a plain NewsdeskError with its message and hint."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except (pickle.PickleError, TypeError, AttributeError):  # a subclass whose arguments differ
        return NewsdeskError(error.message, hint=error.hint)
