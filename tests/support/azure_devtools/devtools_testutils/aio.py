"""The asynchronous half of the stand-in: recorded_by_proxy_async."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any


def recorded_by_proxy_async(test: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
    """Live mode: run the coroutine test to completion on a fresh event loop."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(test(*args, **kwargs))

    return run
