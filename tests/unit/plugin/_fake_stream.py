"""A stand-in for grpclib's server Stream: what the servicer uses of it."""

from __future__ import annotations


class FakeStream:
    """One request message in, the replies out."""

    def __init__(self, request: object) -> None:
        self.request = request
        self.sent: list[object] = []

    async def recv_message(self) -> object:
        return self.request

    async def send_message(self, message: object) -> None:
        self.sent.append(message)
