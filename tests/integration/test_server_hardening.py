# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 13, the server: who reads shared files, blocked and revoked phones, symbolic links,
overlapping directories and a subject with two ST, through the real nginx.

One deployment of the role (module-scoped, under the system nginx lock) serves every case; it is
deployed again only where a case changes the role's variables (the generic certificate allowed,
fleet only), and the refused variables never get past the role's checks.
"""

from __future__ import annotations

import os

import pytest

from provisioning_server_helpers import DEFAULT_PHONES, make_crl, make_pki, running_server, sign_client_cert

OWN, OTHER = DEFAULT_PHONES[0]['mac'], DEFAULT_PHONES[1]['mac']
DENIED_MAC = {'mac': '0002fdff2104', 'model': 'CP-8841-3PCC', 'serial': 'FCH0002104A'}
DENIED_SERIAL = {'mac': '0002fdff2105', 'model': 'CP-8841-3PCC', 'serial': 'FCHDENIED05'}
REVOKED = {'mac': '0002fdff2106', 'model': 'CP-8841-3PCC', 'serial': 'FCH0002106C'}
PHONES = DEFAULT_PHONES + (DENIED_MAC, DENIED_SERIAL, REVOKED)
PROFILE = '<flat-profile><Admin_Passwd>secret-of-%s</Admin_Passwd></flat-profile>\n'
SHARED = '<flat-profile><Resync_Periodic>3600</Resync_Periodic></flat-profile>\n'
ACCESS_VARS = {
    # Spellings of the MAC rule other than $MA, and a serial in another case: normalised.
    'mpp_server_denied_macs': ['00:02:FD:FF:21:04'],
    # 'default' is a serial as any other, not the map's default (every phone blocked).
    'mpp_server_denied_serials': ['fchdenied05', 'default'],
}


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp('hardening')
    pki = make_pki(workdir / 'pki', phones=PHONES)
    pki.no_mac = sign_client_cert(pki, 'no-mac', '/OU=x')
    pki.two_st = sign_client_cert(pki, 'two-st', '/OU=CP-8841-3PCC/L=FCH0000TWOS/ST=%s/ST=%s' % (OWN, OTHER))
    crl = make_crl(pki, workdir / 'pki' / 'client-ca.crl', revoked=[pki.phone(REVOKED['mac'])['cert']])
    extra_vars = dict(ACCESS_VARS, mpp_server_client_crl=crl)
    with running_server(workdir, pki=pki, extra_vars=extra_vars,
                        profiles=dict((phone['mac'], PROFILE % phone['mac']) for phone in PHONES)) as srv:
        srv.write_shared('common.xml', SHARED)
        yield srv


def _log_line(server, path, mac=None):
    lines = [line for line in server.log_lines() if line['request'] == path and (mac is None or line['mac'] == mac)]
    assert lines, 'no access log line for %s (%s)' % (path, mac)
    return lines[-1]


# --- shared files need an identified phone --------------------------------------------------

def test_shared_files_need_a_phone_the_identity_rule_names(server):
    assert server.curl('/shared/common.xml', OWN).status == 200
    # Verified by the client root, but naming no phone: no MAC, two ST, the generic certificate.
    assert server.curl('/shared/common.xml', server.pki.no_mac).status == 403
    assert server.curl('/shared/common.xml', server.pki.two_st).status == 403
    assert server.curl('/shared/common.xml', 'generic').status == 403


# --- a subject with two ST names no phone ------------------------------------------------------

def test_two_st_reads_neither_profile(server):
    for mac in (OWN, OTHER):
        result = server.curl('/cfg/%s.xml' % mac, server.pki.two_st)
        assert result.status == 403 and b'secret' not in result.body, (mac, result)
    assert _log_line(server, '/cfg/%s.xml' % OTHER)['mac'] == ''


# --- blocked and revoked phones ---------------------------------------------------------------

@pytest.mark.parametrize('phone, reason', [(DENIED_MAC, 'denied_mac'), (DENIED_SERIAL, 'denied_serial')])
def test_a_blocked_phone_reads_nothing_and_the_log_says_why(server, phone, reason):
    for path in ('/cfg/%s.xml' % phone['mac'], '/shared/common.xml'):
        result = server.curl(path, phone['mac'])
        assert result.status == 403 and b'secret' not in result.body, (path, result)
        line = _log_line(server, path, phone['mac'])
        assert (line['status'], line['deny']) == (403, reason)
    assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 200
    assert _log_line(server, '/cfg/%s.xml' % OWN, OWN)['deny'] == ''


def test_a_revoked_certificate_is_refused_at_tls_verification(server):
    result = server.curl('/cfg/%s.xml' % REVOKED['mac'], REVOKED['mac'])
    assert result.status == 400 and b'secret' not in result.body, result
    assert _log_line(server, '/cfg/%s.xml' % REVOKED['mac'])['client_verify'] == 'FAILED:certificate revoked'
    # The CRL refuses only what it lists.
    assert server.curl('/cfg/%s.xml' % OTHER, OTHER).status == 200


# --- symbolic links are never followed ---------------------------------------------------------

def _link(path, target):
    if os.path.lexists(str(path)):
        os.unlink(str(path))
    os.symlink(str(target), str(path))


@pytest.mark.parametrize('where, target', [
    ('profile', '/etc/passwd'),
    ('profile', 'other phone'),
    ('shared', '/etc/passwd'),
    ('shared', 'other phone'),
    ('shared dir', '/etc'),
])
def test_symbolic_links_are_not_followed(server, where, target):
    target = server.docroot / ('%s.xml' % OWN) if target == 'other phone' else target
    if where == 'profile':
        link, path = server.docroot / ('%s.xml' % OTHER), '/cfg/%s.xml' % OTHER
    elif where == 'shared':
        link, path = server.shared_dir / 'linked.xml', '/shared/linked.xml'
    else:
        link, path = server.shared_dir / 'etc', '/shared/etc/passwd'
    _link(link, target)
    try:
        result = server.curl(path, OTHER)
        assert result.status in (403, 404), result
        assert b'root:' not in result.body and b'secret' not in result.body
    finally:
        os.unlink(str(link))
        if where == 'profile':
            server.write_profile(OTHER, PROFILE % OTHER)
    # The plain file behind the same name is served again.
    assert server.curl('/cfg/%s.xml' % OTHER, OTHER).status == 200


# --- variables the role refuses before it writes anything ---------------------------------------

def _refused(server, overrides, message):
    site = '/etc/nginx/sites-available/phoneprov-mpp.conf'
    before = open(site).read()
    result = server.deploy_trial(overrides)
    assert result.rc != 0, 'the role accepted %s' % (overrides,)
    assert message in result.stdout, result.stdout[-3000:]
    assert open(site).read() == before


@pytest.mark.parametrize('where, message', [
    ('docroot', 'overlap: one is the other'),
    ('parent of docroot', 'overlap: one is inside the other, so every phone would read profiles as shared files'),
    ('inside docroot', 'overlap: one is inside the other, so every phone would read shared files as profiles'),
])
def test_overlapping_profile_and_shared_directories_are_refused(server, where, message):
    shared = {'docroot': str(server.docroot) + '/', 'parent of docroot': str(server.root),
              'inside docroot': str(server.docroot / 'x' / '..' / 'shared')}[where]
    _refused(server, {'mpp_server_shared_dir': shared}, message)


@pytest.mark.parametrize('overrides, message', [
    ({'mpp_server_denied_macs': ['000e08abcdef', '00:0e:08:ab:cd']}, "mpp_server_denied_macs[1]: invalid MAC address '00:0e:08:ab:cd'"),
    ({'mpp_server_denied_serials': ['FCH1', 'FCH 2']}, 'mpp_server_denied_serials holds [\\"FCH 2\\"]'),
    ({'mpp_server_fleet_only': True, 'mpp_server_fleet_phones': []}, 'holds no phone'),
])
def test_bad_access_variables_are_refused(server, overrides, message):
    _refused(server, overrides, message)


# --- deployed again: the generic certificate allowed, then fleet only ----------------------------

def test_allowed_generic_certificate_reads_shared_files_a_certificate_without_mac_still_not(server):
    result = server.deploy({'mpp_server_allow_generic_cert': True})
    assert result.rc == 0, result.stdout[-3000:]
    assert server.curl('/shared/common.xml', 'generic').status == 200
    assert server.curl('/shared/common.xml', server.pki.no_mac).status == 403
    assert server.curl('/cfg/%s.xml' % OWN, 'generic').status == 403


def test_fleet_only_refuses_every_phone_outside_the_fleet(server):
    # The fleet as mpp_phones holds it (any MAC spelling); the generic certificate stays allowed, but is no phone of it.
    fleet = [{'mac': OWN.upper(), 'model': 'CP-8841-3PCC'}, {'mac': '00:02:fd:ff:21:04'}]
    result = server.deploy({'mpp_server_fleet_only': True, 'mpp_server_fleet_phones': fleet, 'mpp_server_allow_generic_cert': True})
    assert result.rc == 0, result.stdout[-3000:]
    assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 200
    assert server.curl('/shared/common.xml', OWN).status == 200
    for path, client in (('/cfg/%s.xml' % OTHER, OTHER), ('/shared/common.xml', OTHER), ('/shared/common.xml', 'generic')):
        result = server.curl(path, client)
        assert result.status == 403, (path, client, result)
    assert _log_line(server, '/cfg/%s.xml' % OTHER, OTHER)['deny'] == 'not_in_fleet'
    # In the fleet, but blocked: the deny list wins.
    assert server.curl('/cfg/%s.xml' % DENIED_MAC['mac'], DENIED_MAC['mac']).status == 403
    assert _log_line(server, '/cfg/%s.xml' % DENIED_MAC['mac'])['deny'] == 'denied_mac'
