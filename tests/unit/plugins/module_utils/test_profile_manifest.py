# -*- coding: utf-8 -*-
"""The phone_profiles manifest: what the module manages in the profile directory."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_manifest import (
    MANIFEST_VERSION, Manifest, ManifestError, load_manifest, save_manifest, sha256_file)

NAME = '.phone_profiles.json'


def test_no_manifest_is_an_empty_one(tmp_path):
    assert load_manifest(str(tmp_path / NAME)) == {}
    assert Manifest(str(tmp_path), NAME).files == {}


def test_save_and_load(tmp_path):
    path = str(tmp_path / NAME)
    files = {'000e08000001.xml': {'mac': '000e08000001', 'sha256': 'a' * 64, 'stat': [1, 2, 3], 'render': None}}
    save_manifest(path, files, 0o640)
    assert load_manifest(path) == files
    assert json.loads((tmp_path / NAME).read_text()) == {'version': MANIFEST_VERSION, 'files': files}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert [name for name in os.listdir(str(tmp_path)) if name != NAME] == []  # no temporary file left


@pytest.mark.parametrize('text, message', [
    ('{not json', 'is not valid JSON'),
    ('[]', 'is not a phone_profiles manifest version 1'),
    ('{"version": 2, "files": {}}', 'is not a phone_profiles manifest version 1'),
    ('{"version": 1, "files": []}', 'is not a phone_profiles manifest version 1'),
    ('{"version": 1}', 'is not a phone_profiles manifest version 1'),
])
def test_bad_manifests_are_refused_naming_the_file(tmp_path, text, message):
    path = tmp_path / NAME
    path.write_text(text)
    with pytest.raises(ManifestError) as caught:
        Manifest(str(tmp_path), NAME)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_a_recorded_file_is_vouched_for_until_it_changes(tmp_path):
    profile = tmp_path / '000e08000001.xml'
    profile.write_bytes(b'<flat-profile/>\n')
    sha = hashlib.sha256(b'<flat-profile/>\n').hexdigest()
    assert sha256_file(str(profile)) == sha
    manifest = Manifest(str(tmp_path), NAME)
    assert manifest.verified('000e08000001.xml')[0] is None  # on disk, not in the manifest
    assert manifest.verified('000e08000002.xml') == (None, None)  # not on disk
    manifest.record('000e08000001.xml', '000e08000001', sha, 'f' * 64)
    assert manifest.is_current('000e08000001.xml', '000e08000001', 'f' * 64)
    assert not manifest.is_current('000e08000001.xml', '000e08000001', 'e' * 64)
    manifest.save(0o600)
    again = Manifest(str(tmp_path), NAME)
    assert again.verified('000e08000001.xml')[0] == sha
    profile.write_bytes(b'<flat-profile>edited by hand</flat-profile>\n')
    assert again.verified('000e08000001.xml')[0] is None
