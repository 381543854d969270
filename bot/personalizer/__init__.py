"""The Ranker port (base.py) and its backends: the embedded engine (local/) and Microsoft's client (azure.py)."""
