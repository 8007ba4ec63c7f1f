# -*- coding: utf-8 -*-
"""Unit tests of module_utils/module_helper.py: the option groups match their doc fragment, run_backend, merge_publish."""

from __future__ import annotations

import json

import pytest
import yaml

from ansible.module_utils.testing import patch_module_args

from ansible_collections.phoneprov.mpp.plugins.doc_fragments.pki import ModuleDocFragment
from ansible_collections.phoneprov.mpp.plugins.module_utils import module_helper
from ansible_collections.phoneprov.mpp.plugins.module_utils.pki import PKIError


@pytest.mark.parametrize('group', sorted(module_helper.PKI_OPTIONS))
def test_option_groups_are_what_their_fragment_documents(group):
    documented = yaml.safe_load(getattr(ModuleDocFragment, group.upper()))['options']
    spec = module_helper.PKI_OPTIONS[group]
    assert sorted(documented) == sorted(spec)
    for name, option in spec.items():
        assert documented[name]['type'] == option['type']
        assert documented[name].get('default') == option.get('default')
        assert documented[name].get('required', False) == option.get('required', False)


def test_pki_argument_spec_adds_the_groups():
    spec = module_helper.pki_argument_spec(dict(path=dict(type='path')), 'privatekey', 'force')
    assert sorted(spec) == ['force', 'path', 'privatekey_passphrase', 'privatekey_path']
    assert spec['privatekey_passphrase']['no_log'] is True


def test_merge_publish_collects_changes_backups_and_diffs():
    result = {'changed': False}
    module_helper.merge_publish(result, {'changed': False, 'content_changed': False})
    assert result == {'changed': False}
    module_helper.merge_publish(result, {'changed': True, 'backup_file': '/x.1~', 'diff': {'after': 'a'}})
    module_helper.merge_publish(result, {'changed': False, 'backup_file': '/y.1~', 'diff': {'after': 'b'}},
                                backup_key='fullchain_backup_file')
    assert result == {'changed': True, 'backup_file': '/x.1~', 'fullchain_backup_file': '/y.1~',
                      'diff': [{'after': 'a'}, {'after': 'b'}]}


def run(backend, capsys):
    with patch_module_args({}):
        module = module_helper.create_module({})
        with pytest.raises(SystemExit) as stop:
            module_helper.run_backend(module, backend, PKIError)
    return stop.value.code, json.loads(capsys.readouterr().out)


def test_run_backend_exits_with_the_result(capsys):
    def backend(_module, result):
        result.update(changed=True, path='/x')

    code, out = run(backend, capsys)
    assert code == 0 and out['changed'] is True and out['path'] == '/x'


def test_run_backend_fails_with_the_message_and_the_result_so_far(capsys):
    def backend(_module, result):
        result['path'] = '/x'
        raise PKIError('the key is not readable')

    code, out = run(backend, capsys)
    assert code == 1
    assert out['failed'] is True and out['msg'] == 'the key is not readable' and out['path'] == '/x'


def test_run_backend_lets_other_errors_through():
    def backend(_module, _result):
        raise KeyError('a bug, not a refusal')

    with patch_module_args({}):
        module = module_helper.create_module({})
        with pytest.raises(KeyError):
            module_helper.run_backend(module, backend, PKIError)
