"""The feature spec: how a lead's values become the model's numbers."""

from __future__ import annotations

import math

from schemas.lead import Lead
from services.model.features import FeatureSpec, build_spec, describe, encode


def lead(channel: str | None) -> Lead:
    attributes = {} if channel is None else {"channel": channel}
    return Lead.model_validate({"source_record_id": "r1", "attributes": attributes})


def spec() -> FeatureSpec:
    leads = [lead("Ads")] * 3 + [lead("seo")] * 3 + [lead("fair")] + [lead(None)] * 2
    return build_spec(leads, {"channel": "attributes.channel"}, {"channel": "categorical"})


def test_known_rare_and_absent_values_get_three_different_codes() -> None:
    s = spec()
    assert s.features[0].categories == ("ads", "seo")  # "fair" seen once: too rare to learn
    assert s.missing_as_category
    codes = [encode(lead(v), s)[0] for v in ("ADS ", "seo", "fair", "never seen", None)]
    assert codes == [0.0, 1.0, 2.0, 2.0, 3.0]  # absent is not "other": it is a signal of its own
    feature = s.features[0]
    assert [describe(feature, c) for c in (0.0, 2.0, 3.0)] == [
        "channel is 'ads'",
        "channel is 'a rare value'",
        "channel not given",
    ]


def test_a_spec_saved_before_the_not_given_code_still_encodes_absent_as_nan() -> None:
    old = FeatureSpec.model_validate_json(spec().model_dump_json(exclude={"missing_as_category"}))
    assert not old.missing_as_category
    assert math.isnan(encode(lead(None), old)[0])
    assert describe(old.features[0], math.nan) == "channel not given"
