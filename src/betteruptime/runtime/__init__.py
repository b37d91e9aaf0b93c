"""Wires components from settings and runs them as processes; only the CLI imports it."""
