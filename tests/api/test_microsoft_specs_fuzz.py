"""schemathesis from Microsoft's own Personalizer specifications, one per API version (bounded).

The files come from azure-rest-api-specs (PERSONALIZER_MICROSOFT_SPECS), or, for v1.0 only, from APIs.guru's
copy on npm, which has the same 17 operations and 18 schemas as azure-rest-api-specs' stable v1.0 file once
OpenAPI 3's form is allowed for (the comparison: `microsoft_specs.py`). For every operation of every
version: never a 5xx, and every 2xx body valid against Microsoft's response schema. Then every
`x-ms-examples` request of the specification is sent as Microsoft wrote it: never a 5xx, 2xx bodies valid,
and the example's success status wherever the example does not name a resource that does not exist here.
"""

from __future__ import annotations

import json
import os
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from microsoft_specs import SPEC_FILES, spec_file, specs_folder
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.core.failures import FailureGroup

MAX_EXAMPLES = int(os.environ.get("PERSONALIZER_SPEC_FUZZ_EXAMPLES", "20"))
KEY = "microsoft-specs-key"
HEADERS = {"Ocp-Apim-Subscription-Key": KEY}
# Examples that name an evaluation or feature importance by an ID ("id") that exists only in Microsoft's
# own service: here they get Personalizer's 404 (checked: a body valid against the ErrorResponse schema).
NAMES_A_MISSING_RESOURCE = {
    "Evaluations_Get",
    "Evaluations_Delete",
    "FeatureImportances_Get",
    "FeatureImportances_Delete",
    "ServiceConfiguration_ApplyFromEvaluation",
}
# Microsoft's examples of the two logging endpoints carry Microsoft's binary client format (flatbuffers,
# written by its reinforcement_learning client libraries); this service reads Personalizer's DSJSON log
# lines instead and answers them 400 (a deliberate difference, docs/api-versions.md).
BINARY_LOG_FORMAT = {"Log_Interactions", "Log_Observations"}


def spec_or_skip(version: str) -> Path:
    found, reason = spec_file(version)
    if found is None:
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service as a process, on a fresh database, shared by every version as one deployment is."""
    from microsoft_sdk import running_service

    with running_service(tmp_path_factory.mktemp("specs"), KEY) as endpoint:
        yield endpoint


def base_for(service: str, version: str) -> str:
    return service + ("/personalizer" if version == "2022-09-01-preview" else f"/personalizer/{version}")


@pytest.mark.parametrize("version", list(SPEC_FILES))
def test_no_5xx_and_2xx_bodies_match_microsofts_schema(request: pytest.FixtureRequest, version: str) -> None:
    path = spec_or_skip(version)
    service = request.getfixturevalue("service")
    schema = schemathesis.openapi.from_path(str(path))
    seen: dict[str, set[int]] = {}
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            _fuzz(operation, base_for(service, version), version, seen)
        except (Exception, FailureGroup) as exc:  # every operation is fuzzed; failures are reported together
            failures[operation.label] = "".join(traceback.format_exception(exc))
    print(f"{version} ({path.name}): {len(seen)} operations fuzzed, {MAX_EXAMPLES} requests each")
    for label, codes in sorted(seen.items()):
        print(f"  {label}: {sorted(codes)}")
    assert not {k: v[-3000:] for k, v in failures.items()}
    reached = {label for label, codes in seen.items() if any(200 <= c < 300 for c in codes)}
    assert reached, f"no operation answered 2xx: {seen}"


def _fuzz(operation: Any, base: str, version: str, seen: dict[str, set[int]]) -> None:
    """Generated requests for one operation: no 5xx, and a 2xx body valid against Microsoft's schema.

    Examples are drawn one by one (no shrinking): each failure is reported with its request.
    """
    strategy = operation.as_strategy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hypothesis warns that .example() is meant for interactive use
        cases = [strategy.example() for _ in range(MAX_EXAMPLES)]
    for case in cases:
        if version == "2022-09-01-preview":
            case.query = {**(case.query or {}), "api-version": version}
        response = case.call(base_url=base, headers=HEADERS)
        _check(case, response)
        seen.setdefault(operation.label, set()).add(response.status_code)


def _check(case: Any, response: Any) -> None:
    checks = [not_a_server_error]
    if 200 <= response.status_code < 300:
        checks.append(response_schema_conformance)
    case.validate_response(response, checks=checks)


@pytest.mark.parametrize("version", list(SPEC_FILES))
def test_microsofts_examples_are_answered_as_its_schema_says(
    request: pytest.FixtureRequest, version: str
) -> None:
    path = spec_or_skip(version)
    if specs_folder() is None:
        pytest.skip("APIs.guru's copy on npm has no x-ms-examples: set PERSONALIZER_MICROSOFT_SPECS")
    service = request.getfixturevalue("service")
    base = base_for(service, version)
    schema = schemathesis.openapi.from_path(str(path))
    answered: dict[str, tuple[int, int]] = {}
    missing: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        raw = operation.definition.raw
        for reference in raw.get("x-ms-examples", {}).values():
            example_path = path.parent / reference["$ref"]
            if not example_path.is_file():
                missing.append(example_path.name)
                continue
            example = json.loads(example_path.read_text())
            expected = min(int(code) for code in example["responses"])
            multi_slot = raw["operationId"].startswith("MultiSlot")
            if multi_slot:
                _set_policy(base, version, "--ccb_explore_adf --epsilon 0.2")
            try:
                case = _case_from_example(operation, raw, example["parameters"], version)
                response = case.call(base_url=base, headers=HEADERS)
                _check(case, response)
            finally:
                if multi_slot:
                    _set_policy(base, version, None)
            answered[raw["operationId"]] = (expected, response.status_code)
    print(f"{version}: {len(answered)} examples sent; files not present: {sorted(missing)}")
    for operation_id, (expected, got) in sorted(answered.items()):
        print(f"  {operation_id}: example {expected}, here {got}")
    assert answered, f"no example file next to {path}"
    wrong = {
        operation_id: codes
        for operation_id, codes in answered.items()
        if codes[0] != codes[1] and operation_id not in NAMES_A_MISSING_RESOURCE | BINARY_LOG_FORMAT
    }
    assert not wrong, f"(example's status, this service's) differ: {wrong}"


def _case_from_example(operation: Any, raw: dict[str, Any], given: dict[str, Any], version: str) -> Any:
    """A schemathesis case carrying the example's parameters, so that its answer is checked the same way."""
    path_parameters: dict[str, Any] = {}
    query: dict[str, Any] = {}
    body: Any = None
    for parameter in raw.get("parameters", []):
        name, where = parameter["name"], parameter["in"]
        if where == "body" and name not in given:
            name = (
                "body"  # v1.1-preview.2's Policy_Update example names its body "body", the operation "policy"
            )
        if name == "api-version":
            query[name] = version
        elif name not in given:
            continue
        elif where == "path":
            path_parameters[name] = given[name]
        elif where == "query":
            query[name] = given[name]
        elif where == "body":
            body = given[name]
    media = (raw.get("consumes") or ["application/json"])[0]
    if media == "application/octet-stream" and isinstance(body, str):
        body = body.encode()
    kwargs: dict[str, Any] = {"path_parameters": path_parameters, "query": query}
    if body is not None:
        kwargs.update(body=body, media_type=media)
    return operation.Case(**kwargs)


def _set_policy(base: str, version: str, arguments: str | None) -> None:
    """Turn the loop multi-slot for a multi-slot example as Microsoft's tests do (PUT), and back (DELETE)."""
    query = {"api-version": version} if version == "2022-09-01-preview" else {}
    url = base + "/configurations/policy"
    if arguments is None:
        answer = requests.delete(url, params=query, headers=HEADERS, timeout=30)
    else:
        policy = {"name": "enable multi slot", "arguments": arguments}
        answer = requests.put(url, params=query, json=policy, headers=HEADERS, timeout=30)
    assert answer.status_code == 200, answer.text
