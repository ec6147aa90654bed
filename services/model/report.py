"""The backtest as one HTML page readable offline: the figures, a calibration curve, a lift
chart and the tier mix, drawn with matplotlib (Agg) and embedded as base64 PNG."""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to memory only
import matplotlib.pyplot as plt
import numpy as np

from services.model.backtest import Backtest
from services.model.metrics import calibration_curve

PROBABILISTIC = ("model", "logistic", "naive_bayes")


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _calibration(bt: Backtest) -> str:
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    for name in PROBABILISTIC:
        curve = calibration_curve(bt.labels, bt.probabilities[name])
        ax.plot([c[0] for c in curve], [c[1] for c in curve], marker="o", label=name)
    ax.set(xlabel="predicted probability", ylabel="observed conversion rate", title="Calibration (10 bins)")
    ax.legend()
    return _png(fig)


def _lift(bt: Backtest) -> str:
    fig, ax = plt.subplots(figsize=(5, 4.5))
    total = max(bt.labels.sum(), 1)
    share = np.arange(1, len(bt.labels) + 1) / len(bt.labels)
    for name, p in bt.probabilities.items():
        order = np.argsort(-p, kind="stable")
        ax.plot(share, np.cumsum(bt.labels[order]) / total, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="random")
    ax.set(xlabel="share of leads, best scored first", ylabel="share of conversions captured", title="Lift")
    ax.legend()
    return _png(fig)


def _tiers(summary: dict[str, Any]) -> str:
    rows = summary["tiers"]
    names = [r["tier"] for r in rows]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(6, 4))
    for offset, key in ((-0.27, "share_of_leads"), (0, "conversion_rate"), (0.27, "share_of_conversions")):
        ax.bar(x + offset, [r[key] for r in rows], width=0.27, label=key.replace("_", " "))
    ax.set_xticks(x, names)
    ax.set(ylim=(0, 1), title="Tier mix")
    ax.legend()
    return _png(fig)


def render(bt: Backtest, title: str) -> str:
    s = bt.summary
    baseline_rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{v['auc']:.4f}</td></tr>" for name, v in s["baselines"].items()
    )
    tier_rows = "".join(
        f"<tr><td>{html.escape(t['tier'])}</td><td>{t['share_of_leads']:.1%}</td>"
        f"<td>{t['conversion_rate']:.1%}</td><td>{t['share_of_conversions']:.1%}</td></tr>"
        for t in s["tiers"]
    )
    m = s["model"]
    note = f"<p><b>The model did not decide:</b> {html.escape(bt.model_note)}</p>" if bt.model_note else ""
    images = "".join(
        f'<img alt="{alt}" src="data:image/png;base64,{data}">'
        for alt, data in (("calibration", _calibration(bt)), ("lift", _lift(bt)), ("tiers", _tiers(s)))
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Backtest: {html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}img{{margin:0.5em}}</style></head><body>
<h1>Backtest: {html.escape(title)}</h1>
<p>{s["rows"]:,} labelled rows, {s["test_rows"]:,} held out ({html.escape(bt.split)} split),
positive rate {s["positive_rate"]:.1%}. Model version {html.escape(bt.model_version or "none")}.</p>
{note}
<h2>Model (held-out part, through the production decision)</h2>
<table><tr><th>AUC</th><th>PR-AUC</th><th>Brier</th><th>ECE (10 bins)</th></tr>
<tr><td>{m["auc"]:.4f}</td><td>{m["pr_auc"]:.4f}</td><td>{m["brier"]:.4f}</td><td>{m["ece"]:.4f}</td></tr></table>
<h2>Baselines (same run, same split)</h2><table><tr><th>baseline</th><th>AUC</th></tr>{baseline_rows}</table>
<h2>Tiers</h2><table><tr><th>tier</th><th>share of leads</th><th>conversion rate</th>
<th>share of conversions</th></tr>{tier_rows}</table>
{images}
</body></html>
"""
