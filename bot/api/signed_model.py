"""Signed model archives: `GET /model?signed=true` and the `PUT /model` of v1.1-preview.3 and later.

Azure answered a signed export with a zip (`model.vw`, a signer certificate, `sha512_signature.bin`) and
imported only archives it had signed. Here the archive holds `model.vw` and `sha512_signature.bin`, an
HMAC-SHA512 of the model keyed with the service's key: an archive imports only into a service with the key
that exported it, and a changed byte is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import zipfile

from bot.personalizer.base import InvalidRequest

MODEL_NAME = "model.vw"
SIGNATURE_NAME = "sha512_signature.bin"
MAX_MODEL_BYTES = 64 * 1024 * 1024


def sign(model: bytes, key: bytes) -> bytes:
    """A zip archive of the model and its signature."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MODEL_NAME, model)
        archive.writestr(SIGNATURE_NAME, _signature(model, key))
    return buffer.getvalue()


def is_archive(data: bytes) -> bool:
    """True for a zip archive (a signed export), False for raw model bytes."""
    return data[:4] == b"PK\x03\x04"


def verified_model(data: bytes, key: bytes) -> bytes:
    """The model inside a signed archive; InvalidRequest unless this service's key signed exactly it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if not {MODEL_NAME, SIGNATURE_NAME} <= names:
                raise _unsigned()
            if archive.getinfo(MODEL_NAME).file_size > MAX_MODEL_BYTES:
                raise InvalidRequest(
                    "The model in the archive is too large.", code="InvalidModelImportFormat"
                )
            model = archive.read(MODEL_NAME)
            signature = archive.read(SIGNATURE_NAME)
    except (zipfile.BadZipFile, KeyError, EOFError, ValueError) as exc:
        if isinstance(exc, InvalidRequest):
            raise
        raise InvalidRequest(
            "The model file is not a signed model archive.", code="InvalidModelImportFormat"
        ) from None
    if not hmac.compare_digest(signature, _signature(model, key)):
        raise _unsigned()
    return model


def _signature(model: bytes, key: bytes) -> bytes:
    return hmac.new(key, model, hashlib.sha512).digest()


def _unsigned() -> InvalidRequest:
    return InvalidRequest(
        "Given model file is not signed or does not have a valid signature.",
        code="InvalidModelImportSignature",
    )
