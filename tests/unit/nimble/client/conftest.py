"""Fixtures for the client's unit tests: a fake array mounted as the client's transport."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from nimble_fake_array import PASSWORD, USERNAME, FakeArray
from tfnimble.nimble.client import NimbleClient


@pytest.fixture
def fake() -> FakeArray:
    return FakeArray()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(fake: FakeArray, sleeps: list[float]) -> Iterator[Callable[..., NimbleClient]]:
    made: list[NimbleClient] = []

    def make(**kwargs: Any) -> NimbleClient:
        kwargs.setdefault("retries", 3)
        kwargs.setdefault("backoff", 0.1)
        c = NimbleClient(
            "array.example",
            username=USERNAME,
            password=PASSWORD,
            transport=kwargs.pop("transport", fake),
            sleep=sleeps.append,
            **kwargs,
        )
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def client(make_client: Callable[..., NimbleClient]) -> NimbleClient:
    return make_client()
