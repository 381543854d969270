"""Microsoft's azure-ai-personalizer source release (tests and samples) and services to run them against.

The SDK's source distribution on PyPI carries Microsoft's test suite (`tests/`) and samples (`samples/`).
They are not committed here: they are downloaded from the registry at test time with pip (or taken from
AZURE_AI_PERSONALIZER_SOURCE, a folder holding an unpacked or zipped source release), and run unchanged.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
STANDIN = ROOT / "tests" / "support" / "azure_devtools"
SDK = "azure-ai-personalizer==1.0.0b1"
CACHE = ROOT / ".cache" / "azure-ai-personalizer-1.0.0b1"


def sdk_source() -> Path | None:
    """The unpacked source release (with tests/ and samples/), downloading it once; None if unavailable."""
    given = os.environ.get("AZURE_AI_PERSONALIZER_SOURCE")
    if given:
        return _unpacked(Path(given))
    if not (CACHE / "tests").is_dir():
        with tempfile.TemporaryDirectory() as download:
            pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps"]
            done = subprocess.run([*pip, SDK, "-d", download], capture_output=True, timeout=300)
            archives = list(Path(download).glob("azure*ai*personalizer*"))
            if done.returncode != 0 or not archives:
                return None
            found = _unpacked(archives[0])
            if found is None:
                return None
            CACHE.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(CACHE, ignore_errors=True)
            shutil.copytree(found, CACHE)
    return CACHE


def _unpacked(path: Path) -> Path | None:
    if path.is_dir():
        if (path / "tests").is_dir():
            return path
        inner = [p for p in path.iterdir() if (p / "tests").is_dir()]
        return inner[0] if inner else None
    target = Path(tempfile.mkdtemp(prefix="azure-ai-personalizer-"))
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            archive.extractall(target)
    else:
        shutil.unpack_archive(str(path), target)
    return _unpacked(target)


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_service(workdir: Path, key: str, **extra: str) -> Iterator[str]:
    """`python app.py personalizer` on a free port with its own SQLite database; yields its endpoint."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONALIZER_", "SLACK_"))}
    env.update(
        {
            "PERSONALIZER_KEY": key,
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "DATABASE_URL": f"sqlite:///{workdir / 'personalizer.db'}",
            "PERSONALIZER_MODEL_UPDATE_FREQUENCY": "5",
        }
    )
    env.update(extra)
    log = open(workdir / "service.log", "wb")  # noqa: SIM115 - closed below, after the process
    process = subprocess.Popen(
        [sys.executable, "app.py", "personalizer"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError((workdir / "service.log").read_text())
            try:
                if requests.get(endpoint + "/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the service did not start in 60 s")
            time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def sdk_environment(single: str, multi: str, key: str) -> dict[str, str]:
    """The environment Microsoft's tests and samples read their endpoints and keys from."""
    env = dict(os.environ)
    env.update(
        {
            "PERSONALIZER_ENDPOINT_SINGLE_SLOT": single,
            "PERSONALIZER_API_KEY_SINGLE_SLOT": key,
            "PERSONALIZER_ENDPOINT_MULTI_SLOT": multi,
            "PERSONALIZER_API_KEY_MULTI_SLOT": key,
            "PERSONALIZER_PRESET_ENDPOINT_SINGLE_SLOT": single,
            "PERSONALIZER_PRESET_API_KEY_SINGLE_SLOT": key,
            "PYTHONPATH": os.pathsep.join([str(STANDIN), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            # The tests wait for Azure to apply settings; this service applies them before answering.
            "PERSONALIZER_TEST_SLEEP_SCALE": os.environ.get("PERSONALIZER_TEST_SLEEP_SCALE", "0"),
        }
    )
    return env
