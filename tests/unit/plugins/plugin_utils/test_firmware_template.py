# -*- coding: utf-8 -*-
"""The role's default template with firmware: the conditional Upgrade_Rule, rendered the same by
plain Jinja2 and by ansible-core's templar (the phone_profiles action may use either)."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from test_direct_render import ROLE_VARS, direct, role_template, templar_render

FIRMWARE = {'CP-8841-3PCC': {'version': 'sip88xx.12-0-1MPP', 'file': '/fw/cp-8841-12-0-1.loads', 'sha256': 'c' * 64}}
BETA = {'version': 'sip88xx.12-0-2MPP', 'file': '/fw/beta.loads', 'sha256': 'd' * 64}
RULE = '( $SWVER ne %s )? https://prov.example.net:443/shared/%s'
PHONES = [
    ({'mac': '000e08abcd01', 'model': 'CP-8841-3PCC'}, {'Upgrade_Enable': 'Yes', 'Upgrade_Error_Retry_Delay': '600',
                                                        'Upgrade_Rule': RULE % ('sip88xx.12-0-1MPP', 'cp-8841-12-0-1.loads')}),
    ({'mac': '000e08abcd02', 'model': 'CP-7841-3PCC'}, {}),
    ({'mac': '000e08abcd03', 'model': 'CP-8841-3PCC', 'firmware_upgrade': BETA},
     {'Upgrade_Enable': 'Yes', 'Upgrade_Error_Retry_Delay': '600', 'Upgrade_Rule': RULE % ('sip88xx.12-0-2MPP', 'beta.loads')}),
    ({'mac': '000e08abcd04', 'model': 'CP-8841-3PCC', 'firmware_upgrade': False}, {'Upgrade_Enable': 'No', 'Upgrade_Rule': None}),
]


def _upgrade(xml):
    return {e.tag: e.text for e in ElementTree.fromstring(xml) if e.tag.startswith('Upgrade_')}


@pytest.mark.parametrize('phone, expected', PHONES, ids=['model-image', 'no-image', 'own-image', 'held-back'])
def test_default_template_upgrade_parameters(phone, expected):
    variables = dict(ROLE_VARS, mpp_profiles_encrypt='none', phone=phone, phone_mac=phone['mac'], mpp_profiles_firmware=FIRMWARE,
                     mpp_profiles_firmware_url_path='/shared/', mpp_profiles_upgrade_error_retry_delay=600)
    rendered = direct(role_template()).render(dict(variables))
    assert rendered == templar_render(role_template(), variables)
    assert _upgrade(rendered) == expected


def test_phone_parameters_win_over_the_upgrade_rule():
    phone = {'mac': '000e08abcd01', 'model': 'CP-8841-3PCC', 'parameters': {'Upgrade_Enable': False}}
    variables = dict(ROLE_VARS, mpp_profiles_encrypt='none', phone=phone, phone_mac=phone['mac'], mpp_profiles_firmware=FIRMWARE)
    assert _upgrade(templar_render(role_template(), variables))['Upgrade_Enable'] == 'No'
