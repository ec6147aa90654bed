"""Predictive scoring: learn P(convert) from won/lost history, explain it, check it against history."""
