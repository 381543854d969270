"""whatsfordinner: the Slack app and the embedded Personalizer-style learner it runs on."""
