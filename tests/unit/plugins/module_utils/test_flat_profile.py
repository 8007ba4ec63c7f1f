# -*- coding: utf-8 -*-
from __future__ import annotations

from xml.etree import ElementTree

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.flat_profile import (
    ProfileError, element_name, parse_flat_profile, render_flat_profile)


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
