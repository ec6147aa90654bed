"""Salesforce Outbound Messages: the contract example end to end, Lead field mapping, the Ack only
after publishing, and a SOAP fault (never JSON) for every way a message is refused.

Salesforce signs nothing and sends no timestamp, so there is no stale-timestamp case here: the
OrganizationId allow-list (plus Salesforce's IP ranges and TLS at the edge) is what authenticates
a message, and the wrong-org test stands where the other sources test a bad signature.
"""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

import httpx
import pytest
from defusedxml.ElementTree import fromstring

from schemas.lead import lead_id_for
from schemas.sources import SalesforceSource
from services.errors import Malformed, NotALead, Unauthorized
from services.intake.openapi import document
from services.intake.sources.salesforce import (
    ACK,
    LEAD_FIELDS,
    check_organization,
    fault,
    host_of,
    parse_message,
    to_lead,
)
from services.logs import configure
from tests.services.webhooks.conftest import Hooks

URL = "/webhooks/salesforce"
ORG = "00D000000000001AAA"  # the org allowed in deploy/config/sources.yaml
SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"
OUTBOUND = "{http://soap.sforce.com/2005/09/outbound}"

# ../shared/contracts/salesforce/outbound-message.example.xml, verbatim.
CONTRACT_MESSAGE = b"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
                  xmlns:xsd="http://www.w3.org/2001/XMLSchema"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00D000000000001AAA</OrganizationId>
   <ActionId>04k000000000001AAA</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/59.0/00D000000000001</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/59.0/00D000000000001</PartnerUrl>
   <Notification>
    <Id>04l000000000001AAA</Id>
    <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>00Q000000000001AAA</sf:Id>
     <sf:Company>Acme</sf:Company>
     <sf:Email>jane@example.com</sf:Email>
     <sf:FirstName>Jane</sf:FirstName>
     <sf:LastName>Doe</sf:LastName>
     <sf:LeadSource>Web</sf:LeadSource>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"""

# ../shared/contracts/salesforce/outbound-message-ack.xml, verbatim.
CONTRACT_ACK = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
 <soapenv:Body>
  <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">
   <Ack>true</Ack>
  </notificationsResponse>
 </soapenv:Body>
</soapenv:Envelope>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>&lol9;</OrganizationId>
</notifications></soapenv:Body></soapenv:Envelope>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>&xxe;</OrganizationId>
</notifications></soapenv:Body></soapenv:Envelope>"""


def notification(notification_id: str, sobject_type: str = "sf:Lead", **fields: str | None) -> str:
    """One <Notification> as Salesforce writes it; a None field is sent as xsi:nil."""
    values = "".join(
        f'<sf:{name} xsi:nil="true"/>' if value is None else f"<sf:{name}>{escape(value)}</sf:{name}>"
        for name, value in fields.items()
    )
    return (
        f"<Notification><Id>{notification_id}</Id>"
        f'<sObject xsi:type="{sobject_type}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"{values}</sObject>"
        "</Notification>"
    )


def envelope(*notifications: str, org: str = ORG) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{org}</OrganizationId><ActionId>04k000000000001AAA</ActionId>"
        '<SessionId xsi:nil="true"/>'
        "<EnterpriseUrl>https://northwind.my.salesforce.com/services/Soap/c/59.0/00D000000000001</EnterpriseUrl>"
        "<PartnerUrl>https://northwind.my.salesforce.com/services/Soap/u/59.0/00D000000000001</PartnerUrl>"
        f"{''.join(notifications)}</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


def lead(n: int, **fields: str | None) -> str:
    """A small Lead notification numbered ``n`` (ids are 18 characters, like Salesforce's)."""
    defaults: dict[str, str | None] = {
        "Id": f"00Q{n:015d}",
        "FirstName": "Ana",
        "LastName": f"Lead{n}",
        "Email": f"ana{n}@freight.example",
        "Company": "Freight Co",
    }
    return notification(f"04l{n:015d}", **{**defaults, **fields})


async def post(hooks: Hooks, body: bytes, content_type: str = "text/xml; charset=utf-8") -> httpx.Response:
    return await hooks.client.post(
        URL, content=body, headers={"Content-Type": content_type, "SOAPAction": '""'}
    )


def shape(xml: str | bytes) -> list[tuple[str, str]]:
    """Tags and texts in document order, whitespace between elements ignored."""
    return [(node.tag, (node.text or "").strip()) for node in fromstring(xml).iter()]


def assert_ack(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert shape(response.content) == shape(CONTRACT_ACK)


def assert_fault(response: httpx.Response, status: int, side: str, code: str) -> str:
    """The status, a SOAP 1.1 Fault (text/xml, never JSON), our error code in detail; the faultstring."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/xml"), response.text
    root = fromstring(response.content)
    assert root.tag == f"{SOAP}Envelope"
    found = root.find(f"{SOAP}Body/{SOAP}Fault")
    assert found is not None, response.text
    assert found.findtext("faultcode") == f"soapenv:{side}"
    assert found.findtext("detail/{urn:leadflow:intake}error") == code
    faultstring = found.findtext("faultstring") or ""
    assert faultstring and "Traceback" not in response.text
    return faultstring


def use(hooks: Hooks, **changes: Any) -> None:
    """Run the app with other sources.salesforce settings, as a config reload would."""
    container = hooks.app.state.container
    config = container.config
    salesforce = SalesforceSource.model_validate({**config.sources.salesforce.model_dump(), **changes})
    container.config = config.model_copy(
        update={"sources": config.sources.model_copy(update={"salesforce": salesforce})}
    )


# --- pure functions ---------------------------------------------------------------------------


def test_the_contract_example_parses() -> None:
    message = parse_message(CONTRACT_MESSAGE)
    assert (message.organization_id, message.action_id) == (ORG, "04k000000000001AAA")
    [one] = message.notifications
    assert (one.id, one.sobject_type) == ("04l000000000001AAA", "Lead")
    assert one.fields == {
        "Id": "00Q000000000001AAA",
        "Company": "Acme",
        "Email": "jane@example.com",
        "FirstName": "Jane",
        "LastName": "Doe",
        "LeadSource": "Web",
    }


def test_our_ack_is_the_contracts_ack() -> None:
    assert shape(ACK) == shape(CONTRACT_ACK)


@pytest.mark.parametrize(
    ("allowed", "ok"),
    [
        ((ORG,), True),
        (("00D000000000001",), True),  # the 15-character form of the same org
        (("00D000000000001aaa",), False),  # ids are case-sensitive
        (("00D000000000002AAA", ORG), True),
        ((), False),  # nothing configured: nothing is taken
    ],
)
def test_the_org_allow_list(allowed: tuple[str, ...], ok: bool) -> None:
    if ok:
        check_organization(ORG, allowed)
    else:
        with pytest.raises(Unauthorized, match=r"not in sources\.salesforce\.organization_ids"):
            check_organization(ORG, allowed)


@pytest.mark.parametrize(
    ("website", "host"),
    [
        ("https://www.acme-logistics.example/about?x=1", "www.acme-logistics.example"),
        ("acme-logistics.example", "acme-logistics.example"),
        ("HTTP://Acme.Example:8080", "acme.example"),
        ("   ", None),
        ("http://[::1", None),
    ],
)
def test_website_becomes_a_host(website: str, host: str | None) -> None:
    assert host_of(website) == host


def test_refused_xml_never_gets_expanded() -> None:
    for body in (BILLION_LAUGHS, EXTERNAL_ENTITY):
        with pytest.raises(Malformed, match="DOCTYPE"):
            parse_message(body)
    with pytest.raises(Malformed, match=r"not a SOAP 1\.1 Envelope"):
        parse_message(b"<notifications/>")
    with pytest.raises(NotALead, match="no notifications"):
        parse_message(
            b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>'
        )


def test_a_lead_that_fails_validation_names_its_notification() -> None:
    [one] = parse_message(envelope(lead(1, Email=None))).notifications
    bad = parse_message(envelope(notification("04lBAD", Email="not-an-email"))).notifications[0]
    assert to_lead(one, LEAD_FIELDS, ORG).person.email is None  # xsi:nil is no value
    with pytest.raises(NotALead, match=r"Notification 04lBAD: person\.email"):
        to_lead(bad, LEAD_FIELDS, ORG)


def test_a_field_salesforce_took_but_a_lead_refuses_is_left_out_and_kept() -> None:
    # Salesforce accepts a sandbox's jane@acme.test; the email validator does not (a reserved name).
    [one] = parse_message(
        envelope(lead(1, Email="jane@acme.test", NumberOfEmployees="about 50"))
    ).notifications
    found = to_lead(one, LEAD_FIELDS, ORG)
    assert (found.person.email, found.company.employees, found.source_record_id) == (
        None,
        None,
        "00Q000000000000001",
    )
    assert found.attributes["invalid_fields"] == {
        "person.email": "jane@acme.test",
        "company.employees": "about 50",
    }
    assert found.company.name == "Freight Co"  # the valid fields stay


def test_a_fault_escapes_what_it_quotes() -> None:
    text = fault(422, "not_a_lead", "sObject is '<Contact & co>'")
    assert fromstring(text).findtext(f"{SOAP}Body/{SOAP}Fault/faultstring") == "sObject is '<Contact & co>'"
    assert fromstring(fault(503, "unavailable", "x")).findtext(f"{SOAP}Body/{SOAP}Fault/faultcode") == (
        "soapenv:Server"
    )


# --- end to end -------------------------------------------------------------------------------


async def test_the_contract_example_is_published_and_acknowledged(hooks: Hooks) -> None:
    response = await post(hooks, CONTRACT_MESSAGE)
    assert_ack(response)
    [event] = hooks.leads()
    assert (event.event_id, event.source_event_id) == ("salesforce:04l000000000001AAA", "04l000000000001AAA")
    assert event.lead_id == lead_id_for("jane@example.com")
    assert event.received_at == hooks.now
    assert event.lead.model_dump(exclude_defaults=True) == {
        "person": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
        "company": {"name": "Acme"},
        "source": "salesforce",
        "source_record_id": "00Q000000000001AAA",
        "attributes": {"lead_source": "Web", "salesforce_organization_id": ORG},
    }


async def test_every_standard_lead_field_is_mapped(hooks: Hooks) -> None:
    full = notification(
        "04l000000000777AAA",
        Id="00Q000000000777AAA",
        FirstName="María",
        LastName="López",
        Email="maria.lopez@acme-logistics.example",
        Phone="+34 600 123 456",
        Title="Head of Operations",
        Company="Acme Logistics",
        Website="https://www.acme-logistics.example/about",
        NumberOfEmployees="150",
        Industry="Transportation",
        Country="Spain",
        CountryCode="ES",
        AnnualRevenue="12500000.0",
        LeadSource="Partner Referral",
        Description="Needs billing automation for 40 depots & <3> regions.",
        Rating="Hot",  # not a Lead path: kept under attributes
        MobilePhone=None,  # xsi:nil: no value
    )
    assert_ack(await post(hooks, envelope(full)))
    [event] = hooks.leads()
    lead_ = event.lead
    assert lead_.person.model_dump(exclude_none=True) == {
        "first_name": "María",
        "last_name": "López",
        "email": "maria.lopez@acme-logistics.example",
        "phone": "+34 600 123 456",
        "title": "Head of Operations",
    }
    assert lead_.company.model_dump(exclude_none=True) == {
        "name": "Acme Logistics",
        "domain": "www.acme-logistics.example",
        "employees": 150,
        "revenue": 12_500_000.0,
        "industry": "Transportation",
        "country": "ES",  # CountryCode wins over Country
    }
    assert lead_.message == "Needs billing automation for 40 depots & <3> regions."
    assert lead_.source_record_id == "00Q000000000777AAA"
    assert lead_.attributes == {
        "lead_source": "Partner Referral",
        "Rating": "Hot",
        "salesforce_organization_id": ORG,
    }


async def test_config_fields_override_and_extend_the_mapping(hooks: Hooks) -> None:
    use(hooks, fields={"Description": "attributes.notes", "Budget__c": "attributes.budget"})
    assert_ack(await post(hooks, envelope(lead(5, Description="Call after 3pm", Budget__c="50000"))))
    [event] = hooks.leads()
    assert event.lead.message is None
    assert event.lead.attributes["notes"] == "Call after 3pm"
    assert event.lead.attributes["budget"] == "50000"


async def test_100_notifications_are_all_published_before_the_ack(hooks: Hooks) -> None:
    hooks.unlimited()
    response = await post(hooks, envelope(*(lead(n) for n in range(100))))
    assert_ack(response)
    events = hooks.leads()
    assert len(events) == 100
    assert {e.source_event_id for e in events} == {f"04l{n:015d}" for n in range(100)}


async def test_one_lead_with_a_refused_field_does_not_hold_back_the_others(hooks: Hooks) -> None:
    """A fault would make Salesforce retry the whole message for 24 hours, then drop all three."""
    response = await post(hooks, envelope(lead(1), lead(2, Email="not-an-email"), lead(3)))
    assert_ack(response)
    events = {e.source_event_id: e for e in hooks.leads()}
    assert sorted(events) == [f"04l{n:015d}" for n in (1, 2, 3)]
    salvaged = events["04l000000000000002"]
    assert salvaged.lead.person.email is None
    assert salvaged.lead.attributes["invalid_fields"] == {"person.email": "not-an-email"}
    assert salvaged.lead_id == lead_id_for("salesforce:00Q000000000000002")  # its record is its identity


async def test_101_notifications_are_a_422_fault(hooks: Hooks) -> None:
    response = await post(hooks, envelope(*(lead(n) for n in range(101))))
    assert "1 to 100 notifications" in assert_fault(response, 422, "Client", "not_a_lead")
    assert hooks.published() == 0


async def test_a_wrong_org_is_a_401_fault(hooks: Hooks) -> None:
    response = await post(hooks, envelope(lead(1), org="00D000000000666AAA"))
    assert "00D000000000666AAA" in assert_fault(response, 401, "Client", "unauthorized")
    assert hooks.published() == 0


async def test_a_replayed_notification_is_acknowledged_and_published_once(hooks: Hooks) -> None:
    message = envelope(lead(1), lead(2))
    assert_ack(await post(hooks, message))
    assert_ack(await post(hooks, message))  # Salesforce redelivers: Ack again, publish nothing new
    assert_ack(await post(hooks, envelope(lead(2), lead(3))))
    assert sorted(e.source_event_id or "" for e in hooks.leads()) == [f"04l{n:015d}" for n in (1, 2, 3)]


async def test_a_notification_redelivered_with_newer_data_is_acknowledged(hooks: Hooks) -> None:
    """Salesforce redelivers a notification with the record's latest data, not the data it first
    sent: the notification was accepted, so it is acknowledged (published once), and the rest of
    the message is published. A fault here would be retried for 24 h and the rest lost."""
    assert_ack(await post(hooks, envelope(lead(1), lead(2))))
    assert_ack(await post(hooks, envelope(lead(1, Phone="+34 600 123 456"), lead(3))))
    assert sorted(e.source_event_id or "" for e in hooks.leads()) == [f"04l{n:015d}" for n in (1, 2, 3)]
    assert hooks.leads()[0].lead.person.phone is None  # the first delivery is the one published


async def test_an_oversized_body_is_a_413_fault(hooks: Hooks) -> None:
    body = envelope(lead(1, Description="x" * 2_200_000))  # over the 2 MiB sources.yaml allows Salesforce
    assert_fault(await post(hooks, body), 413, "Client", "too_large")
    assert hooks.published() == 0


@pytest.mark.parametrize("content_type", ["application/json", "application/soap+xml", ""])
async def test_a_wrong_content_type_is_a_415_fault(hooks: Hooks, content_type: str) -> None:
    assert_fault(await post(hooks, CONTRACT_MESSAGE, content_type), 415, "Client", "unsupported_media_type")
    assert hooks.published() == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"<soapenv:Envelope", 400, "malformed"),
        (b'{"Id": "00Q000000000001AAA"}', 400, "malformed"),
        (BILLION_LAUGHS, 400, "malformed"),
        (EXTERNAL_ENTITY, 400, "malformed"),
        (b"<Envelope><Body/></Envelope>", 400, "malformed"),  # no SOAP 1.1 namespace
        (
            b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body/></e:Envelope>',
            422,
            "not_a_lead",
        ),
        (envelope(), 422, "not_a_lead"),  # no Notification at all
        (
            envelope(lead(1)).replace(b"<OrganizationId>00D000000000001AAA</OrganizationId>", b""),
            422,
            "not_a_lead",
        ),
        (
            envelope(notification("04l000000000009AAA", "sf:Contact", Id="003000000000009AAA")),
            422,
            "not_a_lead",
        ),
        (envelope(lead(1), notification("04l000000000009AAA", "sf:Account", Name="Acme")), 422, "not_a_lead"),
        (envelope("<Notification><Id>04l000000000009AAA</Id></Notification>"), 422, "not_a_lead"),
        (envelope(lead(1), notification("04l000000000010AAA", Email="not-an-email")), 422, "not_a_lead"),
        (envelope(notification("04l000000000011AAA", Title="CFO")), 422, "not_a_lead"),  # no way to reach
    ],
)
async def test_malformed_content_is_a_fault(hooks: Hooks, body: bytes, status: int, code: str) -> None:
    assert_fault(await post(hooks, body), status, "Client", code)
    assert hooks.published() == 0


async def test_bus_down_is_a_503_server_fault_then_the_retry_is_acknowledged(hooks: Hooks) -> None:
    message = envelope(lead(1), lead(2))
    hooks.bus.available = False
    response = await post(hooks, message)
    assert_fault(response, 503, "Server", "unavailable")
    assert response.headers["retry-after"] == "5"
    assert hooks.published() == 0
    hooks.bus.available = True
    assert_ack(await post(hooks, message))
    assert len(hooks.leads()) == 2


async def test_over_the_rate_is_a_429_fault_with_retry_after(hooks: Hooks) -> None:
    statuses = [(await post(hooks, envelope(lead(n)))).status_code for n in range(100)]
    assert statuses == [200] * 100  # the default burst
    limited = await post(hooks, envelope(lead(100)))
    assert_fault(limited, 429, "Client", "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1


async def test_a_disabled_source_is_a_404_fault(hooks: Hooks) -> None:
    use(hooks, enabled=False)
    assert_fault(await post(hooks, CONTRACT_MESSAGE), 404, "Client", "not_found")


async def test_no_email_or_phone_reaches_the_log(hooks: Hooks, capsys: pytest.CaptureFixture[str]) -> None:
    configure("info")
    assert_ack(await post(hooks, envelope(lead(1, Phone="+34 600 123 456"))))
    # Accepted without its refused email (kept on the lead, not in the log), then a refused message.
    assert_ack(
        await post(
            hooks, envelope(notification("04l000000000002AAA", Email="maria@", Phone="+34 600 987 654"))
        )
    )
    contact = notification(
        "04l000000000003AAA", "sf:Contact", Email="li@freight.example", Phone="+34 600 555 444"
    )
    await post(hooks, envelope(contact))
    logged = capsys.readouterr().err
    assert '"accepted"' in logged and '"fields_left_out"' in logged and '"request_refused"' in logged
    assert "ana1@freight.example" not in logged and "600 123 456" not in logged
    assert "maria@" not in logged and "600 987 654" not in logged
    assert "li@freight.example" not in logged and "600 555 444" not in logged
    for line in filter(None, logged.splitlines()):
        json.loads(line)


def test_the_route_is_in_the_openapi_document_with_xml_everywhere() -> None:
    operation = document()["paths"]["/webhooks/salesforce"]["post"]
    assert set(operation["requestBody"]["content"]) == {"text/xml"}
    responses = operation["responses"]
    assert {"200", "400", "401", "413", "415", "422", "429", "503"} <= set(responses)
    assert all(set(r["content"]) == {"text/xml"} for r in responses.values())
