"""``python -m receivers``: serve wss media streams and record every frame.

Prints one JSON ``ready`` line on stdout once listening, then a ``stats`` line
every ``--stats-interval`` seconds (and a last one on exit). Stops on SIGTERM,
SIGINT or after ``--max-duration`` seconds: it stops accepting, closes open
connections with 1001, records every stream and flushes. Exit codes: 0 done,
2 bad flags or environment, 3 records could not be written. The expected
bearer token comes from ``STREAMLOAD_BEARER_TOKEN`` and is never printed.

With ``--processes N`` (N > 1) it runs N such receivers sharing one port
(SO_REUSEPORT, see :mod:`receivers.workers`) and prints one merged ``ready``
line and merged ``stats`` lines; each worker records as ``<producer>-<i>``.
Beside the frames, every receiver records its own health once a second (CPU,
event-loop lag, GC pauses) and per-codec/track histograms at each flush.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
from collections.abc import Callable

import uvloop

from harness.core.lines import STATS
from harness.core.live import FIELD
from harness.io import lifeline, runtime
from harness.io.lines import emit
from harness.io.recorder import Recorder
from harness.io.sink import RecordSink
from receivers import service
from receivers.distributions import Distributions, Frames, histogram_columns
from receivers.health import Monitor
from receivers.options import PROG, Options, parse_args
from receivers.server import Receiver
from receivers.workers import supervise


__all__ = ["main", "run", "with_tls"]

logger = logging.getLogger("receivers")


def _stats(
    receiver: Receiver, monitor: Monitor, sink: Recorder, dist: Distributions
) -> dict[str, object]:
    """Counts, rows the records lost, the latest health figures (CPU share
    of the loop thread, lag) and the live media metrics (:mod:`harness.core.live`)."""
    live = dist.live(conn.session.codec for conn in receiver.open)
    return {
        **receiver.stats(),
        **sink.loss.stats(),
        **monitor.stats(),
        FIELD: live,
    }


def _histograms(
    sink: Recorder, receiver: Receiver, dist: Distributions
) -> Callable[[], None]:
    """A ``before_flush`` hook: the flush's frames are counted into the
    histograms on the writer thread (:meth:`Distributions.fold`), written as
    ``histograms`` rows there, and handed back to the loop for the live lines."""
    loop = asyncio.get_running_loop()
    producer = dist.producer

    def defer() -> None:
        frames = sink.hot_rows  # this flush's: the batch is handed off next
        codecs, ended = receiver.codecs()

        def build() -> list[object]:
            taken = dist.fold(Frames.of_buffer(frames), codecs, ended)
            loop.call_soon_threadsafe(dist.deliver, taken)
            return histogram_columns(producer, taken.snapshot) if taken.snapshot else []

        sink.defer("histograms", build)

    return defer


async def main(options: Options) -> int:
    """Serve until a signal or ``max_duration``; return the exit code.

    Raises:
        ConfigError: the TLS files cannot be loaded, the run directory cannot
            be written or the address cannot be bound.
    """
    stop, deadline = service.stop_event(options.max_duration)
    ctx = service.tls_context(options.cert_file, options.key_file)
    service.records_dir(options.run_dir)
    sink = Recorder(RecordSink(options.run_dir, options.producer, "receiver"), "frames")
    dist = Distributions(options.producer)
    monitor = Monitor(options.producer, "receiver", sink)
    receiver = Receiver(options.server, ctx, sink)
    sink.before_flush += [_histograms(sink, receiver, dist), monitor.drain]
    await sink.flush()  # the producers row; also warms pyarrow before traffic
    runtime.settle()  # the collector and the GIL out of the arrival stamps
    try:
        url = await receiver.start()
    except OSError as exc:
        await sink.close()
        raise service.listen_error(
            options.server.host, options.server.port, exc
        ) from exc
    service.ready(
        url,
        options.public_url,
        options.server.host,
        receiver.port,
        options.ca_file,
        run_dir=str(options.run_dir),
        transport=options.server.transport,
    )

    def report() -> None:
        emit(STATS, **_stats(receiver, monitor, sink, dist))

    tasks = [
        asyncio.create_task(receiver.sweep(stop)),
        asyncio.create_task(sink.run(options.flush_interval, stop)),
        asyncio.create_task(service.every(options.stats_interval, stop, report)),
        asyncio.create_task(monitor.run(stop)),
    ]
    try:
        await stop.wait()
    finally:
        deadline.cancel()
        await receiver.close(timeout=options.server.close_timeout + 1.0)
        await asyncio.gather(*tasks, return_exceptions=True)
        receiver.record_handshakes()
        await sink.close()
        report()
    return service.exit_code(sink.loss, logger, options.run_dir)


def with_tls(options: Options) -> Options:
    """Make the throwaway CA and certificate when TLS is on and none was given."""
    if not options.tls or options.cert_file is not None:
        return options
    cert, key, ca = service.tls_files(options.run_dir, None, None)
    return dataclasses.replace(options, cert_file=cert, key_file=key, ca_file=ca)


def run(argv: list[str] | None = None) -> int:
    """Entry point: parse, serve on uvloop, and map errors to exit codes."""
    lifeline.arm()  # started by streamload (or a --processes supervisor): end with it

    def serve() -> int:
        options = with_tls(parse_args(argv))
        if options.processes > 1:
            return uvloop.run(supervise(options, options.processes))
        return uvloop.run(main(options))

    # websockets and picows log request headers (Authorization too) below
    # INFO: keep them above (receivers.transport_picows sets its own).
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("picows").setLevel(logging.WARNING)
    return service.run(PROG, serve)


if __name__ == "__main__":
    sys.exit(run())
