"""Loop configuration: durations, ranges and the environment variables' error messages."""

import pytest

from bot.personalizer.local.settings import LoopSettings, format_duration, parse_duration, settings_from_env


@pytest.mark.parametrize(
    "text, seconds", [("30", 30.0), ("PT30S", 30.0), ("PT10M", 600.0), ("P2D", 172800.0), ("0.5", 0.5)]
)
def test_durations_accept_seconds_and_iso8601(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "P1Y", "-5", "PT"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    "seconds, text", [(30, "PT30S"), (600, "PT10M"), (172800, "P2D"), (3661, "PT1H1M1S")]
)
def test_durations_are_written_as_personalizer_writes_them(seconds, text):
    assert format_duration(seconds) == text


def test_defaults_are_personalizers_with_the_quickstarts_update_frequency():
    settings = settings_from_env({})
    assert settings.reward_wait_time == 600
    assert settings.model_export_frequency == 30
    assert settings.default_reward == 0
    assert settings.reward_aggregation == "earliest"
    assert settings.exploration_percentage == pytest.approx(0.2)
    assert settings.learning_mode == "Online"


def test_environment_variables_apply():
    settings = settings_from_env(
        {
            "PERSONALIZER_REWARD_WAIT_TIME": "PT1M",
            "PERSONALIZER_MODEL_UPDATE_FREQUENCY": "5",
            "PERSONALIZER_DEFAULT_REWARD": "-0.5",
            "PERSONALIZER_REWARD_AGGREGATION": "SUM",
            "PERSONALIZER_EXPLORATION": "10",
            "PERSONALIZER_LEARNING_MODE": "apprentice",
        }
    )
    assert (settings.reward_wait_time, settings.model_export_frequency) == (60, 5)
    assert (settings.default_reward, settings.reward_aggregation) == (-0.5, "sum")
    assert settings.exploration_percentage == pytest.approx(0.1)
    assert settings.learning_mode == "Apprentice"


@pytest.mark.parametrize(
    "variable, value, says",
    [
        ("PERSONALIZER_REWARD_WAIT_TIME", "PT1S", "5 seconds to 2 days"),
        ("PERSONALIZER_REWARD_WAIT_TIME", "soon", "5 seconds to 2 days"),
        ("PERSONALIZER_MODEL_UPDATE_FREQUENCY", "0", "1 second to 1 day"),
        ("PERSONALIZER_DEFAULT_REWARD", "2", "-1 to 1"),
        ("PERSONALIZER_REWARD_AGGREGATION", "max", "earliest or sum"),
        ("PERSONALIZER_EXPLORATION", "150", "0 to 100"),
        ("PERSONALIZER_LEARNING_MODE", "Sometimes", "Online, Apprentice or LoggingOnly"),
        ("PERSONALIZER_POLICY", "--cb_adf", "--cb_explore_adf"),
    ],
)
def test_invalid_values_name_the_variable_and_the_range(variable, value, says):
    with pytest.raises(ValueError) as error:
        settings_from_env({variable: value})
    assert variable in str(error.value) and says in str(error.value)


def test_settings_validation_names_the_field():
    with pytest.raises(ValueError, match="rewardWaitTime"):
        LoopSettings(reward_wait_time=1).validated()
