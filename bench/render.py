"""Render rate of the sandboxed template engine against plain Jinja2, same templates, same run.

    python bench/render.py [--quick] [--json] [--renders N]

Both engines render every bundled template (each channel, each language) with the same sample
variables and the same Babel filters, one thread, templates compiled beforehand. The sandboxed
path is the production one: guards, output cap, time budget and watchdog included. Also timed:
``render_source`` end to end (variables validated from JSON each call). The last line with
--json is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from jinja2 import Environment, StrictUndefined, Template

from tidings.templates.bundled import BUNDLED_DIR, read_bundled
from tidings.templates.contract import PREVIEW_TIME_ZONES
from tidings.templates.formatting import LOCALE_FILTERS
from tidings.templates.render import render_source
from tidings.templates.samples import sample_variables
from tidings.templates.sandbox import compile_template, render_compiled
from tidings.templates.state import CURRENT, RenderState
from tidings.templates.variables import Record, parse_variables, to_context

TEST_DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "templates"


def _cases() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(source, language, JSON variables, render context) for every bundled template text."""
    templates, _ = read_bundled(BUNDLED_DIR)
    if not templates:  # before the bundled copy exists, the tests' own file
        templates, _ = read_bundled(TEST_DATA)
    cases = []
    for template in templates:
        variables = sample_variables(template.event, template.language, channel=template.channel)
        context = to_context(parse_variables(variables))
        for source in filter(None, (template.body, template.subject)):
            cases.append((source, template.language, variables, context))
    return cases


def _plain_objects(value: Any) -> Any:
    """Records as SimpleNamespace: the fastest plain objects Jinja reads attributes from."""
    if isinstance(value, Record):
        return SimpleNamespace(**{k: _plain_objects(v) for k, v in value._fields.items()})
    if isinstance(value, tuple):
        return tuple(_plain_objects(item) for item in value)
    return value


def _rate(renders: int, render: Callable[[int], object]) -> float:
    started = time.perf_counter()
    for index in range(renders):
        render(index)
    return renders / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 renders instead of 50,000")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    parser.add_argument("--renders", type=int, default=None)
    args = parser.parse_args()
    renders = args.renders or (5_000 if args.quick else 50_000)
    cases = _cases()

    sandboxed = [(compile_template(src), lang, ctx) for src, lang, _, ctx in cases]
    plain_env = Environment(undefined=StrictUndefined, autoescape=False)  # noqa: S701 - text, not HTML
    plain_env.filters.update(LOCALE_FILTERS)
    plain: list[tuple[Template, dict[str, Any]]] = [
        (plain_env.from_string(src), {k: _plain_objects(v) for k, v in ctx.items()})
        for src, _, _, ctx in cases
    ]
    n = len(cases)

    def render_sandboxed(i: int) -> str:
        template, language, context = sandboxed[i % n]
        return render_compiled(
            template, context, language=language, time_zone=PREVIEW_TIME_ZONES[language]
        )

    def render_plain(i: int) -> str:
        template, context = plain[i % n]
        language = cases[i % n][1]
        # The same Babel filters read the locale from the render state, as in the sandbox.
        token = CURRENT.set(
            RenderState(language=language, time_zone=PREVIEW_TIME_ZONES[language], budget_s=1)
        )
        try:
            return template.render(context)
        finally:
            CURRENT.reset(token)

    def render_end_to_end(i: int) -> str:
        source, language, variables, _ = cases[i % n]
        return render_source(
            source, language=language, time_zone=PREVIEW_TIME_ZONES[language], variables=variables
        )

    for render in (render_sandboxed, render_plain):  # warm caches (Babel, compiled code)
        _rate(min(n * 2, renders), render)
    # Alternate the engines over several rounds and keep each one's best round: other work on
    # the machine then slows both alike instead of whichever happened to run at the time.
    rounds, per_round = 5, max(renders // 5, 1)
    plain_rate = sandbox_rate = end_to_end_rate = 0.0
    for _ in range(rounds):
        plain_rate = max(plain_rate, _rate(per_round, render_plain))
        sandbox_rate = max(sandbox_rate, _rate(per_round, render_sandboxed))
        end_to_end_rate = max(end_to_end_rate, _rate(max(per_round // 5, 1), render_end_to_end))
    figures = {
        "templates": n,
        "renders": renders,
        "sandboxed_per_s": round(sandbox_rate),
        "plain_jinja2_per_s": round(plain_rate),
        "sandboxed_vs_plain": round(sandbox_rate / plain_rate, 3),
        "render_source_per_s": round(end_to_end_rate),
        "target_per_s": 20_000,
        "meets_target": sandbox_rate >= 20_000,
    }
    if not args.json:
        for key, value in figures.items():
            print(f"{key:>20}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
