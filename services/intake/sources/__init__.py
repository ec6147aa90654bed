"""One module per lead source: verify (pure), normalise (pure), and a thin route."""
