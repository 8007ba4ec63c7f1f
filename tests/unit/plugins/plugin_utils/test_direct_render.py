# -*- coding: utf-8 -*-
"""Direct rendering gives byte for byte what ansible-core's templar gives, or refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import filter_loader, test_loader
from ansible.template import Templar

from ansible_collections.phoneprov.mpp.plugins.plugin_utils.core_compat import render_profile, trust_as_template
from ansible_collections.phoneprov.mpp.plugins.plugin_utils.direct_render import DirectTemplate, NotDirect, is_plain, plain_data

REPO = Path(__file__).resolve().parents[4]
ROLE_TEMPLATES = REPO / 'roles' / 'phone_profiles' / 'templates'

ROLE_VARS = dict(mpp_profiles_resync_on_reset=True, mpp_profiles_resync_periodic=3600,
                 mpp_profiles_resync_error_retry_delay=3600, mpp_profiles_resync_random_delay=2,
                 mpp_profiles_key_gpp='B', mpp_profiles_server_fqdn='prov.example.net',
                 mpp_profiles_server_port=443, mpp_profiles_url_path='/cfg/', mpp_profiles_key_field='key',
                 mpp_profiles_parameters={'Primary_DNS': '192.0.2.53', 'Enable_Web_Server': False, 'Empty': None})

PHONES = [
    {'mac': '000e08abcd01', 'lines': [{'user_id': '1001', 'password': 'p<&>"\'', 'display_name': 'Empfang Ä',
                                       'proxy': 'sip.example.net'}], 'key': 'k1'},
    {'mac': '000e08abcd02', 'line1': {'user_id': 1002}, 'resync_periodic': 600, 'key': 'k2',
     'parameters': {'Text_Logo': 'ACME', 'Screen_Saver_Enable': True, 'Count': 3, 'Ratio': 1.5}},
    {'mac': '000e08abcd03'},
]


def templar_render(text, variables):
    # As the phone_profiles action renders through the templar (ansible.builtin.template's way).
    templar = Templar(loader=DataLoader(), variables=variables)
    result = render_profile(templar, trust_as_template(text), dict(trim_blocks=True, lstrip_blocks=False, newline_sequence='\n'))
    return result if isinstance(result, str) else str(result)


def direct(text):
    return DirectTemplate(text, filter_loader, test_loader)


def role_template():
    found = sorted(ROLE_TEMPLATES.glob('*.j2'))
    assert found, 'the role ships a default template'
    return found[0].read_text()


@pytest.mark.parametrize('encrypt', ['none', 'aes-256-cbc', 'rfc8188'])
@pytest.mark.parametrize('phone', PHONES, ids=['lines', 'line1-and-parameters', 'bare'])
def test_role_template_renders_exactly_as_the_templar(encrypt, phone):
    variables = dict(ROLE_VARS, mpp_profiles_encrypt=encrypt, phone=phone, phone_mac=phone['mac'])
    text = role_template()
    if encrypt != 'none' and 'key' not in phone:
        # The module refuses such a phone before rendering; both renderers refuse it too.
        with pytest.raises(Exception):
            templar_render(text, variables)
        with pytest.raises(Exception):
            direct(text).render(dict(variables))
        return
    assert direct(text).render(dict(variables)) == templar_render(text, variables)


@pytest.mark.parametrize('text', [
    'a{{ nothing }}b\n',                          # None is rendered as nothing
    '{{ flag }} {{ flag | bool }} {{ "yes" | bool }}',
    '{{ items | map("upper") | list }} {{ items | map("upper") }}',  # filter generators become lists
    '{{ items | select("equalto", "a") | join(",") }}',
    '{{ numbers | sum }} {{ numbers | max }} {{ 7 // 2 }} {{ 1.0 }}',
    '{{ text | regex_replace("[aeiou]", "_") }} {{ text | b64encode }} {{ nested | to_json }}',
    '{% for k, v in nested.items() %}{{ k }}={{ v }};{% endfor %}',
    '{{ nested.key }}|{{ nested["key"] }}|{{ missing | default("dflt") }}|{{ missing | d("d") }}',
    'keeps\n\n\n',                                # trailing newlines as Ansible keeps them
    '{% if flag %}\nyes\n{% endif %}\nend',       # trim_blocks
    '  {% if flag %}x{% endif %}',                # no lstrip_blocks
    '{{ "<&>" | e }} {{ "ü" }}',
    '{{ nested.items() | list }} {{ (1, (2, 3)) }} {{ {"t": (1, 2)} }}',  # tuples are written as lists
    "{{ nothing ~ 'x' }} {{ [nothing, 1] }} {{ nothing | string }} {{ nothing is none }} {{ nothing | default('q', true) }}",
    "{{ nested | dict2items }} {{ '%05d' | format(7) }} {{ 10 / 4 }} {{ 0.1 * 2 }} {{ 10 ** 20 }} {{ text.split('l') }}",
    '{{ mac | phoneprov.mpp.mac }} {{ mac | phoneprov.mpp.mac_colon }}',
])
def test_expressions_render_as_the_templar(text):
    variables = dict(nothing=None, flag=True, items=['a', 'b'], numbers=[1, 5, 2], mac='00-0E-08-AB-CD-EF',
                     text='hello', nested={'key': 'value', 'n': 1})
    assert direct(text).render(dict(variables)) == templar_render(text, variables)


def test_undefined_raises_so_the_templar_decides():
    with pytest.raises(Exception):
        direct('{{ phone.model }}').render({'phone': {}})
    with pytest.raises(Exception):
        direct('{{ no_such_variable }}').render({})


def test_unknown_filter_or_test_is_left_to_the_templar():
    with pytest.raises(NotDirect, match='filter no_such_filter'):
        direct('{{ 1 | no_such_filter }}')
    with pytest.raises(NotDirect, match='test no_such_test'):
        direct('{{ 1 is no_such_test }}')
    with pytest.raises(NotDirect, match='does not parse'):
        direct('{% if %}')


def test_plain_data_checks():
    assert is_plain({'a': [1, 2.5, None, True, 'text']})
    assert not is_plain({'a': '{{ template }}'}) and not is_plain(['{# comment #}']) and not is_plain('#jinja2: x\n')
    assert not is_plain({'a': object()})
    copied = plain_data({trust_as_template('k'): [trust_as_template('x'), (1, 2.5)]})
    assert copied == {'k': ['x', [1, 2.5]]}
    assert [type(key) for key in copied] == [str] and type(copied['k'][0]) is str  # pylint: disable=unidiomatic-typecheck
    assert plain_data({'a': 'b'}, resolve_string=str.upper) == {'a': 'B'}
    marker = object()
    assert plain_data([marker])[0] is marker
    with pytest.raises(NotDirect):
        plain_data({'a': object()}, strict=True)
