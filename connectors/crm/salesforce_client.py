"""simple-salesforce behind Leadflow's error tree: sync calls (run them in a thread), typed errors.

What each Salesforce answer means for the caller:
- 5xx, timeouts, refused connections: RetriableConnectorError (the Guard backs off and retries);
- 403 REQUEST_LIMIT_EXCEEDED: the org's rolling 24 h API allowance is spent -> CrmUnavailable
  (retrying in seconds cannot help and the event is not at fault, so the writer waits instead of
  dead-lettering); "ConcurrentPerOrgLongTxn" (too many long requests at once) -> Throttled;
- 401 INVALID_SESSION_ID: the session is renewed once when username/password are configured;
  otherwise CrmUnavailable (a token to replace, never the event's fault); a login the org refuses
  (INVALID_LOGIN, a frozen user) is CrmUnavailable too, an unreachable login server retriable;
- anything else (400 INVALID_FIELD, MALFORMED_QUERY, 403 INSUFFICIENT_ACCESS, 404): Fatal.
Every answer's ``Sforce-Limit-Info: api-usage=N/M`` is kept in ``usage``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from connectors.errors import (
    ConnectorError,
    CrmUnavailable,
    FatalConnectorError,
    RetriableConnectorError,
    Throttled,
)

# Login: returns (session_id, instance URL); called again when the session expires.
Login = Callable[[], tuple[str, str]]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# Per-record status codes that a later try can fix (another transaction held the row).
RETRIABLE_CODES = {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_RUNNING_TOO_LONG"}


def scrub(text: str) -> str:
    """Salesforce repeats field values in messages; an email must not reach a log or the DLQ."""
    return _EMAIL.sub("<email>", text)[:300]


def first_error(content: Any) -> tuple[str, str]:
    """(errorCode, message) from Salesforce's ``[{"message", "errorCode", "fields"}]`` body."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        error = content[0]
        return str(error.get("errorCode") or error.get("statusCode") or ""), str(error.get("message") or "")
    if isinstance(content, dict):
        return str(content.get("errorCode") or content.get("error") or ""), str(content.get("message") or "")
    return "", str(content or "")


def record_error(errors: Any) -> ConnectorError:
    """One record's failure in an sObject Collections answer (``errors: [{statusCode, message}]``)."""
    code, message = first_error(errors)
    text = f"salesforce record: {code}: {scrub(message)}"
    return RetriableConnectorError(text) if code in RETRIABLE_CODES else FatalConnectorError(text)


def error_for(status: int, content: Any, op: str, limit_wait: float) -> ConnectorError:
    """The error an HTTP answer (or a composite subrequest's) means; see the module docstring."""
    code, message = first_error(content)
    text = f"salesforce {op}: {status} {code}: {scrub(message)}"
    if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
        if "concurrent" in message.lower():
            return Throttled(text)  # no Retry-After from Salesforce: the Guard's jittered pause
        return CrmUnavailable(text, limit_wait)
    if status == 401:
        return CrmUnavailable(f"{text} (set a new LEADFLOW_SALESFORCE_TOKEN)", 60.0)
    if status == 429:
        return Throttled(text)
    if status >= 500:
        return RetriableConnectorError(text)
    return FatalConnectorError(text)


class TimeoutSession(requests.Session):
    """A requests session with a default timeout (simple-salesforce sets none, and a thread stuck on a
    dead socket would outlive the Guard's own timeout) and a CA bundle that really applies."""

    def __init__(self, timeout: float, verify: str | bool = True) -> None:
        super().__init__()
        self.timeout, self.verify = timeout, verify

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        # Per request, since requests lets REQUESTS_CA_BUNDLE override a session's own `verify`.
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)  # type: ignore[arg-type]


class SalesforceClient:
    """One org's REST API through simple-salesforce. Thread-safe enough for ``asyncio.to_thread``:
    each call is independent; a session renewal is done once for all threads."""

    def __init__(
        self,
        *,
        instance_url: str | None,
        token: str | None,
        version: str,
        session: requests.Session,
        login: Login | None = None,
        limit_wait: float = 300.0,
    ) -> None:
        if token is None or instance_url is None:
            if login is None:
                raise ValueError("Salesforce needs an instance URL and token, or a login")
            token, instance_url = login()
        self._version, self._session, self._login = version, session, login
        self._limit_wait = limit_wait
        self._lock = threading.Lock()
        self._sf = self._connect(token, instance_url)
        self.usage: tuple[int, int] | None = None

    def _connect(self, token: str, instance_url: str) -> Salesforce:
        return Salesforce(
            session_id=token, instance_url=instance_url, version=self._version, session=self._session
        )

    @property
    def instance(self) -> str:
        return f"https://{self._sf.sf_instance}"

    def _renew(self, stale: Salesforce, op: str) -> None:
        with self._lock:
            if self._sf is stale and self._login is not None:  # another thread may have renewed it
                try:
                    token, instance_url = self._login()
                except SalesforceAuthenticationFailed as exc:
                    # A changed password, a reset security token, a frozen user: the credentials
                    # need a person, the events are not at fault.
                    reason = f"salesforce {op}: login refused: {exc.code}: {scrub(exc.auth_message)}"
                    raise CrmUnavailable(
                        f"{reason} (check the Salesforce username, password and security token)", 60.0
                    ) from exc.with_traceback(None)
                except requests.RequestException as exc:
                    unreachable = f"salesforce {op}: login: {exc.__class__.__name__}"
                    raise RetriableConnectorError(unreachable) from exc
                self._sf = self._connect(token, instance_url)

    def call(self, op: str, method: str, path: str, **kwargs: Any) -> Any:
        """``path`` below /services/data/vXX.X/ (or a full /services/... path); JSON in, JSON out."""
        for attempt in (1, 2):
            sf = self._sf
            expired = False
            try:
                if path.startswith("/services/"):
                    result = sf._call_salesforce(method, f"{self.instance}{path}", name=op, **kwargs)
                    body = sf.parse_result_to_json(result) if result.status_code != 204 else None
                else:
                    body = sf.restful(path, method=method, **kwargs)
            except SalesforceError as exc:
                code, _ = first_error(exc.content)
                expired = exc.status == 401 and code == "INVALID_SESSION_ID" and bool(self._login)
                if not expired or attempt == 2:
                    # Without its traceback: simple-salesforce's frames hold the response, and a chained
                    # traceback would keep that response's socket open until a cyclic GC runs.
                    error = error_for(exc.status, exc.content, op, self._limit_wait)
                    raise error from exc.with_traceback(None)
            except requests.Timeout as exc:
                raise RetriableConnectorError(f"salesforce {op}: timed out") from exc
            except requests.RequestException as exc:
                raise RetriableConnectorError(f"salesforce {op}: {exc.__class__.__name__}") from exc
            if expired:
                # Outside the except block, so a failed login does not chain the 401's response.
                self._renew(sf, op)
                continue
            usage = sf.api_usage.get("api-usage")
            if usage is not None:
                self.usage = (usage.used, usage.total)
            return body
        raise AssertionError("unreachable: the second attempt returns or raises")

    def query(self, soql: str, batch_size: int | None = None) -> dict[str, Any]:
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"} if batch_size else {}
        return dict(self.call("query", "GET", "query/", params={"q": soql}, headers=headers))

    def query_more(self, next_records_url: str) -> dict[str, Any]:
        return dict(self.call("query_more", "GET", urlsplit(next_records_url).path))

    def close(self) -> None:
        self._session.close()


def password_login(
    username: str, password: str, security_token: str, domain: str, version: str, session: requests.Session
) -> Login:
    """Username-password login (SOAP) through simple-salesforce; renewed when the session expires."""
    from simple_salesforce.login import SalesforceLogin

    def login() -> tuple[str, str]:
        session_id, instance = SalesforceLogin(
            username=username,
            password=password,
            security_token=security_token,
            domain=domain,
            sf_version=version,
            session=session,
        )
        return session_id, f"https://{instance}"

    return login
