"""Plotly figures, widgets and tables for notebooks: learning curves, horizon errors, 3D pose animations."""
