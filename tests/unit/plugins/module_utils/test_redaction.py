# -*- coding: utf-8 -*-
"""module_utils/redaction: the one rule for secret parameters, phone_check's and the push's --diff."""

from __future__ import annotations

import random
from xml.sax.saxutils import escape

import pytest
import yaml

from ansible_collections.phoneprov.mpp.plugins.module_utils import redaction
from ansible_collections.phoneprov.mpp.plugins.module_utils.flat_profile import render_flat_profile
from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_profiles_spec import task_argument_spec
from ansible_collections.phoneprov.mpp.plugins.module_utils.redaction import DEFAULT_REDACT, REDACTED, RedactionRule
from ansible_collections.phoneprov.mpp.plugins.modules import phone_check, phone_profiles

M = REDACTED


@pytest.mark.parametrize('name', ['Password_1_', 'Admin_Passwd', 'admin_passwd', 'SIP_Pwd_2_', 'Shared_Secret', 'GPP_A',
                                  'gpp_b', 'IKM_HTTP_Encrypt_Content', 'ns0:Admin_Passwd'])
def test_secret_names(name):
    assert RedactionRule().is_secret(name)


@pytest.mark.parametrize('name', ['User_ID_1_', 'Profile_Rule', 'Line_Key_1_', 'Station_Name', 'My_GPP_A'])
def test_names_that_are_no_secret(name):
    assert not RedactionRule().is_secret(name)


def test_one_default_for_phone_check_and_the_push():
    assert task_argument_spec()['redact']['default'] == list(DEFAULT_REDACT)
    for module in (phone_check, phone_profiles):
        assert yaml.safe_load(module.DOCUMENTATION)['options']['redact']['default'] == list(DEFAULT_REDACT), module.__name__


def test_parameters_redacted_and_filtered():
    params = {'Password_1_': 'pw', 'User_ID_1_': '1001', 'GPP_B': 'k', 'Admin_Passwd': 'x', 'Empty_Pwd': ''}
    assert redaction.redact_parameters(params) == {'Password_1_': M, 'User_ID_1_': '1001', 'GPP_B': M, 'Admin_Passwd': M, 'Empty_Pwd': ''}
    assert redaction.redact_parameters(params, [], ['User_ID_1_', 'GPP_B']) == {'User_ID_1_': '1001', 'GPP_B': 'k'}
    assert redaction.redact_parameters(params, ['user_*']) == dict(params, User_ID_1_=M)


def test_text_cdata_and_attributes_of_secret_elements():
    text = ('<flat-profile>\n'
            '  <Admin_Passwd>admin-1</Admin_Passwd>\n'
            '  <GPP_A ua="na">gpp key</GPP_A>\n'
            '  <Password_1_><![CDATA[cdata <pw>]]></Password_1_>\n'
            '  <SIP_Pwd_2_ value="attr-1" ua="rw"/>\n'
            "  <Station_Name secret='attr-2' ua=\"na\">desk</Station_Name>\n"
            '  <Admin_Passwd/>\n'
            '  <Admin_Passwd></Admin_Passwd>\n'
            '</flat-profile>\n')
    assert redaction.redact_profile_text(text) == (
        '<flat-profile>\n'
        '  <Admin_Passwd>%s</Admin_Passwd>\n'
        '  <GPP_A ua="na">%s</GPP_A>\n'
        '  <Password_1_><![CDATA[%s]]></Password_1_>\n'
        '  <SIP_Pwd_2_ value="%s" ua="rw"/>\n'
        "  <Station_Name secret='%s' ua=\"na\">desk</Station_Name>\n"
        '  <Admin_Passwd/>\n'
        '  <Admin_Passwd></Admin_Passwd>\n'
        '</flat-profile>\n') % (M, M, M, M, M)


def test_masked_values_and_the_key_are_masked_wherever_they_stand():
    text = ('<flat-profile><GPP_B>k3y-value</GPP_B><Profile_Rule>[--key k3y-value] https://x/$MA.xml</Profile_Rule>'
            '<Note>phone&amp;key</Note></flat-profile>')
    assert redaction.redact_profile_text(text, secrets=['phone&key', 'ab']) == (
        '<flat-profile><GPP_B>%s</GPP_B><Profile_Rule>[--key %s] https://x/$MA.xml</Profile_Rule><Note>%s</Note></flat-profile>' % (M, M, M))
    # A secret the old side holds as GPP_B and the new side moved elsewhere stays hidden in both.
    old, new = RedactionRule().redact_profile_texts(['<GPP_B>moved-secret</GPP_B>', '<Note>moved-secret</Note>'])
    assert (old, new) == ('<GPP_B>%s</GPP_B>' % M, '<Note>%s</Note>' % M)


@pytest.mark.parametrize('text, expected', [
    ('<Admin_Passwd>secret1', '<Admin_Passwd>%s' % M),  # truncated: the rest is the secret's
    ('<Password_1_><![CDATA[open secret', '<Password_1_><![CDATA[%s' % M),
    ('<Admin_Passwd value="x1x', '<Admin_Passwd value="%s' % M),  # an unclosed quote: the tag never ends
    ('<a:flat-profile xmlns:a="u"><a:Admin_Passwd>s-1</a:Admin_Passwd></a:flat-profile>',
     '<a:flat-profile xmlns:a="u"><a:Admin_Passwd>%s</a:Admin_Passwd></a:flat-profile>' % M),
    ('<GPP_A>\n  <Inner>deep-1</Inner>\n</GPP_A>', '<GPP_A>\n  <Inner>%s</Inner>\n</GPP_A>' % M),
    ('<!-- Admin_Passwd --><?xml version="1.0"?><User_ID_1_>1 < 2</User_ID_1_>',
     '<!-- Admin_Passwd --><?xml version="1.0"?><User_ID_1_>1 < 2</User_ID_1_>'),
    ('(previous content could not be decoded: bad key)\n', '(previous content could not be decoded: bad key)\n'),
    ('<X password="a>b">t</X>', '<X password="%s">t</X>' % M),  # > is allowed in an attribute value
    ('<X a="oops>\n<Admin_Passwd>s-3</Admin_Passwd><Y b="c">', '<X a="oops>\n<Admin_Passwd>%s</Admin_Passwd><Y b="c">' % M),
    ('<X a="oops\n<Admin_Passwd>s-3</Admin_Passwd>', '<X a="oops\n<Admin_Passwd>%s</Admin_Passwd>' % M),
])
def test_malformed_and_unusual_profiles(text, expected):
    assert redaction.redact_profile_text(text) == expected


def test_an_unclosed_attribute_quote_hides_no_secret_text():
    masked = redaction.redact_profile_text('<Admin_Passwd value="x1x>s-2</Admin_Passwd>')
    assert 's-2' not in masked and 'x1x' not in masked


def test_patterns_of_the_task():
    text = '<flat-profile><Password_1_>pw-1</Password_1_><Site_Token>tok-1</Site_Token></flat-profile>'
    assert redaction.redact_profile_text(text, ['Site_*']) == '<flat-profile><Password_1_>pw-1</Password_1_><Site_Token>%s</Site_Token></flat-profile>' % M
    assert redaction.redact_profile_text(text, []) == text
    assert RedactionRule(None).patterns == DEFAULT_REDACT


def test_no_secret_value_survives_in_rendered_profiles():
    """Profiles as flat_profile renders them (escaping, ua attributes, empty values), with values
    of every awkward character: no secret appears, raw or escaped."""
    chance = random.Random(13)
    alphabet = 'abcXYZ019 &<>"\';:/[]-_'
    for _round in range(200):
        secrets = dict(('%s%d' % (chance.choice(['Password_', 'Admin_Passwd', 'GPP_', 'IKM_X', 'SIP_Pwd_']), number),
                        'S' + ''.join(chance.choice(alphabet) for _char in range(chance.randint(3, 12))))
                       for number in range(3))
        parameters = dict((name, {'value': value, 'ua': 'na'} if chance.random() < 0.5 else value) for name, value in secrets.items())
        parameters.update(User_ID_1_='1001', Station_Name='desk')
        masked = redaction.redact_profile_text(render_flat_profile(parameters))
        for value in secrets.values():
            assert value not in masked and escape(value) not in masked, (value, masked)
        assert '<User_ID_1_>1001</User_ID_1_>' in masked and '<Station_Name>desk</Station_Name>' in masked
