"""The leak scan over every git-tracked file, and the scanner's own rules. Samples are assembled at
run time so that this file holds none of what it looks for."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from nwlab.leaks import Leak, main, scan_paths, scan_text, tracked_files

ROOT = Path(__file__).resolve().parent.parent
GUID = "3f2a1b4c-5d6e-4f70-8192-a3b4c5d6e7f8"
ZERO = "00000000-0000-0000-0000-000000000000"
JWT = "eyJ" + "0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9" + "." + "eyJ" + "hdWQiOiJodHRwczovL21hbmFnZW1lbnQifQ" \
    + "." + "c2lnbmF0dXJlLXBhcnQ"
SUBS = "/subscriptions" + "/"
AT = "@"


def kinds(text: str, file: str = "notes.md") -> list[str]:
    return [leak.kind for leak in scan_text(text, file)]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_no_tracked_file_leaks_a_secret_or_a_machine_path():
    try:
        files = tracked_files(ROOT)
    except subprocess.CalledProcessError:
        pytest.skip("not a git checkout")
    assert len(files) > 20
    leaks = scan_paths(files)
    assert not leaks, "leaks in tracked files:\n" + "\n".join(str(leak) for leak in leaks)


@pytest.mark.parametrize("text,kind", [
    (JWT, "jwt"),
    ("Authorization: " + "Bearer " + "abcDEF0123456789.abcdefXYZ_-", "bearer-token"),
    ("curl -H 'authorization: " + "bearer " + "0123456789abcdef0123456789'", "bearer-token"),
    ("AZURE_CLIENT_" + "SECRET=Qx7~abcDEF123456789", "client-secret"),
    ("export AZURE_CLIENT_" + "SECRET='Qx7~abcDEF123456789'", "client-secret"),
    ('{"client_' + 'secret": "Qx7~abcDEF123456789"}', "client-secret"),
    ("client" + "Secret: Qx7~abcDEF123456789", "client-secret"),
    ("GET https://management.azure.com" + SUBS + GUID + "/resourcegroups", "subscription-id"),
    ("skiptoken=%2F" + "subscriptions%2F" + GUID.upper(), "subscription-id"),
    ('{"subscription' + 'Id": "' + GUID + '"}', "subscription-id"),
    ("AZURE_SUBSCRIPTION_" + "ID=" + GUID, "subscription-id"),
    ('File "/ro' + 'ot/.venv/lib/python3.11/site.py"', "machine-path"),
    ("see /ho" + "me/alice/notebooks/x.ipynb", "machine-path"),
    ("cd /wo" + "rk/main && make test", "machine-path"),
    ("/Us" + "ers/bob/Downloads", "machine-path"),
    ("C:" + "\\Users\\bob\\nwlab", "machine-path"),
    ('"C:' + '\\\\Users\\\\bob\\\\nwlab"', "machine-path"),
    # what recording scrubs since issue 9: ids without their slash, directory ids, people
    ('"resourceId": "' + SUBS[1:] + GUID + '/resourceGroups/rg"', "subscription-id"),
    ("id=" + SUBS[1:] + GUID.upper(), "subscription-id"),
    ("/ten" + "ants/" + GUID + "/providers/x", "tenant-id"),
    ('{"tenant' + 'Id": "' + GUID + '"}', "directory-id"),
    ('{"principal' + 'Id":"' + GUID + '"}', "directory-id"),
    ("objectId = '" + GUID + "'", "directory-id"),
    ("owner: alice" + AT + "contoso.com", "email"),
    ('"upn": "alice_contoso.com#EXT#' + AT + 'fabrikam.onmicrosoft.com"', "email"),
    ("mailto:bob.smith" + AT + "fabrikam.com.", "email"),
])
def test_each_kind_is_found(text, kind):
    assert kind in kinds(text)


@pytest.mark.parametrize("text,file", [
    (SUBS + ZERO + "/resourceGroups/ContosoRG", "notes.md"),
    (SUBS + "99999999-0000-0000-0000-000000000000/resourcegroups", "test.py"),
    (SUBS + "{subscriptionId}/resourceGroups", "notes.md"),
    ('{"subscription' + 'Id": "' + ZERO + '"}', "x.json"),
    ('headers = {"Authorization": f"Bearer {token}"}', "x.py"),
    ("Bearer <redacted>", "x.json"),
    ("Bearer tokens are cached and refreshed before they expire", "README.md"),
    ("ClientSecretCredential(tenant_id, client_id, client_" + "secret=secret_from_vault)", "x.py"),
    ("client_" + "secret=<your-secret>", "README.md"),
    ("AZURE_CLIENT_" + "SECRET=${{ secrets.AZURE_CLIENT_SECRET }}", "ci.yml"),
    ("https://example.com/wo" + "rk/items", "notes.md"),
    ("docs/wo" + "rk/plan.md and ../shared/reference", "notes.md"),
    ("PATTERN = r'(/ro" + "ot/|/wo" + "rk/)'", "x.py"),
    ("~/notebooks and $HOME/x", "notes.md"),
    (SUBS[1:] + "00000000-0000-0000-0000-0000ab12cd34/resourceGroups/rg", "x.json"),  # pseudonym
    ('{"tenant' + 'Id": "' + ZERO + '", "principal' + 'Id": "00000000-0000-0000-0000-000000000007"}',
     "x.json"),
    ("someone" + AT + "contoso.example, user1" + AT + "example.com, ci" + AT + "build.test", "x.md"),
    ("https://user:pw" + AT + "bing.com/", "test.py"),  # userinfo in a URL, not an address
    ("pip install nwlab" + AT + "git+https://x", "README.md"),
])
def test_safe_text_is_not_a_leak(text, file):
    assert scan_text(text, file) == []


def test_leaks_name_file_line_and_kind_without_repeating_the_secret(tmp_path):
    path = tmp_path / "cassette.json"
    path.write_text("{\n" + '"a": 1,\n' + f'"token": "{JWT}"\n' + "}\n")
    (leak,) = scan_paths([path])
    assert leak == Leak(str(path), 3, "jwt", leak.excerpt)
    assert str(leak).startswith(f"{path}:3: jwt: ")
    assert JWT not in str(leak)


def test_an_address_is_not_repeated_in_the_finding():
    (leak,) = scan_text("write to carol.jones" + AT + "contoso.com")
    assert leak.kind == "email" and "jones" not in str(leak) and "contoso" not in str(leak)


def test_binary_and_missing_files_are_skipped(tmp_path):
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\x00\x00" + JWT.encode())
    assert scan_paths([binary, tmp_path / "gone.json"]) == []


def test_command_line_exit_status(tmp_path, capsys):
    clean = tmp_path / "clean.md"
    clean.write_text("nothing to see\n")
    dirty = tmp_path / "dirty.md"
    dirty.write_text("x\ncd /wo" + "rk/main\n")
    assert main([str(clean)]) == 0
    assert main([str(clean), str(dirty)]) == 1
    assert f"{dirty}:2: machine-path" in capsys.readouterr().out
