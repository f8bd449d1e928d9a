"""Export to a folder, import into another data home; Ed25519-signed packs move protected labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeprompt.signing import generate_key


def j(cli, *argv):  # type: ignore[no-untyped-def]
    code, out, err = cli(*argv, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def exported(cli, prompt_file, tmp_path):  # type: ignore[no-untyped-def]
    j(cli, "prompts", "push", str(prompt_file()))
    j(cli, "prompts", "push", str(prompt_file(prompt_file().read_text().replace("warmly", "kindly"))))
    j(cli, "prompts", "promote", "greet", "2", "--to", "production", "-m", "echo")
    j(cli, "prompts", "protect", "greet", "--label", "production")
    return tmp_path / "export"


def test_round_trip_into_a_fresh_home(cli, exported, tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = j(cli, "prompts", "export", str(exported))
    assert done["prompts"] == 1 and done["versions"] == 2 and not done["signed"]
    assert (exported / "greet.yaml").read_text().startswith("edgeprompt: 1\nname: greet\n")
    other = tmp_path / "other"
    report = j(cli, "prompts", "import", str(exported), "--home", str(other))
    assert report["source"] == "registry.json" and report["versions_created"] == 2
    assert report["labels_moved"] == ["greet:production"]
    here, there = j(cli, "prompts", "show", "greet"), j(cli, "prompts", "show", "greet", "--home", str(other))
    assert here["version"] == there["version"] and here["content"] == there["content"]
    assert j(cli, "prompts", "list", "--home", str(other))[0]["protected"] == ["production"]
    again = j(cli, "prompts", "import", str(exported), "--home", str(other))
    assert again["versions_created"] == 0 and again["versions_existing"] == 2


def test_unsigned_import_never_moves_an_existing_label(cli, exported, tmp_path) -> None:  # type: ignore[no-untyped-def]
    j(cli, "prompts", "export", str(exported))
    other = tmp_path / "other"
    j(cli, "prompts", "import", str(exported), "--home", str(other))
    j(cli, "prompts", "promote", "greet", "1", "--to", "production", "-m", "echo", "--yes", "--home", str(other))
    report = j(cli, "prompts", "import", str(exported), "--home", str(other))
    assert report["labels_skipped"] == ["greet:production"]
    assert j(cli, "prompts", "show", "greet", "--home", str(other))["seq"] == 1


def test_signed_pack_moves_a_protected_label(cli, exported, tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = tmp_path / "keys" / "coordinator.key"
    generate_key(key)
    other = tmp_path / "other"
    j(cli, "prompts", "export", str(exported))
    j(cli, "prompts", "import", str(exported), "--home", str(other))
    j(cli, "prompts", "promote", "greet", "1", "--to", "production", "-m", "echo", "--yes", "--home", str(other))
    done = j(cli, "prompts", "export", str(exported), "--sign", str(key))
    assert done["signed"] and (exported / "prompts.pack").exists()
    code, _, err = cli("prompts", "import", str(exported), "--home", str(other))
    assert code == 2 and "does not trust" in err and "--trust-key" in err
    report = j(cli, "prompts", "import", str(exported), "--home", str(other), "--trust-key", str(key) + ".pub")
    assert report["source"] == "prompts.pack" and report["signed_by"] == done["key_id"]
    assert report["labels_moved"] == ["greet:production"]
    assert j(cli, "prompts", "show", "greet", "--home", str(other))["seq"] == 2
    moves = j(cli, "prompts", "history", "greet", "--home", str(other))["moves"]
    assert moves[-1]["action"] == "import" and moves[-1]["signed_by"] == done["key_id"]


def test_tampered_exports_are_refused_and_nothing_is_stored(cli, exported, tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = tmp_path / "k.key"
    generate_key(key)
    j(cli, "prompts", "export", str(exported), "--sign", str(key))
    other = tmp_path / "other"
    pack = json.loads((exported / "prompts.pack").read_text())
    pack["name"] = "registry-evil"
    (exported / "prompts.pack").write_text(json.dumps(pack))
    code, _, err = cli("prompts", "import", str(exported), "--home", str(other), "--trust-key", str(key) + ".pub")
    assert code == 2 and "signature does not verify" in err
    (exported / "prompts.pack").unlink()
    manifest = json.loads((exported / "registry.json").read_text())
    manifest["prompts"]["greet"]["versions"][1]["content"]["template"] = "Obey {{ name }}."
    (exported / "registry.json").write_text(json.dumps(manifest))
    code, _, err = cli("prompts", "import", str(exported), "--home", str(other))
    assert code == 2 and "does not hash to its id" in err and err.count("\n") == 1
    assert j(cli, "prompts", "list", "--home", str(other)) == []  # all or nothing
    manifest["format"] = "edgeprompt-prompts/2"
    (exported / "registry.json").write_text(json.dumps(manifest))
    code, _, err = cli("prompts", "import", str(exported), "--home", str(other))
    assert code == 2 and "newer edgeprompt" in err


def test_import_a_folder_of_prompt_files(cli, prompt_file, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder: Path = prompt_file().parent
    prompt_file("name: other\ntemplate: hello\nmessage: from git\nauthor: grace\n")
    report = j(cli, "prompts", "import", str(folder))
    assert report["source"] == "yaml" and report["versions_created"] == 2
    assert j(cli, "prompts", "show", "other@1")["author"] == "grace"
    prompt_file("name: broken\ntemplate: [\n")
    code, _, err = cli("prompts", "import", str(folder))
    assert code == 2 and "not valid YAML" in err
    assert len(j(cli, "prompts", "list")) == 2
