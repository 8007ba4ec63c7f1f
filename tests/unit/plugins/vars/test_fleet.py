# -*- coding: utf-8 -*-
"""Fleet files: parsing, checks with the file and entry named, layout, cache."""

from __future__ import annotations

import json
import os

import pytest

from ansible.errors import AnsibleParserError

from ansible_collections.phoneprov.mpp.plugins.plugin_utils.core_compat import DATA_TAGGING
from ansible_collections.phoneprov.mpp.plugins.vars import fleet

if DATA_TAGGING:
    from ansible._internal._datatag._tags import TrustedAsTemplate


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_yaml_list_json_list_and_mapping_give_plain_entries(tmp_path):
    yml = write(tmp_path / 'a.yml', "- mac: '00:0e:08:ab:cd:01'\n  model: CP-8841-3PCC\n  note: '{{ a_template }}'\n"
                                    "  remark: 'Desk {# a Jinja2 comment #}'\n")
    js = write(tmp_path / 'b.json', json.dumps([{'mac': '000e08abcd02', 'lines': [{'user_id': '1002'}]}]))
    mapping = write(tmp_path / 'c.yaml', "mpp_phones:\n  - mac: 00-0e-08-ab-cd-03\n")
    assert fleet.load_fleet_file(yml) == [{'mac': '00:0e:08:ab:cd:01', 'model': 'CP-8841-3PCC', 'note': '{{ a_template }}',
                                           'remark': 'Desk {# a Jinja2 comment #}'}]
    assert fleet.load_fleet_file(js) == [{'mac': '000e08abcd02', 'lines': [{'user_id': '1002'}]}]
    assert fleet.load_fleet_file(mapping) == [{'mac': '00-0e-08-ab-cd-03'}]
    entry = fleet.load_fleet_file(yml)[0]
    # Plain values stay plain str.
    assert type(entry['mac']) is str and type(entry['model']) is str  # pylint: disable=unidiomatic-typecheck
    assert fleet.load_fleet_file(write(tmp_path / 'empty.yml', '')) == []
    assert fleet.load_fleet_file(write(tmp_path / 'none.yml', 'mpp_phones:\n')) == []
    assert fleet.load_fleet_file(write(tmp_path / 'other.yml', 'phones:\n  - mac: 000e08abcd04\n'), 'phones') == [{'mac': '000e08abcd04'}]


@pytest.mark.skipif(not DATA_TAGGING, reason='ansible-core < 2.19 has no trust marks: it templates every string, as it does in group_vars')
def test_templates_are_marked_trusted_as_in_group_vars(tmp_path):
    yml = write(tmp_path / 'a.yml', "- mac: '00:0e:08:ab:cd:01'\n  model: CP-8841-3PCC\n  note: '{{ a_template }}'\n"
                                    "  remark: 'Desk {# a Jinja2 comment #}'\n")
    entry = fleet.load_fleet_file(yml)[0]
    # A template is marked trusted, as group_vars values are.
    assert TrustedAsTemplate.is_tagged_on(entry['note']) and not TrustedAsTemplate.is_tagged_on(entry['model'])
    # Whatever Ansible would take for a template is one here too (a comment, say), as in group_vars.
    assert TrustedAsTemplate.is_tagged_on(entry['remark'])


@pytest.mark.parametrize('name, text, expected', [
    ('bad.yml', '- mac: [unclosed\n', 'bad.yml: not valid YAML'),
    ('bad.json', '[{"mac": "000e08abcd01",}]', 'bad.json: not valid JSON'),
    ('scalar.yml', 'just text\n', 'a fleet file is a list of phones, found a str'),
    ('keys.yml', 'mpp_phones: []\nextra: 1\n', 'a mapping with the one key mpp_phones, found keys extra, mpp_phones'),
    ('item.yml', "- mac: '000e08abcd01'\n- just a string\n", 'item.yml: phone #2 is a str, not a mapping with a mac'),
    ('nomac.yml', "- mac: '000e08abcd01'\n- model: CP-8841-3PCC\n", 'nomac.yml: phone #2 has no mac'),
    ('badmac.yml', '- mac: 00:0e:08:zz:cd:01\n', 'badmac.yml: phone #1 (mac 00:0e:08:zz:cd:01): invalid MAC address'),
    ('number.yml', '- mac: 123456789012\n', 'MAC address must be a string, got int 123456789012 (YAML read it as a number: quote the MAC)'),
    ('vaultvalue.yml', "- mac: '000e08abcd01'\n  key: !vault |\n    $ANSIBLE_VAULT;1.1;AES256\n    3031\n",
     'single vaulted values (!vault) are not supported'),
])
def test_bad_file_names_file_and_entry(tmp_path, name, text, expected):
    path = write(tmp_path / name, text)
    with pytest.raises(AnsibleParserError) as caught:
        fleet.load_fleet_file(path)
    assert path in str(caught.value) and expected in str(caught.value), str(caught.value)


def test_vault_encrypted_file_needs_and_uses_decrypt(tmp_path):
    path = write(tmp_path / 'keys.yml', '$ANSIBLE_VAULT;1.1;AES256\n3031\n')
    with pytest.raises(AnsibleParserError, match='vault-encrypted, and no vault secrets'):
        fleet.load_fleet_file(path)
    assert fleet.load_fleet_file(path, decrypt=lambda p: "- mac: '000e08abcd01'\n  key: s3cret\n") == \
        [{'mac': '000e08abcd01', 'key': 's3cret'}]


def test_layout_file_then_directory_in_name_order_skipping_others(tmp_path):
    base = tmp_path / 'fleet' / 'all'
    write(tmp_path / 'fleet' / 'all.yml', '[]')
    for name in ('b.json', 'a.yml', 'c.yaml', '.hidden.yml', 'old.yml~', 'notes.txt'):
        write(base / name, '[]')
    (base / 'sub.yml').mkdir()
    found = [os.path.relpath(path, str(tmp_path)) for path in fleet._fleet_files(str(base))]  # pylint: disable=protected-access
    assert found == ['fleet/all.yml', 'fleet/all/a.yml', 'fleet/all/b.json', 'fleet/all/c.yaml']
    assert fleet._fleet_files(str(tmp_path / 'fleet' / 'missing')) == []  # pylint: disable=protected-access


def test_cache_parses_once_and_again_after_a_change(tmp_path, monkeypatch):
    path = write(tmp_path / 'all.yml', "- mac: '000e08abcd01'\n")
    calls = []
    real = fleet.load_fleet_file
    monkeypatch.setattr(fleet, 'load_fleet_file', lambda *args: calls.append(args[0]) or real(*args))
    first = fleet.cached_fleet_file(path, 'mpp_phones')
    assert fleet.cached_fleet_file(path, 'mpp_phones') is first and len(calls) == 1
    write(tmp_path / 'all.yml', "- mac: '000e08abcd01'\n- mac: '000e08abcd02'\n")
    assert len(fleet.cached_fleet_file(path, 'mpp_phones')) == 2 and len(calls) == 2
