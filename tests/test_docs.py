"""The README, BENCHMARKS.md and docs/: every `quickdraw` command they show parses as written, and every link resolves.

The commands themselves run in the tests named on each page; this keeps the pages from drifting from the CLI
(a renamed flag, a removed command) and from each other (a page moved, an anchor renamed).
"""

from __future__ import annotations

import glob
import os
import re
import shlex

import pytest

from pipeline import cli
from tests.support import REPO

PAGES = sorted(
    [
        os.path.join(REPO, "README.md"),
        os.path.join(REPO, "BENCHMARKS.md"),
        *glob.glob(os.path.join(REPO, "docs", "*.md")),
    ]
)
SYNOPSIS = re.compile(r"[\[\]|…]|\.\.\.")  # a usage line ([optional], a | b, …), not a command


def _commands(path: str) -> list[str]:
    """The `quickdraw …` lines of a page's shell blocks, continuation lines joined; synopses left out."""
    text = open(path, encoding="utf-8").read()
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split("#")[0].strip()
            line = re.sub(r"^\.venv/bin/", "", line)
            if line.startswith("quickdraw ") and not SYNOPSIS.search(line):
                found.append(line)
    return found


COMMANDS = [(os.path.relpath(page, REPO), command) for page in PAGES for command in _commands(page)]


def test_the_pages_show_commands_to_check():
    assert len(COMMANDS) >= 8, COMMANDS
    assert {page for page, _ in COMMANDS} >= {"README.md", "docs/kubeflow.md", "docs/conversion.md"}


@pytest.mark.parametrize("page, command", COMMANDS, ids=[f"{p}:{c[:60]}" for p, c in COMMANDS])
def test_every_command_on_the_pages_parses(page, command):
    argv = shlex.split(command)[1:]
    parser = cli.build_parser()
    args, extra = parser.parse_known_args(
        argv
    )  # SystemExit (exit 2, a message) on an unknown command or flag
    assert all(a.startswith("--") and "=" in a for a in extra if args.command in cli.BEAM_COMMANDS), extra
    assert not extra or args.command in cli.BEAM_COMMANDS, f"{page}: unknown arguments {extra}"


def test_every_link_between_the_pages_resolves():
    broken = []
    for page in PAGES:
        text = open(page, encoding="utf-8").read()
        for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", text):
            if not target.startswith("http") and not os.path.exists(
                os.path.join(os.path.dirname(page), target)
            ):
                broken.append(f"{os.path.relpath(page, REPO)} → {target}")
    assert not broken, broken
