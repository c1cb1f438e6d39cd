"""Models of every study, built by name through :mod:`workbench.models.registry`."""
