"""The self-hosted dashboard: the portal's pages, served by the REST service."""
