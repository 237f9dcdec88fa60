"""Every text the code marks for translation is in the catalogs, and every
shipped language translates all of it (GNU gettext's msgfmt checks them)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.utils.translation import to_locale

from tests.support import ROOT, need

LOCALE = ROOT / "locale"
DOMAINS = ("django", "djangojs")
SHIPPED = [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


def catalog(language: str, domain: str) -> Path:
    return LOCALE / to_locale(language) / "LC_MESSAGES" / f"{domain}.po"


def msgids(path: Path) -> set[tuple[str, str]]:
    """(context, id) of every entry of a .po or .pot file but its header."""
    found, entry, field = set(), {}, None
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        match = re.match(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) "(.*)"$', line)
        if match:
            field = match.group(1)
            entry[field] = match.group(2)
        elif line.startswith('"') and field:
            entry[field] += line[1:-1]
        elif not line.strip():
            if entry.get("msgid"):
                found.add((entry.get("msgctxt", ""), entry["msgid"]))
            entry, field = {}, None
    return found


@pytest.fixture(scope="module")
def msgfmt() -> str:
    binary = shutil.which("msgfmt")
    if binary is None:
        need("GNU gettext's msgfmt is not installed (apt-get install gettext)")
    return binary


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("language", SHIPPED)
def test_every_message_is_translated(msgfmt, language, domain):
    """No entry untranslated or fuzzy, and each keeps its placeholders (msgfmt --check)."""
    result = subprocess.run(
        [msgfmt, "--check", "--statistics", "-o", "/dev/null", str(catalog(language, domain))],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr


def test_the_catalogs_hold_every_text_the_code_marks(tmp_path, msgfmt):
    """makemessages, run on a copy of the sources, finds nothing the catalogs lack
    (and the catalogs keep nothing the code no longer says)."""
    for name in ("chatbot", "fiido", "workbench", "templates", "static"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    shutil.copy(ROOT / "manage.py", tmp_path / "manage.py")
    shutil.copytree(LOCALE, tmp_path / "locale", ignore=shutil.ignore_patterns("*.mo"))
    for domain in DOMAINS:
        subprocess.run(
            [sys.executable, "manage.py", "makemessages", "-d", domain, "-l", "de", "--keep-pot", "--no-obsolete"],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )
        wanted = msgids(tmp_path / "locale" / f"{domain}.pot")
        for language in SHIPPED:
            have = msgids(catalog(language, domain))
            assert wanted - have == set(), f"{language}/{domain}.po lacks these: run make translations"
            assert have - wanted == set(), f"{language}/{domain}.po keeps texts the code no longer has"
