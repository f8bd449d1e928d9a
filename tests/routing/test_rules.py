"""Routing rules: explicit @tag prefixes, keyword signals, custom tags and the precedence order."""

from __future__ import annotations

from edgeprompt.routing.router import pick_tag, router_text
from edgeprompt.routing.rules import TAGS, by_precedence, custom_hits, keyword_hits, split_explicit


def test_explicit_prefix_is_split_off() -> None:
    assert split_explicit("@code fix this loop") == ("code", "fix this loop")
    assert split_explicit("  @Legal is this clause valid?") == ("legal", "is this clause valid?")
    assert split_explicit("email @john about lunch") == (None, "email @john about lunch")
    assert split_explicit("@code") == ("code", "")


def test_precedence_order_is_the_issue_order() -> None:
    assert TAGS == ("code", "documents", "math", "legal", "general")
    assert by_precedence(["general", "legal", "math"]) == "math"
    assert by_precedence(["legal", "documents"]) == "documents"
    assert by_precedence(["math", "code"]) == "code"
    assert by_precedence(["general", "sql"]) == "sql"  # a custom tag is more specific than any built-in
    assert by_precedence([]) is None


def _tags(text: str) -> set[str]:
    return {h.tag for h in keyword_hits(text)}


def test_keyword_rules_fire_on_clear_signals() -> None:
    assert "code" in _tags("I get a Traceback with KeyError in my script")
    assert "code" in _tags("```python\nprint(1)\n```")
    assert "documents" in _tags("summarise my meeting notes from Monday")
    assert "math" in _tags("what is 12.5 * 8 + 3")
    assert "math" in _tags("what is 15% of 80?")
    assert "legal" in _tags("is this non-compete clause enforceable?")


def test_keyword_rules_stay_quiet_on_near_misses() -> None:
    assert _tags("the meeting is on 2025-03-14") == set()  # a date is not a subtraction
    assert "documents" not in _tags("who owns the software I wrote at home?")
    assert "code" not in _tags("From my point of view, tea is better")  # 'from' only starts code when lower-case
    assert "legal" not in _tags("write a birthday poem for my friend who is a lawyer")
    # one amount's digits are not two numbers: "how much / what is" + one figure is not a calculation
    assert "math" not in _tags("What is the usual deposit for a 12,500 van hire, and can they keep it?")
    assert "math" not in _tags("how much notice for a 2024 tenancy?")
    assert "math" in _tags("what's 1,250 plus 3,400?") and "math" in _tags("how long is 26.2 miles at 9 km/h")


def test_rule_names_say_which_rule_fired() -> None:
    names = [h.name for h in keyword_hits("what is 15% of 80?")]
    assert "keyword:math:percent-of" in names


def test_custom_tags_fire_when_named() -> None:
    assert [h.name for h in custom_hits("write a SQL query for sales", ["sql", "medical"])] == ["custom:sql"]
    assert custom_hits("a new-york trip", ["new-york"])[0].tag == "new-york"
    assert custom_hits("@sql rest", ["sql"]) == []  # the explicit form is handled separately


def test_pick_tag_applies_precedence_among_fitting_tags() -> None:
    scores = {"code": 0.05, "documents": 0.4, "math": 0.5, "legal": 0.05, "general": 0.0}
    win, fits, _ = pick_tag(scores, {"documents"}, fit=0.5, boost=0.35)
    assert fits == ["documents", "math"] and win == "documents"
    win, fits, _ = pick_tag(scores, set(), fit=0.5, boost=0.35)
    assert (win, fits) == ("math", ["math"])
    win, fits, _ = pick_tag({t: 0.2 for t in TAGS}, set(), fit=0.5, boost=0.35)
    assert fits == [] and win in TAGS  # nothing fits: the best score, ties by precedence order


def test_an_unsure_specialist_falls_back_to_general() -> None:
    scores = {"code": 0.42, "documents": 0.1, "math": 0.1, "legal": 0.1, "general": 0.28}
    assert pick_tag(scores, set(), fit=0.5, boost=0.35)[0] == "code"  # no band: the best guess
    assert pick_tag(scores, set(), fit=0.5, boost=0.35, unsure=0.5)[0] == "general"
    assert pick_tag(scores, {"code"}, fit=0.5, boost=0.35, unsure=0.5)[0] == "code"  # a rule makes it sure
    legal = {"code": 0.0, "documents": 0.0, "math": 0.0, "legal": 0.45, "general": 0.55}
    assert pick_tag(legal, set(), fit=0.5, boost=0.35, unsure=0.5)[0] == "general"  # never another specialist


def test_router_text_keeps_short_text_and_cuts_long_text_at_both_ends() -> None:
    assert router_text("  hello   world ") == "hello world"
    long = "Please summarise this: " + "filler " * 200 + "and list the action items at the end"
    cut = router_text(long, 320)
    assert len(cut) <= 325 and cut.startswith("Please summarise this:") and cut.endswith("at the end")
