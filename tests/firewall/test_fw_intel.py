from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def key(tmp_path: Path, cli) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / "keys" / "intel.key"
    code, _, _ = cli("firewall", "intel", "keygen", str(path))
    assert code == 0
    return path


def _state(home: Path) -> tuple[list[str], str]:
    folder = home / "models" / "firewall"
    files = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    keys = sorted(p.name for p in (home / "trusted-keys").glob("*.pub")) if (home / "trusted-keys").is_dir() else []
    return files, ",".join(keys)


def test_export_then_import_with_trust(cli, key: Path, tmp_path: Path, data_home: Path) -> None:  # type: ignore[no-untyped-def]
    pack = tmp_path / "rules.pack"
    code, out, _ = cli("firewall", "intel", "export", str(pack), "--key", str(key), "--kind", "rules", "--json")
    assert code == 0 and json.loads(out)["kind"] == "firewall-rules"
    code, out, err = cli("firewall", "intel", "import", str(pack), "--trust-key", f"{key}.pub", "--json")
    assert code == 0, err
    assert json.loads(out)["kind"] == "firewall-rules"
    assert (data_home / "models" / "firewall" / "rules.toml").is_file()
    code, out, _ = cli("firewall", "intel", "list", "--json")
    listed = json.loads(out)
    assert listed["rules"]["source"].startswith("installed:") and len(listed["installed"]) == 1
    assert len(listed["trusted_keys"]) == 1


def test_model_pack_round_trip(cli, key: Path, tmp_path: Path, data_home: Path) -> None:  # type: ignore[no-untyped-def]
    pack = tmp_path / "model.pack"
    assert cli("firewall", "intel", "export", str(pack), "--key", str(key), "--kind", "model")[0] == 0
    assert cli("firewall", "intel", "import", str(pack), "--trust-key", f"{key}.pub")[0] == 0
    code, out, _ = cli("firewall", "intel", "list", "--json")
    assert code == 0 and json.loads(out)["classifier"]["origin"] == "installed"


def test_untrusted_key_is_refused_and_nothing_changes(cli, key: Path, tmp_path: Path, data_home: Path) -> None:  # type: ignore[no-untyped-def]
    pack = tmp_path / "rules.pack"
    cli("firewall", "intel", "export", str(pack), "--key", str(key))
    before = _state(data_home)
    code, out, err = cli("firewall", "intel", "import", str(pack))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "does not trust" in err
    assert _state(data_home) == before


def test_bad_signature_is_refused_and_nothing_changes(cli, key: Path, tmp_path: Path, data_home: Path) -> None:  # type: ignore[no-untyped-def]
    pack = tmp_path / "rules.pack"
    cli("firewall", "intel", "export", str(pack), "--key", str(key))
    doc = json.loads(pack.read_text())
    doc["version"] = "9999.1"  # the signature covers the version
    pack.write_text(json.dumps(doc))
    before = _state(data_home)
    code, _, err = cli("firewall", "intel", "import", str(pack), "--trust-key", f"{key}.pub")
    assert code == 2 and "signature does not verify" in err and len(err.strip().splitlines()) == 1
    assert _state(data_home) == before  # not even the key was trusted


def test_a_signed_but_broken_rule_pack_is_refused(cli, key: Path, tmp_path: Path, data_home: Path) -> None:  # type: ignore[no-untyped-def]
    from edgeprompt.signing import sign_pack

    pack = tmp_path / "broken.pack"
    pack.write_bytes(
        sign_pack("firewall-rules", "broken", "1", {"rules.toml": b'[[rule]]\nid = "x"\npattern = "("\n'}, key)
    )
    code, _, err = cli("firewall", "intel", "import", str(pack), "--trust-key", f"{key}.pub")
    assert code == 2 and "rule x" in err
    assert not (data_home / "models" / "firewall" / "rules.toml").exists()
