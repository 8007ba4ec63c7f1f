# -*- coding: utf-8 -*-
"""The phone_profiles action's own use of ansible-core, on the running release (real loader,
task, connection and templar; no playbook)."""

from __future__ import annotations

import collections

import pytest

import ansible.plugins.loader as plugin_loader
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultLib, VaultSecret
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.template import Templar

from ansible_collections.phoneprov.mpp.plugins.plugin_utils.core_compat import DATA_TAGGING, trust_as_template

SECRET = [('default', VaultSecret(b'unit-test-vault-password'))]
TEMPLATE = '<flat-profile>\n  <Station_Name>{{ phone.name }}</Station_Name>\n</flat-profile>\n'
Entry = collections.namedtuple('Entry', 'template')


@pytest.fixture
def action():
    loader = DataLoader()
    loader.set_vault_secrets(SECRET)
    play_context = PlayContext()
    connection = plugin_loader.connection_loader.get('local', play_context, '/dev/null')
    task = Task()
    task.args = {}
    return plugin_loader.action_loader.get('phoneprov.mpp.phone_profiles', task=task, connection=connection,
                                           play_context=play_context, loader=loader,
                                           templar=Templar(loader=loader, variables={'b': 'x'}), shared_loader_obj=plugin_loader)


def test_loads_plain_and_vault_encrypted_templates(action, tmp_path):
    """ansible-core 2.16-2.18 failed here: 'DataLoader' object has no attribute 'get_text_file_contents'."""
    plain = tmp_path / 'plain.xml.j2'
    plain.write_text(TEMPLATE)
    vaulted = tmp_path / 'vaulted.xml.j2'
    vaulted.write_bytes(VaultLib(SECRET).encrypt(TEMPLATE))
    loaded = action._load_templates({'dest': '/srv/cfg'}, [Entry(str(plain)), Entry(str(vaulted))])  # pylint: disable=protected-access
    for path in (plain, vaulted):
        item = loaded[str(path)]
        assert item.text == TEMPLATE and item.path == str(path)
        assert item.variables['template_path'] == str(path) and item.variables['template_destpath'] == '/srv/cfg'


def test_missing_template_fails_naming_it(action, tmp_path):
    with pytest.raises(Exception, match='template %s' % (tmp_path / 'none.j2')):
        action._load_templates({'dest': '/srv/cfg'}, [Entry(str(tmp_path / 'none.j2'))])  # pylint: disable=protected-access


def test_fleet_strings_resolve_as_the_release_hands_them_over(action):
    resolve = action._resolve_string  # pylint: disable=protected-access
    assert resolve('plain') == 'plain' and type(resolve(trust_as_template('plain'))) is str  # pylint: disable=unidiomatic-typecheck
    # 2.19: the action resolves each entry (finalize_task_arg keeps the list unresolved).
    # Before: the task executor templated the fleet already; what still holds {{ is a value.
    assert resolve(trust_as_template('{{ b }}')) == ('x' if DATA_TAGGING else '{{ b }}')


def test_finalize_task_arg_is_a_hook_of_2_19_only():
    # The action's override is called on 2.19 only; older releases have no such hook to call.
    from ansible.plugins.action import ActionBase  # pylint: disable=import-outside-toplevel
    assert hasattr(ActionBase, 'finalize_task_arg') == DATA_TAGGING
