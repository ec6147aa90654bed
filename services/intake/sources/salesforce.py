"""Salesforce Outbound Messages: SOAP 1.1 ``notifications`` of up to 100 Lead records.

Salesforce signs nothing: a message is taken when its ``OrganizationId`` is in
``sources.salesforce.organization_ids`` (and, at the network edge, when it comes from Salesforce's
IP ranges over TLS). Each ``Notification`` holds a Lead sObject with the fields chosen in Setup;
``Notification/Id`` is the dedupe id, since Salesforce may deliver a message more than once.

The answer is the ``<Ack>true</Ack>`` envelope, sent only once every notification is on the bus.
Every refusal is a SOAP 1.1 Fault (``soapenv:Client``; ``soapenv:Server`` for 503) with the status
the other routes give, so Salesforce retries (for up to 24 h) and its delivery log says why.
XML is parsed with defusedxml: a DOCTYPE (entity expansion, external entities) is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.errors import BusUnavailable, ConnectorError
from schemas.events import LeadFeedback
from schemas.lead import Lead, lead_id_for
from services.core.feedback import classify
from services.errors import InvalidWebhook, Malformed, NotALead, Unauthorized
from services.intake.guard import admit
from services.intake.mapping import apply_mapping
from services.intake.publish import Inbound, feedback_inbound, lead_inbound
from services.intake.respond import parse_lead_salvaging, publish_all
from services.logs import get_logger

log = get_logger(component="intake")

SOURCE = "salesforce"
MAX_NOTIFICATIONS = 100  # the WSDL's maxOccurs

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ERROR_NS = "urn:leadflow:intake"

# Standard Lead fields -> Lead paths; sources.salesforce.fields overrides and extends this.
# Fields mapped nowhere are kept under attributes (apply_mapping).
LEAD_FIELDS: dict[str, str] = {
    "Id": "source_record_id",
    "FirstName": "person.first_name",
    "LastName": "person.last_name",
    "Email": "person.email",
    "Phone": "person.phone",
    "Title": "person.title",
    "Company": "company.name",
    "Website": "company.domain",
    "NumberOfEmployees": "company.employees",
    "Industry": "company.industry",
    "Country": "company.country",
    "CountryCode": "company.country",  # the ISO code wins over the country name when both come
    "AnnualRevenue": "company.revenue",
    "LeadSource": "attributes.lead_source",
    "Description": "message",
}

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}">\n'
    " <soapenv:Body>\n"
    f'  <notificationsResponse xmlns="{OUTBOUND}">\n'
    "   <Ack>true</Ack>\n"
    "  </notificationsResponse>\n"
    " </soapenv:Body>\n"
    "</soapenv:Envelope>\n"
)


@dataclass(frozen=True)
class Notification:
    id: str
    sobject_type: str  # the local part of xsi:type: "Lead" for sf:Lead
    fields: Mapping[str, str | None]  # sObject field -> text; None for xsi:nil


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    action_id: str | None
    notifications: tuple[Notification, ...]


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _text(parent: Element, name: str) -> str | None:
    node = parent.find(f"{{{OUTBOUND}}}{name}")
    return node.text.strip() if node is not None and node.text and node.text.strip() else None


def _notification(node: Element) -> Notification:
    notification_id = _text(node, "Id")
    sobject = node.find(f"{{{OUTBOUND}}}sObject")
    if notification_id is None or sobject is None:
        raise NotALead("a Notification needs an Id and an sObject")
    fields: dict[str, str | None] = {}
    for child in sobject:
        if len(child):
            continue  # not a scalar field
        nil = child.get(f"{{{XSI}}}nil") in ("true", "1")
        fields[_local(child.tag)] = None if nil else (child.text or "")
    sobject_type = sobject.get(f"{{{XSI}}}type", "").rpartition(":")[2]
    return Notification(notification_id, sobject_type, fields)


def parse_message(body: bytes) -> OutboundMessage:
    """The parts of an Outbound Message we use. 400 for what is not a SOAP 1.1 envelope (a DOCTYPE
    included: it is refused, never expanded); 422 for an envelope that is not ``notifications``."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise Malformed(f"XML with a DOCTYPE or entities is refused ({exc.__class__.__name__})") from exc
    except (ParseError, ValueError) as exc:
        raise Malformed(f"body is not well-formed XML: {exc}") from exc
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise Malformed("body is not a SOAP 1.1 Envelope")
    notifications = root.find(f"{{{SOAP_ENV}}}Body/{{{OUTBOUND}}}notifications")
    if notifications is None:
        raise NotALead(f"the SOAP Body holds no notifications element ({OUTBOUND})")
    organization_id = _text(notifications, "OrganizationId")
    if organization_id is None:
        raise NotALead("notifications has no OrganizationId")
    return OutboundMessage(
        organization_id=organization_id,
        action_id=_text(notifications, "ActionId"),
        notifications=tuple(_notification(n) for n in notifications.findall(f"{{{OUTBOUND}}}Notification")),
    )


def check_organization(organization_id: str, allowed: Sequence[str]) -> None:
    """401 unless the org is allowed; a 15-character id in config matches the 18-character form."""
    if not any(organization_id == a or (len(a) == 15 and organization_id[:15] == a) for a in allowed):
        raise Unauthorized(
            f"OrganizationId '{organization_id[:18]}' is not in sources.salesforce.organization_ids"
        )


def check_leads(message: OutboundMessage) -> None:
    """422 unless the message holds 1 to 100 notifications, each of a Lead."""
    count = len(message.notifications)
    if not 1 <= count <= MAX_NOTIFICATIONS:
        raise NotALead(f"a message holds 1 to {MAX_NOTIFICATIONS} notifications, not {count}")
    for notification in message.notifications:
        if notification.sobject_type != "Lead":
            raise NotALead(
                f"Notification {notification.id[:18]}: sObject is '{notification.sobject_type[:40]}', "
                "not a Lead; send Outbound Messages on the Lead object only"
            )


def host_of(website: str) -> str | None:
    """``https://www.acme.example/about`` or ``acme.example`` -> the host name, lower-cased."""
    text = website.strip()
    try:
        host = urlsplit(text if "//" in text else f"//{text}").hostname
    except ValueError:
        return None
    return host or None


def to_lead(notification: Notification, fields: Mapping[str, str], organization_id: str) -> Lead:
    """A Lead from one notification's sObject fields, mapped by ``fields`` (sObject field -> path).

    A field Salesforce accepted but a Lead does not (an address at a reserved domain such as
    ``.test`` in a sandbox, a number of employees that is text) is left out and kept under
    ``attributes.invalid_fields``: refusing it would fault the whole message, which Salesforce
    retries for 24 hours and then drops with every other lead in it."""
    # Stable sort: CountryCode last, so it overwrites Country when both map to company.country.
    ordered = sorted(notification.fields.items(), key=lambda item: item[0] == "CountryCode")
    values = {
        name: host_of(value) if value and fields.get(name) == "company.domain" else value
        for name, value in ordered
    }
    data = apply_mapping(values, fields)
    data["attributes"].setdefault("salesforce_organization_id", organization_id)
    try:
        lead, invalid = parse_lead_salvaging(data, default_source=SOURCE)
    except NotALead as exc:
        raise NotALead(f"Notification {notification.id[:18]}: {exc.detail}", exc.extra) from exc
    if invalid:
        log.info("fields_left_out", source=SOURCE, notification_id=notification.id, fields=invalid)
    return lead


FEEDBACK_FIELDS = ("Leadflow_Feedback__c", "IsConverted", "Status")


def feedback_of(
    notification: Notification, lead: Lead, organization_id: str, now: datetime
) -> list[LeadFeedback]:
    """The feedback a Lead notification carries: an AE's correction in ``Leadflow_Feedback__c``, or an
    outcome (``IsConverted`` true, a closed ``Status``). Empty for a Lead that is simply new."""
    events = []
    for name in FEEDBACK_FIELDS:
        value = notification.fields.get(name)
        found = classify(name, value)
        if found is None:
            continue
        kind, label = found
        events.append(
            LeadFeedback(
                event_id=f"{SOURCE}:{notification.id}:{name}",
                lead_id=lead_id_for(lead.identity),
                received_at=now,
                source=SOURCE,
                source_event_id=f"{notification.id}:{name}",
                object_id=lead.source_record_id or notification.id,
                property=name,
                value=value,
                kind=kind,
                label=label,
            )
        )
    return events


def to_inbound(notification: Notification, lead: Lead, organization_id: str, now: datetime) -> list[Inbound]:
    """Feedback events when the Lead carries feedback (it is not a new lead then), else the lead."""
    feedback = feedback_of(notification, lead, organization_id, now)
    if feedback:
        return [feedback_inbound(event) for event in feedback]
    return [lead_inbound(SOURCE, notification.id, lead, now)]


def fault(status: int, code: str, detail: str) -> str:
    """A SOAP 1.1 Fault: the sender's mistake (Client) or ours (Server, 5xx), with our error code."""
    side = "Server" if status >= 500 else "Client"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}">\n'
        " <soapenv:Body>\n"
        "  <soapenv:Fault>\n"
        f"   <faultcode>soapenv:{side}</faultcode>\n"
        f"   <faultstring>{escape(detail)}</faultstring>\n"
        f'   <detail><lf:error xmlns:lf="{ERROR_NS}">{escape(code)}</lf:error></detail>\n'
        "  </soapenv:Fault>\n"
        " </soapenv:Body>\n"
        "</soapenv:Envelope>\n"
    )


async def _accept(request: Request) -> Response:
    state = request.app.state
    source = state.container.config.sources.salesforce
    body = await admit(request, SOURCE, source, media_types=("text/xml",))  # SOAP 1.1
    message = parse_message(body)
    check_organization(message.organization_id, source.organization_ids)
    check_leads(message)
    fields = {**LEAD_FIELDS, **source.fields}
    now = state.clock()
    items = [
        item
        for n in message.notifications
        for item in to_inbound(n, to_lead(n, fields, message.organization_id), message.organization_id, now)
    ]
    # Salesforce redelivers a notification with the record's latest data: a changed repeat is
    # the normal case, not a replay (a 409 would be retried for 24 h and the rest never published).
    results = await publish_all(request, items, changed_is_repeat=True)
    log.info(
        "message",
        source=SOURCE,
        organization_id=message.organization_id,
        action_id=message.action_id,
        notifications=len(results),
        outcome="acknowledged",
    )
    return Response(ACK, media_type="text/xml")


async def receive(request: Request) -> Response:
    """Errors are rendered here, not by the app's JSON handlers: Salesforce expects SOAP."""
    try:
        return await _accept(request)
    except InvalidWebhook as exc:
        log.info("request_refused", source=SOURCE, status=exc.status, error=exc.code)
        response = Response(fault(exc.status, exc.code, exc.detail), exc.status, media_type="text/xml")
        response.headers.update(exc.headers)
        return response
    except ConnectorError as exc:
        log.warning("dependency_unavailable", source=SOURCE, error=type(exc).__name__)
        what = "the bus" if isinstance(exc, BusUnavailable) else "a dependency"
        detail = f"{what} is unavailable; nothing was accepted, retry later"
        return Response(
            fault(503, "unavailable", detail), 503, headers={"Retry-After": "5"}, media_type="text/xml"
        )


ROUTES = [Route("/webhooks/salesforce", receive, methods=["POST"])]


def _xml(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"text/xml": {"schema": {"type": "string"}}},
    }
    if retry_after:
        response["headers"] = {"Retry-After": {"schema": {"type": "string"}, "description": "seconds"}}
    return response


_FAULTS = {
    "400": "Not well-formed XML, a DOCTYPE/entity, or not a SOAP 1.1 Envelope (soapenv:Client)",
    "401": "OrganizationId not in sources.salesforce.organization_ids (soapenv:Client)",
    "404": "The Salesforce source is not enabled (soapenv:Client)",
    "413": "Body over the source's limit (soapenv:Client)",
    "415": "Content-Type is not text/xml (soapenv:Client)",
    "422": "Not a notifications message, over 100 notifications, an sObject that is not a Lead, "
    "or a Lead without a way to reach it (soapenv:Client)",
    "429": "Over the source's rate (soapenv:Client)",
    "503": "The bus is unavailable; nothing was accepted; retry (soapenv:Server)",
}

OPENAPI = {
    "/webhooks/salesforce": {
        "post": {
            "summary": "A Salesforce Outbound Message (SOAP 1.1) with up to 100 Lead notifications",
            "description": (
                "Answered with <Ack>true</Ack> once every notification is on the bus (repeats of a "
                "Notification Id too, even with newer field values); every refusal is a SOAP 1.1 Fault."
            ),
            "requestBody": {
                "required": True,
                "description": "soapenv:Envelope/soapenv:Body/notifications (http://soap.sforce.com/2005/09/outbound)",
                "content": {"text/xml": {"schema": {"type": "string"}}},
            },
            "responses": {
                "200": _xml("notificationsResponse with <Ack>true</Ack>"),
                **{
                    status: _xml(f"SOAP Fault: {text}", retry_after=status in ("429", "503"))
                    for status, text in _FAULTS.items()
                },
            },
        }
    }
}
