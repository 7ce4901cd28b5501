"""`make demo` / `make app` without a browser (issue 12, face 4, 8, 13): what scripts/lab.py
serves and with which settings. tests/test_browser.py runs the same servers in chromium."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
from nbformat.sign import NotebookNotary

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import lab  # noqa: E402

NOTIFICATION = "@jupyterlab/apputils-extension/notification.jupyterlab-settings"


def test_the_working_copy_is_a_trusted_copy_outside_the_tree(tmp_path: Path) -> None:
    tracked = {p.name: p.read_bytes() for p in (ROOT / "notebooks").glob("*.ipynb")}
    copy = lab.working_copy(tmp_path)
    assert copy.resolve() != (ROOT / "notebooks").resolve()
    assert {p.name: p.read_bytes() for p in copy.glob("*.ipynb")} == tracked
    notary = NotebookNotary(data_dir=str(tmp_path / "data"))
    for path in copy.glob("*.ipynb"):  # trusted: JupyterLab renders the stored widgets
        assert notary.check_signature(nbformat.read(path, as_version=4)), path.name
    (copy / "01-quickstart.ipynb").write_text("{}")  # what an autosave does to the copy
    assert (ROOT / "notebooks" / "01-quickstart.ipynb").read_bytes() == tracked[
        "01-quickstart.ipynb"]


def test_servers_run_in_the_copy_with_private_settings(tmp_path: Path) -> None:
    env = lab.private_environment(tmp_path)
    for name in ("JUPYTERLAB_SETTINGS_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR",
                 "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_WORKSPACES_DIR"):
        assert Path(env[name]).is_relative_to(tmp_path), name
    news = json.loads((Path(env["JUPYTERLAB_SETTINGS_DIR"]) / NOTIFICATION).read_text())
    assert news == {"fetchNews": "false", "checkForUpdates": False}
    command = lab.lab_command(tmp_path / "notebooks", 8888, "t")
    assert f"--ServerApp.root_dir={tmp_path / 'notebooks'}" in command
    assert "--ip=127.0.0.1" in command and "--LabApp.news_url=None" in command
    app = lab.app_command(tmp_path / "notebooks" / lab.FORM, 8866)
    assert app[1:3] == ["-m", "voila"] and "--strip_sources=True" in app
    assert "--Voila.ip=127.0.0.1" in app and app[3].endswith("02-troubleshoot-with-the-form.ipynb")


def test_binder_turns_the_news_off_the_same_way() -> None:
    post_build = (ROOT / "binder" / "postBuild").read_text()
    overrides = json.loads(re.search(r"<<'JSON'\n(.*?)\nJSON", post_build, re.DOTALL).group(1))
    assert overrides["@jupyterlab/apputils-extension:notification"] == \
        lab.LAB_SETTINGS[NOTIFICATION]
    assert "jupyter trust notebooks/*.ipynb" in post_build
