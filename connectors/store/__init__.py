"""The store: decision records (audit), the lead view the API serves, and routing state."""
