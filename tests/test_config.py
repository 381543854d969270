"""load_config: defaults, every problem named at once, per-mode requirements."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DEFAULT_DATABASE_URL, ConfigError, load_config, slack_requested
from bot.menu import DEFAULT_MENU_FILE

SLACK = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cret"}


def test_bot_defaults() -> None:
    config = load_config(SLACK, "bot")
    assert config.port == 3000
    assert config.database_url == DEFAULT_DATABASE_URL == "sqlite:///data/whatsfordinner.db"
    assert config.personalizer_backend == "local"
    assert config.menu_file == DEFAULT_MENU_FILE
    assert config.slack_api_url is None
    assert not config.socket_mode
    assert config.loop_settings_explicit == frozenset()


def test_bot_requires_both_slack_settings_and_names_each() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({}, "bot")
    assert caught.value.problems == ["SLACK_BOT_TOKEN is not set", "SLACK_SIGNING_SECRET is not set"]


def test_blank_values_count_as_missing() -> None:
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET is not set"):
        load_config({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "  "}, "bot")


def test_console_needs_no_slack() -> None:
    assert load_config({}, "console").slack_bot_token == ""


def test_every_problem_is_reported_together(tmp_path: Path) -> None:
    env = {
        "PORT": "99999",
        "PERSONALIZER_BACKEND": "cloud",
        "SLACK_API_URL": "ftp://x",
        "SLACK_APP_TOKEN": "xoxb-wrong-kind",
        "MENU_FILE": str(tmp_path / "missing.yaml"),
        "PERSONALIZER_EXPLORATION": "150",
        "LOG_LEVEL": "chatty",
    }
    with pytest.raises(ConfigError) as caught:
        load_config(env, "bot")
    text = str(caught.value)
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "PORT",
        "PERSONALIZER_BACKEND",
        "SLACK_API_URL",
        "SLACK_APP_TOKEN",
        "MENU_FILE",
        "PERSONALIZER_EXPLORATION",
        "LOG_LEVEL",
    ):
        assert name in text
    assert len(caught.value.problems) == 9


def test_azure_backend_needs_endpoint_and_key() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({**SLACK, "PERSONALIZER_BACKEND": "Azure"}, "bot")
    assert [p.split()[0] for p in caught.value.problems] == ["PERSONALIZER_ENDPOINT", "PERSONALIZER_KEY"]
    config = load_config(
        {
            **SLACK,
            "PERSONALIZER_BACKEND": "azure",
            "PERSONALIZER_ENDPOINT": "http://127.0.0.1:1",
            "PERSONALIZER_KEY": "k",
        },
        "bot",
    )
    assert config.personalizer_backend == "azure"


def test_personalizer_mode_needs_its_key_not_slack() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({}, "personalizer")
    assert caught.value.problems == ["PERSONALIZER_KEY is not set"]
    assert load_config({"PERSONALIZER_KEY": "k"}, "personalizer").personalizer_key == "k"


def test_slack_api_url_gets_its_trailing_slash() -> None:
    config = load_config({**SLACK, "SLACK_API_URL": "http://127.0.0.1:9/api"}, "bot")
    assert config.slack_api_url == "http://127.0.0.1:9/api/"


def test_socket_mode_with_an_app_token() -> None:
    assert load_config({**SLACK, "SLACK_APP_TOKEN": "xapp-1-A-1-x"}, "bot").socket_mode


def test_loop_settings_from_personalizer_variables() -> None:
    config = load_config(
        {"PERSONALIZER_MODEL_UPDATE_FREQUENCY": "PT5S", "PERSONALIZER_EXPLORATION": "10"}, "console"
    )
    assert config.loop_settings.model_export_frequency == 5.0
    assert config.loop_settings.exploration_percentage == pytest.approx(0.1)
    assert config.loop_settings_explicit == {"model_export_frequency", "exploration_percentage"}


def test_menu_file_override(tmp_path: Path) -> None:
    menu = tmp_path / "menu.json"
    menu.write_text('{"dishes": []}')
    assert load_config({"MENU_FILE": str(menu)}, "console").menu_file == menu


def test_unknown_mode() -> None:
    with pytest.raises(ConfigError, match="unknown mode"):
        load_config({}, "dance")


def test_repr_never_shows_secrets() -> None:
    config = load_config({**SLACK, "PERSONALIZER_KEY": "pk-secret"}, "bot")
    assert "s3cret" not in repr(config) and "xoxb" not in repr(config) and "pk-secret" not in repr(config)


def test_env_example_documents_every_variable_with_a_comment() -> None:
    from bot.personalizer.local.settings import ENV_VARIABLES

    lines = (Path(__file__).parents[1] / ".env.example").read_text().splitlines()
    documented = {}
    for previous, line in zip(["", *lines], lines, strict=False):
        if line and not line.startswith("#"):
            documented[line.split("=", 1)[0]] = previous
    expected = {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SLACK_API_URL",
        "HOST",
        "WEB_CONCURRENCY",
        "BENCH_DATABASE_URL",
        "PORT",
        "DATABASE_URL",
        "PERSONALIZER_BACKEND",
        "PERSONALIZER_ENDPOINT",
        "PERSONALIZER_KEY",
        "MENU_FILE",
        "LOG_LEVEL",
        *ENV_VARIABLES,
    }
    assert set(documented) == expected
    assert all(comment.startswith("# ") for comment in documented.values())


def test_env_example_loads_as_a_valid_console_config() -> None:
    from dotenv import dotenv_values

    values = dotenv_values(Path(__file__).parents[1] / ".env.example")
    config = load_config({k: v or "" for k, v in values.items()}, "console")
    assert config.personalizer_backend == "local" and config.port == 3000


def test_web_concurrency_is_a_small_whole_number() -> None:
    assert load_config({"PERSONALIZER_KEY": "k", "WEB_CONCURRENCY": "2"}, "personalizer").web_concurrency == 2
    with pytest.raises(ConfigError, match="WEB_CONCURRENCY"):
        load_config({"PERSONALIZER_KEY": "k", "WEB_CONCURRENCY": "many"}, "personalizer")


def test_slack_requested_by_any_one_slack_setting() -> None:
    assert not slack_requested({})
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        assert slack_requested({name: "set"})


def test_a_single_problem_is_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({**SLACK, "DATABASE_URL": "mysql://dinner@127.0.0.1/dinner"}, "bot")
    assert "\n" not in str(caught.value) and "DATABASE_URL" in str(caught.value)
