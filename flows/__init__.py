"""Prefect wiring for newsetl: flows and tasks that call the newsetl library (and nothing else)."""
