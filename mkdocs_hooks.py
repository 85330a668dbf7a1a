"""MkDocs hooks (mkdocs.yml): the settings table from the code, and the repository's own READMEs as pages.

Both keep one source of truth: the table is made from ``SETTINGS`` (devstack_client/config.py) at every
build, and README.md, tests/cloud/README.md and bench/README.md (with bench's results) are read where they
live instead of being copied into docs/. Links between these files are written as repository paths (they
work on GitHub) and rewritten here to the site's pages.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

REPO = Path(__file__).resolve().parent

# repository path -> the site's path, for files that live outside docs/
MOUNTED = {
    "README.md": "index.md",
    "tests/cloud/README.md": "testing/cloud.md",
    "bench/README.md": "performance/bench.md",
}
MOUNTED_DIRS = {"bench/results/": "performance/results/"}

_SETTINGS_BLOCK = re.compile(r"<!-- settings:start.*?<!-- settings:end -->", re.S)
# [text](target) and ![alt](target); a target without a scheme or a leading '#'
_LINK = re.compile(r"(!?\[[^\]\n]*\])\((?![a-z][a-z0-9+.-]*:|#)([^)\s]+)\)")


def settings_table() -> str:
    """The Markdown table of every setting: variable, default, meaning."""
    from devstack_client.config import SETTINGS

    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for setting in SETTINGS:
        default = f"`{setting.default}`" if setting.default else ("random" if setting.name == "APP_SECRET_KEY" else "—")
        doc = setting.doc.replace("|", r"\|")  # a pipe would end the cell
        rows.append(f"| `{setting.name}` | {default} | {doc} |")
    return "\n".join(rows)


def _mounted_files() -> dict[str, str]:
    """Every mounted repository file (path -> site path)."""
    found = dict(MOUNTED)
    for repo_dir, site_dir in MOUNTED_DIRS.items():
        for path in sorted((REPO / repo_dir).iterdir()):
            if path.is_file():
                found[repo_dir + path.name] = site_dir + path.name
    return found


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for repo_path, site_path in _mounted_files().items():
        files.append(File.generated(config, site_path, abs_src_path=str(REPO / repo_path)))
    return files


def _repo_path(page: Page) -> str:
    """Where the page's Markdown lives in the repository."""
    for repo_path, site_path in _mounted_files().items():
        if site_path == page.file.src_uri:
            return repo_path
    return "docs/" + page.file.src_uri


def _site_path(repo_path: str) -> str | None:
    if repo_path.startswith("docs/"):
        return repo_path.removeprefix("docs/")
    if repo_path in ("docs", ""):
        return "index.md"
    return _mounted_files().get(repo_path)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if page.file.src_uri == "settings.md":
        markdown, found = _SETTINGS_BLOCK.subn(lambda _: settings_table(), markdown)
        if not found:
            raise ValueError("docs/settings.md lost its <!-- settings:start --> … <!-- settings:end --> block")
    here = posixpath.dirname(_repo_path(page))
    page_dir = posixpath.dirname(page.file.src_uri)

    def relink(m: re.Match[str]) -> str:
        label, target = m[1], m[2]
        path, _, anchor = target.partition("#")
        repo_path = posixpath.normpath(posixpath.join(here, path)).removeprefix("./")
        site = _site_path(repo_path.rstrip("/"))
        if site is None:
            # a source file: the site does not carry it, so name it instead of linking to nothing
            return f"{label.lstrip('!').strip('[]')} (`{repo_path}`)"
        new = posixpath.relpath(site, page_dir or ".")
        return f"{label}({new}{'#' + anchor if anchor else ''})"

    return _LINK.sub(relink, markdown)
