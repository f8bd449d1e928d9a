"""The sandboxed template engine and the template cache."""

from __future__ import annotations

import pytest

from edgeprompt.errors import TemplateError, UsageError
from edgeprompt.prompts.spec import parse_spec


def push(registry, **changes):  # type: ignore[no-untyped-def]
    doc = {"name": "t", "template": "Hi {{ name }}", "variables": {"name": {"type": "string"}}, **changes}
    return registry.push(parse_spec(doc, "t"), "tester")


def test_sandbox_blocks_python_internals(registry) -> None:  # type: ignore[no-untyped-def]
    push(registry, template="{{ name.__class__.__mro__[1].__subclasses__() }}")
    registry.labels.move("t", "production", registry.latest("t").id, "promote")
    with pytest.raises(TemplateError, match="blocked by the sandbox"):
        registry.render("t", "production", {"name": "x"})


def test_immutable_sandbox_refuses_mutating_values(registry) -> None:  # type: ignore[no-untyped-def]
    push(registry, template="{{ items.append(1) }}{{ items }}", variables={"items": {"type": "list"}})
    with pytest.raises(TemplateError, match="sandbox"):
        registry.render_version(registry.latest("t"), {"items": [0]})


def test_runtime_errors_are_one_line(registry) -> None:  # type: ignore[no-untyped-def]
    push(registry, template="{{ d.missing.deeper }}", variables={"d": {"type": "object"}})
    with pytest.raises(TemplateError) as e:
        registry.render_version(registry.latest("t"), {"d": {}})
    assert "\n" not in str(e.value) and "t@1" in str(e.value)


def test_render_checks_unknown_and_mistyped_variables(registry) -> None:  # type: ignore[no-untyped-def]
    push(registry)
    v = registry.latest("t")
    assert registry.render_version(v, {"name": "Ada"}).user == "Hi Ada"
    with pytest.raises(UsageError, match="unknown variable 'nmae'"):
        registry.render_version(v, {"nmae": "Ada"})
    with pytest.raises(UsageError, match="variable 'name' must be string, got list"):
        registry.render_version(v, {"name": ["Ada"]})
    with pytest.raises(UsageError, match="missing variable 'name'"):
        registry.render_version(v, {})


def test_user_text_is_data_not_template(registry) -> None:  # type: ignore[no-untyped-def]
    push(registry)
    out = registry.render_version(registry.latest("t"), {"name": "{{ 7 * 7 }}{% raw %}"}).user
    assert out == "Hi {{ 7 * 7 }}{% raw %}"


def test_cache_counts_hits_and_misses_and_evicts_least_recent(runtime) -> None:  # type: ignore[no-untyped-def]
    from edgeprompt.prompts import PromptRegistry

    reg = PromptRegistry(runtime.db, cache_size=2)
    ids = [push(reg, template=f"{i} {{{{ name }}}}").version for i in range(3)]
    for vid in ids[:2]:
        reg.render_version(reg.get(vid), {"name": "a"})
    assert reg.templates.stats() == {"hits": 0, "misses": 2, "size": 2, "capacity": 2}
    reg.render_version(reg.get(ids[0]), {"name": "b"})  # ids[0] becomes most recent
    assert reg.templates.hits == 1
    reg.render_version(reg.get(ids[2]), {"name": "c"})  # evicts ids[1]
    reg.render_version(reg.get(ids[0]), {"name": "d"})
    assert reg.templates.hits == 2
    reg.render_version(reg.get(ids[1]), {"name": "e"})
    assert reg.templates.misses == 4
