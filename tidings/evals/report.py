"""Eval reports: the JSON file, the HTML page (confusion heat map, coverage curve), comparisons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).resolve().parent / "templates"
CURVE_W, CURVE_H = 520, 300


def write_json(report: dict[str, Any], path: Path) -> None:
    """The machine-readable report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))


def _heat(count: int, row_total: int, diagonal: bool) -> str:
    """A background colour: green shades on the diagonal, red off it, by share of the row."""
    if not count or not row_total:
        return "#ffffff"
    share = count / row_total
    light = int(95 - 55 * share)
    hue = 130 if diagonal else 0
    return f"hsl({hue}, 60%, {light}%)"


def _curve_points(curve: list[dict[str, float]]) -> str:
    """SVG polyline points: x = coverage, y = precision (0.5 at the bottom, 1.0 at the top)."""
    points = []
    for point in curve:
        x = 40 + point["coverage"] * (CURVE_W - 60)
        y = 20 + (1 - max(point["precision"], 0.5)) / 0.5 * (CURVE_H - 50)
        points.append(f"{x:.1f},{y:.1f}")
    return " ".join(points)


def write_html(report: dict[str, Any], path: Path, *, title: str) -> None:
    """A self-contained HTML page of the report."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    confusion = report["confusion"]
    cells = [
        [
            {"count": count, "colour": _heat(count, sum(row), confusion["rows"][i] == col)}
            for col, count in zip(confusion["columns"], row, strict=True)
        ]
        for i, row in enumerate(confusion["matrix"])
    ]
    target = report["coverage_at_precision"]["target_precision"]
    html = env.get_template("report.html").render(
        title=title,
        report=report,
        cells=cells,
        curve=_curve_points(report["coverage_at_precision"]["curve"]),
        target_y=20 + (1 - target) / 0.5 * (CURVE_H - 50),
        width=CURVE_W,
        height=CURVE_H,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")


GATING = ("accuracy", "macro_f1", "coverage", "silently_archived")


def compare(
    before: dict[str, Any], after: dict[str, Any], *, tolerance: float = 0.005
) -> list[dict[str, Any]]:
    """Every metric in both reports with its change; ``regressed`` when it fell beyond tolerance.
    ``gates`` marks the headline metrics a promotion is judged on; per-label and per-language
    rows inform (one email moves a small label's F1 by more than any sensible margin)."""
    rows: list[dict[str, Any]] = []

    def add(name: str, a: float | None, b: float | None, *, lower_is_better: bool = False) -> None:
        if a is None or b is None:
            return
        worse = b > a if lower_is_better else b < a - tolerance
        rows.append(
            {
                "metric": name,
                "before": a,
                "after": b,
                "delta": round(b - a, 4),
                "regressed": worse,
                "gates": name in GATING,
            }
        )

    add("accuracy", before["accuracy"], after["accuracy"])
    add("macro_f1", before["macro_f1"], after["macro_f1"])
    add(
        "coverage",
        before["coverage_at_precision"]["coverage"],
        after["coverage_at_precision"]["coverage"],
    )
    if "silently_archived" in before and "silently_archived" in after:
        add(
            "silently_archived",
            before["silently_archived"]["count"],
            after["silently_archived"]["count"],
            lower_is_better=True,  # any request lost that was not lost before is a regression
        )
    for label, stats in before["per_label"].items():
        add(f"f1[{label}]", stats["f1"], after["per_label"].get(label, {}).get("f1"))
    for lang, stats in before["per_language"].items():
        add(
            f"accuracy[{lang}]",
            stats["accuracy"],
            after["per_language"].get(lang, {}).get("accuracy"),
        )
    return rows


def gate_failures(rows: list[dict[str, Any]]) -> list[str]:
    """The headline metrics that regressed."""
    return [r["metric"] for r in rows if r["gates"] and r["regressed"]]
