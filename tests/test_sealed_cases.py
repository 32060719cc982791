"""Case folders (a complaint, a proposal, a case of misuse) sealed where they are by their
archive step (``piak.core.sealed.seal_case``): the manifest vouches for every file, a changed,
added or removed file is found, and what is not a plain file is never sealed."""

from __future__ import annotations

import json

import pytest

from piak.core import sealed
from piak.core.errors import PiakError


@pytest.fixture
def case(tmp_path):
    folder = tmp_path / "KASUS-20261125-1000-SITI4471"
    folder.mkdir()
    (folder / "bukti.json").write_text('{"sesi": 3}')
    (folder / "arsip.md").write_text("# Kasus\n")
    return folder


def test_a_sealed_case_is_intact_until_a_file_changes(case):
    sealed.seal_case(case, "out_of_policy_usage", case=case.name)
    manifest = json.loads((case / "manifest.json").read_text())
    assert (manifest["format"], manifest["kind"]) == ("piak-sealed/1", "case/out_of_policy_usage")
    assert [f["name"] for f in manifest["files"]] == ["arsip.md", "bukti.json"]
    assert sealed.case_problems(case, "out_of_policy_usage") == []
    (case / "bukti.json").write_text('{"sesi": 4}')
    (case / "catatan.txt").write_text("ditambahkan kemudian")
    (case / "arsip.md").unlink()
    assert sealed.case_problems(case, "out_of_policy_usage") == [
        "berkas tambahan catatan.txt",
        "berkas arsip.md hilang",
        "berkas bukti.json: SHA-256 berbeda",
    ]


def test_sealing_again_takes_what_a_later_round_added(case):
    sealed.seal_case(case, "helpdesk", round=1)
    (case / "arsip_putaran-2.md").write_text("# Putaran 2\n")
    assert sealed.case_problems(case, "helpdesk") == ["berkas tambahan arsip_putaran-2.md"]
    sealed.seal_case(case, "helpdesk", round=2)
    assert sealed.case_problems(case, "helpdesk") == []


def test_a_manifest_edited_by_hand_or_of_another_sop_is_refused(case):
    sealed.seal_case(case, "helpdesk")
    with pytest.raises(sealed.ManifestError, match="bukan format"):
        sealed.case_problems(case, "network_maintenance")
    text = (case / "manifest.json").read_text().replace("arsip.md", "arsip.mdx")
    (case / "manifest.json").write_text(text)
    with pytest.raises(sealed.ManifestError, match="checksum"):
        sealed.case_problems(case, "helpdesk")


@pytest.mark.parametrize("kind", ["symlink", "folder"])
def test_what_is_not_a_plain_file_is_never_sealed(case, tmp_path, kind):
    outside = tmp_path / "rahasia.txt"
    outside.write_text("di luar folder kasus")
    if kind == "symlink":
        (case / "tautan.txt").symlink_to(outside)
    else:
        (case / "lampiran").mkdir()
    with pytest.raises(PiakError, match="bukan berkas biasa"):
        sealed.seal_case(case, "helpdesk")
    assert not (case / "manifest.json").exists()
