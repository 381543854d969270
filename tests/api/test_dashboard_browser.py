"""The dashboard in a real headless Chromium: sign in, see the charts, run an evaluation, apply a policy."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from bench.evaluation_world import log_events
from tests.api.dashboard_server import KEY, build_server_app

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = Path("/usr/bin/chromium")
# The screenshots in docs/ are refreshed on request (UPDATE_SCREENSHOTS=1 make test); other runs write elsewhere.
DOCS = (
    Path(__file__).resolve().parents[2] / "docs"
    if os.environ.get("UPDATE_SCREENSHOTS")
    else Path(tempfile.mkdtemp(prefix="dashboard-screenshots-"))
)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it)")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The service's app on a loopback port, over a log of 4000 events from the seeded world."""
    app, loop, evaluations = build_server_app(f"sqlite:///{tmp_path / 'dash.db'}")
    now = time.time()
    log_events(evaluations._engine, 4000, seed=11, start=now - 4000 * 30.0, step=30.0)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    evaluations.start()
    try:
        yield {"url": f"http://127.0.0.1:{port}", "loop": loop}
    finally:
        evaluations.close()
        server.should_exit = True
        thread.join(timeout=10)
        loop.close()


@pytest.fixture
def page(service: dict[str, Any]) -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def sign_in(page: Any, url: str, key: str = KEY) -> None:
    page.goto(f"{url}/dashboard/")
    page.fill("#key", key)
    page.click("#sign-in")


def test_the_key_signs_in_once_with_an_httponly_strict_cookie(page: Any, service: dict[str, Any]) -> None:
    url = service["url"]
    page.goto(f"{url}/dashboard/evaluations")
    assert page.url.endswith("/dashboard/login")
    sign_in(page, url, key="wrong")
    assert "That is not the key." in page.inner_text("#error")
    sign_in(page, url)
    assert page.url.endswith("/dashboard/")
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert KEY not in cookie["value"]
    assert page.evaluate("document.cookie") == ""  # out of reach of the page's scripts
    page.goto(f"{url}/dashboard/configuration")
    assert page.inner_text("#policy") == service["loop"].settings.policy
    # Without the cookie nothing changes: a POST from outside the session is refused.
    outside = page.context.browser.new_context()
    try:
        answer = outside.request.post(f"{url}/dashboard/evaluations", form={"name": "x"})
        assert answer.status == 401
    finally:
        outside.close()


def test_the_overview_draws_reward_over_time_for_online_and_baseline(
    page: Any, service: dict[str, Any]
) -> None:
    sign_in(page, service["url"])
    lines = page.locator("#counts")
    assert "4000" in lines.inner_text()
    for name in ("online", "baseline"):
        polyline = page.locator(f'polyline[data-series="{name}"]')
        assert polyline.count() == 1
        assert len(polyline.get_attribute("points").split()) > 10  # a point per interval, drawn
        assert polyline.evaluate("e => e.getBBox().width") > 300
    assert page.locator("#models tr").count() >= 2
    page.screenshot(path=str(DOCS / "dashboard-overview.png"), full_page=True)


def test_an_evaluation_runs_from_the_dashboard_and_its_best_policy_is_applied(
    page: Any, service: dict[str, Any]
) -> None:
    url, loop = service["url"], service["loop"]
    sign_in(page, url)
    page.goto(f"{url}/dashboard/evaluations")
    page.fill('input[name="name"]', "From the browser")
    page.click("#run-evaluation")
    page.wait_for_function("document.querySelector('#status').textContent === 'Succeeded'", timeout=90_000)
    assert page.locator("polyline.series").count() >= 4  # online, baseline, random and candidates
    assert page.locator("polygon.band").count() == 2
    optimal = page.inner_text("#optimal")
    assert optimal != "online"  # the log explored uniformly; a learning policy beats it by far
    page.screenshot(path=str(DOCS / "dashboard-evaluation.png"), full_page=True)
    page.click(f'button[data-apply="{optimal}"]')
    assert page.url.split("?")[0].endswith("/dashboard/configuration")
    applied = page.inner_text("#policy")
    assert f"Applied {optimal}" in page.inner_text("#notice")
    assert loop.settings.policy == applied
    page.screenshot(path=str(DOCS / "dashboard-configuration.png"), full_page=True)


def test_feature_importances_are_computed_and_drawn(page: Any, service: dict[str, Any]) -> None:
    url = service["url"]
    sign_in(page, url)
    page.goto(f"{url}/dashboard/features")
    page.click("#run-importance")
    page.wait_for_selector("rect.bar", timeout=90_000)
    labels = page.locator("svg.chart text").all_text_contents()
    assert "context.user" in labels and "context.time_of_day" in labels
    assert not any("_ignored" in label for label in labels)
    page.screenshot(path=str(DOCS / "dashboard-features.png"), full_page=True)
