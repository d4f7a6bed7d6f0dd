"""Prefect wiring for newsetl: flows and tasks that call the newsetl library (and nothing else).

This folder installs as the package `newsetl_flows` (pyproject.toml maps it), a name no other project owns.
"""
