# -*- coding: utf-8 -*-
"""core_compat on the running ansible-core: each helper's release path, and the pre-2.19 paths
that also run on 2.19 tested there too; the templating difference of releases before 2.19."""

from __future__ import annotations

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultLib, VaultSecret
from ansible.template import Templar

from ansible_collections.phoneprov.mpp.plugins.plugin_utils.core_compat import (
    DATA_TAGGING, final_value, profile_templar, read_text_file, read_text_file_fallback, render_profile,
    resolve_fleet_string, resolve_variable, resolve_variable_fallback, trust_as_template)
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.render_context import LoadedTemplate, build_render_context
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.render_workers import render_one

OVERRIDES = dict(trim_blocks=True, lstrip_blocks=False, newline_sequence='\n')
SECRET = [('default', VaultSecret(b'unit-test-vault-password'))]


def test_the_release_decides_the_path():
    from ansible.release import __version__  # pylint: disable=import-outside-toplevel
    assert DATA_TAGGING == (tuple(int(part) for part in __version__.split('.')[:2]) >= (2, 19))
    assert hasattr(DataLoader, 'get_text_file_contents') == DATA_TAGGING
    assert hasattr(Templar, 'resolve_variable_expression') == DATA_TAGGING


def test_template_files_are_read_plain_and_vault_encrypted(tmp_path):
    """The issue's AttributeError: the action reads its templates on every release."""
    plain = tmp_path / 'plain.j2'
    plain.write_text('<flat-profile>{{ phone.mac }} Ä</flat-profile>\n')
    vaulted = tmp_path / 'vaulted.j2'
    vaulted.write_bytes(VaultLib(SECRET).encrypt(plain.read_text()))
    loader = DataLoader()
    loader.set_vault_secrets(SECRET)
    for path in (plain, vaulted):
        assert read_text_file(loader, str(path)) == plain.read_text()
        # The in-memory reader of 2.16-2.18, which 2.19's loader still has.
        assert read_text_file_fallback(loader, str(path)) == plain.read_text()
        assert type(read_text_file_fallback(loader, str(path))) is str  # pylint: disable=unidiomatic-typecheck


def test_fleet_strings_are_templated_once():
    templar = Templar(loader=DataLoader(), variables={'b': 'x'})
    assert resolve_fleet_string(templar, 'plain') == 'plain'
    # 2.19 leaves the entries to the action (finalize_task_arg); older releases hand them over
    # templated already, so a string still holding a template is a value (a registered result).
    assert resolve_fleet_string(templar, trust_as_template('{{ b }}')) == ('x' if DATA_TAGGING else '{{ b }}')


def test_variables_resolve_as_a_template_reads_them():
    variables = {'a': trust_as_template('{{ b }}-{{ c }}'), 'b': 'x', 'c': 3, 'n': [trust_as_template('{{ c + 1 }}')]}
    templar = Templar(loader=DataLoader(), variables=variables)
    for resolve in (resolve_variable, resolve_variable_fallback):
        assert resolve(templar, 'a') == 'x-3'
        assert resolve(templar, 'n') in ([4], ['4'])  # 2.19 keeps native types, older releases text
    assert resolve_variable(templar, 'n') == ([4] if DATA_TAGGING else ['4'])


def test_a_resolved_value_is_read_as_it_is():
    """A value the action resolved (or a registered result) holding ``{{`` is not templated again."""
    variables = {'v': final_value('{{ b }}'), 'b': 'x', 'd': final_value({'k': ['{{ b }}']})}
    templar = Templar(loader=DataLoader(), variables=variables)
    assert render_profile(templar, trust_as_template('{{ v }} {{ d.k[0] }}'), OVERRIDES) == '{{ b }} {{ b }}'


@pytest.mark.skipif(DATA_TAGGING, reason='ansible-core 2.19 never templates a plain (untrusted) value: nothing to mark')
def test_before_2_19_an_unmarked_value_is_templated_again():
    """Why final_value exists: without the mark, a template of ansible-core < 2.19 templates a
    variable's value again when it reads it."""
    templar = Templar(loader=DataLoader(), variables={'v': '{{ b }}', 'b': 'x'})
    assert render_profile(templar, '{{ v }}', OVERRIDES) == 'x'


def test_render_profile_is_the_template_action_s():
    """Text as written (no conversion of a result that looks like a list), trailing newlines kept,
    Ansible's text environment even when the templar is native."""
    templar = profile_templar(Templar(loader=DataLoader()), ['/nonexistent'], {'items': [1, 2]})
    assert render_profile(templar, trust_as_template('{{ items }}'), OVERRIDES) == '[1, 2]'
    assert render_profile(templar, trust_as_template('{% if items %}\nyes\n{% endif %}\n\n'), OVERRIDES) == 'yes\n\n'


def _context(task_vars, template_text):
    args = dict(compress=False, encrypt='none', key_field='key', key_encoding='utf-8', record_size=4096,
                filename='$MA.xml', render_cache=True, direct_render=True)
    templates = {'t': LoadedTemplate(trust_as_template(template_text), '/t.j2', {'template_path': '/t.j2'})}
    return build_render_context(Templar(loader=DataLoader(), variables=task_vars), [], args, templates, task_vars)


@pytest.mark.parametrize('direct', [True, False], ids=['direct', 'templar'])
def test_profiles_template_the_fleet_and_shared_variables_once(direct):
    """A shared variable whose value is a template's result holding ``{{``, and a phone entry
    from a registered result holding ``{{``: the profile shows both as they are."""
    task_vars = {'note': trust_as_template("{{ '{{ b }}' }}"), 'b': 'x', 'site': trust_as_template('{{ b }}.example')}
    context = _context(task_vars, '{{ note }}|{{ site }}|{{ phone.name }}\n')
    assert context.shared['note'] == '{{ b }}' and sorted(context.shared) == ['note', 'site']
    if not direct:
        context.direct.clear()
    phone = {'phone': {'mac': '000e08abcd01', 'name': '{{ b }}'}, 'phone_mac': '000e08abcd01'}
    # The first direct render is checked against the templar's: both must give this.
    text, was_direct = render_one(context, 't', phone)
    assert text == '{{ b }}|x.example|{{ b }}\n' and was_direct == direct


def test_direct_rendering_follows_the_release_for_tuples():
    context = _context({}, '{{ (1, 2) }}')
    assert 't' in context.direct
    text, was_direct = render_one(context, 't', {'phone': {'mac': '000e08abcd01'}})
    assert was_direct and context.direct['t'].verified
    assert text == ('[1, 2]' if DATA_TAGGING else '(1, 2)')
