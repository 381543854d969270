"""manifest.yml creates the Slack app the listeners expect."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.listeners import COMMAND

MANIFEST = Path(__file__).parents[2] / "manifest.yml"


def test_manifest_matches_what_the_app_listens_to() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    features, settings = manifest["features"], manifest["settings"]
    assert [c["command"] for c in features["slash_commands"]] == [COMMAND]
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {"commands", "chat:write", "users:read"}
    assert features["app_home"]["home_tab_enabled"] is True
    assert features["app_home"]["messages_tab_enabled"] is True  # where "Suggest now" posts the menus
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert settings["interactivity"]["is_enabled"] is True
    urls = {features["slash_commands"][0]["url"], settings["interactivity"]["request_url"]}
    urls.add(settings["event_subscriptions"]["request_url"])
    assert len(urls) == 1 and urls.pop().endswith("/slack/events")
