# -*- coding: utf-8 -*-
"""Firmware through role phone_profiles and real nginx: the images are checked on the controller,
land in the shared directory, the default template writes the conditional Upgrade_Rule for the
models that have one, a phone's certificate fetches the image from /shared/, and phone_check
follows the rule: an older version starts the upgrade, the new one does not."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from xml.etree import ElementTree

import pytest

from mpp_harness import DnsServer, playbook_text, run_playbook
from provisioning_server_helpers import DEFAULT_PHONES, running_server

WITH_FIRMWARE = DEFAULT_PHONES[0]     # CP-8841-3PCC: has an image
WITHOUT_FIRMWARE = DEFAULT_PHONES[1]  # CP-7841-3PCC: none
VERSION = 'sip88xx.12-0-1MPP'
IMAGE = b'\x00MPP firmware image stand-in\x01' * 4096
SERVER_KEYS = ('mpp_server_fqdn', 'mpp_server_port', 'mpp_server_docroot', 'mpp_server_shared_dir')


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _output(result):
    return 'rc=%s\nstdout:\n%s\nstderr:\n%s' % (result.rc, result.stdout[-5000:], result.stderr[-3000:])


def _push(server, workdir, firmware):
    """The role phone_profiles for the server's two phones, with the server's variables."""
    role_vars = {key: server.vars[key] for key in SERVER_KEYS}
    role_vars.update(mpp_phones=[dict(phone, lines=[{'user_id': '100%d' % index}]) for index, phone in enumerate(DEFAULT_PHONES)],
                     mpp_firmware=firmware)
    play = playbook_text([{'name': 'push', 'ansible.builtin.include_role': {'name': 'phoneprov.mpp.phone_profiles'}, 'vars': role_vars}])
    return run_playbook(workdir, play)


def _phone_check(server, workdir, dns):
    """phone_check of the phone with firmware, once on an older version and once on VERSION."""
    phone = server.pki.phone(WITH_FIRMWARE['mac'])
    args = {'url': server.profile_url(WITH_FIRMWARE['mac']), 'mac': WITH_FIRMWARE['mac'], 'model': WITH_FIRMWARE['model'],
            'client_cert': phone['cert'], 'client_key': phone['key'], 'ca_path': server.pki.server_ca,
            'nameservers': ['127.0.0.1'], 'dns_port': dns.port, 'timeout': 20, 'expect': 'A'}
    tasks = [{'name': name, 'phoneprov.mpp.phone_check': dict(args, firmware=firmware)}
             for name, firmware in (('old', 'sip88xx.11-0-1MPP'), ('new', VERSION))]
    return run_playbook(workdir, playbook_text(tasks, name='phone check'))


def _parameters(path):
    return {element.tag: element.text for element in ElementTree.parse(str(path)).getroot()}


def _snapshot(directory):
    """name -> (mtime_ns, content) of every file in ``directory``."""
    return {path.name: (path.stat().st_mtime_ns, path.read_bytes()) for path in sorted(Path(directory).iterdir())}


@pytest.fixture(scope='module')
def deployment(tmp_path_factory):
    """One server and DNS; a push, phone_check, the same push again, then a push with a wrong sha256."""
    work = tmp_path_factory.mktemp('firmware')
    image = work / 'controller' / 'cp-8841-12-0-1.loads'
    image.parent.mkdir()
    image.write_bytes(IMAGE)
    firmware = {WITH_FIRMWARE['model']: {'version': VERSION, 'file': str(image), 'sha256': _sha256(IMAGE)}}
    dns = DnsServer(work / 'dns', {'prov.mpp.test': ['127.0.0.1']})
    try:
        with running_server(work / 'server') as server:
            yield _runs(server, work, firmware, dns)
    finally:
        dns.stop()


def _runs(server, work, firmware, dns):
    """The pushes and checks, whose outcomes the tests judge."""
    first = _push(server, work / 'first', firmware)
    assert first.rc == 0, _output(first)
    checked = _phone_check(server, work / 'check', dns)
    shared_after_first = _snapshot(server.shared_dir)
    docroot_after_first = _snapshot(server.docroot)
    again = _push(server, work / 'again', firmware)
    after_again = (_snapshot(server.shared_dir), _snapshot(server.docroot))
    # A new image for the model, plus one for another model, one of them with a wrong sha256.
    newer = work / 'controller' / 'cp-8841-12-0-2.loads'
    newer.write_bytes(IMAGE + b'newer')
    other = work / 'controller' / 'cp-7841-12-0-2.loads'
    other.write_bytes(IMAGE + b'other')
    wrong = {WITH_FIRMWARE['model']: {'version': 'sip88xx.12-0-2MPP', 'file': str(newer), 'sha256': _sha256(IMAGE)},
             WITHOUT_FIRMWARE['model']: {'version': 'sip78xx.12-0-2MPP', 'file': str(other), 'sha256': _sha256(IMAGE + b'other')}}
    refused = _push(server, work / 'refused', wrong)
    return dict(server=server, first=first, again=again, refused=refused, newer=newer, after_again=after_again, checked=checked,
                shared_after_first=shared_after_first, docroot_after_first=docroot_after_first,
                shared_after_refused=_snapshot(server.shared_dir), docroot_after_refused=_snapshot(server.docroot),
                fetched=server.curl('/shared/cp-8841-12-0-1.loads', WITH_FIRMWARE['mac']),
                fetched_without_cert=server.curl('/shared/cp-8841-12-0-1.loads'))


def test_image_lands_in_the_shared_dir(deployment):
    server = deployment['server']
    published = server.shared_dir / 'cp-8841-12-0-1.loads'
    assert _sha256(published.read_bytes()) == _sha256(IMAGE)
    assert oct(os.stat(str(published)).st_mode & 0o7777) == '0o644'
    assert sorted(deployment['shared_after_first']) == ['cp-8841-12-0-1.loads']


def test_only_the_model_with_firmware_gets_the_conditional_rule(deployment):
    server = deployment['server']
    with_firmware = _parameters(server.docroot / ('%s.xml' % WITH_FIRMWARE['mac']))
    assert with_firmware['Upgrade_Enable'] == 'Yes'
    assert with_firmware['Upgrade_Error_Retry_Delay'] == '3600'
    assert with_firmware['Upgrade_Rule'] == '( $SWVER ne %s )? https://%s:%d/shared/cp-8841-12-0-1.loads' % (
        VERSION, server.fqdn, server.port)
    without = _parameters(server.docroot / ('%s.xml' % WITHOUT_FIRMWARE['mac']))
    assert 'Profile_Rule' in without
    assert not [name for name in without if name.startswith('Upgrade_')], without


def test_rerun_changes_nothing(deployment):
    again = deployment['again']
    assert again.rc == 0 and again.changed == 0, _output(again)
    assert deployment['after_again'] == (deployment['shared_after_first'], deployment['docroot_after_first'])


def test_wrong_sha256_fails_naming_the_model_and_copies_nothing(deployment):
    refused = deployment['refused']
    assert refused.rc != 0
    message = refused.task('Check the firmware files against their sha256 on the controller')['msg']
    assert 'model %s: %s has sha256 %s, not %s' % (WITH_FIRMWARE['model'], deployment['newer'], _sha256(IMAGE + b'newer'), _sha256(IMAGE)) in message
    assert 'nothing copied' in message and WITHOUT_FIRMWARE['model'] not in message
    # The other model's good image is not published either, and no profile points at either.
    assert deployment['shared_after_refused'] == deployment['shared_after_first']
    assert deployment['docroot_after_refused'] == deployment['docroot_after_first']


def test_phone_certificate_fetches_the_image_from_nginx(deployment):
    fetched = deployment['fetched']
    assert fetched.status == 200, fetched
    assert _sha256(fetched.body) == _sha256(IMAGE)
    assert deployment['fetched_without_cert'].status != 200


def test_phone_check_follows_the_rule_the_role_wrote(deployment):
    checked = deployment['checked']
    assert checked.rc == 0, _output(checked)
    old, new = checked.task('old')['upgrade'], checked.task('new')['upgrade']
    assert old['condition_true'] is True and old['would_start'] is True, old
    assert old['url'] == deployment['server'].url('/shared/cp-8841-12-0-1.loads') and old['size'] == len(IMAGE)
    assert new['condition_true'] is False and new['would_start'] is False and new['status'] is None, new
