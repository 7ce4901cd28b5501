"""`make dist`: check that the built wheel and sdist hold what an installed nwlab needs.

twine checks the metadata and that the README renders; this checks the contents: the bundled
cassettes and topology (replay() and emulate() work offline only with them), the type marker, the
license file and its SPDX expression, and no machine path or secret in any text file.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path

from nwlab.leaks import scan_text

WHEEL_NEEDS = ["nwlab/__init__.py", "nwlab/py.typed", "nwlab/emulator/contoso.json",
               "nwlab/cassettes/inventory.json", "nwlab/cassettes/vm-to-vm-nsg-blocked.json",
               "nwlab/widgets/check_form.py"]
SDIST_NEEDS = ["LICENSE", "README.md", "pyproject.toml", "toolkit/nwlab/__init__.py"]


def problems_in(folder: Path) -> list[str]:
    wheels = sorted(folder.glob("nwlab-*.whl"))
    sdists = sorted(folder.glob("nwlab-*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        return [f"expected one wheel and one sdist in {folder}, found "
                f"{[p.name for p in wheels + sdists]}"]
    found: list[str] = []
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
        found += [f"wheel lacks {n}" for n in WHEEL_NEEDS if n not in names]
        metadata = next((n for n in names if n.endswith(".dist-info/METADATA")), None)
        text = wheel.read(metadata).decode() if metadata else ""
        if "License-Expression: MIT" not in text:
            found.append("wheel METADATA has no 'License-Expression: MIT'")
        if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
            found.append("wheel lacks the LICENSE file")
        texts = [n for n in names if n.endswith((".py", ".json", ".txt", ".md", "METADATA"))]
        found += [f"wheel: {name} holds a machine path or a secret" for name in texts
                  if scan_text(wheel.read(name).decode("utf-8", errors="replace"), name)]
    with tarfile.open(sdists[0]) as sdist:
        root = sdist.getnames()[0].split("/")[0]
        members = set(sdist.getnames())
        found += [f"sdist lacks {n}" for n in SDIST_NEEDS if f"{root}/{n}" not in members]
    return found


def main(argv: list[str]) -> int:
    folder = Path(argv[0] if argv else "dist")
    found = problems_in(folder)
    for problem in found:
        print(problem, file=sys.stderr)
    if not found:
        print(f"{folder}: wheel and sdist hold the package data, the license and no leak")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
