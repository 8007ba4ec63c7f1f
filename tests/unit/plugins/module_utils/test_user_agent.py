# -*- coding: utf-8 -*-
from __future__ import annotations

import re

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.user_agent import (
    FIELDS, build_user_agent, nginx_user_agent_map, parse_user_agent)

# As real devices send them (wazo-provd-plugins, jthop/voip; see shared/realworld/user-agents-and-subjects).
REAL = [
    ('Cisco-CP-8841-3PCC/11.0 (00562b043615)', 'CP-8841-3PCC', '11.0', '00562b043615', None),
    ('Cisco-CP-7832-3PCC/11.0.1 (00562b043615)', 'CP-7832-3PCC', '11.0.1', '00562b043615', None),
    ('Cisco/ATA191-MPP-11-1-0-MSR4 (FCH2443D9R4)', 'ATA191-MPP', '11-1-0-MSR4', None, 'FCH2443D9R4'),
    ('Cisco/SPA508G-7.4.8a (0002FDFF2103)(CBT141400UK)', 'SPA508G', '7.4.8a', '0002fdff2103', 'CBT141400UK'),
    ('Cisco/SPA525G-7.4.7 (CBT141900G7)', 'SPA525G', '7.4.7', None, 'CBT141900G7'),
    ('Linksys/SPA-942-6.1.5(a) (88019FA42805)', 'SPA-942', '6.1.5(a)', '88019fa42805', None),
    ('Linksys/SPA-962-6.1.5(a) (4MM00F903042)', 'SPA-962', '6.1.5(a)', None, '4MM00F903042'),
    ('Linksys/SPA-2102-2.0.5 (88012BA01234)', 'SPA-2102', '2.0.5', '88012ba01234', None),
    ('Cisco/SPA112-1.3.2(014)', 'SPA112', '1.3.2(014)', None, None),
    ('curl/8.0', None, None, None, None),
]


@pytest.mark.parametrize('text, model, firmware, mac, serial', REAL, ids=[row[0] for row in REAL])
def test_real_user_agents(text, model, firmware, mac, serial):
    assert parse_user_agent(text) == {'model': model, 'firmware': firmware, 'mac': mac, 'serial': serial}


def _nginx(field, text):
    for regex, value in nginx_user_agent_map(field, 'cap'):
        match = re.match(regex.replace('(?<cap>', '(?P<cap>'), text)
        if match:
            return value.replace('$cap', match.group('cap'))
    return ''


@pytest.mark.parametrize('text', [row[0] for row in REAL])
def test_nginx_map_agrees_with_the_parser(text):
    parsed = parse_user_agent(text)
    for field in FIELDS:
        assert _nginx(field, text).lower() == (parsed[field] or '').lower(), (field, text)


@pytest.mark.parametrize('model, serial', [('CP-8841-3PCC', None), ('ATA191-MPP', 'FCH2443D9R4'), ('SPA508G', 'CBT141400UK'),
                                           ('SPA525G', None), ('CP-6851-3PCC', 'FCH1')])
def test_what_the_emulator_sends_reads_back(model, serial):
    firmware = '11-1-0-MSR4' if model.endswith('-MPP') else '7.4.8a'  # SPA firmware has no dash
    parsed = parse_user_agent(build_user_agent(model, firmware, '00:56:2b:04:36:15', serial))
    assert parsed['model'] == model and parsed['firmware'] == firmware
    assert parsed['mac'] == (None if model.endswith('-MPP') else '00562b043615')
    assert parsed['serial'] == (serial if not model.startswith('CP-') else None)


def test_build_needs_a_mac():
    with pytest.raises(ValueError, match='invalid MAC'):
        build_user_agent('CP-8841-3PCC', '12.0', 'nope')
