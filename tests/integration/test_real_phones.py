# -*- coding: utf-8 -*-
"""The certificates and profiles real phones bring, against the real system nginx.

- A manufacturing-certificate (MIC) phone, minted by lab_ca ``style: mic``, reads its own
  profile and gets 403 for another's under ``mpp_server_client_identity: cn_sep``; the role,
  the emulator (phone_check) and the access log agree on its MAC. A guide-style phone still
  works under the default, and neither shape reads a profile under the other's rule.
- A phone whose chain has an intermediate signed with SHA-1 is refused by default (the access
  log names OpenSSL's reason) and served with ``mpp_server_client_legacy_signatures``.
- Every well-formed real dump of shared/realworld pushes through phone_profiles as the whole
  template (byte for byte) and phone_check parses as many parameters as it has leaf elements;
  the one that is not well-formed is refused with its line and column.
- User-Agents as real devices send them land in the log's fields as module_utils/user_agent.py reads them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mpp_harness import COLLECTIONS, DnsServer, playbook_text, run_playbook
from provisioning_server_helpers import DEFAULT_PHONES, running_server
from real_phones_helpers import leaf_elements, mint_root, mint_sha1_chain, profile_files, pushable_dumps, realworld_dir, require_realworld

if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))

# pylint: disable=wrong-import-position
from ansible_collections.phoneprov.mpp.plugins.module_utils.client_subject import client_subject  # noqa: E402
from ansible_collections.phoneprov.mpp.plugins.module_utils.user_agent import parse_user_agent  # noqa: E402

OWN, OTHER = DEFAULT_PHONES[0]['mac'], DEFAULT_PHONES[1]['mac']
MIC_PHONES = [{'mac': OWN, 'model': 'CP-8861', 'serial': 'FCH2133E8B9', 'style': 'mic'},
              {'mac': OTHER, 'model': 'CP-8845', 'serial': 'FCH2133E8C0', 'style': 'mic'}]
PROFILE = '<flat-profile><Resync_Periodic>3600</Resync_Periodic></flat-profile>\n'
PHONE_CHECK = 'phoneprov.mpp.phone_check'


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp('real_phones')
    with running_server(workdir, profiles={OWN: PROFILE, OTHER: PROFILE}) as srv:
        dns = DnsServer(workdir / 'dns', {srv.fqdn: ['127.0.0.1']})
        try:
            srv.dns = dns
            yield srv
        finally:
            dns.stop()


@pytest.fixture(scope='module')
def mic(server, tmp_path_factory):
    """MIC-style client certificates from lab_ca (same client CA as the server's guide-style phones)."""
    directory = tmp_path_factory.mktemp('mic')
    tasks = [{'name': 'mic %s' % phone['mac'], 'phoneprov.mpp.lab_ca': {
        'path': str(Path(server.pki.client_ca).parent), 'client': phone,
        'cert_path': str(directory / ('%s.crt' % phone['mac'])), 'key_path': str(directory / ('%s.key' % phone['mac']))}}
        for phone in MIC_PHONES]
    result = run_playbook(directory / 'run', playbook_text(tasks))
    assert result.rc == 0, result.stdout[-3000:]
    out = {}
    for phone in MIC_PHONES:
        task = result.task('mic %s' % phone['mac'])
        assert task['identity'] == 'cn_sep' and task['mac'] == phone['mac'], task
        assert task['subject'] == 'CN=%s-SEP%s,OU=CTG,O=Cisco Systems Inc.,2.5.4.5=PID:%s SN:%s' % (
            phone['model'], phone['mac'].upper(), phone['model'], phone['serial'])
        out[phone['mac']] = {'cert': str(directory / ('%s.crt' % phone['mac'])), 'key': str(directory / ('%s.key' % phone['mac']))}
    return out


def _phone_check(server, workdir, phones, **options):
    """phone_check (fleet mode) against the server; returns its ``phones``."""
    args = dict({'url': 'https://%s:%d/cfg/$MA.xml' % (server.fqdn, server.port), 'phones': phones,
                 'ca_path': server.pki.server_ca, 'nameservers': ['127.0.0.1'], 'dns_port': server.dns.port,
                 'expect': 'any', 'return_parameters': False}, **options)
    result = run_playbook(workdir, playbook_text([{'name': 'check', PHONE_CHECK: args}]))
    assert result.rc == 0, result.stdout[-3000:]
    return result.task('check')['phones']


def test_mic_phone_under_cn_sep_and_guide_phone_under_the_default(server, mic, tmp_path):
    try:
        assert server.deploy({'mpp_server_client_identity': 'cn_sep'}).rc == 0
        own = server.curl('/cfg/%s.xml' % OWN, mic[OWN])
        assert own.status == 200 and own.body.decode() == PROFILE, own
        line = server.log_lines()[-1]
        # nginx, client_subject() under the same rule, and the certificate agree on the phone.
        assert (line['mac'].lower(), line['serial'], line['cert_model']) == (OWN, 'FCH2133E8B9', 'CP-8861'), line
        assert client_subject(line['subject'], 'cn_sep')['mac'] == OWN
        assert server.curl('/cfg/%s.xml' % OTHER, mic[OWN]).status == 403
        assert server.curl('/cfg/%s.xml' % OTHER, mic[OTHER]).status == 200
        # A guide-style certificate has no CN SEP suffix: it names no phone under cn_sep.
        assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 403
        assert server.log_lines()[-1]['mac'] == ''
        # The emulator presents the MIC and claims the MAC the server reads from it.
        checked = _phone_check(server, tmp_path / 'check-mic', [
            {'mac': OWN, 'model': 'CP-8861', 'client_cert': mic[OWN]['cert'], 'client_key': mic[OWN]['key']},
            {'mac': OTHER, 'client_cert': mic[OWN]['cert'], 'client_key': mic[OWN]['key']}], client_identity='cn_sep')
        assert [(phone['behavior'], phone['status']) for phone in checked] == [('A', 200), ('C', 403)]
        assert [phone['client_cert_mac'] for phone in checked] == [OWN, OWN]
        assert 'the client certificate names %s under identity rule cn_sep, not this phone' % OWN in checked[1]['reason']
    finally:
        assert server.deploy({'mpp_server_client_identity': 'st'}).rc == 0
    assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 200
    line = server.log_lines()[-1]
    assert (line['mac'], line['serial'], line['cert_model']) == (OWN, 'FCH1234ABCD', 'CP-8841-3PCC'), line
    # Under the default the MIC's 12 hex digits in CN (and the serial) name no phone.
    assert server.curl('/cfg/%s.xml' % OWN, mic[OWN]).status == 403
    assert server.log_lines()[-1]['mac'] == ''


def test_sha1_chain_refused_by_default_and_served_with_legacy_signatures(server, tmp_path):
    root, root_key = mint_root(tmp_path / 'root')
    client = mint_sha1_chain(tmp_path / 'sha1', root, root_key, '/OU=CP-8841-3PCC/L=FCH1234ABCD/ST=%s' % OWN)
    # As a provider's bundle holds Cisco Manufacturing CA next to Cisco Root CA 2048.
    bundle = tmp_path / 'client-bundle.pem'
    bundle.write_bytes(Path(server.pki.client_ca).read_bytes() + Path(root).read_bytes() + Path(client['intermediate']).read_bytes())
    try:
        assert server.deploy({'mpp_server_client_ca': str(bundle)}).rc == 0
        refused = server.curl('/cfg/%s.xml' % OWN, client)
        assert refused.status == 400, refused
        line = server.log_lines()[-1]
        assert line['client_verify'] == 'FAILED:CA signature digest algorithm too weak', line
        # The emulator sends the whole chain, as such a phone does, and names the reason.
        checked = _phone_check(server, tmp_path / 'check', [{'mac': OWN}], client_cert=client['chain'], client_key=client['key'])
        assert checked[0]['behavior'] == 'C' and checked[0]['reason'].startswith(
            "client certificate chain uses SHA-1: refused by the server's security level (HTTP 400"), checked[0]
        assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 200

        assert server.deploy({'mpp_server_client_legacy_signatures': True}).rc == 0
        served = server.curl('/cfg/%s.xml' % OWN, client)
        assert served.status == 200 and served.body.decode() == PROFILE, served
        assert server.log_lines()[-1]['client_verify'] == 'SUCCESS'
        checked = _phone_check(server, tmp_path / 'check2', [{'mac': OWN}], client_cert=client['chain'], client_key=client['key'])
        assert (checked[0]['behavior'], checked[0]['status']) == ('A', 200), checked[0]
        # Only the client chains' level: the site's protocols and ciphers stay as configured.
        assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 200
        assert 'Cipher is ECDHE-RSA-AES128-GCM-SHA256' in openssl_s_client(server, '-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256')
        # A suite and a protocol the site does not list stay refused (the client offers them at level 0).
        for args in (('-tls1_2', '-cipher', 'AES128-SHA:@SECLEVEL=0'), ('-tls1', '-cipher', 'DEFAULT:@SECLEVEL=0')):
            printed = openssl_s_client(server, *args)
            assert 'Cipher is (NONE)' in printed and 'alert' in printed, (args, printed[-800:])
    finally:
        assert server.deploy({'mpp_server_client_legacy_signatures': False, 'mpp_server_client_ca': server.pki.client_ca}).rc == 0


def openssl_s_client(server, *args):
    """What ``openssl s_client`` prints connecting to the server with ``args`` (stdout and stderr)."""
    proc = subprocess.run(['openssl', 's_client', '-connect', '127.0.0.1:%d' % server.port, '-servername', server.fqdn]
                          + list(args), input='', capture_output=True, text=True, timeout=30, check=False)
    return proc.stdout + proc.stderr


REAL_USER_AGENTS = ['Cisco-CP-8841-3PCC/11.0 (00562b043615)', 'Cisco/ATA191-MPP-11-1-0-MSR4 (FCH2443D9R4)',
                    'Cisco/SPA508G-7.4.8a (0002FDFF2103)(CBT141400UK)', 'Linksys/SPA-942-6.1.5(a) (88019FA42805)']


@pytest.mark.parametrize('agent', REAL_USER_AGENTS)
def test_real_user_agents_in_the_log(server, agent):
    assert server.curl('/cfg/%s.xml' % OWN, OWN, user_agent=agent).status == 200
    line = server.log_lines()[-1]
    parsed = parse_user_agent(agent)
    assert line['user_agent'] == agent
    assert (line['model'], line['firmware'], line['ua_mac'].lower() or None, line['ua_serial'] or None) == (
        parsed['model'], parsed['firmware'], parsed['mac'], parsed['serial']), line


def _push_tasks(dumps, dest):
    return [{'name': 'push %d' % index, 'phoneprov.mpp.phone_profiles': {
        'phones': [{'mac': '02000000%04x' % index}], 'template': str(path), 'dest': dest, 'mode': '0644'}}
        for index, (path, _data) in enumerate(dumps)]


def test_every_real_dump_pushes_and_parses_as_the_phone_would(server, tmp_path):
    directory = require_realworld()
    dumps = [(directory / name, data) for name, data in pushable_dumps(directory)]
    assert len(dumps) >= 10, [str(path) for path, _data in dumps]
    # Served as shared files, so that one phone certificate reads them all.
    result = run_playbook(tmp_path / 'push', playbook_text(_push_tasks(dumps, str(server.shared_dir))))
    assert result.rc == 0, result.stdout[-4000:]
    line_ends_changed = []
    for index, (path, data) in enumerate(dumps):
        pushed = (server.shared_dir / ('02000000%04x.xml' % index)).read_bytes()
        if pushed != data and pushed == data.replace(b'\r\n', b'\n'):
            line_ends_changed.append(path.name)
        else:
            assert pushed == data, path
    checked = _phone_check(server, tmp_path / 'check', [{'mac': '02000000%04x' % index} for index in range(len(dumps))],
                           client_cert=server.pki.phone(OWN)['cert'], client_key=server.pki.phone(OWN)['key'],
                           url='https://%s:%d/shared/$MA.xml' % (server.fqdn, server.port))
    assert [phone['parameter_count'] for phone in checked] == [leaf_elements(data) for _path, data in dumps]
    assert set(phone['behavior'] for phone in checked) == {'A'}
    if line_ends_changed:
        pytest.xfail('CRLF dumps %s render with LF line ends: phone_profiles renders with newline_sequence "\\n" '
                     '(plugins/plugin_utils/render_workers.py TEMPLATE_OVERRIDES), everything else is byte for byte'
                     % ', '.join(line_ends_changed))


def test_a_real_dump_that_is_not_well_formed_is_refused_with_line_and_column(server, tmp_path):
    directory = require_realworld()
    broken = directory / 'jthop-voip-mpp' / '8800-full.xml'   # line 2351: <Handset_Volume ua=x"rw">
    assert b'ua=x"rw"' in broken.read_bytes() and leaf_elements(broken.read_bytes()) is None
    result = run_playbook(tmp_path / 'push', playbook_text(_push_tasks([(broken, None)], str(tmp_path))))
    assert result.rc != 0
    assert 'not well-formed XML at line 2351, column 20' in json.dumps(result.task('push 0')), result.stdout[-3000:]


def test_the_real_files_are_where_the_tests_look():
    directory = realworld_dir()
    if directory is None:
        pytest.skip('the real-world files (shared/realworld beside the repository root) are absent')
    names = [name for name, _data in profile_files(directory)]
    assert 'jthop-voip-mpp/8832.xml' in names and 'fusionpbx-cisco/spa122.smarty.xml' in names


def test_the_role_builds_the_client_bundle_from_real_cisco_roots_cryptography_cannot_read(server, tmp_path):
    """Cisco's ECC root (its notAfter has fractional seconds) goes into the bundle with the others."""
    directory = require_realworld() / 'cisco-ca-trustbundle'
    sources = [server.pki.client_ca, str(directory / 'Cisco_ECC_Root_CA.pem'), str(directory / 'Cisco_Root_CA_2048.pem')]
    from ansible_collections.phoneprov.mpp.plugins.module_utils import pki  # pylint: disable=import-outside-toplevel
    with pytest.raises(pki.PKIError):
        pki.load_certificate((directory / 'Cisco_ECC_Root_CA.pem').read_bytes())
    original = {'mpp_server_client_ca': server.vars.get('mpp_server_client_ca'),
                'mpp_server_client_ca_src': server.vars.get('mpp_server_client_ca_src', [])}
    bundle = tmp_path / 'client-bundle.pem'
    try:
        result = server.deploy({'mpp_server_client_ca': str(bundle), 'mpp_server_client_ca_src': sources})
        assert result.rc == 0, result.stdout[-3000:]
        text = bundle.read_text()
        assert text.count('-----BEGIN CERTIFICATE-----') == 3
        printed = subprocess.run(['openssl', 'crl2pkcs7', '-nocrl', '-certfile', str(bundle)], capture_output=True, check=True)
        subjects = subprocess.run(['openssl', 'pkcs7', '-print_certs', '-noout'], input=printed.stdout,
                                  capture_output=True, check=True).stdout.decode()
        assert 'Cisco ECC Root CA' in subjects and 'Cisco Root CA 2048' in subjects, subjects
        assert server.curl('/cfg/%s.xml' % OWN, client=OWN).status == 200
        assert server.curl('/cfg/%s.xml' % OTHER, client=OWN).status == 403
    finally:
        restored = server.deploy(original)
        assert restored.rc == 0, restored.stdout[-3000:]
