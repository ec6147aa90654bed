"""Title classification: a table of real-world titles in English, Spanish, French and German."""

from __future__ import annotations

import pytest

from connectors.enrichment import Waterfall
from connectors.enrichment.title import TitleProvider, classify_title, fold
from schemas.enrichment import JobFunction, Seniority, TitleFacts
from schemas.lead import Lead

C, VP, HEAD, DIR = Seniority.C_LEVEL, Seniority.VP, Seniority.HEAD, Seniority.DIRECTOR
MGR, IC, STU, UNK = Seniority.MANAGER, Seniority.INDIVIDUAL, Seniority.STUDENT, Seniority.UNKNOWN
OPS, IT, FIN, SALES = JobFunction.OPERATIONS, JobFunction.IT, JobFunction.FINANCE, JobFunction.SALES
MKT, HR, ENG, EXE, OTHER = (
    JobFunction.MARKETING,
    JobFunction.HR,
    JobFunction.ENGINEERING,
    JobFunction.EXECUTIVE,
    JobFunction.OTHER,
)

TITLES = [
    # English
    ("CEO", C, EXE),
    ("Founder & CEO", C, EXE),
    ("Co-Founder", C, EXE),
    ("Owner", C, EXE),
    ("Managing Director", C, EXE),
    ("President", C, EXE),
    ("CFO", C, FIN),
    ("Chief Financial Officer", C, FIN),
    ("COO", C, OPS),
    ("Chief Operating Officer", C, OPS),
    ("CTO", C, ENG),
    ("Chief Information Officer", C, IT),
    ("Vice President of Operations", VP, OPS),
    ("SVP, Supply Chain", VP, OPS),
    ("VP Finance", VP, FIN),
    ("Assistant to the VP", IC, OTHER),
    ("Executive Assistant to the CEO", IC, OTHER),
    ("Head of Logistics", HEAD, OPS),
    ("Head of IT", HEAD, IT),
    ("Director of Fleet Operations", DIR, OPS),
    ("Finance Director", DIR, FIN),
    ("Operations Manager", MGR, OPS),
    ("Warehouse Supervisor", MGR, OPS),
    ("Sales Operations Manager", MGR, SALES),
    ("Key Account Manager", IC, SALES),
    ("HR Business Partner", IC, HR),
    ("Senior Software Engineer", IC, ENG),
    ("Logistics Planner", IC, OPS),
    ("Billing Specialist", IC, FIN),
    ("Marketing Intern", STU, MKT),
    ("Student", STU, OTHER),
    ("Product Owner", IC, OTHER),
    # Spanish
    ("Directora de Operaciones", DIR, OPS),
    ("Director Financiero", DIR, FIN),
    ("Director General", C, EXE),
    ("Consejero Delegado", C, EXE),
    ("Fundadora", C, EXE),
    ("Jefe de compras", HEAD, OPS),
    ("Jefa de Almacén", HEAD, OPS),
    ("Gerente de Logística", MGR, OPS),
    ("Responsable de Recursos Humanos", MGR, HR),
    ("Analista de Finanzas", IC, FIN),
    ("Vicepresidenta de Ventas", VP, SALES),
    ("Estudiante", STU, OTHER),
    ("Becario de Marketing", STU, MKT),
    # French
    ("Président Directeur Général", C, EXE),
    ("PDG", C, EXE),
    ("Directeur financier", DIR, FIN),
    ("Directrice des Systèmes d'Information", DIR, IT),
    ("Directeur commercial", DIR, SALES),
    ("Responsable logistique", MGR, OPS),
    ("Responsable des achats", MGR, OPS),
    ("Chef de projet informatique", MGR, IT),
    ("Comptable", IC, FIN),
    ("Stagiaire", STU, OTHER),
    ("Étudiante en logistique", STU, OPS),
    # German
    ("Geschäftsführer", C, EXE),
    ("Geschäftsführerin (m/w/d)", C, EXE),
    ("Inhaber", C, EXE),
    ("Leiter Logistik", HEAD, OPS),
    ("Vertriebsleiterin", HEAD, SALES),
    ("Kaufmännischer Leiter", HEAD, FIN),
    ("Personalleiter", HEAD, HR),
    ("Teamleiter Disposition", MGR, OPS),
    ("IT-Leiter", HEAD, IT),
    ("Einkäufer", IC, OPS),
    ("Werkstudent Logistik", STU, OPS),
    ("Praktikant", STU, OTHER),
    ("Praktikantin Marketing", STU, MKT),
]


@pytest.mark.parametrize(("title", "seniority", "function"), TITLES, ids=[t for t, _, _ in TITLES])
def test_titles(title: str, seniority: Seniority, function: JobFunction) -> None:
    facts = classify_title(title)
    assert (facts.seniority, facts.function) == (seniority, function)
    assert not facts.job_seeker


def test_the_table_covers_enough_titles() -> None:
    assert len(TITLES) >= 40


@pytest.mark.parametrize(
    "title",
    [
        "Open to work",
        "Looking for new opportunities in logistics",
        "Seeking a role in supply chain",
        "En búsqueda de empleo",
        "Desempleado",
        "À la recherche d'un poste",
        "Auf Jobsuche",
        "Ex-CFO | open to work",
    ],
)
def test_job_seekers(title: str) -> None:
    assert classify_title(title).job_seeker


def test_a_former_role_is_not_a_current_seniority() -> None:
    assert classify_title("Ex-CFO | open to work").seniority is Seniority.UNKNOWN


@pytest.mark.parametrize("title", [None, "", "Rockstar Ninja", "-"])
def test_unreadable_titles_are_unknown_not_guessed(title: str | None) -> None:
    assert classify_title(title) == TitleFacts()


def test_folding_strips_accents_and_keeps_it_the_department_not_the_pronoun() -> None:
    assert fold("Geschäftsführer Straße") == "geschaftsfuhrer strasse"
    assert "information technology" in fold("Head of IT")
    assert classify_title("Make it happen").function is JobFunction.OTHER


async def test_the_provider_fills_title_facts_and_skips_leads_without_a_title() -> None:
    waterfall = Waterfall([TitleProvider()])
    enrichment = await waterfall.enrich(Lead(email="a@b.example", title="Directora de Operaciones"))
    assert enrichment.title == TitleFacts(seniority=Seniority.DIRECTOR, function=JobFunction.OPERATIONS)
    assert enrichment.provenance["title"].confidence == 0.9
    nothing = await waterfall.enrich(Lead(email="a@b.example"))
    assert nothing.title is None and nothing.calls[0].outcome == "skipped"
    unreadable = await waterfall.enrich(Lead(email="a@b.example", title="Rockstar Ninja"))
    assert unreadable.title is None and unreadable.calls[0].outcome == "empty"
