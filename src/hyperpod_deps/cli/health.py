"""hyperpod-deps health: the health agent's commands. `classify` runs the rules over a log file."""
from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, NoReturn

import click

from hyperpod_deps.cli.exit_codes import ExitCode
from hyperpod_deps.cli.table import table
from hyperpod_deps.core.health import Action
from hyperpod_deps.health.classify import Classification, classify_lines
from hyperpod_deps.health.rules import RuleError, RuleSet


@click.group("health")
def health_group() -> None:
    """The health monitoring agent: check its rules against logs."""


@health_group.command("classify")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--rules", "rule_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="An extra rule document (adds or overrides rules by id); repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option("--all", "show_all", is_flag=True, help="Show the lines no rule matched too.")
def classify_command(file: Path, rule_files: tuple[Path, ...], as_json: bool, show_all: bool) -> None:
    """Classify each line of FILE (a kernel log: /dev/kmsg records or syslog lines; - for stdin).

    Shows the rule each line matched, its fault type, reason and action (replace, reboot,
    event, warning, or none), then a count per action.
    """
    try:
        rules = RuleSet.load(rule_files)
    except RuleError as error:
        _fail(f"bad rules: {error}")
    try:
        with _lines(file) as lines:
            found = list(classify_lines(rules, lines, matched_only=not show_all))
    except OSError as error:
        _fail(f"cannot read {file}: {error}")
    click.echo(json.dumps([_entry(c) for c in found], indent=2) if as_json else _human(found))


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(ExitCode.USAGE)


@contextmanager
def _lines(file: Path) -> Iterator[IO[bytes]]:
    if str(file) == "-":
        yield sys.stdin.buffer
        return
    with file.open("rb") as stream:
        yield stream


def _entry(c: Classification) -> dict[str, object]:
    return {"line": c.line_number, "text": c.text, "rule": c.rule, "faultType": c.fault_type,
            "reason": c.reason, "action": c.action.value}


def _human(found: list[Classification]) -> str:
    rows = [[str(c.line_number), c.action.value, c.rule or "-", c.fault_type or "-", c.reason or "-",
             c.text[:100]] for c in found]
    counts = Counter(c.action for c in found)
    summary = ", ".join(f"{counts[a]} {a.value}" for a in Action if counts[a])
    headers = ["LINE", "ACTION", "RULE", "FAULT TYPE", "REASON", "MESSAGE"]
    body = table(headers, rows) if rows else "no line matched"
    return f"{body}\n\n{summary or '0 matched'}"
