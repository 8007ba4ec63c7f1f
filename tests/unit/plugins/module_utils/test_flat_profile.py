# -*- coding: utf-8 -*-
from __future__ import annotations

from xml.etree import ElementTree

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.flat_profile import (
    ProfileError, element_name, parse_flat_profile, profile_elements, render_flat_profile)


def test_render_escapes_and_ua():
    xml = render_flat_profile({
        'Resync_On_Reset': True,
        'Resync_Periodic': 3600,
        'Display_Name_1_': {'value': 'R&D <Desk> "1"', 'ua': 'rw'},
        'Proxy_1_': None,
        'Dial_Plan_1_': '(*xx|[3469]11|0|00|[2-9]xxxxxx)',
    })
    root = ElementTree.fromstring(xml)
    assert root.tag == 'flat-profile'
    assert root.find('Resync_On_Reset').text == 'Yes'
    assert root.find('Display_Name_1_').text == 'R&D <Desk> "1"'
    assert root.find('Display_Name_1_').get('ua') == 'rw'
    assert root.find('Proxy_1_').text is None
    assert parse_flat_profile(xml)['Resync_Periodic'] == '3600'


def test_render_is_valid_for_xmllint_like_parser(tmp_path):
    path = tmp_path / 'p.xml'
    path.write_text(render_flat_profile({'A': "x'y&z"}))
    # Python's expat is an independent parser of the written file.
    assert ElementTree.parse(str(path)).getroot().find('A').text == "x'y&z"


@pytest.mark.parametrize('name', ['Dial Plan[1]', 'User ID(1)', 'a/b', '1abc', '', 'xmlfoo', 'Ä_b'])
def test_bad_names(name):
    with pytest.raises(ProfileError, match='not a flat-profile element name'):
        render_flat_profile({name: 'x'})


def test_bad_name_hint():
    with pytest.raises(ProfileError, match="'Dial_Plan_1_'"):
        render_flat_profile({'Dial Plan[1]': 'x'})
    assert element_name('Dial Plan[1]') == 'Dial_Plan_1_'
    assert element_name('User ID(1)') == 'User_ID_1_'


@pytest.mark.parametrize('params, reason', [
    ({'A': {'value': 1, 'ua': 'xx'}}, 'ua must be one of'),
    ({'A': {'value': 1, 'user': 'rw'}}, 'unknown keys'),
    ({'A': [1, 2]}, 'is a list'),
    ({'A': 'bell\x07'}, 'control character'),
    ([('A', 1)], 'must be a dict'),
])
def test_bad_values(params, reason):
    with pytest.raises(ProfileError, match=reason):
        render_flat_profile(params)


def test_parse_last_wins_and_errors():
    assert parse_flat_profile(b'<flat-profile><A>1</A><A>2</A><B/></flat-profile>') == {'A': '2', 'B': ''}
    with pytest.raises(ProfileError, match='root element'):
        parse_flat_profile('<profile/>')
    with pytest.raises(ProfileError, match='well-formed'):
        parse_flat_profile('<flat-profile><A></flat-profile>')


def test_utf8_roundtrip():
    xml = render_flat_profile({'Station_Name': 'Zürich Empfang'})
    assert parse_flat_profile(xml.encode('utf-8'))['Station_Name'] == 'Zürich Empfang'


# --- profiles as real phones and peers write them ---------------------------------------------

SPA_DUMP = (b'<?xml version="1.0" encoding="UTF-8"?>\r\n'
            b'<flat-profile xmlns="http://www.sipura.net/xsd/SPA50x-30x-SIP"\r\n'
            b'  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\r\n'
            b'<!-- System Configuration -->\r\n'
            b'<Restricted_Access_Domains ua="na"/>\r\n'
            b'<CWMP_V1.2_Support ua="na">Yes</CWMP_V1.2_Support>\r\n'
            b'<Enable_LLDP-MED ua="rw">Yes</Enable_LLDP-MED>\r\n'
            b'<Station_Name ua="ro"></Station_Name>\r\n'
            b'<router-configuration>\r\n'
            b'  <Connection_Type>DHCP</Connection_Type>\r\n'
            b'  <Lan_Setup><Enable>Yes</Enable></Lan_Setup>\r\n'
            b'  <Wan_Setup><Enable>No</Enable></Wan_Setup>\r\n'
            b'</router-configuration>\r\n'
            b'</flat-profile>\r\n')


def test_real_dump_shapes_are_read_as_the_phone_reads_them():
    assert profile_elements(SPA_DUMP) == [
        ('Restricted_Access_Domains', ''), ('CWMP_V1.2_Support', 'Yes'), ('Enable_LLDP-MED', 'Yes'),
        ('Station_Name', ''), ('Connection_Type', 'DHCP'), ('Enable', 'Yes'), ('Enable', 'No')]
    parsed = parse_flat_profile(SPA_DUMP.decode('ascii'))
    assert parsed['Enable'] == 'No' and len(parsed) == 6 and 'router-configuration' not in parsed


def test_not_well_formed_names_line_and_column():
    with pytest.raises(ProfileError, match=r'at line 3, column 20: not well-formed'):
        parse_flat_profile(b'<flat-profile>\n<A>1</A>\n<Handset_Volume ua=x"rw">9</Handset_Volume>\n</flat-profile>')
    with pytest.raises(ProfileError, match=r'root element is <\{urn:x\}profile>'):
        parse_flat_profile('<profile xmlns="urn:x"/>')
