"""The Ranker port, its backends (local learner, Azure client) and the Personalizer REST service."""
