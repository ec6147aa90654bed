"""Seniority, function and job-seeking from a job title, in English, Spanish, French and German.

Rules are regular expressions over the accent-folded, lower-cased title, matched on word
boundaries. Seniority rules are ordered and the first match wins, which is how "Assistant to the
VP" stays an assistant and "Vice President" is not read as "President". German compounds
("Vertriebsleiter", "Lagerleiterin") are matched by word suffix or prefix, since they are one word.
"""

from __future__ import annotations

import re
import unicodedata

from schemas.enrichment import Enrichment, JobFunction, Patch, Seniority, TitleFacts
from schemas.lead import Lead

# Upper-case "IT"/"TI" is the department; lower-case "it" in free text is a pronoun.
_IT_ABBREVIATION = re.compile(r"\b(?:IT|TI|EDV)\b")


def fold(title: str) -> str:
    """``Geschäftsführerin (m/w/d)`` -> ``geschaftsfuhrerin m w d``: what the rules read."""
    text = _IT_ABBREVIATION.sub(" information technology ", title.replace("ß", "ss"))
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


S = Seniority
_SENIORITY: tuple[tuple[re.Pattern[str], Seniority], ...] = (
    # A past role, or assisting a senior person: the senior word is there, the seniority is not.
    (_rx("former|ex|retired|ancien(?:ne)?|antigu[oa]|ehemalige[rn]?"), S.UNKNOWN),
    (
        _rx(
            "assistant(?:e)? (?:to|of|de|du|des|a)|(?:executive|personal|administrative) assistant",
            "asistente|assistenz|assistent(?:in)? (?:der|des)|secretar(?:y|ia|io)|sekretar(?:in)?",
            "secretaire|product owner|process owner",
        ),
        S.INDIVIDUAL,
    ),
    (_rx("chief of staff"), S.MANAGER),
    (
        _rx(
            "(?:werk)?student(?:in|e)?|estudiante|etudiant(?:e)?|alumn[oa]|intern|internship",
            "praktikant(?:in)?|stagiaire|becari[oa]|auszubildende[r]?|azubi|apprenti(?:e)?",
            "alternant(?:e)?|undergraduate|graduate student|(?:phd|doctoral) (?:student|candidate)",
        ),
        S.STUDENT,
    ),
    (
        _rx(
            "vice ?president(?:e|a)?|vize ?prasident(?:in)?|[aes]?vp",
            "deputy (?:ceo|managing director|general manager)",
            "stellvertretende[r]? (?:geschaftsfuhrer(?:in)?|vorstand\\w*)",
        ),
        S.VP,
    ),
    (
        _rx(
            "ceo|cfo|coo|cto|cio|cmo|cro|cso|cdo|cpo|cco|cao|chro|ciso|cxo|chief",
            "(?:co ?)?founder|(?:co)?fundador(?:a)?|(?:co)?fondat(?:eur|rice)|(?:mit)?grunder(?:in)?",
            "(?:co )?owner|propietari[oa]|duen[oa]|proprietaire|inhaber(?:in)?",
            "managing (?:director|partner)|general manager|gerente general|director(?:a)? general",
            "direct(?:eur|rice) general(?:e)?|pdg|geschaftsfuhrer(?:in)?|vorstand\\w*",
            "geschaftsfuhrende[r]? gesellschafter(?:in)?|consejer[oa] delegad[oa]",
            "presiden(?:t|te|ta)|prasident(?:in)?|chair(?:man|woman|person)?",
        ),
        S.C_LEVEL,
    ),
    (
        _rx(
            "team ?leiter(?:in)?|(?:gruppen|projekt|schicht)leiter(?:in)?|team ?lead(?:er)?",
            "jef[ea] de (?:equipo|turno|proyecto)|chef (?:de|d) (?:projet|equipe|quai|groupe)",
        ),
        S.MANAGER,
    ),
    (_rx("head|jef[ea]|\\w*leiter(?:in)?|leitung"), S.HEAD),
    (_rx("director(?:a|es)?|directeur|directrice|direktor(?:in)?|dir|daf|dsi|drh"), S.DIRECTOR),
    # Sellers who own accounts, not people: "Key Account Manager" is an individual contributor.
    (_rx("(?:key )?account (?:manager|executive)"), S.INDIVIDUAL),
    (
        _rx(
            "manager(?:in)?|mgr|gerente|supervisor(?:a|in)?|responsable|encargad[oa]",
            "superintendent|foreman|chef (?:de|d|du|des)",
        ),
        S.MANAGER,
    ),
    (
        _rx(
            "senior|junior|sr|jr|staff|trainee",
            "analyst|analista|analyste",
            "engineer|ingenier[oa]|ingenieur(?:in)?",
            "developer|desarrollador(?:a)?|developpeu(?:r|se)|entwickler(?:in)?",
            "specialist|especialista|specialiste|spezialist(?:in)?",
            "coordinat(?:or|eur|rice)|coordinador(?:a)?|koordinator(?:in)?",
            "associate|representative|rep|agent(?:e)?|officer|clerk|employee|empleado|employe(?:e)?",
            "consultant(?:e)?|consultor(?:a)?|berater(?:in)?|asesor(?:a)?",
            "accountant|contable|comptable|buchhalter(?:in)?|controller",
            "planner|planificador(?:a)?|dispatcher|disponent(?:in)?",
            "buyer|comprador(?:a)?|acheteu(?:r|se)|einkaufer(?:in)?",
            "technician|tecnic[oa]|technicien(?:ne)?|techniker(?:in)?",
            "administrat(?:or|ive)|administrativ[oa]|auxiliar|gestionnaire|charge(?:e)? (?:de|d)",
            "sachbearbeiter(?:in)?|referent(?:in)?|mitarbeiter(?:in)?|kauf(?:mann|frau)",
            "operator|operari[oa]|driver|conductor(?:a)?|chauffeur|fahrer(?:in)?",
            "designer|recruiter|scientist|comercial|commercial(?:e)?|vendedor(?:a)?|ejecutiv[oa]",
            "assistant(?:e)?|assistent(?:in)?",
        ),
        S.INDIVIDUAL,
    ),
)

F = JobFunction
# The function whose word comes first in the title wins ("Sales Operations" is sales).
_FUNCTIONS: tuple[tuple[re.Pattern[str], JobFunction], ...] = (
    (
        _rx(
            "information technology|information systems?|systemes (?:d )?information|informati(?:ca|que|k)",
            "cio|ciso|chief information|sistemas|dsi|sysadmin|system administrator|helpdesk",
            "infrastructure|infraestructura|network",
        ),
        F.IT,
    ),
    (
        _rx(
            "cto|chief technology|chief technical|technolog\\w*|tecnolog\\w*|techni\\w*|tecnic\\w*",
            "engineer\\w*|ingenier\\w*|ingenieur\\w*|software\\w*|developer|desarrollador\\w*",
            "developpeu\\w*|entwickl\\w*|devops|r d|i d",
        ),
        F.ENGINEERING,
    ),
    (
        _rx(
            "cfo|daf|chief financial|financ\\w*|finanz\\w*|controll\\w*|comptroller|treasur\\w*",
            "tesorer\\w*|tresorerie|accounting|accountant|accounts (?:payable|receivable)",
            "contab\\w*|contable|comptab\\w*|buchhalt\\w*|rechnungswesen|billing|facturac\\w*",
            "facturation|kaufmannische[r]?|audit\\w*|tax|fiscal",
        ),
        F.FINANCE,
    ),
    (
        _rx(
            "coo|chief operating|operat\\w*|ops|operac\\w*|exploitation|betrieb\\w*|\\w*logisti\\w*",
            "supply chain|cadena de suministro|chaine (?:d )?approvisionnement|approvisionnement",
            "lieferkette|fleet|flota|flotte|fuhrpark\\w*|warehous\\w*|almacen\\w*|entrepot\\w*",
            "lager\\w*|transport\\w*|dispatch\\w*|disposition|disponent\\w*|procurement|purchas\\w*|compras|achats?",
            "einkauf\\w*|shipping|freight|distribution|distribucion|production|produccion",
            "produktion\\w*|manufactur\\w*|fabricacion|fertigung\\w*|plant|planta|usine",
            "quality|calidad|qualite|qualitat\\w*|depot|customs|aduanas?|douanes?|zoll",
        ),
        F.OPERATIONS,
    ),
    (
        _rx(
            "cro|chief revenue|chief commercial|chief sales|sales|ventas?|ventes?|verkauf\\w*",
            "vertrieb\\w*|commercial\\w*|comercial\\w*|business development|desarrollo de negocio\\w*",
            "geschaftsentwicklung|account (?:executive|manager|director)|key account\\w*|sdr|bdr",
            "revenue|aussendienst\\w*|innendienst\\w*|partnerships?|channel|ejecutiv[oa] de cuentas",
            "charge(?:e)? d affaires|customer success",
        ),
        F.SALES,
    ),
    (
        _rx(
            "cmo|chief marketing|marketing|mercadotecnia|growth|brand\\w*|marca|marque",
            "communications?|comunicaci\\w*|kommunikation\\w*|content|seo|sem|demand gen\\w*",
            "public relations|relaciones publicas|publicidad|publicite|advertising|werbung",
            "social media",
        ),
        F.MARKETING,
    ),
    (
        _rx(
            "chro|chief people|chief human|human resources|hr|rrhh|rh|drh|recursos humanos",
            "ressources humaines|personal(?:abteilung|leiter(?:in)?|referent(?:in)?|wesen)?(?! assistant)",
            "people|talent\\w*|recruit\\w*|recrut\\w*|reclutamiento|seleccion|staffing|payroll",
            "nominas?|paie|workforce|capital humano",
        ),
        F.HR,
    ),
)
# Top executives buy for every function: CEO, founder, owner, president, managing director.
_EXECUTIVE = _rx(
    "ceo|chief executive|(?:co ?)?founder|(?:co)?fundador(?:a)?|(?:co)?fondat(?:eur|rice)",
    "(?:mit)?grunder(?:in)?|(?:co )?owner|propietari[oa]|duen[oa]|proprietaire|inhaber(?:in)?",
    "managing (?:director|partner)|general manager|gerente general|director(?:a)? general",
    "direct(?:eur|rice) general(?:e)?|pdg|geschaftsfuhre\\w*|vorstand\\w*|consejer[oa] delegad[oa]",
    "presiden(?:t|te|ta)|prasident(?:in)?|chair(?:man|woman|person)?",
)
_JOB_SEEKER = _rx(
    "looking for|open to (?:work|new|opportunit\\w*)|seeking|job ?seeker|job hunting|in transition",
    "between (?:jobs|roles)|available (?:for|immediately)|unemployed",
    "en busqueda|busco|buscando|desemplead[oa]|en recherche|a la recherche|demandeu(?:r|se) d emploi",
    "recherche (?:d )?(?:emploi|poste|un|une|opportunit\\w*)|sans emploi",
    "auf (?:jobsuche|der suche)|jobsuche\\w*|arbeitssuchend\\w*|arbeitslos\\w*",
    "offen fur neue\\w*",
)


def seniority(text: str) -> Seniority | None:
    """The first matching rule's seniority, on folded text; None when no rule matches."""
    return next((level for rule, level in _SENIORITY if rule.search(text)), None)


def function(text: str) -> JobFunction | None:
    """The function named earliest in the folded text; None when none is named."""
    found = [(m.start(), i, f) for i, (rule, f) in enumerate(_FUNCTIONS) if (m := rule.search(text))]
    return min(found)[2] if found else None


def classify_title(title: str | None) -> TitleFacts:
    """Seniority, function and job-seeking for one title; unknown/other when nothing is recognised."""
    text = fold(title or "")
    level, named = seniority(text), function(text)
    if level is None:
        level = S.INDIVIDUAL if named else S.UNKNOWN  # "Logistics Planner": a doer in a known function
    if level is S.C_LEVEL and (_EXECUTIVE.search(text) or named is None):
        named = F.EXECUTIVE  # "Founder & CTO" buys for the company, not for one department
    return TitleFacts(seniority=level, function=named or F.OTHER, job_seeker=bool(_JOB_SEEKER.search(text)))


class TitleProvider:
    """Title facts from the lead's own title: free, local, and sure enough for rules (0.9)."""

    fills = frozenset({"title"})
    in_memory = True  # answers without waiting (see Provider)

    def __init__(self, *, name: str = "title", cost_per_call: float = 0.0, confidence: float = 0.9) -> None:
        self.name, self.cost_per_call, self.confidence = name, cost_per_call, confidence

    def key(self, lead: Lead, so_far: Enrichment) -> str | None:
        text = fold(lead.person.title or "")
        return text or None

    async def lookup(self, lead: Lead, so_far: Enrichment) -> Patch | None:
        facts = classify_title(lead.person.title)
        if facts == TitleFacts():
            return None  # a title we cannot read says nothing: leave it unknown, not guessed
        return Patch(values={"title": facts}, confidence=self.confidence)
