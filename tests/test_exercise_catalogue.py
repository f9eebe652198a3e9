"""Every self-check against the catalogue of learner solutions in ``tests/_exercise_catalogue.py``.

- every right solution passes (no false alarms);
- every wrong solution is caught;
- a wrong solution's message names its mistake (matches the catalogue's regex), except for the
  few listed in ``NOT_YET_NAMED``; and at least 85 % of all wrong solutions are named;
- a right answer that uses a built-in the exercise forbids gets no credit, and the verdict names the built-in.

``python tests/test_exercise_catalogue.py`` prints the caught / diagnosed / false-alarm rates
per check (run it with another checkout on PYTHONPATH to compare two versions).
"""
from __future__ import annotations

import contextlib
import io
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import vit_tutorial.exercises as ex  # noqa: E402
from _exercise_catalogue import FORBIDDEN, HELD_OUT, RIGHT, WRONG  # noqa: E402

# Wrong solutions that are caught but whose message does not (yet) name the mistake.
NOT_YET_NAMED: set[tuple[str, str]] = {
    ("check_attention_head", "q @ k without transpose"),
    ("check_multi_head_attention", "returned the context of head 0 only"),
}
TARGET = 0.85


def verdict(check: str, fn) -> tuple[bool, str]:
    """(passed, message) of ``check`` on ``fn``; any error from the check is a rejection."""
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            result = getattr(ex, check)(fn)
        except ex.CheckFailed as err:
            return False, str(err)
        except Exception as err:  # noqa: BLE001 - a raw error out of a check is a (bad) rejection
            return False, f"RAW {type(err).__name__}: {err}"
    return bool(result), result.message


@pytest.mark.parametrize("check, i", [(c, i) for c, fns in RIGHT.items() for i in range(len(fns))])
def test_right_solutions_pass(check, i):
    passed, message = verdict(check, RIGHT[check][i])
    assert passed, f"{check}: right solution #{i} rejected: {message}"


@pytest.mark.parametrize("check, what", [(c, w) for c, entries in WRONG.items() for w, _, _ in entries])
def test_wrong_solutions_are_caught_and_named(check, what):
    fn, pattern = next((f, p) for w, f, p in WRONG[check] if w == what)
    passed, message = verdict(check, fn)
    assert not passed, f"{check}: wrong solution '{what}' passed"
    assert not message.startswith("RAW"), f"{check}: '{what}' crashed the check: {message}"
    if (check, what) not in NOT_YET_NAMED:
        assert re.search(pattern, message, re.I), f"{check}: '{what}' is not named: {message}"


@pytest.mark.parametrize("check, what", [(c, w) for c, entries in FORBIDDEN.items() for w, _, _ in entries])
def test_forbidden_builtins_get_no_credit_and_are_named(check, what):
    fn, pattern = next((f, p) for w, f, p in FORBIDDEN[check] if w == what)
    passed, message = verdict(check, fn)
    assert not passed, f"{check}: '{what}' got credit"
    assert re.search(pattern, message), f"{check}: '{what}': {message}"
    assert "the values differ" not in message, f"{check}: '{what}' is right but for the built-in: {message}"


@pytest.mark.parametrize("check, what", [(c, w) for c, entries in HELD_OUT.items() for w, _, _ in entries])
def test_held_out_wrong_solutions_are_caught(check, what):
    """The held-out mistakes (not used to write the diagnoses) must be caught, without a crash in the check."""
    fn = next(f for w, f, _ in HELD_OUT[check] if w == what)
    passed, message = verdict(check, fn)
    assert not passed, f"{check}: held-out wrong solution '{what}' passed"
    assert not message.startswith("RAW"), f"{check}: '{what}' crashed the check: {message}"


def rates(wrong_table=WRONG) -> dict:
    """Per check and in total: wrong solutions, caught, named, right solutions, false alarms."""
    table = {}
    for check in wrong_table:
        row = {"wrong": 0, "caught": 0, "named": 0, "right": 0, "false_alarms": 0, "missed": [], "unnamed": []}
        for what, fn, pattern in wrong_table[check]:
            passed, message = verdict(check, fn)
            row["wrong"] += 1
            if passed:
                row["missed"].append(what)
                continue
            row["caught"] += 1
            if re.search(pattern, message, re.I) and not message.startswith("RAW"):
                row["named"] += 1
            else:
                row["unnamed"].append((what, message))
        for fn in (RIGHT.get(check, []) if wrong_table is WRONG else []):
            row["right"] += 1
            row["false_alarms"] += not verdict(check, fn)[0]
        table[check] = row
    return table


def test_overall_rates():
    """At least TARGET of the wrong solutions are named. The cases above already run every verdict (each right
    solution passes, each wrong one is caught and, unless listed in NOT_YET_NAMED, named), so the rate follows
    from the list; running the whole catalogue a second time here (``rates()``) would prove nothing more.
    ``python tests/test_exercise_catalogue.py`` prints the measured table."""
    listed = {(check, what) for check, entries in WRONG.items() for what, _, _ in entries}
    assert NOT_YET_NAMED <= listed, f"NOT_YET_NAMED holds cases the catalogue does not: {NOT_YET_NAMED - listed}"
    assert (len(listed) - len(NOT_YET_NAMED)) / len(listed) >= TARGET
    assert all(RIGHT.get(check) for check in WRONG), "every check has right solutions too (no false alarm unmeasured)"


def _report(table) -> None:
    total = {k: sum(r[k] for r in table.values()) for k in ("wrong", "caught", "named", "right", "false_alarms")}
    print(f"{'check':34} wrong caught named right false")
    for check, r in table.items():
        print(f"{check:34} {r['wrong']:5} {r['caught']:6} {r['named']:5} {r['right']:5} {r['false_alarms']:5}")
    print(f"{'TOTAL':34} {total['wrong']:5} {total['caught']:6} {total['named']:5} {total['right']:5} {total['false_alarms']:5}")
    print(f"caught {total['caught'] / total['wrong']:.1%}, named {total['named'] / total['wrong']:.1%} of wrong "
          f"({total['named'] / max(total['caught'], 1):.1%} of caught), false alarms {total['false_alarms']}/{total['right']}")
    if "-v" in sys.argv:
        for check, r in table.items():
            for what in r["missed"]:
                print(f"MISSED  {check}: {what}")
            for what, message in r["unnamed"]:
                print(f"UNNAMED {check}: {what}: {message[:230]}")


if __name__ == "__main__":
    print("== the catalogue ==")
    _report(rates())
    print("== held out (not used to write the diagnoses) ==")
    _report(rates(HELD_OUT))
