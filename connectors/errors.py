"""The connector branch of Leadflow's error tree. Each class means a behaviour for the caller.

Adapters translate foreign exceptions (aiokafka, sqlite3, SQLAlchemy, HTTP clients) into these
at their edge with ``raise ... from exc``, so callers never depend on a vendor's exceptions.
"""


class ConnectorError(Exception):
    """Something outside Leadflow failed."""


class RetriableConnectorError(ConnectorError):
    """Transient: back off and try again (or answer 503 so the sender retries)."""


class FatalConnectorError(ConnectorError):
    """Retrying will not help: dead-letter the event with this error."""


class BusUnavailable(RetriableConnectorError):
    """The bus cannot accept or deliver messages right now."""


class StoreUnavailable(RetriableConnectorError):
    """The store cannot be reached right now."""


class Throttled(RetriableConnectorError):
    """The service said slow down (HTTP 429, Salesforce REQUEST_LIMIT_EXCEEDED)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CrmUnavailable(RetriableConnectorError):
    """The CRM is down or its budget is spent: wait and retry the whole batch, never dead-letter for it."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
