"""The archive checks: what a skill zip may hold, and every way one is refused."""

from __future__ import annotations

import io
import os
import struct

import pytest

from tests.skills.conftest import Entry, good_skill, make_zip, skill_md, symlink
from warren.skills.archive import Limits, SkillArchiveError, check_archive

LIMITS = Limits(max_files=20, max_unpacked_bytes=4 * 1024 * 1024)


def refused(entries: list[Entry], code: str = "invalid_skill", limits: Limits = LIMITS) -> str:
    with pytest.raises(SkillArchiveError) as raised:
        check_archive(make_zip(entries), limits)
    assert raised.value.code == code
    return raised.value.detail


def test_a_skill_at_the_root_unpacks_with_its_files_and_modes() -> None:
    checked = check_archive(good_skill(), LIMITS)
    assert (checked.name, checked.description) == ("haiku-writer", "Writes haiku about any topic.")
    files = {f.path: f for f in checked.files}
    assert sorted(files) == ["SKILL.md", "reference/forms.md", "scripts/count.sh"]
    assert files["reference/forms.md"].data == b"# Forms\n5-7-5\n"
    assert files["scripts/count.sh"].executable
    assert not files["SKILL.md"].executable


def test_a_skill_inside_one_top_level_directory_is_unwrapped() -> None:
    checked = check_archive(
        make_zip(
            [
                ("haiku/", b""),
                ("haiku/SKILL.md", skill_md("haiku")),
                ("haiku/empty/", b""),
                ("haiku/a/b.txt", b"b"),
                ("__MACOSX/haiku/._SKILL.md", b"junk"),
            ]
        ),
        LIMITS,
    )
    assert checked.name == "haiku"
    assert [f.path for f in checked.files] == ["SKILL.md", "a/b.txt"]
    assert checked.directories == ("empty",)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../evil.sh", "'..'"),
        ("docs/../../evil.sh", "'..'"),
        ("/etc/cron.d/evil", "absolute"),
        ("C:/Windows/evil.dll", "absolute"),
        ("..\\evil.sh", "backslash"),
        ("docs//evil.sh", "empty"),
    ],
)
def test_paths_that_could_leave_the_skill_are_refused(name: str, why: str) -> None:
    detail = refused([("SKILL.md", skill_md("ok")), (name, b"x")])
    assert why in detail


def test_symlinks_are_refused() -> None:
    detail = refused([("SKILL.md", skill_md("ok")), symlink("passwd", "/etc/passwd")])
    assert "symbolic link" in detail


def patch_central(archive: bytes, name: str, offset: int, fmt: str, value: int) -> bytes:
    """Overwrite a field of `name`'s central directory header (zipfile cannot write lies)."""
    data = bytearray(archive)
    start = data.find(b"PK\x01\x02")
    while start >= 0:
        length = struct.unpack_from("<H", data, start + 28)[0]
        if data[start + 46 : start + 46 + length] == name.encode():
            struct.pack_into(fmt, data, start + offset, value)
            return bytes(data)
        start = data.find(b"PK\x01\x02", start + 46)
    raise AssertionError(f"{name} is not in the archive")


def test_encrypted_entries_are_refused() -> None:
    archive = make_zip([("SKILL.md", skill_md("ok")), ("secret.txt", b"x")])
    encrypted = patch_central(archive, "secret.txt", 8, "<H", 0x1)  # general purpose flags
    with pytest.raises(SkillArchiveError, match=r"'secret\.txt' is encrypted"):
        check_archive(encrypted, LIMITS)


def test_duplicate_and_conflicting_entries_are_refused() -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        archive = make_zip([("SKILL.md", skill_md("ok")), ("SKILL.md", skill_md("other"))])
    with pytest.raises(SkillArchiveError, match="more than once"):
        check_archive(archive, LIMITS)
    detail = refused([("SKILL.md", skill_md("ok")), ("a", b"file"), ("a/b", b"nested")])
    assert "both a file and a directory" in detail


def test_too_many_entries_are_refused() -> None:
    entries: list[Entry] = [("SKILL.md", skill_md("ok"))]
    entries += [(f"f{i}.txt", b"x") for i in range(LIMITS.max_files)]
    assert "entries; the limit is 20" in refused(entries)


def test_a_zip_bomb_is_refused_by_its_declared_size_and_its_ratio() -> None:
    big: list[Entry] = [("SKILL.md", skill_md("ok")), ("noise.bin", os.urandom(5 * 1024 * 1024))]
    assert "unpacks to more than 4194304 bytes" in refused(big, "too_large")
    bomb: list[Entry] = [("SKILL.md", skill_md("ok")), ("zeros.bin", b"\0" * (5 * 1024 * 1024))]
    roomy = Limits(max_files=20, max_unpacked_bytes=64 * 1024 * 1024)
    assert "compresses more than 100:1" in refused(bomb, "too_large", roomy)


def test_an_entry_lying_about_its_size_is_refused_while_inflating() -> None:
    """The central directory says 10 bytes; the data inflates to 100 000."""
    archive = make_zip([("SKILL.md", skill_md("ok")), ("lie.txt", b"a" * 100_000)])
    lying = patch_central(archive, "lie.txt", 24, "<I", 10)  # uncompressed size
    with pytest.raises(SkillArchiveError) as raised:
        check_archive(lying, LIMITS)
    assert raised.value.code in ("invalid_skill", "too_large")
    assert "lie.txt" in raised.value.detail


@pytest.mark.parametrize(
    ("entries", "why"),
    [
        ([("README.md", b"no skill here")], "no SKILL.md"),
        ([("a/SKILL.md", skill_md("a")), ("b/x.txt", b"x")], "no SKILL.md"),
        ([("deep/er/SKILL.md", skill_md("a"))], "no SKILL.md"),
        ([("SKILL.md", b"# no front matter\n")], "front matter"),
        ([("SKILL.md", b"---\nname: [unclosed\n---\n")], "not valid YAML"),
        ([("SKILL.md", b"---\n- a list\n---\n")], "mapping"),
        ([("SKILL.md", b"---\ndescription: nameless\n---\n")], "'name'"),
        ([("SKILL.md", b"---\nname: ok\n---\n")], "'description'"),
        ([("SKILL.md", skill_md("Bad_Name"))], "lowercase letters"),
        ([("SKILL.md", skill_md("x" * 65))], "1-64 characters"),
        ([("SKILL.md", skill_md("ok", "d" * 1025))], "over 1024"),
        ([("SKILL.md", b"---\nname: ok\ndescription: \xff\xfe\n---\n")], "UTF-8"),
    ],
)
def test_a_missing_or_invalid_skill_md_is_refused(entries: list[Entry], why: str) -> None:
    assert why in refused(entries)


def test_what_is_not_a_zip_is_refused() -> None:
    with pytest.raises(SkillArchiveError, match="not a zip"):
        check_archive(b"<html>not found</html>", LIMITS)
    with pytest.raises(SkillArchiveError, match="not a zip"):
        check_archive(io.BytesIO(b"PK\x03\x04broken").getvalue(), LIMITS)
