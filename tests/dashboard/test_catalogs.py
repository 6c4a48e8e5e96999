"""Every dashboard text has a Russian translation whose placeholders match."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from smsgate.dashboard import _i18n

PACKAGE = Path(_i18n.__file__).parent
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def _source_ids() -> set[str]:
    found = set()
    for _, _, message, _, _ in extract_from_dir(PACKAGE, METHODS, options_map=OPTIONS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_russian_catalog_is_complete_and_well_formed() -> None:
    with (PACKAGE / "locale" / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale="ru")
    translated = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
    missing = _source_ids() - set(translated)
    assert not missing, f"not in the Russian catalog (pybabel extract/update): {sorted(missing)}"
    for message in translated.values():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings) and not message.fuzzy, f"untranslated or fuzzy: {message.id!r}"
    problems = [(m.id, errors) for m, errors in catalog.check() if errors]
    assert not problems  # placeholders of each translation match its English text
    assert "{n}" in translated["{n} characters"].string


def test_translations_compile_from_the_po_file() -> None:
    _i18n.translations.cache_clear()
    ru = _i18n.translations("ru")
    assert ru.gettext("Overview") == "Обзор"
    assert ru.ngettext("%(num)s message", "%(num)s messages", 5) == "%(num)s сообщений"
    assert _i18n.translations("en").gettext("Overview") == "Overview"
    assert _i18n.negotiate("ru-RU,ru;q=0.9,en;q=0.8") == "ru"
    assert _i18n.negotiate("de-DE, fr;q=0.5") == "en"
    assert _i18n.negotiate("en;q=0.2, ru;q=0.8") == "ru"
    assert _i18n.negotiate("garbage;q=x") == "en"
