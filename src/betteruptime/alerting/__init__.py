"""Decisions across regions and over time (incidents), and their notification."""
