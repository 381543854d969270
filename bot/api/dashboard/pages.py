"""The dashboard: the portal's pages, server-rendered (Jinja2, SVG charts), behind the service key."""

from __future__ import annotations

import dataclasses
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.api.dashboard import auth
from bot.api.dashboard.charts import Line, bar_chart, line_chart
from bot.api.dashboard.forms import input_time, local_time, read_form, when
from bot.personalizer.local import (
    EVALUATION,
    FEATURE_IMPORTANCE,
    RUNNING,
    EvaluationNotFound,
    Evaluations,
    Series,
    estimate,
)

HERE = Path(__file__).parent
PREFIX = "/dashboard"
PAGES = (
    ("/", "Overview"),
    ("/configuration", "Configuration"),
    ("/evaluations", "Evaluations"),
    ("/features", "Feature importance"),
)
OVERVIEW_DAYS = 7
CHART_INTERVALS = (5, 60, 1440)  # minutes: the finest of these that draws at most MAX_POINTS points
MAX_POINTS = 300


def build_dashboard(loop: Any, evaluations: Evaluations, key: str, clock: Any = time.time) -> Mount:
    """The dashboard's routes, mounted at /dashboard."""
    templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape())
    templates.filters["when"] = when
    pages = _Pages(loop, evaluations, key, templates, clock)
    app = Starlette(
        routes=[
            Route("/login", pages.login_form, methods=["GET"]),
            Route("/login", pages.login, methods=["POST"]),
            Route("/logout", pages.logout, methods=["POST"]),
            Route("/", pages.overview, methods=["GET"]),
            Route("/configuration", pages.configuration, methods=["GET"]),
            Route("/evaluations", pages.evaluation_list, methods=["GET"]),
            Route("/evaluations", pages.evaluation_create, methods=["POST"]),
            Route("/evaluations/{id:path}/apply", pages.evaluation_apply, methods=["POST"]),
            Route("/evaluations/{id:path}", pages.evaluation_page, methods=["GET"]),
            Route("/features", pages.features, methods=["GET"]),
            Route("/features", pages.features_create, methods=["POST"]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]
    )
    return Mount(PREFIX, app=app)


class _Pages:
    def __init__(
        self, loop: Any, evaluations: Evaluations, key: str, templates: Environment, clock: Any
    ) -> None:
        self.loop = loop
        self.evaluations = evaluations
        self.key = key
        self.templates = templates
        self.clock = clock

    # --- sign-in ------------------------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        return self._render("login.html", request, title="Sign in", error=request.query_params.get("error"))

    async def login(self, request: Request) -> Response:
        form = await read_form(request)
        if not auth.key_matches(form.get("key", ""), self.key):
            return self._render(
                "login.html", request, status=401, title="Sign in", error="That is not the key."
            )
        response = RedirectResponse(f"{PREFIX}/", status_code=303)
        response.headers.append(
            "set-cookie", auth.cookie_header(self.key, PREFIX, request.url.scheme == "https")
        )
        return response

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        response.headers.append("set-cookie", auth.clear_cookie_header(PREFIX))
        return response

    # --- pages --------------------------------------------------------------------------------------

    async def overview(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        now = self.clock()
        start = now - OVERVIEW_DAYS * 86400
        counts = await run_in_threadpool(self.evaluations.log_counts)
        models = await run_in_threadpool(self.evaluations.model_versions)
        online, baseline = await run_in_threadpool(self.evaluations.reward_over_time, start, now + 1)
        interval = _interval(online)
        chart = line_chart(
            "Reward over time",
            [
                _line("online", online, interval, rolling=True),
                _line("baseline", baseline, interval, rolling=True),
            ],
        )
        return self._render(
            "overview.html", request, title="Overview", current="/", counts=counts, models=models,
            reward_chart=chart, interval=interval, days=OVERVIEW_DAYS,
        )  # fmt: skip

    async def configuration(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        settings = self.loop.settings
        service = [
            (f.name, getattr(settings, f.name)) for f in dataclasses.fields(settings) if f.name != "policy"
        ]
        return self._render(
            "configuration.html", request, title="Configuration", current="/configuration",
            settings=settings, service=service, notice=request.query_params.get("notice"),
        )  # fmt: skip

    async def evaluation_list(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        jobs = await run_in_threadpool(self.evaluations.list_jobs, EVALUATION)
        return self._render(
            "evaluations.html", request, title="Evaluations", current="/evaluations", jobs=jobs,
            error=request.query_params.get("error"), **self._default_range(),
        )  # fmt: skip

    async def evaluation_create(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        form = await read_form(request)
        policies = []
        if form.get("policy_arguments", "").strip():
            policies.append(
                (form.get("policy_name", "").strip() or "Custom 1", form["policy_arguments"].strip())
            )
        job_id = str(uuid.uuid4())
        try:
            start, end = local_time(form.get("start", "")), local_time(form.get("end", ""))
            await run_in_threadpool(
                self.evaluations.submit_evaluation, job_id, form.get("name", "").strip() or "Evaluation",
                start, end, policies, "discover" in form,
            )  # fmt: skip
        except ValueError as exc:
            return RedirectResponse(f"{PREFIX}/evaluations?error={quote(str(exc))}", status_code=303)
        return RedirectResponse(f"{PREFIX}/evaluations/{job_id}", status_code=303)

    async def evaluation_page(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        try:
            job = await run_in_threadpool(self.evaluations.get, EVALUATION, request.path_params["id"])
        except EvaluationNotFound:
            return HTMLResponse("No such evaluation.", status_code=404)
        policies, lines, slots = [], [], []
        if job.result is not None and "policies" in job.result:
            for policy in job.result["policies"]:
                for slot_id, data in policy.get("slots", {}).items():  # a multi-slot log's per-slot results
                    slots.append(
                        {
                            "name": policy["name"],
                            "slot": slot_id,
                            "estimate": estimate(Series.from_dict(data).total),
                        }
                    )
                series = Series.from_dict(policy["series"])
                policies.append(
                    {
                        "name": policy["name"],
                        "source": policy["source"],
                        "arguments": policy["arguments"],
                        "estimate": estimate(series.total),
                        "applicable": policy["source"] not in ("Online", "Baseline", "Random"),
                    }
                )
                banded = policy["source"] == "Online" or policy["name"] == job.result["optimalPolicy"]
                lines.append(_line(policy["name"], series, _interval(series), band=banded))
        chart = line_chart("Expected reward by policy", lines, "expected reward") if lines else ""
        return self._render(
            "evaluation.html", request, title=job.name, current="/evaluations", job=job, policies=policies,
            slots=slots, chart=chart, decision=(job.result or {}).get("decision"),
            refresh=2 if job.status == RUNNING else None,
        )  # fmt: skip

    async def evaluation_apply(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        form = await read_form(request)
        name = form.get("policy", "")
        try:
            policy = await run_in_threadpool(self.evaluations.apply, request.path_params["id"], name)
        except EvaluationNotFound:
            message = f"No evaluation {request.path_params['id']!r}."
            return RedirectResponse(f"{PREFIX}/evaluations?error={quote(message)}", status_code=303)
        except ValueError as exc:
            return RedirectResponse(f"{PREFIX}/evaluations?error={quote(str(exc))}", status_code=303)
        notice = f"Applied {name}: the learning policy is now {policy}"
        return RedirectResponse(f"{PREFIX}/configuration?notice={quote(notice)}", status_code=303)

    async def features(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        jobs = await run_in_threadpool(self.evaluations.list_jobs, FEATURE_IMPORTANCE)
        charts = {
            job.id: bar_chart(
                job.name,
                [(f"{s['namespace']}.{s['featureName']}", s["score"]) for s in job.result["featureScores"]],
            )
            for job in jobs
            if job.result is not None
        }
        return self._render(
            "features.html", request, title="Feature importance", current="/features", jobs=jobs, charts=charts,
            refresh=2 if any(j.status == RUNNING for j in jobs) else None, error=request.query_params.get("error"),
            **self._default_range(),
        )  # fmt: skip

    async def features_create(self, request: Request) -> Response:
        if (denied := self._denied(request)) is not None:
            return denied
        form = await read_form(request)
        try:
            start, end = local_time(form.get("start", "")), local_time(form.get("end", ""))
            await run_in_threadpool(
                self.evaluations.submit_feature_importance, str(uuid.uuid4()),
                form.get("name", "").strip() or "Feature importance", start, end,
            )  # fmt: skip
        except ValueError as exc:
            return RedirectResponse(f"{PREFIX}/features?error={quote(str(exc))}", status_code=303)
        return RedirectResponse(f"{PREFIX}/features", status_code=303)

    # --- helpers ------------------------------------------------------------------------------------

    def _denied(self, request: Request) -> Response | None:
        if auth.signed_in(request.cookies.get(auth.COOKIE), self.key):
            return None
        if request.method != "GET":
            return HTMLResponse("Sign in first.", status_code=401)
        return RedirectResponse(f"{PREFIX}/login", status_code=303)

    def _render(self, name: str, request: Request, status: int = 200, **context: Any) -> Response:
        context.setdefault("refresh", None)
        html = self.templates.get_template(name).render(prefix=PREFIX, pages=PAGES, **context)
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})

    def _default_range(self) -> dict[str, Any]:
        now = self.clock()
        return {
            "default_start": input_time(now - OVERVIEW_DAYS * 86400),
            "default_end": input_time(now + 60),
        }


def _line(label: str, series: Series, interval: int, rolling: bool = False, band: bool = False) -> Line:
    points = series.points(interval * 60, rolling)
    values = [(float(at), e.expected_reward or 0.0) for at, e in points]
    bands = [(e.low or 0.0, e.high or 0.0) for _, e in points] if band else []
    return Line(label, values, bands)


def _interval(series: Series) -> int:
    for minutes in CHART_INTERVALS:
        if len(series.points(minutes * 60, rolling=True)) <= MAX_POINTS:
            return minutes
    return CHART_INTERVALS[-1]
