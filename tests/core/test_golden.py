"""The golden set (tests/core/golden.py) judged by evaluate() under the demo config."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.config import IcpConfig
from schemas.enrichment import Enrichment
from schemas.lead import Lead
from services.config import load_config
from services.core.classify import evaluate
from tests.core.golden import CASES, NOW, Case

CONFIG_DIR = Path(__file__).resolve().parents[2] / "deploy" / "config"
ICP: IcpConfig = load_config(CONFIG_DIR).icp


def _param(case: Case) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.id, marks=marks)


def test_the_golden_set_is_big_enough_and_ids_are_unique() -> None:
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)
    assert all(1 <= len(case.phrases) <= 3 for case in CASES)


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_golden(case: Case) -> None:
    lead = Lead.model_validate(case.lead)
    enrichment = Enrichment.model_validate(case.enrichment) if case.enrichment is not None else None

    result = evaluate(lead, enrichment, ICP, NOW)

    reasons = "\n".join(result.reasons)
    decided = (result.status.value, result.tier, result.icp.status.value, result.persona.status.value)
    assert decided == (case.status, case.tier, case.icp, case.persona), reasons
    assert result.customer is case.customer, reasons
    for phrase in case.phrases:
        assert phrase in reasons
