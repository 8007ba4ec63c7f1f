# -*- coding: utf-8 -*-
"""The fleet vars plugin's layout: fleet/<entity>.yml (or .json, .csv...) then fleet/<entity>/*, in
name order. Reading the files is plugin_utils/fleet_source.py (tests/unit/plugins/plugin_utils/test_fleet_source.py)."""

from __future__ import annotations

import os

from ansible_collections.phoneprov.mpp.plugins.vars import fleet


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_layout_file_then_directory_in_name_order_skipping_others(tmp_path):
    base = tmp_path / 'fleet' / 'all'
    write(tmp_path / 'fleet' / 'all.yml', '[]')
    for name in ('b.json', 'a.yml', 'c.yaml', 'd.csv', '.hidden.yml', 'old.yml~', 'notes.txt'):
        write(base / name, '[]')
    (base / 'sub.yml').mkdir()
    found = [os.path.relpath(path, str(tmp_path)) for path in fleet._fleet_files(str(base))]  # pylint: disable=protected-access
    assert found == ['fleet/all.yml', 'fleet/all/a.yml', 'fleet/all/b.json', 'fleet/all/c.yaml', 'fleet/all/d.csv']
    assert fleet._fleet_files(str(tmp_path / 'fleet' / 'missing')) == []  # pylint: disable=protected-access
