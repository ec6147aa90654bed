"""The qualifier: consumes leads.received, decides, publishes leads.routed."""
