"""A live-only stand-in for azure-sdk-for-python's devtools_testutils (see README.md beside it)."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

_real_sleep = time.sleep


def _scaled_sleep(seconds: float) -> None:
    """time.sleep, scaled by PERSONALIZER_TEST_SLEEP_SCALE (the tests wait for Azure to apply settings)."""
    _real_sleep(max(0.0, seconds) * float(os.environ.get("PERSONALIZER_TEST_SLEEP_SCALE", "1")))


time.sleep = _scaled_sleep  # type: ignore[assignment]  # the tests call time.sleep through self.sleep


class AzureRecordedTestCase:
    """Base class of Microsoft's recorded tests: here every run is live."""

    @property
    def is_live(self) -> bool:
        """Always live: there are no recordings to play back."""
        return True


class EnvironmentVariableLoader:
    """Pass each named setting to the test, read from the environment (NAME in upper case)."""

    def __init__(self, directory: str, **defaults: str) -> None:
        self.directory = directory
        self.names = list(defaults)

    def __call__(self, test: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(test)
        def run(*args: Any, **kwargs: Any) -> Any:
            missing = [name.upper() for name in self.names if name.upper() not in os.environ]
            if missing:
                pytest.skip(f"set {', '.join(missing)} to run Microsoft's {self.directory} tests live")
            for name in self.names:
                kwargs.setdefault(name, os.environ[name.upper()])
            return test(*args, **kwargs)

        return run


def recorded_by_proxy(test: Callable[..., Any]) -> Callable[..., Any]:
    """Live mode: call the test as it is."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> Any:
        return test(*args, **kwargs)

    return run


@pytest.fixture(scope="session")
def test_proxy() -> None:
    """No proxy: the tests talk to the service directly."""
    return None


def add_remove_header_sanitizer(**kwargs: Any) -> None:
    """Sanitizers only matter for recordings."""


def add_general_regex_sanitizer(**kwargs: Any) -> None:
    """Sanitizers only matter for recordings."""


def add_oauth_response_sanitizer(**kwargs: Any) -> None:
    """Sanitizers only matter for recordings."""
