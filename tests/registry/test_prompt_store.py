"""Versions are immutable and content-addressed; labels move in one transaction; rollback replays history."""

from __future__ import annotations

import pytest

from edgeprompt.errors import EdgepromptError, NotFoundError, ProtectedLabelError, UsageError
from edgeprompt.prompts.files import read_file
from edgeprompt.prompts.spec import parse_spec


def make(text: str = "Please greet {{ name }} warmly.", name: str = "greet"):  # type: ignore[no-untyped-def]
    return parse_spec({"name": name, "template": text, "variables": {"name": "string"}}, "t")


def test_identical_push_returns_the_same_version(registry, prompt_file) -> None:  # type: ignore[no-untyped-def]
    spec, _ = read_file(prompt_file())
    first = registry.push(spec, "ada", "first")
    again = registry.push(read_file(prompt_file())[0], "bob", "again")
    assert first.created and not again.created
    assert (again.version, again.seq) == (first.version, 1)
    assert registry.get(first.version).author == "ada"  # the original record is kept
    changed = registry.push(make("Hello {{ name }}"), "ada", "shorter")
    assert changed.created and changed.seq == 2 and changed.version != first.version


def test_same_content_under_two_names_is_two_versions(registry) -> None:  # type: ignore[no-untyped-def]
    a = registry.push(make(name="one"), "x")
    b = registry.push(make(name="two"), "x")
    assert a.version != b.version and a.seq == b.seq == 1


def test_a_direct_update_or_delete_of_a_stored_version_fails(registry) -> None:  # type: ignore[no-untyped-def]
    v = registry.push(make(), "ada").version
    with pytest.raises(EdgepromptError, match="immutable"), registry.db.transaction() as c:
        c.execute("UPDATE prompt_versions SET content = '{}' WHERE id = ?", (v,))
    with pytest.raises(EdgepromptError, match="immutable"), registry.db.transaction() as c:
        c.execute("DELETE FROM prompt_versions WHERE id = ?", (v,))
    import sqlean

    raw = sqlean.connect(str(registry.db.path))
    with pytest.raises(sqlean.IntegrityError, match="immutable"):
        raw.execute("UPDATE prompt_versions SET author = 'mallory'")
    raw.close()
    assert registry.db.query_one("SELECT author FROM prompt_versions")[0] == "ada"


def test_references_by_number_id_prefix_and_label(registry) -> None:  # type: ignore[no-untyped-def]
    v1 = registry.push(make(), "a").version
    v2 = registry.push(make("Hey {{ name }}"), "a").version
    registry.labels.move("greet", "staging", v1, "promote")
    assert registry.resolve("greet", "2").id == v2
    assert registry.resolve("greet", v1[:6]).id == v1
    assert registry.resolve("greet", "staging").id == v1
    assert registry.resolve("greet", ":staging").id == v1
    assert registry.lookup("greet@1")[0].id == v1
    assert registry.lookup("greet:staging") == (registry.get(v1), "staging")
    with pytest.raises(NotFoundError, match="version '9' of prompt 'greet'"):
        registry.resolve("greet", "9")
    with pytest.raises(NotFoundError, match="prompt 'nope'"):
        registry.resolve("nope", "1")
    with pytest.raises(NotFoundError, match="label 'production' of prompt 'greet'"):
        registry.lookup("greet")
    with pytest.raises(UsageError, match="nothing after '@'"):
        registry.lookup("greet@")


def test_rollback_walks_back_through_promotions(registry) -> None:  # type: ignore[no-untyped-def]
    ids = [registry.push(make(f"{i} {{{{ name }}}}"), "a").version for i in range(3)]
    labels = registry.labels
    for vid in ids:
        labels.move("greet", "production", vid, "promote")
    assert labels.rollback("greet", "production").to_version == ids[1]
    assert labels.rollback("greet", "production").to_version == ids[0]
    with pytest.raises(UsageError, match="no earlier version"):
        labels.rollback("greet", "production")
    assert labels.target("greet", "production") == ids[0]
    labels.move("greet", "production", ids[2], "promote")
    assert labels.rollback("greet", "production").to_version == ids[0]


def test_moving_to_the_current_version_changes_nothing(registry) -> None:  # type: ignore[no-untyped-def]
    v = registry.push(make(), "a").version
    registry.labels.move("greet", "dev", v, "promote")
    again = registry.labels.move("greet", "dev", v, "promote")
    assert not again.changed and len(registry.labels.moves("greet")) == 1


def test_protected_label_needs_confirmation_or_a_signature(registry) -> None:  # type: ignore[no-untyped-def]
    v1 = registry.push(make(), "a").version
    v2 = registry.push(make("Yo {{ name }}"), "a").version
    registry.labels.move("greet", "production", v1, "promote")
    assert registry.labels.protect("greet", "production")
    with pytest.raises(ProtectedLabelError, match="'production' of 'greet' is protected"):
        registry.labels.move("greet", "production", v2, "promote")
    assert registry.labels.target("greet", "production") == v1
    registry.labels.move("greet", "production", v2, "promote", confirmed=True)
    with pytest.raises(ProtectedLabelError):
        registry.labels.rollback("greet", "production")
    assert registry.labels.target("greet", "production") == v2
    registry.labels.move("greet", "production", v1, "import", signed_by="abcd")
    assert registry.labels.moves("greet")[-1].signed_by == "abcd"


def test_render_is_the_seam(registry) -> None:  # type: ignore[no-untyped-def]
    v = registry.push(
        parse_spec(
            {
                "name": "greet",
                "system": "Be kind to {{ name }}.",
                "template": "Hi {{ name }}",
                "variables": {"name": "string"},
                "params": {"max_tokens": 9},
                "output_schema": {"type": "object"},
            },
            "t",
        ),
        "a",
    ).version
    registry.labels.move("greet", "production", v, "promote")
    r = registry.render("greet", "production", {"name": "Ada"})
    assert (r.system, r.user, r.version, r.label, r.name) == ("Be kind to Ada.", "Hi Ada", v, "production", "greet")
    assert r.params == {"max_tokens": 9} and r.output_schema == {"type": "object"}
    with pytest.raises(AttributeError):
        r.user = "changed"  # type: ignore[misc]
    assert r.trace_attributes()["edgeprompt.prompt.version"] == v
