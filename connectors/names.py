"""Company names as account lookups compare them: pure text, shared by the enrichment that
looks accounts up and the local CRM that stores each record's key, so both sides agree.

Changing ``normalise_name`` changes the keys already stored in ``crm_records.company_key``:
ship a migration that recomputes them with it (as revision 0005 first filled them)."""

from __future__ import annotations

import re
import unicodedata

# Trailing words that say what kind of legal entity, not which company.
LEGAL_SUFFIXES = frozenset({
    "inc", "incorporated", "corp", "corporation", "co", "company", "companies", "cos", "llc",
    "llp", "lp", "ltd", "limited", "plc", "gmbh", "ag", "kg", "kgaa", "ug", "mbh", "sa", "sl",
    "slu", "sas", "sarl", "srl", "spa", "bv", "nv", "ab", "as", "oy", "pty", "group", "grupo",
    "groupe", "gruppe", "holding", "holdings", "com",
})  # fmt: skip
_APOSTROPHES = re.compile("['`\u2019\u00b4]")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalise_name(name: str | None) -> str:
    """``"The Lowe's Companies, Inc."`` -> ``"lowes"``; ``"J.P. Morgan S.A."`` -> ``"jp morgan"``."""
    text = unicodedata.normalize("NFKD", _APOSTROPHES.sub("", name or "").replace("&", " and "))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    tokens = [t for t in _NON_WORD.sub(" ", text).split() if t != "and"]
    merged: list[str] = []
    for token in tokens:  # initials: "j p morgan" -> "jp morgan", "s a" -> "sa"
        if len(token) == 1 and merged and len(merged[-1]) <= 2 and merged[-1].isalpha() and token.isalpha():
            merged[-1] += token
        else:
            merged.append(token)
    if merged[:1] == ["the"] and len(merged) > 1:
        merged = merged[1:]
    core = list(merged)
    while len(core) > 1 and core[-1] in LEGAL_SUFFIXES:
        core.pop()
    return " ".join(core)
