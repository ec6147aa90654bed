"""Disqualifiers: facts that rule a lead out of sales whatever its fit, each with its reason."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from schemas.config import IcpConfig
from schemas.decision import Reason
from schemas.enrichment import CompanyFacts, Enrichment, Seniority
from schemas.lead import Lead
from services.core.fit import has_any, norm
from services.core.memo import per_config

_LINK = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_LEGAL = re.compile(
    r"\b(inc|incorporated|corp|corporation|co|company|llc|ltd|limited|gmbh|ag|sa|sl|sas|bv|nv|plc|group)\b"
)
# Used only when enrichment could not classify the title; both genders where languages have them.
_STUDENT_WORDS = (
    "student",
    "studentin",
    "werkstudent",
    "werkstudentin",
    "estudiante",
    "etudiant",
    "etudiante",
    "stagiaire",
    "intern",
    "praktikant",
    "praktikantin",
    "becario",
    "becaria",
)
_SEEKER_WORDS = ("looking for", "open to work", "seeking", "job seeker", "unemployed")
_MASH = ("asdf", "qwer", "zxcv", "hjkl", "test test")


_DIGIT = re.compile(r"\d")
_NOT_LATIN = re.compile(r"[^a-zß-ÿ]")
_VOWEL = re.compile(r"[aeiouyà-ÿ]")
_CONSONANTS = re.compile(r"[bcdfghjklmnpqrstvwxz]{7,}")
_REPEAT = re.compile(r"(.)\1{3,}")


@functools.lru_cache(maxsize=65_536)
def gibberish(name: str) -> bool:
    """A name nobody has: keyboard mash, digits, a word without vowels, or consonant runs no
    language writes (real names reach 6, as in Mkrtchyan), or one letter four times in a row."""
    text = name.strip().lower()
    if any(m in text for m in _MASH) or _DIGIT.search(text):
        return True
    words = [_NOT_LATIN.sub("", w) for w in text.split()]
    words = [w for w in words if w]
    if not words:
        return False  # another script (Chinese, Cyrillic, Greek): nothing here to judge it by
    return any(
        (len(w) >= 4 and not _VOWEL.search(w)) or _CONSONANTS.search(w) or _REPEAT.search(w) for w in words
    )


@dataclass(frozen=True, slots=True)
class _Names:
    """Exclusion entries prepared once: domains to match with their subdomains, bare names."""

    domains: tuple[tuple[str, str], ...]  # (entry, ".entry")
    names: dict[str, str]  # bare name -> entry


def _names(entries: tuple[str, ...]) -> _Names:
    domains = tuple((e, "." + e) for e in entries if "." in e)
    names: dict[str, str] = {}
    for entry in entries:
        names.setdefault(_bare(entry), entry)
    names.pop("", None)
    return _Names(domains, names)


@per_config
def _exclusions(icp: IcpConfig) -> tuple[_Names, _Names]:
    return _names(icp.exclusions.competitors), _names(icp.exclusions.customers)


def _named(company: CompanyFacts, entries: _Names) -> str | None:
    """The exclusion entry that names this company, by domain or whole name."""
    domain = _domain(company.domain)
    if domain:
        for entry, dotted in entries.domains:
            if domain == entry or domain.endswith(dotted):
                return entry
    return entries.names.get(_bare(company.name)) if company.name else None


@functools.lru_cache(maxsize=65_536)
def _domain(domain: str | None) -> str:
    return (domain or "").lower().removeprefix("www.")


@functools.lru_cache(maxsize=65_536)
def _bare(name: str | None) -> str:
    """A company name without its legal form: "RouteFleet, Inc." -> "routefleet"."""
    return " ".join(_LEGAL.sub(" ", norm(name)).split())


@functools.lru_cache(maxsize=65_536)
def _title_words(title: str | None) -> tuple[bool, bool]:
    """Whether the title's words say student, and whether they say job seeker."""
    text = norm(title)
    return has_any(text, _STUDENT_WORDS), has_any(text, _SEEKER_WORDS)


def _dq(kind: str, text: str) -> Reason:
    return Reason(factor=f"disqualifier:{kind}", direction="negative", text=text)


def disqualifiers(
    lead: Lead, enrichment: Enrichment | None, company: CompanyFacts, icp: IcpConfig
) -> list[Reason]:
    rules = icp.disqualifiers
    found: list[Reason] = []
    email, title = (enrichment.email, enrichment.title) if enrichment else (None, None)
    if rules.disposable_email and email is not None and email.disposable:
        found.append(_dq("disposable_email", f"disposable email domain ({email.domain})"))
    if rules.do_not_contact and lead.consent.contact is False:
        found.append(_dq("do_not_contact", "asked not to be contacted"))
    student_words, seeker_words = _title_words(lead.person.title)
    student = (title is not None and title.seniority is Seniority.STUDENT) or student_words
    if rules.students and student:
        found.append(_dq("student", f"a student or intern ('{lead.person.title}')"))
    seeker = (title is not None and title.job_seeker) or seeker_words
    if rules.job_seekers and seeker:
        found.append(_dq("job_seeker", "looking for a job, not a product"))
    name = lead.person.name
    if rules.gibberish_names and name and gibberish(name):
        found.append(_dq("spam", "the name looks made up (form spam)"))
    links = len(_LINK.findall(lead.message)) if lead.message else 0
    if links > rules.max_links_in_message:
        found.append(_dq("spam", f"the message carries {links} links (link stuffing)"))
    competitor = _named(company, _exclusions(icp)[0]) if rules.competitors else None
    if competitor:
        found.append(_dq("competitor", f"works for a competitor ({competitor})"))
    return found


def is_customer(company: CompanyFacts, enrichment: Enrichment | None, icp: IcpConfig) -> bool:
    account = enrichment.account if enrichment else None
    return bool((account is not None and account.customer) or _named(company, _exclusions(icp)[1]))
