# -*- coding: utf-8 -*-
from __future__ import annotations

import hashlib

import pytest

from ansible_collections.phoneprov.mpp.plugins.filter.mpp import FilterModule
from ansible_collections.phoneprov.mpp.plugins.module_utils.firmware import (
    FirmwareError, check_catalog, check_image, fleet_images, phone_image, upgrade_parameters, upgrade_rule, verify_images)

SHA = 'a' * 64
IMAGE = {'version': 'sip88xx.12-0-1MPP', 'file': '/fw/cp-8841-12-0-1.loads', 'sha256': SHA}
CATALOG = {'CP-8841-3PCC': IMAGE}
BASE = 'https://prov.example.test:443/shared/'
FILTERS = FilterModule().filters()


def test_image_gets_its_published_name_and_lower_case_digest():
    image = check_image('x', dict(IMAGE, sha256='A' * 64))
    assert image == {'version': 'sip88xx.12-0-1MPP', 'file': '/fw/cp-8841-12-0-1.loads', 'name': 'cp-8841-12-0-1.loads', 'sha256': SHA}


@pytest.mark.parametrize('change, message', [
    ({'version': 'sip 88xx'}, 'version'),
    ({'version': 'x )? http://evil/'}, 'version'),
    ({'version': '$SWVER'}, 'version'),
    ({'version': None}, 'version'),
    ({'file': ''}, 'file must be'),
    ({'file': '/fw/.hidden'}, 'cannot be served'),
    ({'file': '/fw/'}, 'cannot be served'),
    ({'file': '/fw/a$MA.loads'}, 'cannot be served'),
    ({'file': '/fw/a b.loads'}, 'cannot be served'),
    ({'sha256': 'abc'}, 'sha256 must be 64 hex'),
    ({'sha256': 'g' * 64}, 'sha256 must be 64 hex'),
    ({'url': 'x'}, 'unknown key'),
])
def test_bad_image_names_the_model(change, message):
    with pytest.raises(FirmwareError, match=r'mpp_firmware\[CP-8841-3PCC\]: .*' + message):
        check_catalog({'CP-8841-3PCC': dict(IMAGE, **change)})


def test_catalog_must_be_a_mapping():
    with pytest.raises(FirmwareError, match='must map a model'):
        check_catalog([IMAGE])
    assert check_catalog(None) == {}


def test_phone_gets_its_models_image_its_override_or_none():
    other = dict(IMAGE, version='sip88xx.12-0-2MPP', file='/fw/cp-8841-12-0-2.loads')
    assert phone_image('p', {'mac': '1', 'model': 'CP-8841-3PCC'}, CATALOG)['version'] == 'sip88xx.12-0-1MPP'
    assert phone_image('p', {'mac': '1', 'model': 'CP-8841-3PCC', 'firmware_upgrade': other}, CATALOG)['name'] == 'cp-8841-12-0-2.loads'
    assert phone_image('p', {'mac': '1', 'model': 'CP-8841-3PCC', 'firmware_upgrade': False}, CATALOG) is False
    assert phone_image('p', {'mac': '1', 'model': 'CP-7841-3PCC'}, CATALOG) is None
    assert phone_image('p', {'mac': '1'}, CATALOG) is None
    assert phone_image('p', {'mac': '1', 'model': 'CP-8841-3PCC'}, {}) is None
    # The emulated current version (phone_check's `firmware`) is not an override.
    assert phone_image('p', {'mac': '1', 'model': 'CP-7841-3PCC', 'firmware': '12.0.1'}, CATALOG) is None


def test_bad_override_names_the_phone():
    with pytest.raises(FirmwareError, match=r'phone \(mac 1\): firmware_upgrade: .*sha256'):
        phone_image('phone (mac 1)', {'mac': '1', 'firmware_upgrade': dict(IMAGE, sha256='x')}, CATALOG)
    with pytest.raises(FirmwareError, match='firmware_upgrade: a firmware image is a mapping'):
        phone_image('p', {'mac': '1', 'firmware_upgrade': 'sip88xx.12-0-1MPP'}, CATALOG)


def test_rule_is_conditional_on_the_version():
    assert upgrade_rule(check_image('x', IMAGE), BASE) == '( $SWVER ne sip88xx.12-0-1MPP )? https://prov.example.test:443/shared/cp-8841-12-0-1.loads'


def test_parameters_for_image_hold_and_none():
    image = check_image('x', IMAGE)
    assert upgrade_parameters(image, BASE, 600) == {
        'Upgrade_Enable': True, 'Upgrade_Error_Retry_Delay': 600, 'Upgrade_Rule': upgrade_rule(image, BASE)}
    assert upgrade_parameters(False, BASE, 600) == {'Upgrade_Enable': False, 'Upgrade_Rule': ''}
    assert upgrade_parameters(None, BASE, 600) == {}


def test_filter_renders_through_flat_profile():
    params = FILTERS['upgrade_parameters']({'mac': '1', 'model': 'CP-8841-3PCC'}, CATALOG, BASE)
    xml = FILTERS['flat_profile'](params)
    assert '<Upgrade_Enable>Yes</Upgrade_Enable>' in xml and '<Upgrade_Error_Retry_Delay>3600</Upgrade_Error_Retry_Delay>' in xml
    assert '<Upgrade_Rule>( $SWVER ne sip88xx.12-0-1MPP )? %scp-8841-12-0-1.loads</Upgrade_Rule>' % BASE in xml


def test_fleet_images_one_per_name_with_users():
    other = dict(IMAGE, version='sip78xx.12-0-1MPP')  # same file for another model: published once
    phones = [{'mac': '1', 'model': 'CP-8841-3PCC'},
              {'mac': '2', 'firmware_upgrade': dict(IMAGE, file='/fw/beta.loads', sha256='b' * 64)},
              {'mac': '3', 'firmware_upgrade': False}, 'not-a-phone']
    images = fleet_images(phones, {'CP-8841-3PCC': IMAGE, 'CP-7841-3PCC': other})
    assert [(i['name'], i['used_by']) for i in images] == [
        ('beta.loads', ['phone #2 (mac 2)']), ('cp-8841-12-0-1.loads', ['model CP-7841-3PCC', 'model CP-8841-3PCC'])]


def test_fleet_images_refuses_one_name_for_two_files():
    phones = [{'mac': '2', 'firmware_upgrade': dict(IMAGE, file='/other/cp-8841-12-0-1.loads')}]
    with pytest.raises(FirmwareError, match=r'model CP-8841-3PCC and phone #1 \(mac 2\) both publish cp-8841-12-0-1.loads'):
        fleet_images(phones, CATALOG)


def test_fleet_images_checks_every_override():
    with pytest.raises(FirmwareError, match=r'phone #1 \(mac 2\): firmware_upgrade'):
        fleet_images([{'mac': '2', 'firmware_upgrade': 'x'}], {})


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path), hashlib.sha256(data).hexdigest()


def test_verify_adds_sha1_when_all_match(tmp_path):
    path, digest = _write(tmp_path, 'a.loads', b'image a')
    images = FILTERS['firmware_files']([], {'CP-8841-3PCC': dict(IMAGE, file=path, sha256=digest)})
    assert images == [dict(check_image('x', dict(IMAGE, file=path, sha256=digest)), used_by=['model CP-8841-3PCC'],
                           sha1=hashlib.sha1(b'image a').hexdigest())]


def test_verify_names_every_bad_file_and_returns_nothing(tmp_path):
    good, good_digest = _write(tmp_path, 'good.loads', b'good')
    bad = _write(tmp_path, 'bad.loads', b'bad')[0]
    catalog = {'CP-8841-3PCC': dict(IMAGE, file=good, sha256=good_digest),
               'CP-7841-3PCC': dict(IMAGE, file=bad, sha256=SHA),
               'CP-6841-3PCC': dict(IMAGE, file=str(tmp_path / 'missing.loads'))}
    with pytest.raises(FirmwareError) as caught:
        verify_images(fleet_images([], catalog))
    text = str(caught.value)
    assert 'nothing copied' in text and 'good.loads' not in text
    assert 'model CP-7841-3PCC: %s has sha256 %s, not %s' % (bad, hashlib.sha256(b'bad').hexdigest(), SHA) in text
    assert 'model CP-6841-3PCC: cannot read %s' % (tmp_path / 'missing.loads') in text


def test_filter_error_is_a_filter_error(tmp_path):
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match='phoneprov.mpp.firmware_files: .*CP-8841-3PCC'):
        FILTERS['firmware_files']([], CATALOG)


@pytest.mark.parametrize('running, downloads', [('sip88xx.11-0-1MPP', True), ('sip88xx.12-0-1MPP', False), ('sip88xx.12-0-2MPP', True)])
def test_rule_written_is_the_rule_the_emulator_reads(running, downloads):
    from ansible_collections.phoneprov.mpp.plugins.module_utils.rule_condition import select_rule
    condition, true, url = select_rule(upgrade_rule(check_image('x', IMAGE), BASE), {'SWVER': running})
    assert (condition, true, url) == ('$SWVER ne sip88xx.12-0-1MPP', downloads, BASE + 'cp-8841-12-0-1.loads' if downloads else None)
