"""Signed model archives: only this service's own signed exports import."""

from __future__ import annotations

import io
import zipfile

import pytest

from bot.api.signed_model import is_archive, sign, verified_model
from bot.personalizer.base import InvalidRequest

KEY = b"service-key"


def test_a_signed_export_imports_back_to_the_same_bytes() -> None:
    archive = sign(b"VW-MODEL-BYTES", KEY)
    assert is_archive(archive) and not is_archive(b"VW-MODEL-BYTES")
    assert verified_model(archive, KEY) == b"VW-MODEL-BYTES"


def test_another_services_or_a_changed_archive_is_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        verified_model(sign(b"VW", KEY), b"another-key")
    assert caught.value.code == "InvalidModelImportSignature"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as forged:
        forged.writestr("model.vw", b"EVIL")
        with zipfile.ZipFile(io.BytesIO(sign(b"VW", KEY))) as real:
            forged.writestr("sha512_signature.bin", real.read("sha512_signature.bin"))
    with pytest.raises(InvalidRequest):
        verified_model(buffer.getvalue(), KEY)


def test_junk_is_an_invalid_format() -> None:
    with pytest.raises(InvalidRequest) as caught:
        verified_model(b"PK\x03\x04 not really a zip", KEY)
    assert caught.value.code == "InvalidModelImportFormat"
