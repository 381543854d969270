"""The version table: each version serves exactly the operations Microsoft's specification gives it."""

from __future__ import annotations

from bot.api.versions import VERSIONS, match, split_path_version


def served(version: str) -> set[str]:
    return {name for name in VERSIONS[version].operations}


def test_each_version_adds_what_microsofts_next_specification_adds() -> None:
    assert served("v1.1-preview.1") - served("v1.0") == {
        "multislot_rank",
        "multislot_reward",
        "multislot_activate",
        "apply_from_evaluation",
    }
    assert served("v1.1-preview.2") - served("v1.1-preview.1") == {"post_interactions", "post_observations"}
    assert served("v1.1-preview.3") - served("v1.1-preview.2") == {"put_model"}
    assert served("2022-09-01-preview") - served("v1.1-preview.3") == {
        "put_evaluation",
        "list_feature_importances",
        "put_feature_importance",
        "get_feature_importance",
        "delete_feature_importance",
    }
    # 2022-09-01-preview creates evaluations with PUT /evaluations/{id} instead of POST /evaluations.
    assert served("v1.1-preview.3") - served("2022-09-01-preview") == {"create_evaluation"}


def test_a_path_finds_its_operation_and_its_parameter() -> None:
    found = match(VERSIONS["v1.1-preview.1"], "POST", "/multislot/events/e%2F1/reward")
    assert found.operation is not None and found.operation.name == "multislot_reward"
    assert found.parameter == "e%2F1"


def test_an_operation_a_version_lacks_is_not_found_there() -> None:
    assert match(VERSIONS["v1.0"], "POST", "/multislot/rank").operation is None
    assert match(VERSIONS["v1.1-preview.1"], "POST", "/logs/interactions").operation is None
    assert match(VERSIONS["2022-09-01-preview"], "POST", "/evaluations").operation is None


def test_another_method_on_a_known_path_lists_the_allowed_ones() -> None:
    found = match(VERSIONS["v1.1-preview.3"], "PATCH", "/model")
    assert found.operation is None and set(found.allowed) == {"GET", "PUT", "DELETE"}


def test_v1_0_keeps_model_import_as_this_services_extension() -> None:
    assert VERSIONS["v1.0"].serves("put_model") and "put_model" not in VERSIONS["v1.0"].operations


def test_the_version_in_the_path_is_split_off() -> None:
    version, rest = split_path_version("/personalizer/v1.1-preview.2/logs/observations")
    assert version is VERSIONS["v1.1-preview.2"] and rest == "/logs/observations"
    assert split_path_version("/personalizer/rank") == (None, "/rank")
    assert split_path_version("/personalizer/v9/rank") == (None, "/v9/rank")
