"""The docs: the README stays short, the site builds with --strict, every curl example is marked and parses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from devstack_client.config import SETTINGS
from tests.docs_examples import REPO, all_examples

README = REPO / "README.md"


def test_readme_is_short_and_keeps_the_ci_command():
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    # .ci/run runs tests/run.sh: "the README's test command"
    assert "bash tests/run.sh" in text
    assert "bash tests/run.sh" in (REPO / ".ci" / "run").read_text()


def test_every_curl_example_is_marked_and_parses():
    examples = all_examples()  # raises, naming the file and line, for an unmarked or unparsable example
    run = [e for e in examples if e.run]
    assert len(run) >= 30, [e.where for e in run]
    for example in run:
        assert example.commands, example.where
        # what each command shows is what the cloud test compares; only the status-less, body-less GET
        # of images.md ("the same object") shows nothing, and is checked for a 2xx
        for command in example.commands:
            assert command.answer is not None or command.request({"READER": "k"}).method == "GET", example.where
    for example in examples:
        if not example.run:
            assert len(example.reason) > 20, f"{example.where}: say why it is not run"


def test_settings_table_is_generated_from_the_declaration():
    sys.path.insert(0, str(REPO))
    try:
        from mkdocs_hooks import settings_table
    finally:
        sys.path.remove(str(REPO))
    table = settings_table()
    for setting in SETTINGS:
        default = f"`{setting.default}`" if setting.default else ("random" if setting.name == "APP_SECRET_KEY" else "—")
        assert f"| `{setting.name}` | {default} | {setting.doc} |" in table, setting.name
    assert len(table.splitlines()) == len(SETTINGS) + 2


def test_site_builds_strictly(tmp_path: Path):
    """mkdocs build --strict: a broken link, a page left out of the nav or a bad anchor fails it."""
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    settings = (site / "settings" / "index.html").read_text()
    for setting in SETTINGS:
        assert f"<code>{setting.name}</code>" in settings, setting.name
    assert "settings:start" not in settings
    # the README is the home page, the test cloud's README a page of its own, the spec a file of the site
    assert "Try it without a cloud" in (site / "index.html").read_text()
    assert (site / "testing" / "cloud" / "index.html").is_file()
    assert json.loads((site / "swagger.json").read_text()) == json.loads((REPO / "docs" / "swagger.json").read_text())
