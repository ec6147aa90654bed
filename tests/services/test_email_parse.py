"""Each extraction rule of services/intake/email_parse.py on realistic emails (no I/O, no fixtures)."""

from __future__ import annotations

import pytest

from services.errors import NotALead
from services.intake.email_parse import (
    MAX_MESSAGE,
    InboundMail,
    Mailbox,
    automated_reason,
    company_from_domain,
    find_company,
    find_phone,
    find_title,
    header_text,
    html_to_text,
    is_free_mail,
    latest_reply,
    lead_data,
    normalise_message_id,
    normalise_phone,
    parse_mailbox,
    pick_contact,
    read_signature,
    split_name,
    split_signature,
)

# An English reply from Gmail: sign-off, Name / Title / Company / phone, then the quoted thread.
GMAIL_REPLY = """Hi Tom,

Thanks for the call last week. We'd like to see a demo of lead routing for our sales team:
- 40 depots across Germany and Poland
- about 12 account executives

Could you do Thursday afternoon?

Best regards,
Jane Doe
Head of Operations
Northwind Logistics GmbH
+49 (0)30 1234 5678
www.northwind-logistics.example

On Tue, 17 Nov 2026 at 10:12, Tom Seller <tom@leadflow.example> wrote:
> Hi Jane,
>
> Great speaking with you. Would a demo next week work?
>
> Tom
"""
GMAIL_MESSAGE = """Hi Tom,

Thanks for the call last week. We'd like to see a demo of lead routing for our sales team:
- 40 depots across Germany and Poland
- about 12 account executives

Could you do Thursday afternoon?"""

# A Spanish reply from Outlook: its underscore rule and De:/Enviado:/Para:/Asunto: block.
OUTLOOK_ES_REPLY = """Hola Tom,

Nos gustaría ver una demo. Tenemos 25 delegaciones y 8 comerciales.

Un saludo,
María López
Directora de Operaciones
Transportes Ibéricos S.L.
Tel. +34 600 123 456

________________________________
De: Tom Seller <tom@leadflow.example>
Enviado: martes, 17 de noviembre de 2026 10:12
Para: María López <maria.lopez@transportes-ibericos.example>
Asunto: Demo de Leadflow

Hola María, ¿te interesa una demo?
"""

# A German email with a "-- " signature under the sign-off, and Apple Mail's quote header.
GERMAN_REPLY = """Guten Tag Herr Seller,

wir suchen eine Lösung, um Anfragen automatisch an unsere 14 Vertriebler zu verteilen.
Bitte rufen Sie mich an.

Mit freundlichen Grüßen
Klaus Müller

-- 
Klaus Müller
Leiter Vertrieb | Müller Spedition
Tel.: 0049 89 123456-0
www.mueller-spedition.example

Am 17.11.2026 um 10:12 schrieb Tom Seller <tom@leadflow.example>:
> Hallo Herr Müller,
> passt Ihnen ein Termin nächste Woche?
"""  # noqa: W291 - the signature delimiter is "-- ", its trailing space included

OUTLOOK_EN_REPLY = """Sounds good, call me tomorrow at 10.

Sam

From: Tom Seller <tom@leadflow.example>
Sent: Tuesday, November 17, 2026 10:12 AM
To: Sam Park <sam@globex.example>
Subject: Pricing

Hi Sam, here is the pricing you asked for.
"""


def _mail(text: str | None = None, html: str | None = None, **headers: str) -> InboundMail:
    return InboundMail("raw", {k.replace("_", "-"): v for k, v in headers.items()}, text, html)


# Addresses


NORTHWIND = "jane.doe@northwind-logistics.example"
IBERICOS = "maria@transportes-ibericos.example"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"Jane Doe <{NORTHWIND}>", ("Jane Doe", NORTHWIND)),
        (NORTHWIND, (None, NORTHWIND)),
        (f'"López, María" <{IBERICOS}>', ("López, María", IBERICOS)),
        (f"=?utf-8?q?Mar=C3=ADa_L=C3=B3pez?= <{IBERICOS}>", ("María López", IBERICOS)),
        (f'"{NORTHWIND}" <{NORTHWIND}>', (None, NORTHWIND)),
        (f"Jane <{NORTHWIND}>, Sam <sam@globex.example>", ("Jane", NORTHWIND)),
    ],
)
def test_a_mailbox_is_read_from_an_address_header(header: str, expected: tuple[str | None, str]) -> None:
    assert parse_mailbox(header) == Mailbox(*expected)


@pytest.mark.parametrize(
    "header", [None, "", "undisclosed-recipients:;", "Jane <jane@>", "garbage <<>>", "a@localhost"]
)
def test_a_header_without_a_usable_address_gives_none(header: str | None) -> None:
    assert parse_mailbox(header) is None


JANE = Mailbox("Jane Doe", "jane.doe@northwind.example")


def test_reply_to_wins_when_it_is_another_person() -> None:
    relay = Mailbox("Website", "forms@northwind-site.example")
    assert pick_contact(relay, JANE) == JANE


def test_reply_to_with_the_same_address_keeps_the_known_name() -> None:
    assert pick_contact(Mailbox(None, "jane.doe@northwind.example"), JANE) == JANE
    assert pick_contact(JANE, Mailbox(None, "Jane.Doe@northwind.example")) == JANE


def test_an_automated_reply_to_or_none_leaves_from() -> None:
    assert pick_contact(JANE, Mailbox(None, "no-reply@northwind.example")) == JANE
    assert pick_contact(JANE, None) == JANE
    assert pick_contact(None, JANE) == JANE


# Automated senders


@pytest.mark.parametrize(
    ("address", "headers", "says"),
    [
        ("MAILER-DAEMON@mx.northwind.example", {}, "automated mailbox (mailer-daemon)"),
        ("postmaster@northwind.example", {}, "automated mailbox (postmaster)"),
        ("no-reply@northwind.example", {}, "(no-reply)"),
        ("noreply+invoices@northwind.example", {}, "(no-reply)"),
        ("donotreply@northwind.example", {}, "(no-reply)"),
        ("do-not-reply.billing@northwind.example", {}, "(no-reply)"),
        ("jane.doe@northwind.example", {"auto-submitted": "auto-replied"}, "Auto-Submitted: auto-replied"),
        ("jane.doe@northwind.example", {"precedence": "bulk"}, "Precedence: bulk"),
    ],
)
def test_automated_mail_is_recognised(address: str, headers: dict[str, str], says: str) -> None:
    reason = automated_reason(Mailbox(None, address), headers)
    assert reason is not None and says in reason


@pytest.mark.parametrize("headers", [{}, {"auto-submitted": "no"}, {"precedence": "first-class"}])
def test_a_person_is_not_automated(headers: dict[str, str]) -> None:
    assert automated_reason(JANE, headers) is None
    assert automated_reason(Mailbox(None, "noreen@northwind.example"), headers) is None


# Domains


@pytest.mark.parametrize(
    "domain",
    ["gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com", "proton.me", "GMX.de",
     "gmx.net", "web.de", "yahoo.co.uk", "hotmail.es"],
)  # fmt: skip
def test_free_mail_domains(domain: str) -> None:
    assert is_free_mail(domain)


@pytest.mark.parametrize("domain", ["northwind-logistics.example", "mygmail.com", "webde.example"])
def test_company_domains_are_not_free_mail(domain: str) -> None:
    assert not is_free_mail(domain)


@pytest.mark.parametrize(
    ("domain", "name"),
    [
        ("northwind-logistics.com", "Northwind Logistics"),
        ("mail.globex.com", "Globex"),
        ("acme.co.uk", "Acme"),
        ("ibm.com", "IBM"),
        ("localhost", None),
    ],
)
def test_a_company_name_from_the_domain(domain: str, name: str | None) -> None:
    assert company_from_domain(domain) == name


def test_message_ids_lose_their_brackets_and_long_ones_are_hashed() -> None:
    assert normalise_message_id(" <CAKx8mPq3vZ1Yd@mail.gmail.com> ") == "CAKx8mPq3vZ1Yd@mail.gmail.com"
    assert normalise_message_id("<>") is None and normalise_message_id(None) is None
    long_id = normalise_message_id("<" + "x" * 300 + "@mail.example>")
    assert long_id is not None and long_id.startswith("sha256:") and len(long_id) == 71


def test_encoded_words_in_a_subject_are_decoded() -> None:
    assert header_text("subject", "=?utf-8?q?Solicitud_de_demostraci=C3=B3n?=") == "Solicitud de demostración"
    assert header_text("subject", None) is None


# Bodies


def test_html_becomes_readable_text_without_quotes_scripts_or_styles() -> None:
    html = (
        "<html><head><style>p {color: red}</style><title>x</title></head><body>"
        '<div dir="ltr">Hi Tom,<br><br>We&#39;d like a demo &amp; pricing.<br>'
        "<ul><li>40 depots</li><li>12 AEs</li></ul></div>"
        '<div class="gmail_quote">On Tue, Tom wrote:<blockquote class="gmail_quote">Hi Jane, '
        "<b>a demo?</b></blockquote></div><script>track()</script></body></html>"
    )
    text = html_to_text(html)
    assert "We'd like a demo & pricing." in text
    assert "40 depots" in text and "12 AEs" in text
    assert "a demo?" not in text and "track()" not in text and "color" not in text


def test_html_the_stdlib_parser_gives_up_on_is_still_read() -> None:
    # html.parser raises AssertionError on an unknown "<![" marked section; tags are stripped instead.
    html = "<p>We need a demo &amp; pricing</p><![foo[ broken ]]><p>for 12 AEs</p>"
    assert html_to_text(html) == "We need a demo & pricing\n\nfor 12 AEs"


def test_a_gmail_quote_is_stripped_and_hyphen_lists_are_kept() -> None:
    newest = latest_reply(GMAIL_REPLY)
    assert "Great speaking with you" not in newest and "wrote:" not in newest
    assert "- 40 depots across Germany and Poland" in newest
    assert newest.endswith("www.northwind-logistics.example")


@pytest.mark.parametrize(
    ("email", "kept", "gone"),
    [
        (OUTLOOK_EN_REPLY, "Sounds good, call me tomorrow at 10.", "here is the pricing"),
        (OUTLOOK_ES_REPLY, "Tel. +34 600 123 456", "te interesa una demo"),
        (GERMAN_REPLY, "www.mueller-spedition.example", "passt Ihnen ein Termin"),
        (
            "Please send pricing for 50 seats.\n\n-----Original Message-----\nFrom: Tom\nSent: Tue\n"
            "To: Sam\nSubject: Pricing\n\nHi Sam",
            "Please send pricing for 50 seats.",
            "Hi Sam",
        ),
        ("Yes, Thursday works.\n\n> Would Thursday work?\n> Tom", "Yes, Thursday works.", "Would Thursday"),
    ],
)
def test_outlook_apple_and_plain_quotes_are_stripped(email: str, kept: str, gone: str) -> None:
    newest = latest_reply(email)
    assert kept in newest and gone not in newest


def test_a_message_without_quotes_is_left_whole() -> None:
    assert latest_reply("We need routing for 12 AEs.\nCall me.") == "We need routing for 12 AEs.\nCall me."


# Signatures


def test_a_sign_off_starts_the_signature() -> None:
    message, signature = split_signature(latest_reply(GMAIL_REPLY))
    assert message == GMAIL_MESSAGE
    assert signature == (
        "Jane Doe",
        "Head of Operations",
        "Northwind Logistics GmbH",
        "+49 (0)30 1234 5678",
        "www.northwind-logistics.example",
    )


def test_a_dash_dash_delimiter_and_a_sign_off_above_it_both_go() -> None:
    message, signature = split_signature(latest_reply(GERMAN_REPLY))
    assert message.endswith("Bitte rufen Sie mich an.") and "Grüßen" not in message
    assert signature[0] == "Klaus Müller" and "Leiter Vertrieb | Müller Spedition" in signature


def test_a_sign_off_with_the_name_on_its_line() -> None:
    assert split_signature("Can we talk on Friday?\n\nBest, Sam Park") == (
        "Can we talk on Friday?",
        ("Sam Park",),
    )


@pytest.mark.parametrize(
    "text",
    [
        "Hi,\nThanks, that would be great. We have 40 depots.",
        "Thanks!\nCan we meet tomorrow about routing for 40 depots?",
        "We have 40 depots.\nRegards to your team, and talk soon",
    ],
)
def test_sentences_that_start_like_a_sign_off_are_message(text: str) -> None:
    assert split_signature(text) == (text, ())


def test_no_signature_leaves_the_message_whole_and_drops_a_phone_footer() -> None:
    assert split_signature("We need a demo for 12 AEs.\n\nSent from my iPhone") == (
        "We need a demo for 12 AEs.",
        (),
    )
    sentence = "Sent from my hotel in Madrid, as our team of 12 AEs needs routing before Q1 starts."
    assert split_signature(sentence) == (sentence, ())


@pytest.mark.parametrize(
    ("raw", "phone"),
    [
        ("+49 (0)30 1234 5678", "+49 30 1234 5678"),
        ("Tel.: 0049 89 123456-0", "+49 89 123456 0"),
        ("M: +1 (415) 555-0132", "+1 415 555 0132"),
        ("Móvil 600.123.456", "600 123 456"),
        ("Ext. 123", None),
        ("+49 30 1234 5678 9012 3456", None),  # more digits than E.164 allows
    ],
)
def test_phones_are_found_and_normalised_lightly(raw: str, phone: str | None) -> None:
    assert find_phone(["Jane Doe", raw]) == phone


def test_normalise_phone_refuses_too_few_digits() -> None:
    assert normalise_phone("12 34") is None


@pytest.mark.parametrize(
    ("line", "title", "company"),
    [
        ("Head of Operations", "Head of Operations", None),
        ("VP Sales | Globex", "VP Sales", "Globex"),
        ("Co-founder & CEO at Doe Design Studio", "Co-founder & CEO", "Doe Design Studio"),
        ("VP Sales, EMEA", "VP Sales", None),
        ("Head of Sales, Northwind Logistics GmbH", "Head of Sales", "Northwind Logistics GmbH"),
        ("Directora de Operaciones", "Directora de Operaciones", None),
        ("Geschäftsführer", "Geschäftsführer", None),
    ],
)
def test_a_job_title_and_a_company_on_its_line(line: str, title: str, company: str | None) -> None:
    assert find_title(["Jane Doe", line]) == (1, title, company)


@pytest.mark.parametrize(
    "line", ["Northwind Operations GmbH", "+49 30 1234 5678", "Jane Doe", "www.lead.example"]
)
def test_lines_that_are_not_titles(line: str) -> None:
    assert find_title([line]) is None


def test_company_by_legal_form_then_domain_then_position() -> None:
    lines = ["Jane Doe", "Head of Operations", "Friedrichstraße 12, 10117 Berlin", "Northwind Logistics GmbH"]
    assert find_company(lines, None, 1) == "Northwind Logistics GmbH"
    assert find_company(["Jane Doe", "Founder", "Berlin", "Northwind"], "northwind.example", 1) == "Northwind"
    assert find_company(["Jane Doe", "Founder", "Doe Design Studio"], None, 1) == "Doe Design Studio"
    assert find_company(["Jane Doe", "Berlin"], None, None) is None


def test_the_persons_own_name_is_not_taken_for_the_company() -> None:
    assert find_company(["Jane Doe", "+1 415 555 0132"], "doe.example", None) is None


def test_a_spanish_signature_is_read() -> None:
    _, signature = split_signature(latest_reply(OUTLOOK_ES_REPLY))
    facts = read_signature(signature, "transportes-ibericos.example")
    assert (facts.name, facts.title, facts.company, facts.phone) == (
        "María López",
        "Directora de Operaciones",
        "Transportes Ibéricos S.L.",
        "+34 600 123 456",
    )


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("Jane Doe", ("Jane", "Doe")),
        ("María López García", ("María", "López García")),
        ("López, María", ("María", "López")),
        ("Jane Doe (Northwind)", ("Jane", "Doe")),
        ("Cher", ("Cher", None)),
        (None, (None, None)),
    ],
)
def test_names_are_split(name: str | None, split: tuple[str | None, str | None]) -> None:
    assert split_name(name) == split


# The whole email


def test_an_english_email_becomes_a_lead() -> None:
    mail = _mail(
        GMAIL_REPLY, **{"from": "Jane Doe <jane.doe@northwind-logistics.example>", "subject": "Re: Demo"}
    )
    assert lead_data(mail) == {
        "source": "email",
        "person": {
            "first_name": "Jane",
            "last_name": "Doe",
            "email": "jane.doe@northwind-logistics.example",
            "phone": "+49 30 1234 5678",
            "title": "Head of Operations",
        },
        "company": {"name": "Northwind Logistics GmbH", "domain": "northwind-logistics.example"},
        "message": GMAIL_MESSAGE,
        "attributes": {"provider": "raw", "subject": "Re: Demo", "message_id": None, "attachments": 0},
    }


def test_a_spanish_email_with_the_name_in_last_first_order() -> None:
    mail = _mail(OUTLOOK_ES_REPLY, **{"from": '"López, María" <maria.lopez@transportes-ibericos.example>'})
    lead = lead_data(mail)
    assert lead["person"]["first_name"] == "María" and lead["person"]["last_name"] == "López"
    assert lead["company"] == {"name": "Transportes Ibéricos S.L.", "domain": "transportes-ibericos.example"}
    assert (
        lead["message"] == "Hola Tom,\n\nNos gustaría ver una demo. Tenemos 25 delegaciones y 8 comerciales."
    )


def test_free_mail_without_a_signature_has_no_company() -> None:
    mail = _mail(
        "Do you integrate with HubSpot? We are 6 people.", **{"from": "Sam Park <sam.park@gmail.com>"}
    )
    lead = lead_data(mail)
    assert lead["company"] == {}
    assert lead["person"] == {"first_name": "Sam", "last_name": "Park", "email": "sam.park@gmail.com"}
    assert lead["message"] == "Do you integrate with HubSpot? We are 6 people."


def test_free_mail_takes_the_company_from_the_signature_and_no_domain() -> None:
    text = "We need routing.\n\nThanks,\nSam Park\nFounder\nPark Design Studio"
    lead = lead_data(_mail(text, **{"from": "sam.park@gmail.com"}))
    assert lead["company"] == {"name": "Park Design Studio"}
    assert lead["person"]["first_name"] == "Sam"  # no display name: the signature's name line


def test_a_form_relay_from_no_reply_is_a_lead_for_the_person_in_reply_to() -> None:
    mail = _mail(
        "Name: Jane Doe\nCompany: Northwind\nMessage: Please call me about routing.",
        **{"from": "Website <no-reply@northwind-site.example>", "reply_to": f"Jane Doe <{NORTHWIND}>"},
    )
    lead = lead_data(mail)
    assert lead["person"]["email"] == NORTHWIND and lead["person"]["first_name"] == "Jane"


def test_a_company_domain_without_a_signature_names_the_company() -> None:
    lead = lead_data(_mail("Please call me.", **{"from": "Sam <sam@globex-freight.example>"}))
    assert lead["company"] == {"name": "Globex Freight", "domain": "globex-freight.example"}


def test_an_html_only_email_is_read() -> None:
    html = "<p>We need a demo for 12 AEs.</p><p>Kind regards,<br>Sam Park<br>COO, Globex Inc.</p>"
    lead = lead_data(_mail(None, html, **{"from": "Sam Park <sam@globex.example>"}))
    assert lead["message"] == "We need a demo for 12 AEs."
    assert lead["person"]["title"] == "COO" and lead["company"]["name"] == "Globex Inc."


def test_a_long_message_is_cut_to_the_lead_limit() -> None:
    lead = lead_data(_mail("word " * 10_000, **{"from": "sam@globex.example"}))
    assert len(lead["message"]) == MAX_MESSAGE


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({"from": "Mail Delivery Subsystem <mailer-daemon@googlemail.com>"}, "automated mailbox"),
        ({"from": "Jane Doe <jane@northwind.example>", "auto-submitted": "auto-replied"}, "Auto-Submitted"),
        ({"subject": "Hello"}, "no sender address"),
        ({"from": "undisclosed-recipients:;"}, "no sender address"),
    ],
)
def test_mail_no_person_sent_is_not_a_lead(headers: dict[str, str], says: str) -> None:
    with pytest.raises(NotALead, match=says):
        lead_data(InboundMail("raw", headers, "I am out of the office until Monday."))
