"""The exported model file: Vowpal Wabbit's bytes followed by a trailer that lets an import check them.

VW loads a truncated model without complaint (its first 200 bytes, or all but its last byte, load as a model
with fewer weights), so the bytes alone cannot prove they are whole. The trailer carries their length and
SHA-256, the policy they were learned under and the feature layout, and ends with a fixed tag:

    <VW model bytes> <trailer JSON, UTF-8> <trailer length: 4 bytes, big-endian> b"PZMODEL1"

VW itself refuses trailing bytes, so to load an export with `vw -i`, drop the trailer first:
`strip_trailer(data)` in Python, or `head -c -$((N + 12))` with N the trailer length.
"""

from __future__ import annotations

import hashlib
import json

TAG = b"PZMODEL1"
FEATURES = "personalizer-json/C-context/A-action/id-feature"  # features.py's namespaces; a change bumps this
MAX_TRAILER = 64 * 1024


def with_trailer(model: bytes, policy: str) -> bytes:
    """The export: the model and a trailer naming its length, checksum, policy and feature layout."""
    trailer = json.dumps(
        {
            "length": len(model),
            "sha256": hashlib.sha256(model).hexdigest(),
            "policy": " ".join(policy.split()),
            "features": FEATURES,
        },
        separators=(",", ":"),
    ).encode()
    return model + trailer + len(trailer).to_bytes(4, "big") + TAG


def checked_model(data: bytes, policy: str) -> bytes:
    """The VW bytes of an export, once its trailer proves them whole and for `policy`; ValueError otherwise."""
    if len(data) < len(TAG) + 4 or not data.endswith(TAG):
        raise ValueError(
            "not a Vowpal Wabbit model exported by this service (GET /model): it is truncated or lacks its trailer"
        )
    size = int.from_bytes(data[-len(TAG) - 4 : -len(TAG)], "big")
    if not 0 < size <= min(MAX_TRAILER, len(data) - len(TAG) - 4):
        raise ValueError("the model's trailer is damaged")
    end = len(data) - len(TAG) - 4
    try:
        trailer = json.loads(data[end - size : end])
    except ValueError:
        raise ValueError("the model's trailer is damaged") from None
    if not isinstance(trailer, dict):
        raise ValueError("the model's trailer is damaged")
    model = data[: end - size]
    if trailer.get("length") != len(model) or trailer.get("sha256") != hashlib.sha256(model).hexdigest():
        raise ValueError("the model is truncated or damaged: its length or checksum does not match")
    if trailer.get("features") != FEATURES:
        raise ValueError(f"the model was learned on another feature layout ({trailer.get('features')!r})")
    if trailer.get("policy") != " ".join(policy.split()):
        raise ValueError(
            f"the model was learned under the policy {trailer.get('policy')!r}, not the current one "
            f"{' '.join(policy.split())!r}; PUT /configurations/policy first"
        )
    return model


def strip_trailer(data: bytes) -> bytes:
    """The VW bytes of an export, unchecked (for `vw -i`)."""
    if not data.endswith(TAG):
        return data
    size = int.from_bytes(data[-len(TAG) - 4 : -len(TAG)], "big")
    return data[: len(data) - len(TAG) - 4 - size]
