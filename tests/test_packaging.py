"""The package as users install it (issue 12, face 12): metadata twine accepts, and the contents
check that `make dist` runs on the built wheel and sdist (scripts/check_dist.py)."""

from __future__ import annotations

import io
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import check_dist  # noqa: E402


def test_license_metadata_is_an_spdx_expression_with_its_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"  # a table here is what twine warned about
    files = project["project"]["license-files"]
    assert files and all((ROOT / f).is_file() for f in files)
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert not any("License ::" in c for c in project["project"].get("classifiers", []))
    # PEP 639 fields need setuptools 77 or later in the isolated build.
    assert any(r.replace(" ", "").startswith("setuptools>=7") and
               int(r.split(">=")[1].split(".")[0]) >= 77
               for r in project["build-system"]["requires"])


def _wheel(path: Path, names: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w") as wheel:
        for name, text in names.items():
            wheel.writestr(name, text)


def _sdist(path: Path, names: list[str]) -> None:
    with tarfile.open(path, "w:gz") as sdist:
        for name in names:
            data = b"x"
            info = tarfile.TarInfo(f"nwlab-0.1.0/{name}")
            info.size = len(data)
            sdist.addfile(info, io.BytesIO(data))


def complete_wheel() -> dict[str, str]:
    names = dict.fromkeys(check_dist.WHEEL_NEEDS, "{}")
    names["nwlab-0.1.0.dist-info/METADATA"] = "Name: nwlab\nLicense-Expression: MIT\n"
    names["nwlab-0.1.0.dist-info/licenses/LICENSE"] = "MIT License"
    return names


def test_check_dist_accepts_a_complete_build(tmp_path: Path) -> None:
    _wheel(tmp_path / "nwlab-0.1.0-py3-none-any.whl", complete_wheel())
    _sdist(tmp_path / "nwlab-0.1.0.tar.gz", check_dist.SDIST_NEEDS)
    assert check_dist.problems_in(tmp_path) == []


def test_check_dist_names_what_is_missing(tmp_path: Path) -> None:
    names = complete_wheel()
    del names["nwlab/cassettes/inventory.json"]
    names["nwlab-0.1.0.dist-info/METADATA"] = "Name: nwlab\nLicense: MIT\n"
    home = "/".join(["", "home", "someone", "work"])  # joined, so this file itself stays clean
    names["nwlab/leaky.py"] = f"CASSETTES = '{home}/cassettes'\n"
    _wheel(tmp_path / "nwlab-0.1.0-py3-none-any.whl", names)
    _sdist(tmp_path / "nwlab-0.1.0.tar.gz", ["README.md", "pyproject.toml"])
    found = "\n".join(check_dist.problems_in(tmp_path))
    assert "wheel lacks nwlab/cassettes/inventory.json" in found
    assert "License-Expression" in found and "sdist lacks LICENSE" in found
    assert "nwlab/leaky.py" in found
