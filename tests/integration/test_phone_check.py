# -*- coding: utf-8 -*-
"""phone_check against the REAL nginx of the provisioning_server role and a real dnsmasq.

The role is deployed on the system nginx through provisioning_server_helpers (which holds the
system nginx lock for the whole module); phones' client certificates come from its PKI. What a
test needs beyond the role's own locations (redirects, a 503 path, Basic authentication) is added
through the role's variable ``mpp_server_extra_directives``, never by editing its configuration.
Digest is tested against a small Python HTTPS server (phone_check_helpers.AuthServer: stock Debian
nginx has no Digest module and Apache is not installed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mpp_harness import COLLECTIONS, REPO, DnsServer, free_port, playbook_text
from phone_check_helpers import AuthServer
from provisioning_server_helpers import make_pki, running_server

if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_codec import encode_profile  # noqa: E402

OWN, OTHER, MISSING, ENCRYPTED, CORRUPT, RFC8188 = (
    '000e08abcdef', '00562b043615', '000e08000003', '000e08000004', '000e08000005', '000e08000006')
# The fleet of playbooks/verify.yml: one served, one without a profile, one behind a 503 path.
VERIFY_GOOD, VERIFY_MISSING, VERIFY_MAINT = '000e08000101', '000e08000102', '000e08000103'
PHONES = tuple({'mac': mac, 'model': 'CP-8841-3PCC', 'serial': 'FCH%07d' % index}
               for index, mac in enumerate((OWN, OTHER, MISSING, ENCRYPTED, CORRUPT, RFC8188,
                                            VERIFY_GOOD, VERIFY_MISSING, VERIFY_MAINT)))
PROFILE = ('<flat-profile>\n  <Resync_Periodic>3600</Resync_Periodic>\n  <User_ID_1_>1001</User_ID_1_>\n'
           '  <Password_1_>sip-secret</Password_1_>\n  <Station_Name>{mac}</Station_Name>\n</flat-profile>\n')
REPO_PLAYBOOKS = REPO / 'playbooks'
AES_KEY = 'aes-key-000e08000004'
IKM = 'ikm-000e08000006'
BASIC_USER, BASIC_PASSWORD = 'phone', 's3cret-basic'
# Locations the tests add to the role's server through mpp_server_extra_directives.
TEST_LOCATIONS = [
    'location /moved/ { rewrite ^/moved/(.*)$ /cfg/$1 permanent; }',
    'location /found/ { rewrite ^/found/(.*)$ /moved/$1 redirect; }',
    'location /maint/ { add_header Retry-After 600 always; return 503; }',
]
PHONE_CHECK = 'phoneprov.mpp.phone_check'
CHECK_DEFAULTS = {'ca_path': '{{ ca }}', 'nameservers': ['127.0.0.1'], 'dns_port': '{{ ns }}', 'timeout': 20,
                  'expect': 'any'}


def _play(tasks, **defaults):
    """A play of phone_check tasks against the lab: CHECK_DEFAULTS updated by ``defaults``, ``base``."""
    return playbook_text(tasks, name='phone_check', module_defaults={PHONE_CHECK: dict(CHECK_DEFAULTS, **defaults)},
                         vars={'base': 'https://prov.mpp.test:{{ port }}'})


def _basic_location(directory, docroot):
    """Basic authentication (nginx auth_basic) in front of the role's docroot at /basic/<$MA>.xml."""
    hashed = subprocess.run(['openssl', 'passwd', '-apr1', BASIC_PASSWORD], capture_output=True, text=True,
                            check=True).stdout.strip()
    users = Path(directory) / 'htpasswd'
    users.write_text('%s:%s\n' % (BASIC_USER, hashed))
    os.chmod(str(users), 0o644)
    return 'location /basic/ { auth_basic "phones"; auth_basic_user_file %s; alias %s/; }' % (users, docroot)


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp('phone_check')
    pki = make_pki(base / 'pki', phones=PHONES)
    dns = DnsServer(base / 'dns', {'prov.mpp.test': ['127.0.0.1']})
    # CN FQDN prov.mpp.test lacks the server's address here; alias.mpp.test (the URL host) has it.
    bad_dns = DnsServer(base / 'baddns', {'prov.mpp.test': ['127.0.0.2'], 'alias.mpp.test': ['127.0.0.1']})
    # nginx workers (www-data) read the htpasswd file: not under pytest's 0700 tmp dirs.
    readable = Path(tempfile.mkdtemp(prefix='mpp-phone-check-', dir='/tmp'))
    os.chmod(str(readable), 0o755)
    try:
        with running_server(base / 'server', pki=pki, extra_vars={'mpp_server_extra_directives': TEST_LOCATIONS}) as server:
            # The docroot is the server's own: known once it runs, so the Basic location comes second.
            deployed = server.deploy({'mpp_server_extra_directives': TEST_LOCATIONS + [
                _basic_location(readable, server.docroot)]})
            assert deployed.rc == 0, deployed.stdout[-3000:]
            for mac in (OWN, OTHER, VERIFY_GOOD, VERIFY_MAINT):
                server.write_profile(mac, PROFILE.format(mac=mac))
            server.write_profile(CORRUPT, '<flat-profile><Resync_Periodic>3600</flat-profile>')
            _write_bytes(server, ENCRYPTED, encode_profile(PROFILE.format(mac=ENCRYPTED).encode(), compress=True,
                                                           encrypt='aes-256-cbc', key=AES_KEY))
            _write_bytes(server, RFC8188, encode_profile(PROFILE.format(mac=RFC8188).encode(), compress=True,
                                                         encrypt='rfc8188', key=IKM))
            yield {'pki': pki, 'server': server, 'dns': dns, 'bad_dns': bad_dns, 'base': base}
    finally:
        dns.stop()
        bad_dns.stop()
        shutil.rmtree(str(readable), ignore_errors=True)


def _write_bytes(server, mac, data):
    path = server.docroot / ('%s.xml' % mac)
    path.write_bytes(data)
    os.chmod(str(path), 0o644)


def _vars(lab, **extra):
    pki, server = lab['pki'], lab['server']
    data = {'port': server.port, 'ca': pki.server_ca, 'ns': lab['dns'].port, 'bad_ns': lab['bad_dns'].port,
            'certs': dict((p['mac'], {'cert': p['cert'], 'key': p['key']}) for p in pki.phones),
            'aes_key': AES_KEY, 'ikm': IKM}
    data.update(extra)
    return data


MATRIX = '''
- name: own
  phoneprov.mpp.phone_check:
    url: "{{ base }}/cfg/$MA.xml"
    mac: 00:0E:08:AB:CD:EF
    serial: FCH0000000
    client_cert: "{{ certs['000e08abcdef'].cert }}"
    client_key: "{{ certs['000e08abcdef'].key }}"
- name: own unredacted and filtered
  phoneprov.mpp.phone_check:
    url: "{{ base }}/cfg/$MA.xml"
    mac: 000e08abcdef
    client_cert: "{{ certs['000e08abcdef'].cert }}"
    client_key: "{{ certs['000e08abcdef'].key }}"
    redact: []
    parameter_names: [Password_1_, Station_Name]
- name: other
  phoneprov.mpp.phone_check:
    url: "{{ base }}/cfg/00562b043615.xml"
    mac: 000e08abcdef
    client_cert: "{{ certs['000e08abcdef'].cert }}"
    client_key: "{{ certs['000e08abcdef'].key }}"
- name: missing
  phoneprov.mpp.phone_check:
    url: "{{ base }}/cfg/$MA.xml"
    mac: 000e08000003
    client_cert: "{{ certs['000e08000003'].cert }}"
    client_key: "{{ certs['000e08000003'].key }}"
- name: corrupt
  phoneprov.mpp.phone_check:
    url: "{{ base }}/cfg/$MA.xml"
    mac: 000e08000005
    client_cert: "{{ certs['000e08000005'].cert }}"
    client_key: "{{ certs['000e08000005'].key }}"
- name: encrypted
  phoneprov.mpp.phone_check:
    url: '[--key "$B"] {{ base }}/cfg/$MA.xml'
    mac: 000e08000004
    macros: {B: "{{ aes_key }}"}
    client_cert: "{{ certs['000e08000004'].cert }}"
    client_key: "{{ certs['000e08000004'].key }}"
- name: encrypted wrong key
  phoneprov.mpp.phone_check:
    url: '[--key "$B"] {{ base }}/cfg/$MA.xml'
    mac: 000e08000004
    macros: {B: "{{ aes_key }}"}
    key: not-the-key
    client_cert: "{{ certs['000e08000004'].cert }}"
    client_key: "{{ certs['000e08000004'].key }}"
- name: rfc8188
  phoneprov.mpp.phone_check:
    url: "{{ base }}/cfg/$MA.xml"
    mac: 000e08000006
    key: "{{ ikm }}"
    client_cert: "{{ certs['000e08000006'].cert }}"
    client_key: "{{ certs['000e08000006'].key }}"
- name: redirect
  phoneprov.mpp.phone_check:
    url: "{{ base }}/found/$MA.xml"
    mac: 000e08abcdef
    client_cert: "{{ certs['000e08abcdef'].cert }}"
    client_key: "{{ certs['000e08abcdef'].key }}"
- name: untrusted
  phoneprov.mpp.phone_check:
    url: "{{ base }}/cfg/$MA.xml"
    mac: 000e08abcdef
    ca_path: "{{ untrusted_ca }}"
    client_cert: "{{ certs['000e08abcdef'].cert }}"
    client_key: "{{ certs['000e08abcdef'].key }}"
- name: dns mismatch
  phoneprov.mpp.phone_check:
    url: "https://alias.mpp.test:{{ port }}/cfg/$MA.xml"
    mac: 000e08abcdef
    dns_port: "{{ bad_ns }}"
    client_cert: "{{ certs['000e08abcdef'].cert }}"
    client_key: "{{ certs['000e08abcdef'].key }}"
- name: no client certificate
  phoneprov.mpp.phone_check:
    url: "{{ base }}/cfg/$MA.xml"
    mac: 000e08abcdef
- name: expect A but missing
  phoneprov.mpp.phone_check:
    url: "{{ base }}/cfg/$MA.xml"
    mac: 000e08000003
    client_cert: "{{ certs['000e08000003'].cert }}"
    client_key: "{{ certs['000e08000003'].key }}"
    expect: A
  ignore_errors: true
- name: check mode
  phoneprov.mpp.phone_check:
    url: "{{ base }}/cfg/$MA.xml"
    mac: 000e08abcdef
    client_cert: "{{ certs['000e08abcdef'].cert }}"
    client_key: "{{ certs['000e08abcdef'].key }}"
    expect: A
  check_mode: true
- name: fleet
  phoneprov.mpp.phone_check:
    url: "{{ base }}/cfg/$MA.xml"
    phones:
      - {mac: 000e08abcdef, expect: A, lines: [ignored]}
      - {mac: 00562b043615, expect: A}
      - {mac: 000e08000003, expect: B}
      - {mac: 000e08000005, expect: B}
      - {mac: 000e08000004, expect: A, key: "{{ aes_key }}"}
      - {mac: 000e08000006, expect: A, key: "{{ ikm }}"}
    client_cert: "{{ pki_dir }}/$MA.crt"
    client_key: "{{ pki_dir }}/$MA.key"
    return_parameters: false
    workers: 3
- name: fleet unexpected
  phoneprov.mpp.phone_check:
    url: "{{ base }}/cfg/$MA.xml"
    phones:
      - {mac: 000e08abcdef}
      - {mac: 000e08000003}
    client_cert: "{{ pki_dir }}/$MA.crt"
    client_key: "{{ pki_dir }}/$MA.key"
    expect: A
    return_phones: unexpected
  ignore_errors: true
'''


def _link_certs(lab):
    """clients/<mac>.crt and .key for the macro-templated client_cert of fleet mode."""
    directory = lab['base'] / 'clients'
    directory.mkdir(exist_ok=True)
    for phone in lab['pki'].phones:
        for kind in ('cert', 'key'):
            link = directory / ('%s.%s' % (phone['mac'], 'crt' if kind == 'cert' else 'key'))
            if not link.exists():
                link.symlink_to(phone[kind])
    return str(directory)


def test_matrix(lab, playbook):
    result = playbook(_play(MATRIX), extra_vars=_vars(lab, untrusted_ca=lab['pki'].client_ca, pki_dir=_link_certs(lab)))
    assert result.rc == 0, result.stdout[-3000:]

    own = result.task('own')
    assert (own['behavior'], own['status'], own['changed']) == ('A', 200, False), own['reason']
    assert own['parameters'] == {'Resync_Periodic': '3600', 'User_ID_1_': '1001', 'Password_1_': '********',
                                 'Station_Name': OWN}
    assert own['parameter_count'] == 4
    assert (own['next_try_parameter'], own['next_try_value']) == ('Resync_Periodic', '3600')
    assert (own['fqdn'], own['peer_address'], own['dns_ok']) == ('prov.mpp.test', '127.0.0.1', True)
    assert own['dns_addresses'] == ['127.0.0.1']
    assert own['user_agent'] == 'Cisco-CP-8841-3PCC/12.0.1 (000e08abcdef)'
    assert own['tls']['client_cert_sent'] is True and own['tls']['version'] in ('TLSv1.2', 'TLSv1.3')
    # nginx's own access log names the phone and the User-Agent it saw
    logged = [line for line in lab['server'].log_lines() if OWN in str(line)]
    assert logged and 'Cisco-CP-8841-3PCC/12.0.1 (000e08abcdef)' in str(logged[-1])

    assert result.task('own unredacted and filtered')['parameters'] == {'Password_1_': 'sip-secret',
                                                                        'Station_Name': OWN}
    other = result.task('other')
    assert (other['behavior'], other['status'], other['reason']) == ('C', 403, 'HTTP 403 forbidden')
    missing = result.task('missing')
    assert (missing['behavior'], missing['status']) == ('B', 404)
    assert missing['next_try_parameter'] == 'Resync_Error_Retry_Delay'
    corrupt = result.task('corrupt')
    assert (corrupt['behavior'], corrupt['status'], corrupt['step']) == ('B', 200, 'parse')
    assert 'profile does not parse' in corrupt['reason']

    encrypted = result.task('encrypted')
    assert encrypted['behavior'] == 'A', encrypted['reason']
    assert encrypted['decoding'] == {'encryption': 'aes-256-cbc', 'compressed': True}
    assert encrypted['parameters']['Station_Name'] == ENCRYPTED
    wrong = result.task('encrypted wrong key')
    assert (wrong['behavior'], wrong['step']) == ('B', 'decode') and 'bad decrypt' in wrong['reason']
    rfc = result.task('rfc8188')
    assert rfc['behavior'] == 'A', rfc['reason']
    assert rfc['decoding']['encryption'] == 'rfc8188' and rfc['decoding']['compressed'] is True
    assert rfc['parameters']['Station_Name'] == RFC8188

    redirect = result.task('redirect')
    assert redirect['behavior'] == 'A', redirect['reason']
    assert [r['status'] for r in redirect['redirects']] == [302, 301]
    assert redirect['url'] == 'https://prov.mpp.test:%d/cfg/000e08abcdef.xml' % lab['server'].port

    untrusted = result.task('untrusted')
    assert (untrusted['behavior'], untrusted['step'], untrusted['status']) == ('C', 'tls', None)
    assert 'unable to get local issuer certificate' in untrusted['reason']
    mismatch = result.task('dns mismatch')
    assert (mismatch['behavior'], mismatch['step'], mismatch['dns_ok']) == ('C', 'dns_check', False)
    assert mismatch['reason'] == ('DNS check failed: the server address 127.0.0.1 is not among the addresses of '
                                  'the CN FQDN prov.mpp.test (127.0.0.2)')
    nocert = result.task('no client certificate')
    assert (nocert['behavior'], nocert['status']) == ('C', 400)

    failed = result.task('expect A but missing')
    assert failed['failed'] is True and failed['behavior'] == 'B' and failed['status'] == 404
    assert failed['msg'] == 'the phone would get behaviour B, expected A: HTTP 404 file not found'
    assert result.task('check mode')['behavior'] == 'A'

    fleet = result.task('fleet')
    assert fleet.get('failed') is not True, fleet.get('msg')
    summary = fleet['summary']
    assert (summary['total'], summary['A'], summary['B'], summary['C'], summary['unexpected']) == (6, 4, 2, 0, 0)
    by_mac = dict((item['mac'], item) for item in fleet['phones'])
    assert by_mac[CORRUPT]['reason'].startswith('profile does not parse')
    assert by_mac[ENCRYPTED]['behavior'] == 'A' and by_mac[ENCRYPTED]['parameters'] == {}
    assert AES_KEY not in result.stdout and IKM not in result.stdout and 'sip-secret' in result.stdout
    unexpected = result.task('fleet unexpected')
    assert unexpected['failed'] is True and unexpected['summary']['unexpected'] == 1
    assert [item['mac'] for item in unexpected['phones']] == [MISSING]
    assert unexpected['msg'].startswith('1 of 2 phones did not behave as expected (A 1, B 1, C 0): 000e08000003: B')


def test_other_phone_in_fleet_is_c(lab, playbook):
    """Phone OTHER has its profile and its certificate: A. With OWN's certificate it is refused (403)."""
    text = _play('''
- name: crossed certificates
  phoneprov.mpp.phone_check:
    url: "{{ base }}/cfg/$MA.xml"
    phones:
      - {mac: 00562b043615}
      - {mac: 00562b043615, client_cert: "{{ certs['000e08abcdef'].cert }}",
         client_key: "{{ certs['000e08abcdef'].key }}", expect: C}
    client_cert: "{{ certs['00562b043615'].cert }}"
    client_key: "{{ certs['00562b043615'].key }}"
    expect: A
''')
    result = playbook(text, extra_vars=_vars(lab))
    assert result.rc == 0, result.stdout[-3000:]
    phones = result.task('crossed certificates')['phones']
    assert [(p['behavior'], p['status']) for p in phones] == [('A', 200), ('C', 403)]


def _one(lab, playbook, **extra):
    text = _play('''
- name: one
  phoneprov.mpp.phone_check:
    url: "{{ base }}/cfg/$MA.xml"
    mac: 000e08abcdef
    ca_path: "{{ phone_ca | default(ca) }}"
    client_cert: "{{ certs['000e08abcdef'].cert }}"
    client_key: "{{ certs['000e08abcdef'].key }}"
''')
    result = playbook(text, extra_vars=_vars(lab, **extra))
    assert result.rc == 0, result.stdout[-3000:]
    return result.task('one')


def test_maintenance_and_expired_certificate(lab, playbook, tmp_path):
    server = lab['server']
    try:
        deployed = server.deploy({'mpp_server_maintenance': True})
        assert deployed.rc == 0, deployed.stdout[-3000:]
        maint = _one(lab, playbook)
        assert (maint['behavior'], maint['status']) == ('C', 503)
        assert 'maintenance' in maint['reason']
    finally:
        assert server.deploy({'mpp_server_maintenance': False}).rc == 0
    # An expired server certificate for the same key, from the lab CA (lab_ca module) that the phone trusts.
    sign = {'name': 'sign', 'phoneprov.mpp.lab_ca': {'path': '{{ dir }}/ca', 'csr_path': '{{ csr }}',
                                                     'cert_path': '{{ dir }}/expired.crt', 'not_before': '-30d',
                                                     'not_after': '-1d'}}
    issue = playbook(playbook_text([sign], name='expired server certificate'),
                     extra_vars={'dir': str(tmp_path), 'csr': str(lab['pki'].directory / 'server.csr')})
    assert issue.rc == 0, issue.stdout[-3000:]
    lab_ca = issue.task('sign')
    original = server.vars['mpp_server_cert_path']
    try:
        assert server.deploy({'mpp_server_cert_path': str(tmp_path / 'expired.crt')}).rc == 0
        expired = _one(lab, playbook, phone_ca=lab_ca['server_ca_path'])
        assert (expired['behavior'], expired['step'], expired['status']) == ('C', 'tls', None)
        assert 'certificate has expired' in expired['reason']
    finally:
        assert server.deploy({'mpp_server_cert_path': original}).rc == 0
    assert _one(lab, playbook)['behavior'] == 'A'


AUTH_TASKS = '''
- name: basic nginx
  phoneprov.mpp.phone_check:
    url: "{{ base }}/basic/$MA.xml"
    client_cert: "{{ cert }}"
    client_key: "{{ key }}"
    username: phone
    password: s3cret-basic
- name: basic nginx wrong password
  phoneprov.mpp.phone_check:
    url: "{{ base }}/basic/$MA.xml"
    client_cert: "{{ cert }}"
    client_key: "{{ key }}"
    username: phone
    password: wrong
- name: basic nginx no credentials
  phoneprov.mpp.phone_check:
    url: "{{ base }}/basic/$MA.xml"
    client_cert: "{{ cert }}"
    client_key: "{{ key }}"
- name: digest md5 from rule options
  phoneprov.mpp.phone_check:
    url: '[--uid phone --pwd "d1gest pw"] https://prov.mpp.test:{{ md5_port }}/cfg/$MA.xml'
- name: digest sha256
  phoneprov.mpp.phone_check:
    url: "https://prov.mpp.test:{{ sha_port }}/cfg/$MA.xml"
    username: phone
    password: d1gest pw
- name: digest wrong
  phoneprov.mpp.phone_check:
    url: "https://prov.mpp.test:{{ sha_port }}/cfg/$MA.xml"
    username: phone
    password: nope
'''


def test_basic_and_digest(lab, playbook):
    """Basic: nginx's auth_basic in front of the role's docroot; Digest: AuthServer with the role's server certificate."""
    pki = lab['pki']
    files = {'/cfg/%s.xml' % OWN: PROFILE.format(mac=OWN).encode()}
    md5 = AuthServer(pki.server_cert, pki.server_key, files, 'phone', 'd1gest pw', algorithm='MD5')
    sha = AuthServer(pki.server_cert, pki.server_key, files, 'phone', 'd1gest pw', algorithm='SHA-256')
    try:
        result = playbook(_play(AUTH_TASKS, mac=OWN), extra_vars=_vars(
            lab, cert=pki.phone(OWN)['cert'], key=pki.phone(OWN)['key'], md5_port=md5.port, sha_port=sha.port))
    finally:
        md5.stop()
        sha.stop()
    assert result.rc == 0, result.stdout[-3000:]
    basic = result.task('basic nginx')
    assert (basic['behavior'], basic['auth'], basic['parameters']['User_ID_1_']) == ('A', 'Basic', '1001')
    wrong = result.task('basic nginx wrong password')
    assert (wrong['behavior'], wrong['status'], wrong['step']) == ('C', 401, 'auth')
    assert 'credentials refused after 2 retries' in wrong['reason']
    none = result.task('basic nginx no credentials')
    assert none['behavior'] == 'C' and 'none were given' in none['reason']
    assert result.task('digest md5 from rule options')['auth'] == 'Digest'
    assert result.task('digest md5 from rule options')['behavior'] == 'A'
    assert result.task('digest sha256')['behavior'] == 'A'
    digest_wrong = result.task('digest wrong')
    assert digest_wrong['behavior'] == 'C' and 'after 2 retries' in digest_wrong['reason']
    # the server saw: first try without credentials, then with (MD5); wrong: 1 + 2 retries
    assert [bool(s['authorization']) for s in md5.seen] == [False, True]
    assert [bool(s['authorization']) for s in sha.seen] == [False, True, False, True, True]
    assert all(s['user_agent'] == 'Cisco-CP-8841-3PCC/12.0.1 (000e08abcdef)' for s in sha.seen)
    assert 's3cret-basic' not in result.stdout and 'nope' not in result.stdout


BAD_INPUT_TASKS = [
    {'name': 'no serial for $SN', PHONE_CHECK: {'url': 'https://127.0.0.1:{{ port }}/cfg/$SN.xml', 'mac': '000e08abcdef',
                                                'ca_path': '/etc/ssl/certs/ca-certificates.crt'}},
    {'name': 'bad mac', PHONE_CHECK: {'url': 'https://127.0.0.1:{{ port }}/cfg/$MA.xml', 'mac': '00:0e'}},
    {'name': 'tftp', PHONE_CHECK: {'url': 'prov.example.net/$MA.xml', 'mac': '000e08abcdef'}},
    {'name': 'no ca_path', PHONE_CHECK: {'url': 'https://127.0.0.1:{{ port }}/cfg/$MA.xml', 'mac': '000e08abcdef'}},
    {'name': 'bad identity', PHONE_CHECK: {'url': 'https://127.0.0.1:{{ port }}/cfg/$MA.xml', 'mac': '000e08abcdef',
                                           'client_identity': {'rule': 'attribute', 'attribute': 'CN', 'pattern': '[0-9a-f]{12}'}}},
    {'name': 'mac and phones', PHONE_CHECK: {'url': 'https://127.0.0.1:{{ port }}/cfg/$MA.xml', 'mac': '000e08abcdef',
                                             'phones': [{'mac': '000e08abcdef'}]}},
    {'name': 'phone without mac', PHONE_CHECK: {'url': 'https://127.0.0.1:{{ port }}/cfg/$MA.xml',
                                                'phones': [{'mac': '000e08abcdef'}, {'model': 'CP-8841-3PCC'}]}},
    {'name': 'fleet phone with a bad mac is reported, not checked',
     PHONE_CHECK: {'url': 'http://127.0.0.1:{{ port }}/cfg/$MA.xml', 'phones': [{'mac': '00:11', 'expect': 'any'}],
                   'expect': 'any'}},
]


def test_bad_input_fails_before_traffic(playbook):
    tasks = [dict(task, ignore_errors=True) for task in BAD_INPUT_TASKS]
    result = playbook(playbook_text(tasks, name='bad input'), extra_vars={'port': free_port()})
    assert result.task('no serial for $SN')['msg'] == 'URL uses $SN but it has no value: give serial'
    assert 'invalid MAC address' in result.task('bad mac')['msg']
    assert 'TFTP' in result.task('tftp')['msg']
    assert result.task('no ca_path')['msg'].startswith('ca_path is required for https')
    assert result.task('bad identity')['msg'].startswith('client_identity: client identity pattern')
    assert 'has no group (?P<mac>...)' in result.task('bad identity')['msg']
    assert all('behavior' not in result.task(name) for name in ('bad mac', 'tftp'))
    assert result.task('mac and phones')['msg'] == 'parameters are mutually exclusive: mac|phones'
    assert result.task('phone without mac')['msg'] == 'phones[1] has no mac: each phone is a dict with at least mac'
    bad = result.task('fleet phone with a bad mac is reported, not checked')
    assert bad['failed'] is True and bad['phones'][0]['step'] == 'input' and bad['phones'][0]['behavior'] is None
    assert 'invalid MAC address' in bad['phones'][0]['reason']


def test_verify_playbook(lab, playbook, tmp_path):
    """playbooks/verify.yml: one fleet task per server, the A/B/C summary, failure when not all A."""
    server = lab['server']
    good, missing, maint = VERIFY_GOOD, VERIFY_MISSING, VERIFY_MAINT
    clients = _link_certs(lab)
    inventory = tmp_path / 'servers.yml'
    inventory.write_text('all:\n  children:\n    provisioning_servers:\n      hosts:\n        localhost:\n')
    fleet = [
        {'mac': good, 'model': 'CP-8841-3PCC', 'lines': [{'password': 'sip-pw-101'}]},
        {'mac': missing, 'model': 'CP-7841-3PCC'},
        {'mac': maint, 'url': 'https://prov.mpp.test:%d/maint/$MA.xml' % server.port},
    ]
    common = {'mpp_phones': fleet, 'mpp_server_fqdn': 'prov.mpp.test', 'mpp_server_port': server.port,
              'mpp_server_address': '127.0.0.1', 'mpp_verify_ca_path': lab['pki'].server_ca,
              'mpp_verify_client_cert': '%s/$MA.crt' % clients, 'mpp_verify_client_key': '%s/$MA.key' % clients,
              'mpp_verify_nameservers': ['127.0.0.1'], 'mpp_verify_dns_port': lab['dns'].port}
    path = str(REPO_PLAYBOOKS / 'verify.yml')
    result = playbook(path, extra_vars=common, args=['-i', str(inventory)])
    sample = playbook(path, extra_vars=dict(common, mpp_verify_sample=2, mpp_verify_expect='any'),
                      args=['-i', str(inventory)])
    unset = playbook(path, extra_vars={'mpp_phones': fleet}, args=['-i', str(inventory)])
    check = result.task('Resync like the phones (phone_check, fleet mode)')
    assert (check['summary']['A'], check['summary']['B'], check['summary']['C']) == (1, 1, 1)
    final = result.task('Every phone behaves as expected')
    assert final['failed'] is True and result.rc != 0
    assert final['msg'].startswith('2 of 3 phones did not behave as expected (A 1, B 1, C 1): 000e08000102: B')
    lines = result.task('How many phones got A, B and C, and why')['msg']
    assert lines[0] == ('localhost: 3 phones checked against https://prov.mpp.test:%d/cfg/$MA.xml at 127.0.0.1: '
                        'A 1, B 1, C 1, not as expected 2' % server.port)
    assert sorted(line.split(':')[0] for line in lines[1:]) == ['A x1', 'B x1', 'C x1']
    assert any('HTTP 503' in line and maint in line for line in lines[1:])
    assert 'sip-pw-101' not in result.stdout  # SIP secrets of mpp_phones are not passed to the module

    assert sample.rc == 0, sample.stdout[-3000:]
    assert sample.task('Every phone behaves as expected')['msg'] == 'localhost: all 2 phones behave as expected'
    assert sample.task('Resync like the phones (phone_check, fleet mode)')['summary']['total'] == 2
    assert unset.rc != 0
    assert 'set mpp_verify_ca_path' in unset.task('Check the settings of the verify stage')['msg']
