"""One OpenAPI description per API version, cut from openapi.yaml (ours: every operation we serve).

Each version's document has exactly the operations versions.py gives it, its own base path as server, and,
for 2022-09-01-preview, the required `api-version` query parameter on every operation.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from bot.api.versions import BY_NAME, VERSIONS, ApiVersion

SPEC_FILE = Path(__file__).with_name("openapi.yaml")


def load_spec() -> dict[str, Any]:
    """openapi.yaml: every operation of every version."""
    return yaml.safe_load(SPEC_FILE.read_text())


def version_spec(full: dict[str, Any], version: ApiVersion) -> dict[str, Any]:
    """The description of one version: its operations only, under its base path."""
    spec = copy.deepcopy(full)
    spec["info"]["version"] = version.name
    spec["servers"] = [{"url": version.base}]
    served = {(BY_NAME[name].method.lower(), BY_NAME[name].path) for name in BY_NAME if version.serves(name)}
    paths: dict[str, Any] = {}
    for path, item in full["paths"].items():
        kept = {method: copy.deepcopy(op) for method, op in item.items() if (method, path) in served}
        if not version.in_path:  # every request names the api-version; a wrong one is a 400
            for operation in kept.values():
                operation.setdefault("parameters", []).insert(
                    0, {"$ref": "#/components/parameters/apiVersion"}
                )
                operation["responses"].setdefault("400", {"$ref": "#/components/responses/BadRequest"})
        if kept:
            paths[path] = kept
    spec["paths"] = paths
    if version.in_path:
        spec.get("components", {}).get("parameters", {}).pop("apiVersion", None)
    return spec


def every_version_spec(full: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{version name: its description}."""
    return {name: version_spec(full, version) for name, version in VERSIONS.items()}
