# -*- coding: utf-8 -*-
"""Role phoneprov.mpp.provisioning_server on the real system nginx, judged by real curl and openssl.

One deployment (127.0.0.1, a free high port) serves the whole access matrix; tests that change
the role's variables put them back. The system nginx is held under the shared lock
(provisioning_server_helpers.system_nginx_lock) for the whole module.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from provisioning_server_helpers import CLIENT_EXT, DEFAULT_PHONES, _signed, make_pki, nginx_pids, running_server

OWN = DEFAULT_PHONES[0]['mac']          # has a profile
NO_PROFILE = DEFAULT_PHONES[1]['mac']   # verified phone without a profile
# Subjects whose ST spells the MAC differently: upper case and colon-separated.
UPPER = {'mac': 'AABBCCDDEEFF', 'model': 'CP-6871-3PCC', 'serial': 'FCH9999UPPR'}
COLON = {'mac': '00:0E:08:12:34:56', 'model': 'CP-7821-3PCC', 'serial': 'FCH9999COLN'}
PROFILE = '<flat-profile><Resync_Periodic>3600</Resync_Periodic></flat-profile>\n'
SHARED = {'common.xml': '<flat-profile><Resync_On_Reset>Yes</Resync_On_Reset></flat-profile>\n',
          'firmware/sip88xx.loads': 'firmware image stand-in\n'}


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp('provisioning_server')
    pki = make_pki(workdir / 'pki', phones=tuple(DEFAULT_PHONES) + (UPPER, COLON))
    profiles = {OWN: PROFILE, 'aabbccddeeff': PROFILE.replace('3600', '1111'),
                '000e08123456': PROFILE.replace('3600', '2222'), '00562b999999': PROFILE.replace('3600', '4444')}
    with running_server(workdir, pki=pki, profiles=profiles) as srv:
        for name, text in SHARED.items():
            srv.write_shared(name, text)
        # Files that odd names would reach if they were served.
        (srv.docroot / '.htaccess').write_text('secret')
        (srv.docroot / '.htaccess.xml').write_text('secret')
        (srv.docroot / ('%s.xml.bak' % OWN)).write_text('secret')
        srv.write_shared('.hidden', 'secret')
        yield srv


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _site_file():
    return '/etc/nginx/sites-available/phoneprov-mpp.conf'


# --- the access matrix ---------------------------------------------------------------------------

def test_own_profile_is_served(server):
    result = server.curl('/cfg/%s.xml' % OWN, OWN)
    assert result.status == 200, result
    assert result.body.decode() == PROFILE
    assert result.headers['content-type'] == 'text/xml'  # mime.types


def test_own_profile_with_openssl_s_client(server):
    phone = server.pki.phone(OWN)
    request = 'GET /cfg/%s.xml HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' % (OWN, server.fqdn)
    proc = subprocess.run(['openssl', 's_client', '-connect', '127.0.0.1:%d' % server.port, '-servername', server.fqdn,
                           '-CAfile', server.pki.server_ca, '-verify_return_error', '-cert', phone['cert'],
                           '-key', phone['key'], '-quiet'],
                          input=request.encode(), capture_output=True, timeout=30, check=False)
    assert proc.stdout.startswith(b'HTTP/1.1 200 OK'), proc.stdout[:200] + proc.stderr[-500:]
    assert proc.stdout.endswith(PROFILE.encode())


def test_other_phones_profile_is_403(server):
    result = server.curl('/cfg/%s.xml' % OWN, NO_PROFILE)
    assert result.status == 403, result
    assert b'Resync_Periodic' not in result.body


def test_other_phones_missing_profile_is_403_not_404(server):
    # A phone must not learn which other profiles exist.
    assert server.curl('/cfg/00562b000000.xml', OWN).status == 403
    assert server.curl('/cfg/00562b999999.xml', OWN).status == 403


def test_missing_own_profile_is_404(server):
    result = server.curl('/cfg/%s.xml' % NO_PROFILE, NO_PROFILE)
    assert result.status == 404, result


def test_no_client_certificate_is_refused(server):
    result = server.curl('/cfg/%s.xml' % OWN, None)
    assert result.status == 400, result
    assert b'No required SSL certificate' in result.body
    assert b'Resync_Periodic' not in result.body


def test_no_client_certificate_with_openssl_s_client(server):
    request = 'GET /cfg/%s.xml HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' % (OWN, server.fqdn)
    proc = subprocess.run(['openssl', 's_client', '-connect', '127.0.0.1:%d' % server.port, '-servername', server.fqdn,
                           '-CAfile', server.pki.server_ca, '-quiet'],
                          input=request.encode(), capture_output=True, timeout=30, check=False)
    assert proc.stdout.startswith(b'HTTP/1.1 400'), proc.stdout[:200]
    assert b'Resync_Periodic' not in proc.stdout


def test_untrusted_client_certificate_is_refused(server):
    # Same subject as the phone that owns the profile, issued by a CA the server does not trust.
    result = server.curl('/cfg/%s.xml' % OWN, 'untrusted')
    assert result.status == 400, result
    assert b'SSL certificate error' in result.body
    assert b'Resync_Periodic' not in result.body


def test_generic_certificate_is_refused_by_default(server):
    assert server.curl('/cfg/%s.xml' % OWN, 'generic').status == 403
    assert server.curl('/shared/common.xml', 'generic').status == 403


def test_shared_files_are_served_to_every_verified_phone(server):
    for client in (OWN, NO_PROFILE):
        for name, text in SHARED.items():
            result = server.curl('/shared/%s' % name, client)
            assert result.status == 200, (name, client, result)
            assert result.body.decode() == text


@pytest.mark.parametrize('mac, client', [('aabbccddeeff', UPPER['mac']), ('000e08123456', COLON['mac'])])
def test_subject_mac_spellings_match_their_profile(server, mac, client):
    result = server.curl('/cfg/%s.xml' % mac, client)
    assert result.status == 200, result
    # ...and still nobody else's.
    assert server.curl('/cfg/%s.xml' % OWN, client).status == 403


def test_upper_case_mac_in_url_is_compared_case_insensitively(server):
    # The owner asking with $MAU passes the check; files are named $MA, so it is not found.
    assert server.curl('/cfg/%s.xml' % OWN.upper(), OWN).status == 404
    assert server.curl('/cfg/%s.xml' % OWN.upper(), NO_PROFILE).status == 403


@pytest.mark.parametrize('path', [
    '/cfg/../../etc/passwd',
    '/cfg/%2e%2e/%2e%2e/etc/passwd',
    '/shared/../profiles/%s.xml' % OWN,
    '/shared/..%%2fprofiles%%2f%s.xml' % OWN,
    '/shared/firmware/../../profiles/%s.xml' % OWN,
])
def test_path_traversal_is_refused(server, path):
    result = server.curl(path, OWN, raw_path=True)
    assert result.status in (400, 403), (path, result)
    assert b'Resync_Periodic' not in result.body and b'root:' not in result.body


@pytest.mark.parametrize('path', [
    '/cfg/.htaccess',
    '/cfg/.htaccess.xml',
    '/cfg/%s.xml.bak' % OWN,
    '/cfg/%s.xml/' % OWN,
    '/cfg/%s.XML' % OWN,
    '/cfg/%s' % OWN,
    '/cfg/%s.xml;.txt' % OWN,
    '/cfg/0%s.xml' % OWN,
    '/cfg/sub/%s.xml' % OWN,
    '/cfg/00:0e:08:ab:cd:ef.xml',
    '/%s.xml' % OWN,
    '/shared/.hidden',
    '/shared/firmware/.hidden',
    '/etc/passwd',
])
def test_odd_names_are_refused(server, path):
    result = server.curl(path, OWN, raw_path=True)
    assert result.status == 403, (path, result)
    assert b'secret' not in result.body and b'Resync_Periodic' not in result.body


@pytest.mark.parametrize('path', ['/cfg/%s.xml%%00' % OWN, '/cfg/%s.xml%%00.txt' % OWN, '/cfg/%%zz.xml'])
def test_malformed_requests_are_400(server, path):
    result = server.curl(path, OWN, raw_path=True)
    assert result.status == 400, (path, result)


@pytest.mark.parametrize('path', ['/', '/cfg/', '/cfg', '/shared/', '/shared/firmware/'])
def test_directory_listing_is_off(server, path):
    result = server.curl(path, OWN)
    assert result.status == 403, (path, result)
    assert b'Index of' not in result.body


@pytest.mark.parametrize('method', ['POST', 'PUT', 'DELETE'])
def test_only_get_is_allowed(server, method):
    assert server.curl('/cfg/%s.xml' % OWN, OWN, method=method).status == 403
    assert server.curl('/shared/common.xml', OWN, method=method).status == 403


def test_json_access_log_line(server):
    result = server.curl('/cfg/%s.xml' % OWN, OWN)
    assert result.status == 200
    line = server.log_lines()[-1]
    phone = server.pki.phone(OWN)
    assert line['mac'] == OWN
    assert line['serial'] == phone['serial']
    assert line['cert_model'] == phone['model']
    assert line['model'] == 'CP-8841-3PCC'  # from the User-Agent curl sends
    assert line['file'] == line['request'] == '/cfg/%s.xml' % OWN
    assert line['status'] == 200
    assert line['bytes'] == len(PROFILE)
    assert line['generic'] is False
    assert line['client_verify'] == 'SUCCESS'
    server.curl('/cfg/%s.xml' % OWN, 'generic')
    generic = server.log_lines()[-1]
    assert (generic['generic'], generic['mac'], generic['status']) == (True, '', 403)
    server.curl('/cfg/%s.xml' % OWN, None)
    anonymous = server.log_lines()[-1]
    assert (anonymous['status'], anonymous['client_verify'], anonymous['mac']) == (400, 'NONE', '')
    assert anonymous['request'] == '/cfg/%s.xml' % OWN


@pytest.mark.parametrize('agent, model', [
    ('Cisco-CP-7841-3PCC/11.3.7 (00562b043615)', 'CP-7841-3PCC'),
    ('Linksys/SPA-2102-2.0.5 (88012BA01234)', 'SPA-2102'),
    ('curl/8.0', ''),
])
def test_log_takes_the_model_from_the_user_agent(server, agent, model):
    assert server.curl('/cfg/%s.xml' % OWN, OWN, user_agent=agent).status == 200
    line = server.log_lines()[-1]
    assert (line['model'], line['user_agent']) == (model, agent)


def test_st_inside_another_attribute_is_not_taken(server, tmp_path):
    # A subject whose CN value holds ",ST=<a MAC>" (escaped by RFC 2253) and no ST of its own.
    ca_dir = Path(server.pki.client_ca).parent
    forged = _signed(tmp_path, 'forged', '/OU=CP-8841-3PCC/L=FCH0000FORG/CN=x,ST=%s' % OWN,
                     (Path(server.pki.client_ca), ca_dir / 'client-ca.key'), CLIENT_EXT)
    result = server.curl('/cfg/%s.xml' % OWN, forged)
    assert result.status == 403, result
    line = server.log_lines()[-1]
    assert line['mac'] == '' and '\\,ST=' in line['subject']


# --- changes through the role --------------------------------------------------------------------

def test_second_run_changes_nothing_and_does_not_reload(server):
    before = nginx_pids()
    assert before[0] and before[1]
    result = server.deploy()
    assert result.rc == 0, result.stdout[-3000:]
    assert result.changed == 0, [name for name, res in result.tasks if res.get('changed')]
    assert nginx_pids() == before
    assert not any(name == 'Reload nginx' for name, dummy in result.tasks)


def test_check_mode_reports_without_touching(server):
    before, site = nginx_pids(), _sha(_site_file())
    result = server.deploy({'mpp_server_maintenance': True}, check=True, diff=True)
    server.vars['mpp_server_maintenance'] = False
    assert result.rc == 0, result.stdout[-3000:]
    assert result.task('Write the site configuration (validated with nginx -t first)')['changed'] is True
    diff = result.task('Write the site configuration (validated with nginx -t first)')['diff']
    assert 'return 503' in str(diff)
    assert _sha(_site_file()) == site
    assert nginx_pids() == before
    assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 200


def test_maintenance_answers_503_with_retry_after(server):
    profile = server.docroot / ('%s.xml' % OWN)
    stat_before = os.stat(str(profile))
    master, workers = nginx_pids()
    try:
        result = server.deploy({'mpp_server_maintenance': True, 'mpp_server_retry_after': 900})
        assert result.rc == 0, result.stdout[-3000:]
        assert result.task('Reload nginx')['changed'] is True
        new_master, new_workers = nginx_pids()
        assert new_master == master, 'nginx was restarted, not reloaded'
        assert not set(new_workers) & set(workers), 'workers were not replaced: no reload happened'
        for path, client in (('/cfg/%s.xml' % OWN, OWN), ('/shared/common.xml', NO_PROFILE)):
            answer = server.curl(path, client)
            assert answer.status == 503, answer
            assert answer.headers.get('retry-after') == '900'
        assert os.stat(str(profile)).st_mtime_ns == stat_before.st_mtime_ns
        assert profile.read_text() == PROFILE
    finally:
        result = server.deploy({'mpp_server_maintenance': False, 'mpp_server_retry_after': 600})
    assert result.rc == 0
    assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 200


def test_generic_certificate_allowed_only_for_shared_files(server):
    try:
        result = server.deploy({'mpp_server_allow_generic_cert': True})
        assert result.rc == 0, result.stdout[-3000:]
        assert server.curl('/shared/common.xml', 'generic').status == 200
        assert server.curl('/shared/firmware/sip88xx.loads', 'generic').status == 200
        assert server.curl('/cfg/%s.xml' % OWN, 'generic').status == 403
        assert server.curl('/cfg/ciscogeneric.xml', 'generic').status == 403
    finally:
        result = server.deploy({'mpp_server_allow_generic_cert': False})
    assert result.rc == 0
    assert server.curl('/shared/common.xml', 'generic').status == 403


def _assert_still_serving_unchanged(server, site_sha, pids):
    assert _sha(_site_file()) == site_sha, 'the live site configuration was replaced'
    assert nginx_pids() == pids, 'nginx was reloaded or restarted'
    assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 200
    assert server.curl('/cfg/%s.xml' % OWN, NO_PROFILE).status == 403


def test_broken_directive_is_rejected_and_old_config_keeps_serving(server):
    site, pids = _sha(_site_file()), nginx_pids()
    result = server.deploy({'mpp_server_extra_directives': ['no_such_directive on;']})
    server.vars['mpp_server_extra_directives'] = []
    assert result.rc != 0
    msg = result.task('Report the rejected configuration')['msg']
    assert 'nginx rejected the new configuration' in msg and 'no_such_directive' in msg
    _assert_still_serving_unchanged(server, site, pids)


def test_unloadable_certificate_is_rejected_and_old_config_keeps_serving(server, tmp_path):
    garbage = tmp_path / 'not-a-cert.pem'
    garbage.write_text('-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n')
    site, pids = _sha(_site_file()), nginx_pids()
    good = server.vars['mpp_server_cert_path']
    result = server.deploy({'mpp_server_cert_path': str(garbage)})
    server.vars['mpp_server_cert_path'] = good
    assert result.rc != 0
    assert 'not-a-cert.pem' in result.task('Report the rejected configuration')['msg']
    _assert_still_serving_unchanged(server, site, pids)


def test_conflict_with_the_rest_of_nginx_restores_the_previous_site(server):
    # The site alone is valid, the whole configuration is not: the second check catches it
    # and the previous site file comes back.
    conflict = Path('/etc/nginx/conf.d/zz-mpp-test-conflict.conf')
    conflict.write_text("log_format mpp_json '$status';\n")
    site, pids = _sha(_site_file()), nginx_pids()
    try:
        result = server.deploy({'mpp_server_allow_generic_cert': True})
    finally:
        conflict.unlink()
        server.vars['mpp_server_allow_generic_cert'] = False
    assert result.rc != 0
    msg = result.task('Report the rejected configuration')['msg']
    assert 'duplicate "log_format" name' in msg, msg
    assert result.task('Put the previous site configuration back')['changed'] is True
    _assert_still_serving_unchanged(server, site, pids)
    assert server.deploy().changed == 0


@pytest.mark.parametrize('overrides, words', [
    ({'mpp_server_url_path': 'cfg'}, 'mpp_server_url_path'),
    ({'mpp_server_docroot': '/srv/mpp/x; root /'}, 'paths'),
    ({'mpp_server_fqdn': 'not a host'}, 'mpp_server_fqdn'),
    ({'mpp_server_shared_url_path': '/cfg/'}, 'differ'),
])
def test_bad_variables_fail_clearly_and_write_nothing(server, overrides, words):
    site, pids = _sha(_site_file()), nginx_pids()
    saved = dict(server.vars)
    try:
        result = server.deploy(overrides)
    finally:
        server.vars.clear()
        server.vars.update(saved)
    assert result.rc != 0
    assert words in result.task("Check the role's variables")['msg']
    _assert_still_serving_unchanged(server, site, pids)


def test_missing_client_ca_fails_clearly(server):
    site, pids = _sha(_site_file()), nginx_pids()
    saved = server.vars['mpp_server_client_ca']
    try:
        result = server.deploy({'mpp_server_client_ca': '/nonexistent/client-ca.pem'})
    finally:
        server.vars['mpp_server_client_ca'] = saved
    assert result.rc != 0
    msg = result.task('Stop when a TLS file is missing')['msg']
    assert '/nonexistent/client-ca.pem' in msg and 'not found' in msg
    _assert_still_serving_unchanged(server, site, pids)


def test_check_mode_on_a_fresh_site_writes_nothing(server):
    # Another site name: the site, its link and the role's directory do not exist yet.
    name = 'phoneprov-mpp-checkmode'
    paths = ['/etc/nginx/sites-available/%s.conf' % name, '/etc/nginx/sites-enabled/%s.conf' % name, '/etc/nginx/%s' % name]
    pids = nginx_pids()
    saved = dict(server.vars)
    try:
        result = server.deploy({'mpp_server_site_name': name, 'mpp_server_port': server.port + 1}, check=True, diff=True)
    finally:
        server.vars.clear()
        server.vars.update(saved)
    assert result.rc == 0, result.stdout[-3000:]
    assert result.task('Write the site configuration (validated with nginx -t first)')['changed'] is True
    assert result.task('Enable the site')['changed'] is True
    assert not [path for path in paths if os.path.lexists(path)]
    assert nginx_pids() == pids


def _served_serial(server):
    proc = subprocess.run(['openssl', 's_client', '-connect', '127.0.0.1:%d' % server.port, '-servername', server.fqdn],
                          input=b'', capture_output=True, timeout=30, check=False)
    pem = proc.stdout.decode()
    pem = pem[pem.index('-----BEGIN CERTIFICATE-----'):pem.index('-----END CERTIFICATE-----') + 25]
    return subprocess.run(['openssl', 'x509', '-noout', '-serial'], input=pem.encode(), capture_output=True,
                          check=True).stdout.decode().strip()


def test_renewed_server_certificate_reloads_nginx(server, tmp_path):
    # Same paths, new certificate (as server_certificate installs a renewal): reload, no restart.
    before_serial = _served_serial(server)
    master, workers = nginx_pids()
    ca = Path(server.pki.server_ca)
    renewed = tmp_path / 'renewed.crt'
    csr = Path(server.pki.server_cert).with_suffix('.csr')
    ext = tmp_path / 'ext'
    ext.write_text('subjectAltName=DNS:%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' % server.fqdn)
    subprocess.run(['openssl', 'x509', '-req', '-in', str(csr), '-CA', str(ca), '-CAkey', str(ca.with_suffix('.key')),
                    '-set_serial', '0x%x' % (int.from_bytes(os.urandom(8), 'big') | 1), '-days', '30',
                    '-extfile', str(ext), '-out', str(renewed)], check=True, capture_output=True)
    Path(server.pki.server_cert).write_bytes(renewed.read_bytes())
    result = server.deploy()
    assert result.rc == 0, result.stdout[-3000:]
    assert result.task('Write the site configuration (validated with nginx -t first)')['changed'] is False
    assert result.task('Record the TLS files nginx has loaded (a changed certificate, key or bundle reloads nginx)')['changed']
    assert result.task('Reload nginx')['changed'] is True
    new_master, new_workers = nginx_pids()
    assert new_master == master and not set(new_workers) & set(workers)
    assert _served_serial(server) != before_serial
    assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 200
    assert server.deploy().changed == 0


EXPIRED_PLAY = '''
- name: Expired and not-yet-valid phone certificates from the trusted client CA
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Expired
      phoneprov.mpp.lab_ca:
        path: "{{ ca_dir }}"
        client: {mac: "{{ mac }}", model: CP-8841-3PCC}
        not_before: -10d
        not_after: -1d
        cert_path: "{{ out }}/expired.crt"
        key_path: "{{ out }}/expired.key"
    - name: Not yet valid
      phoneprov.mpp.lab_ca:
        path: "{{ ca_dir }}"
        client: {mac: "{{ mac }}", model: CP-8841-3PCC}
        not_before: +2d
        not_after: +10d
        cert_path: "{{ out }}/future.crt"
        key_path: "{{ out }}/future.key"
'''


def test_expired_or_not_yet_valid_phone_certificate_is_refused(server, playbook, tmp_path):
    ca_dir = Path(server.pki.client_ca).parent  # lab_ca's CA directory
    result = playbook(EXPIRED_PLAY, extra_vars={'ca_dir': str(ca_dir), 'mac': OWN, 'out': str(tmp_path)})
    assert result.rc == 0, result.stdout[-3000:]
    for name in ('expired', 'future'):
        files = {'cert': str(tmp_path / ('%s.crt' % name)), 'key': str(tmp_path / ('%s.key' % name))}
        answer = server.curl('/cfg/%s.xml' % OWN, files)
        assert answer.status == 400, (name, answer)
        assert b'Resync_Periodic' not in answer.body
        line = server.log_lines()[-1]
        assert line['client_verify'].startswith('FAILED:'), line
