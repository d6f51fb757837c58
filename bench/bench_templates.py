"""What metering costs a contract template: the default template rendered with jinja's plain
immutable sandbox and with ours (every loop step, filter, access, call and operator metered),
on the sample contract and on the worst-case one (the longest schedule and fields); and the
CPU cost of one metered step, from loops that run into the step bound.

Run: .venv/bin/python bench/bench_templates.py   (prints medians; never asserts on time)
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_ms
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from chalicelib.contracts.budget import MAX_STEPS
from chalicelib.contracts.context import sample_context, worst_case_context
from chalicelib.contracts.sandbox import TemplateProblem, render
from chalicelib.services.contracts import default_source

REPEATS = 21
STEP_LOOPS = {
    "plain loop": "{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
    "attribute access": "{% for a in s %}{% for b in s %}{% if loan.term %}{% endif %}"
                        "{% endfor %}{% endfor %}",
    "filter": "{% for a in s %}{% for b in s %}{% if b|upper %}{% endif %}{% endfor %}"
              "{% endfor %}",
    "call (loop.cycle)": "{% for a in s %}{% for b in s %}{% if loop.cycle(1) %}{% endif %}"
                         "{% endfor %}{% endfor %}",
}


def _plain(source: str, context: dict[str, object]) -> str:
    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                                        trim_blocks=True, lstrip_blocks=True,
                                        keep_trailing_newline=True)
    return env.from_string(source).render(**context)


def _cpu_to_refusal(source: str) -> float:
    start = time.thread_time()
    with contextlib.suppress(TemplateProblem):
        render(source, {"s": "x" * 10_000, "loan": {"term": 12}}, seconds=60)
    return time.thread_time() - start


def main() -> None:
    source = default_source()
    print(f"default template, median of {REPEATS} renders (Python {sys.version.split()[0]})")
    print(f"{'context':<12} {'plain ms':>9} {'metered ms':>11} {'overhead':>9}")
    for name, context in (("sample", sample_context()), ("worst case", worst_case_context())):
        plain = median_ms(lambda c=context: _plain(source, c), REPEATS)
        metered = median_ms(lambda c=context: render(source, c), REPEATS)
        print(f"{name:<12} {plain:>9.2f} {metered:>11.2f} {metered / plain:>8.2f}x")
    print(f"\nCPU to the step bound ({MAX_STEPS} steps), median of 5")
    print(f"{'loop body':<20} {'CPU s':>7} {'µs/step':>8} {'steps/s':>10}")
    for name, loop in STEP_LOOPS.items():
        cpu = sorted(_cpu_to_refusal(loop) for _ in range(5))[2]
        print(f"{name:<20} {cpu:>7.3f} {cpu / MAX_STEPS * 1e6:>8.2f} {MAX_STEPS / cpu:>10.0f}")


if __name__ == "__main__":
    main()
