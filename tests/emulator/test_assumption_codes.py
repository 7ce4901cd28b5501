"""Every assumption code the twin's modules can emit is in the stable list (and so, by
test_assumptions.test_every_code_is_documented, in docs/twin.md)."""

from __future__ import annotations

import re
from pathlib import Path

from nwlab.emulator.assumptions import CODES

EMULATOR = Path(__file__).parents[2] / "toolkit" / "nwlab" / "emulator"


def test_every_emitted_code_is_in_the_stable_list() -> None:
    emitted = set()
    for source in EMULATOR.glob("*.py"):
        emitted |= set(re.findall(r'Assumption\(\s*"([A-Z_]+)"',
                                  source.read_text(encoding="utf-8")))
    assert emitted, "the scan found no Assumption(...) calls"
    assert sorted(emitted - set(CODES)) == []
