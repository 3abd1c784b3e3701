"""hyperpod-deps health: the health agent's commands. `classify` runs the rules over a log file."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import click

from hyperpod_deps.cli.exit_codes import ExitCode, fail
from hyperpod_deps.cli.log_input import InputError, read_lines
from hyperpod_deps.core.health import Action
from hyperpod_deps.health.classify import Classification, classify_lines
from hyperpod_deps.health.kernel_log import Origin
from hyperpod_deps.health.rules import RuleError, RuleSet

HEADERS = ["LINE", "ACTION", "ORIGIN", "RULE", "FAULT TYPE", "REASON", "MESSAGE"]
MESSAGE_WIDTH = 100
SHOWN_LINE_NUMBERS = 10


@click.group("health")
def health_group() -> None:
    """The health monitoring agent: check its rules against logs."""


@health_group.command("agent", add_help_option=False,
                      context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
def agent_command(arguments: tuple[str, ...]) -> None:
    """Watch this node's kernel log and accelerators; mark the node when a rule finds a fault.
    Options: `hyperpod-deps health agent --help`."""
    # The agent's own parser reads the options (cli/entry.py starts it without click).
    from hyperpod_deps.cli.health_agent import main  # the agent's runtime: only here

    raise SystemExit(main(arguments))


@health_group.command("classify")
@click.argument("file", type=click.Path(allow_dash=True, path_type=Path))
@click.option("--rules", "rule_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="An extra rule document (adds or overrides rules by id); repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.option("--all", "show_all", is_flag=True, help="Show the lines no rule matched too.")
def classify_command(file: Path, rule_files: tuple[Path, ...], as_json: bool, show_all: bool) -> None:
    """Classify each line of FILE (a kernel log: /dev/kmsg records, syslog or journalctl lines,
    journalctl -o json, dmesg; plain or gzip; - for stdin).

    Shows the rule each line matched, its fault type, reason, the line's origin and the action
    (replace, reboot, event, warning, or none), then a count per action. A match in a line
    written by a program rather than the kernel shows action none: the agent would not act on it.
    """
    try:
        rules = RuleSet.load(rule_files)
    except RuleError as error:
        fail(f"bad rules: {error}", ExitCode.USAGE)
    try:
        found = classify_lines(rules, read_lines(file), matched_only=not show_all)
        if as_json:
            _print_json(found)
        else:
            _print_table(found, rules)
    except InputError as error:
        fail(str(error), ExitCode.USAGE)


# Both outputs are written as lines are classified, so memory stays bounded on any input.

def _print_json(found: Iterable[Classification]) -> None:
    click.echo("[", nl=False)
    separator = "\n"
    for c in found:
        entry = json.dumps(_entry(c), indent=2).replace("\n", "\n  ")
        click.echo(f"{separator}  {entry}", nl=False)
        separator = ",\n"
    click.echo("\n]" if separator != "\n" else "]")


def _entry(c: Classification) -> dict[str, object]:
    return {"line": c.line_number, "text": c.text, "rule": c.rule, "faultType": c.fault_type,
            "reason": c.reason, "action": c.action.value, "origin": c.origin.value if c.origin else None,
            "note": c.note}


def _print_table(found: Iterable[Classification], rules: RuleSet) -> None:
    # Column widths come from the rules, not the rows, so the table needs no second pass.
    kmsg = rules.rules("kmsg")
    widths = [max(len(HEADERS[0]), 7), max(len(a.value) for a in Action), max(len(o.value) for o in Origin),
              max([len(HEADERS[3]), *(len(r.id) for r in kmsg)]),
              max([len(HEADERS[4]), *(len(r.fault_type) for r in kmsg)]),
              max([len(HEADERS[5]), *(len(r.reason) for r in kmsg)]), 0]
    counts: Counter[Action] = Counter()
    untrusted: list[int] = []
    untrusted_count = 0
    rows = 0
    for c in found:
        if not rows:
            click.echo(_row(HEADERS, widths))
        rows += 1
        counts[c.action] += 1
        if c.note:
            untrusted_count += 1
            if len(untrusted) < SHOWN_LINE_NUMBERS:
                untrusted.append(c.line_number)
        origin = c.origin.value if c.origin else "-"
        click.echo(_row([str(c.line_number), c.action.value, origin, c.rule or "-", c.fault_type or "-",
                         c.reason or "-", _printable(c.text[:MESSAGE_WIDTH])], widths))
    summary = ", ".join(f"{counts[a]} {a.value}" for a in Action if counts[a])
    click.echo(f"\n{summary}" if rows else "no line matched\n\n0 matched")
    if untrusted_count:
        more = ", ..." if untrusted_count > len(untrusted) else ""
        click.echo(f"{untrusted_count} matched but not written by the kernel, so no action (the agent would "
                   f"not act either): line {', '.join(map(str, untrusted))}{more}")


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def _printable(text: str) -> str:
    """A log line can hold terminal escapes (anyone can log one): show them, never send them."""
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)

