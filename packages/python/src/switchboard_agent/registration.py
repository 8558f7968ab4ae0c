"""Keeping an agent registered with the orchestrator's RegistryService."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlparse

import grpc
from google.protobuf import duration_pb2

from switchboard.v1 import agent_pb2, registry_pb2, registry_pb2_grpc

log = logging.getLogger("switchboard_agent.registration")

# The longest wait between failed registration attempts.
MAX_BACKOFF = 30.0
# How long one registry call may take.
CALL_TIMEOUT = 5.0


@dataclass
class Registration:
    """Registration says where and how an agent registers itself."""

    orchestrator: str
    """The orchestrator's URL, e.g. "http://127.0.0.1:50051"."""
    endpoint: str
    """Where the orchestrator reaches this agent."""
    card: agent_pb2.AgentCard
    lease: float = 30.0
    """The lease to ask for, in seconds."""
    token: str = ""
    """The registration token, when the orchestrator requires one."""


def _channel(orchestrator: str) -> grpc.aio.Channel:
    url = urlparse(orchestrator)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ValueError(f"orchestrator {orchestrator!r} is not an http:// or https:// URL (e.g. http://127.0.0.1:50051)")
    if url.scheme == "https":
        return grpc.aio.secure_channel(url.netloc, grpc.ssl_channel_credentials())
    return grpc.aio.insecure_channel(url.netloc)


def _hint(err: grpc.aio.AioRpcError) -> str:
    code = err.code()
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return "the orchestrator does not serve switchboard.v1.RegistryService; list this agent in its configuration instead (--agent NAME=URL)"
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"the orchestrator cannot be reached: {err.details()}"
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return f"the orchestrator refused the registration token: {err.details()}"
    return f"{code.name}: {err.details()}"


class Registrar:
    """Registrar keeps an agent registered: it registers, renews the lease with
    heartbeats at a third of the lease, registers again when the orchestrator
    has forgotten the instance, and retries with capped backoff when the
    orchestrator is unreachable or does not serve RegistryService (the agent
    keeps serving meanwhile: it can also be listed statically)."""

    def __init__(self, registration: Registration) -> None:
        self._reg = registration
        self._channel = _channel(registration.orchestrator)
        self._client = registry_pb2_grpc.RegistryServiceStub(self._channel)
        self._lease = registration.lease
        self.instance_id: Optional[str] = None
        self._task: Optional[asyncio.Task[None]] = None

    def start(self) -> "Registrar":
        """Starts keeping the agent registered in the background."""
        self._task = asyncio.ensure_future(self._run())
        return self

    async def _run(self) -> None:
        backoff = 1.0
        while True:
            wait = self._lease / 3
            if self.instance_id is None:
                try:
                    await self._register()
                    backoff = 1.0
                    wait = self._lease / 3
                except grpc.aio.AioRpcError as e:
                    log.warning("registration failed; serving anyway, will retry in %gs: %s", backoff, _hint(e))
                    wait = backoff
                    backoff = min(backoff * 2, MAX_BACKOFF)
            else:
                try:
                    await self._client.Heartbeat(
                        registry_pb2.HeartbeatRequest(instance_id=self.instance_id, token=self._reg.token),
                        timeout=CALL_TIMEOUT,
                    )
                except grpc.aio.AioRpcError as e:
                    if e.code() == grpc.StatusCode.NOT_FOUND:
                        # The lease ran out (or the orchestrator restarted): register anew.
                        log.warning("the orchestrator no longer knows this instance; registering again")
                        self.instance_id = None
                        wait = 0
                    else:
                        log.warning("heartbeat failed; will retry: %s", _hint(e))
            await asyncio.sleep(wait)

    async def _register(self) -> None:
        lease = duration_pb2.Duration()
        lease.FromNanoseconds(int(self._lease * 1e9))
        res = await self._client.Register(
            registry_pb2.RegisterRequest(card=self._reg.card, endpoint=self._reg.endpoint, lease=lease, token=self._reg.token),
            timeout=CALL_TIMEOUT,
        )
        granted = res.lease.ToNanoseconds() / 1e9 if res.HasField("lease") else 0
        if granted > 0:
            self._lease = granted
        self.instance_id = res.instance_id
        log.info("registered as %s (endpoint %s, lease %gs)", res.instance_id, self._reg.endpoint, self._lease)

    async def close(self, timeout: float = 2.0) -> None:
        """Stops the heartbeats and deregisters the instance."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        try:
            if self.instance_id is not None:
                try:
                    await self._client.Deregister(
                        registry_pb2.DeregisterRequest(instance_id=self.instance_id, token=self._reg.token),
                        timeout=timeout,
                    )
                    log.info("deregistered %s", self.instance_id)
                except grpc.aio.AioRpcError as e:
                    log.warning("deregistration failed; the lease will expire on its own: %s", _hint(e))
        finally:
            await self._channel.close()
