"""Pure Block Kit builders: plain values in, Slack block dicts out. No Bolt, no I/O, nothing from bot/."""
