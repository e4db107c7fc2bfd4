"""Code and docs cite the project's own docs: every `DESIGN.md §N` exists, nothing points outside the repo."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import REPO

DESIGN = REPO / "docs" / "DESIGN.md"
SECTIONS = set(re.findall(r"^## (\d+)\. ", DESIGN.read_text(encoding="utf-8"), re.M))
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".sh", ".txt", ".cfg", ""}


def _tracked_text_files() -> dict[str, str]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    out = {}
    for rel in listed.stdout.splitlines():
        path = REPO / rel
        if path.is_file() and path.suffix in TEXT_SUFFIXES and not rel.startswith("preprocessing/splits/"):
            out[rel] = path.read_text(encoding="utf-8", errors="replace")
    return out


def test_design_sections_are_numbered_and_cited_ones_exist():
    assert {str(n) for n in range(1, 10)} <= SECTIONS
    bad = []
    for rel, text in _tracked_text_files().items():
        for m in re.finditer(r"DESIGN(?:\.md)?\]?(?:\([^)]*\))? ?§(\d+)", text):
            if m.group(1) not in SECTIONS:
                bad.append(f"{rel}: §{m.group(1)}")
    assert not bad, f"cited sections missing from docs/DESIGN.md: {bad}"


def test_design_is_cited_by_its_path_in_the_repo():
    """'DESIGN §4' alone meant a file outside the repository; say docs/DESIGN.md (or link it)."""
    bare = [
        f"{rel}:{text.count(chr(10), 0, m.start()) + 1}"
        for rel, text in _tracked_text_files().items()
        if rel not in ("docs/DESIGN.md", "tests/test_docs.py")
        for m in re.finditer(r"(?<![\w/`\[])DESIGN(?!\.md)", text)
    ]
    assert not bare, f"cite docs/DESIGN.md, not a bare DESIGN: {bare}"


def test_no_file_points_outside_the_repository():
    outside = re.compile(r"/work/(?:shared|main|wt)\b|shared/DESIGN|shared/STYLE|PLAN\.md")
    hits = [
        rel
        for rel, text in _tracked_text_files().items()
        if outside.search(text) and rel != "tests/test_docs.py"
    ]
    assert not hits, f"references to files outside the repository: {hits}"


def test_markdown_links_to_repo_files_resolve():
    broken = []
    for rel, text in _tracked_text_files().items():
        if not rel.endswith(".md"):
            continue
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" in target:
                continue
            if not ((REPO / rel).parent / target).exists():
                broken.append(f"{rel} -> {target}")
    assert not broken, f"broken links: {broken}"
