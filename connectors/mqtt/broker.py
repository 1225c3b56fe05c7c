"""An in-process MQTT 3.1.1 broker (amqtt) for the demo and the tests.

``EmbeddedBroker`` runs an amqtt ``Broker`` on 127.0.0.1 in a background thread with its
own asyncio loop, so synchronous code (the paho clients, the sync engine) can use it
like any other broker. The port is chosen once and kept: ``stop()`` then ``start()``
brings the broker back on the same address, which is how the tests take the broker
down and up again. Sessions and queued messages live in memory and are lost on stop.

Production uses a real broker with TLS and per-system credentials and ACLs
(TBS-SEC-001, TBS-MQTT-002); this one allows anonymous clients on loopback only.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

__all__ = ["EmbeddedBroker"]

log = logging.getLogger(__name__)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class EmbeddedBroker:
    """``with EmbeddedBroker() as broker: MqttSettings(broker.url, system_id)``."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, *, start_timeout: float = 10.0) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self.start_timeout = start_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}", "max_connections": 0}},
            # Only anonymous access on loopback: no $SYS publisher, no packet logging.
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

    def start(self) -> "EmbeddedBroker":
        if self.running:
            return self
        from amqtt.broker import Broker  # imported lazily: only the demo and tests need it

        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        async def boot() -> None:
            self._broker = Broker(self._config(), loop=loop)
            await self._broker.start()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(boot())
            except BaseException as exc:  # noqa: BLE001 – reported to start()
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            # amqtt leaves the tasks of clients still connected at shutdown pending; cancel
            # and await them so none is destroyed pending on a closed loop.
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            if leftovers:
                loop.run_until_complete(asyncio.wait(leftovers, timeout=2))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"amqtt-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(self.start_timeout):
            raise RuntimeError(f"embedded MQTT broker did not start within {self.start_timeout} s")
        if failure:
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"embedded MQTT broker failed to start on {self.url}") from failure[0]
        log.info("embedded MQTT broker listening on %s", self.url)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if not self.running or self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(self._broker, timeout / 2), self._loop)
        try:
            future.result(timeout)
        except TimeoutError:
            log.warning("embedded MQTT broker on %s did not shut down cleanly within %s s", self.url, timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout)
            self._thread = None
            self._broker = None
        log.info("embedded MQTT broker on %s stopped", self.url)

    @staticmethod
    async def _shutdown(broker: Any, grace: float) -> None:
        """Close the listeners and every client connection, then let amqtt shut down.

        amqtt 0.12's own ``shutdown`` can hang stopping the handler of a client that is
        still connected; with the connections closed first, every handler sees EOF and
        stops. The attributes reached into are amqtt's; each step is best effort.
        """
        for server in list(getattr(broker, "_servers", {}).values()):
            instance = getattr(server, "instance", None)
            if instance is not None:
                instance.close()  # frees the port at once: a restart may bind it again
        for _session, handler in list(getattr(broker, "_sessions", {}).values()):
            stream = getattr(getattr(handler, "writer", None), "_writer", None)
            if stream is not None:
                stream.close()
        try:
            await asyncio.wait_for(broker.shutdown(), grace)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 – leftovers are cancelled by the loop thread
            log.warning("amqtt shutdown incomplete; cancelling what is left", exc_info=True)

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
