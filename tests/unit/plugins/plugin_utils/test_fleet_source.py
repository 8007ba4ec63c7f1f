# -*- coding: utf-8 -*-
"""Fleet files (plugin_utils/fleet_source.py): parsing YAML, JSON and CSV, checks with the file and
entry named, directories, relative paths, cache."""

from __future__ import annotations

import json

import pytest
import yaml

from ansible.errors import AnsibleError, AnsibleParserError

from ansible_collections.phoneprov.mpp.plugins.plugin_utils.core_compat import DATA_TAGGING
from ansible_collections.phoneprov.mpp.plugins.plugin_utils import fleet_source as fleet

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


def test_cache_parses_once_and_again_after_a_change(tmp_path, monkeypatch):
    path = write(tmp_path / 'all.yml', "- mac: '000e08abcd01'\n")
    calls = []
    real = fleet._load_fleet_file  # pylint: disable=protected-access
    monkeypatch.setattr(fleet, '_load_fleet_file', lambda *args: calls.append(args[0]) or real(*args))
    first = fleet.cached_fleet_file(path, 'mpp_phones')
    assert fleet.cached_fleet_file(path, 'mpp_phones') is first and len(calls) == 1
    write(tmp_path / 'all.yml', "- mac: '000e08abcd01'\n- mac: '000e08abcd02'\n")
    assert len(fleet.cached_fleet_file(path, 'mpp_phones')) == 2 and len(calls) == 2


def test_csv_header_nests_dotted_columns_into_dicts_and_lists(tmp_path):
    path = write(tmp_path / 'site.csv', '\ufeffmac,model,lines.0.user_id,lines.0.password,lines.1.user_id,site.floor,tags.0\n'
                                        '00:0e:08:ab:cd:01,CP-8841-3PCC,1001,{{ vault_sip_1001 }},1011,3,lobby\n'
                                        '000e08abcd02,,1002,,,,\n'
                                        '\n'
                                        '000e08abcd03\n')
    assert fleet.load_fleet_file(path) == [
        {'mac': '00:0e:08:ab:cd:01', 'model': 'CP-8841-3PCC', 'site': {'floor': '3'}, 'tags': ['lobby'],
         'lines': [{'user_id': '1001', 'password': '{{ vault_sip_1001 }}'}, {'user_id': '1011'}]},
        {'mac': '000e08abcd02', 'lines': [{'user_id': '1002'}]},
        {'mac': '000e08abcd03'}]
    if DATA_TAGGING:
        assert TrustedAsTemplate.is_tagged_on(fleet.load_fleet_file(path)[0]['lines'][0]['password'])
    assert fleet.load_fleet_file(write(tmp_path / 'empty.csv', '')) == []
    assert fleet.load_fleet_file(write(tmp_path / 'header.csv', 'mac,model\n')) == []


@pytest.mark.parametrize('text, expected', [
    ('mac,lines.1.user_id\n000e08abcd01,1011\n', 'line 2: lines.0 is empty but a later index is set'),
    ('mac,lines.0,lines.name\n000e08abcd01,a,b\n', 'line 2: columns under lines mix list indexes and names'),
    ('mac,site,site.floor\n000e08abcd01,a,3\n', 'line 2: column site.floor needs site to be a mapping or list'),
    ('mac,site.floor,site\n000e08abcd01,3,a\n', 'line 2: column site has a value and nested columns'),
    ('mac,model,model\n000e08abcd01,a,b\n', 'column model appears twice in the header'),
    ('mac,lines..user_id\n000e08abcd01,a\n', "column 2 of the header, 'lines..user_id', is not a name"),
    ('mac,model\n000e08abcd01,a,extra\n', 'line 2 has 3 cells, the header names 2 columns'),
    ('model\nCP-8841-3PCC\n', 'phone #1 has no mac'),
    ('mac\n00:0e:08:zz:cd:01\n', 'phone #1 (mac 00:0e:08:zz:cd:01): invalid MAC address'),
])
def test_bad_csv_names_file_line_and_column(tmp_path, text, expected):
    path = write(tmp_path / 'bad.csv', text)
    with pytest.raises(AnsibleParserError) as caught:
        fleet.load_fleet_file(path)
    assert path in str(caught.value) and expected in str(caught.value), str(caught.value)


def test_read_fleet_joins_files_and_directories_in_order(tmp_path):
    write(tmp_path / 'fleet' / 'b.json', '[{"mac": "000e08000002"}]')
    write(tmp_path / 'fleet' / 'a.yml', "- mac: '000e08000001'\n")
    write(tmp_path / 'fleet' / 'c.csv', 'mac\n000e08000003\n')
    for skipped in ('.hidden.yml', 'old.yml~', 'notes.txt'):
        write(tmp_path / 'fleet' / skipped, 'not a fleet')
    extra = write(tmp_path / 'extra.yaml', "mpp_phones:\n  - mac: '000e08000009'\n")
    assert [phone['mac'] for phone in fleet.read_fleet([str(tmp_path / 'fleet'), extra])] == \
        ['000e08000001', '000e08000002', '000e08000003', '000e08000009']
    with pytest.raises(AnsibleParserError, match='notes.txt: a fleet file ends in .yml, .yaml, .json, .csv'):
        fleet.read_fleet([str(tmp_path / 'fleet' / 'notes.txt')])


def test_relative_paths_resolve_under_the_first_base_that_has_them(tmp_path):
    inventory, playbooks = tmp_path / 'inventory', tmp_path / 'playbooks'
    write(inventory / 'fleet.yml', '[]')
    write(playbooks / 'fleet.yml', '[]')
    write(playbooks / 'only-here.csv', 'mac\n')
    bases = (str(inventory), None, str(playbooks))
    assert fleet.resolve_paths(['fleet.yml', 'only-here.csv', str(playbooks / 'fleet.yml')], bases) == \
        [str(inventory / 'fleet.yml'), str(playbooks / 'only-here.csv'), str(playbooks / 'fleet.yml')]
    with pytest.raises(AnsibleError) as caught:
        fleet.resolve_paths(['missing.yml'], bases)
    assert str(caught.value) == 'fleet source missing.yml: no such file or directory (looked for %s, %s)' % (
        inventory / 'missing.yml', playbooks / 'missing.yml')


def typed(value):
    """``value`` with every item's type, to compare data type for type."""
    if isinstance(value, dict):
        return dict((typed(key), typed(item)) for key, item in value.items())
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


def test_yaml_loader_builds_what_the_safe_loader_builds(tmp_path):
    text = ("- &base {mac: '000e08abcd01', port: 5060, on: true, off: no, none: ~, ratio: 1.5, when: 2024-01-02,\n"
            "           quoted: '5060', tagged: !!str 42, octal: 0o17, list: [a, 1, {b: c}]}\n"
            "- <<: *base\n"
            "  mac: 000e08abcd02\n"
            "- {mac: 000e08abcd03, again: *base, 7: seven, empty: '', blank: }\n")
    expected = yaml.load(text, Loader=yaml.SafeLoader)  # nosec B506 - the safe loader
    assert typed(fleet.load_fleet_file(write(tmp_path / 'typed.yml', text))) == typed(expected)


@pytest.mark.parametrize('text, expected', [
    ("- mac: '000e08abcd01'\n  ? [a, b]\n  : unhashable\n", 'found unhashable key'),
    ("- &loop [*loop]\n", 'an alias refers to a node that contains it'),
])
def test_yaml_the_safe_loader_refuses_is_refused(tmp_path, text, expected):
    path = write(tmp_path / 'odd.yml', text)
    with pytest.raises(AnsibleParserError) as caught:
        fleet.load_fleet_file(path)
    assert 'odd.yml: not valid YAML' in str(caught.value) and expected in str(caught.value), str(caught.value)


def test_read_fleet_data_says_whether_a_file_may_hold_templates(tmp_path):
    plain = write(tmp_path / 'plain.json', json.dumps([{'mac': '000e08abcd01', 'lines': [{'password': 'a#b{c}'}]}]))
    escaped = write(tmp_path / 'escaped.json', '[{"mac": "000e08abcd02", "note": "\\u007b\\u007b x }}"}]')
    templated = write(tmp_path / 'templated.yml', "- mac: '000e08abcd03'\n  note: '{{ x }}'\n")
    data = fleet.read_fleet_data([plain])
    assert data.plain and data.phones == [{'mac': '000e08abcd01', 'lines': [{'password': 'a#b{c}'}]}]
    assert type(data.phones[0]['lines'][0]['password']) is str  # pylint: disable=unidiomatic-typecheck
    assert not fleet.read_fleet_data([escaped]).plain, 'an escape could spell a template'
    assert fleet.read_fleet_data([escaped]).phones[0]['note'] == '{{ x }}'
    assert not fleet.read_fleet_data([plain, templated]).plain


def test_yaml_aliases_are_shared_not_copied(tmp_path):
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        levels.append('a%d: &a%d [%s]' % (level, level, ', '.join(['*a%d' % (level - 1)] * 10)))
    text = "- mac: '000e08abcd01'\n  bomb: {%s}\n" % ', '.join(levels)  # 10 ** 9 strings if copied
    entry = fleet.load_fleet_file(write(tmp_path / 'laughs.yml', text))[0]
    assert entry['bomb']['a8'][0] is entry['bomb']['a7'] and entry['bomb']['a1'][9] is entry['bomb']['a0']
