"""Leadflow's data: pydantic models for leads, events, decisions and config. No I/O here."""
