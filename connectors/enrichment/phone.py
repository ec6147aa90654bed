"""Phone facts with phonenumbers (libphonenumber's metadata): E.164, country, validity.

A national number ("612 345 678") only parses with a default region. The company's country is
the best guess for it (a lead's phone is usually the office's), then the country the lead gave.
"""

from __future__ import annotations

import phonenumbers

from schemas.enrichment import Enrichment, Patch, PhoneFacts
from schemas.lead import Lead, pii_hash


def phone_facts(raw: str, default_region: str | None = None) -> PhoneFacts:
    """Parse one number; invalid or unparseable numbers are facts too (valid=False)."""
    region = (default_region or "").strip().upper() or None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return PhoneFacts(valid=False)
    if not phonenumbers.is_possible_number(number):
        return PhoneFacts(valid=False)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    country = phonenumbers.region_code_for_number(number)
    return PhoneFacts(
        valid=phonenumbers.is_valid_number(number),
        e164=e164,
        country=country if country and country != "ZZ" else None,
    )


def default_region(lead: Lead, so_far: Enrichment) -> str | None:
    return so_far.company.country or lead.company.country


class PhoneProvider:
    fills = frozenset({"phone"})
    in_memory = True  # answers without waiting (see Provider)

    def __init__(self, *, name: str = "phone", cost_per_call: float = 0.0, confidence: float = 1.0) -> None:
        self.name, self.cost_per_call, self.confidence = name, cost_per_call, confidence

    def key(self, lead: Lead, so_far: Enrichment) -> str | None:
        if not lead.person.phone:
            return None
        # Hashed: the cache never holds the number itself.
        return f"{pii_hash(lead.person.phone)}@{default_region(lead, so_far) or ''}"

    async def lookup(self, lead: Lead, so_far: Enrichment) -> Patch | None:
        if not lead.person.phone:
            return None
        facts = phone_facts(lead.person.phone, default_region(lead, so_far))
        return Patch(values={"phone": facts}, confidence=self.confidence)
