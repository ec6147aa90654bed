"""The writer: consumes leads.routed and writes each decision back to the CRM."""
