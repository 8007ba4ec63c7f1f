# -*- coding: utf-8 -*-
"""The collection's rules as the real nginx of role phoneprov.mpp.provisioning_server reads them.

- The MAC rule (module_utils/mac.py): every spelling of its unit tests' good and bad lists is
  the ST of a real client certificate; nginx serves the phone's own profile exactly when mac.py
  accepts the spelling, and reads the MAC client_subject() reads from the subject nginx saw.
- The client subject rule (module_utils/client_subject.py): a generic certificate never reads a
  phone's profile, whatever MAC its ST holds.
- The file name rule (module_utils/profile_filename.py): with another mpp_server_profile_filename
  role phone_profiles writes the file and the Profile_Rule nginx serves.
- Several sites of the role on one nginx, one removed with mpp_server_state: absent.

One deployment on the system nginx (held under the shared lock) serves the whole module; client
certificates are minted in the test with the ``cryptography`` library, signed by the lab client
CA, because only that writes any string into ST (openssl -subj and lab_ca keep to real MACs).
"""

from __future__ import annotations

import datetime
import glob
import importlib.util
import os
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mpp_harness import COLLECTIONS, REPO, free_port, run_playbook
from provisioning_server_helpers import (
    DEFAULT_PHONES, HTTP_CONF_GLOB, ProvisioningServer, make_pki, nginx_pids, remove_site, running_server)

if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))

# pylint: disable=wrong-import-position
from ansible_collections.phoneprov.mpp.plugins.module_utils.client_subject import SubjectError, client_subject  # noqa: E402
from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import is_mac  # noqa: E402
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_filename import profile_filename  # noqa: E402
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_rule import (  # noqa: E402
    expand_macros, mac_macro_values, parse_profile_rule)


def _unit_cases():
    path = REPO / 'tests' / 'unit' / 'plugins' / 'module_utils' / 'test_mac.py'
    spec = importlib.util.spec_from_file_location('mac_unit_cases', str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.GOOD_SPELLINGS, module.BAD_SPELLINGS


GOOD, BAD = _unit_cases()
OWN = DEFAULT_PHONES[0]['mac']      # 000e08abcdef: every good spelling is this MAC
OTHER = DEFAULT_PHONES[1]['mac']
PROFILE = '<flat-profile><Resync_Periodic>3600</Resync_Periodic></flat-profile>\n'
OTHER_PROFILE = '<flat-profile><Resync_Periodic>1</Resync_Periodic></flat-profile>\n'
OID = {'OU': NameOID.ORGANIZATIONAL_UNIT_NAME, 'L': NameOID.LOCALITY_NAME, 'ST': NameOID.STATE_OR_PROVINCE_NAME,
       'CN': NameOID.COMMON_NAME, 'O': NameOID.ORGANIZATION_NAME, 'serialNumber': NameOID.SERIAL_NUMBER}


class ClientMint(object):
    """Client certificates with any subject, signed by a CA the server trusts; one key for all."""

    def __init__(self, directory, ca_cert, ca_key):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca_cert = x509.load_pem_x509_certificate(Path(ca_cert).read_bytes())
        self.ca_key = serialization.load_pem_private_key(Path(ca_key).read_bytes(), password=None)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.key_path = self.directory / 'client.key'
        self.key_path.write_bytes(self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
        os.chmod(str(self.key_path), 0o600)
        self.count = 0

    def cert(self, attributes):
        """``attributes``: [(short name, value)] in subject order; returns curl's {cert, key}."""
        self.count += 1
        name = x509.Name([x509.NameAttribute(OID[short], value) for short, value in attributes])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(self.ca_cert.subject)
                .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(self.ca_key, hashes.SHA256()))
        path = self.directory / ('client%d.crt' % self.count)
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return {'cert': str(path), 'key': str(self.key_path)}


def _requested(spelling):
    """The profile a certificate with this ST asks for: its hex digits when there are twelve, else OWN's."""
    digits = ''.join(char for char in str(spelling) if char in '0123456789abcdefABCDEF').lower()
    return digits if len(digits) == 12 else OWN


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp('nginx_rules')
    pki = make_pki(workdir / 'pki')
    profiles = dict((_requested(spelling), PROFILE) for spelling in GOOD + BAD)
    profiles[OTHER] = OTHER_PROFILE
    with running_server(workdir, pki=pki, profiles=profiles) as srv:
        srv.write_shared('common.xml', PROFILE)
        yield srv


@pytest.fixture(scope='module')
def mint(server, tmp_path_factory):
    ca_dir = Path(server.pki.client_ca).parent
    return ClientMint(tmp_path_factory.mktemp('clients'), server.pki.client_ca, ca_dir / 'client-ca.key')


def _subject_mac(subject):
    try:
        return client_subject(subject)['mac'] or ''
    except SubjectError:
        return ''


# --- the MAC rule -------------------------------------------------------------------------------

@pytest.mark.parametrize('spelling', GOOD + BAD, ids=[ascii(spelling) for spelling in GOOD + BAD])
def test_nginx_agrees_with_the_mac_rule(server, mint, spelling):
    attributes = [('OU', 'CP-8841-3PCC'), ('L', 'FCH1234ABCD')]
    if spelling is not None:
        attributes.append(('ST', str(spelling)))
    result = server.curl('/cfg/%s.xml' % _requested(spelling), mint.cert(attributes))
    accepted = isinstance(spelling, str) and is_mac(spelling)
    assert result.status == (200 if accepted else 403), (spelling, result)
    line = server.log_lines()[-1]
    # What nginx read is what client_subject() reads from the subject as nginx printed it.
    assert line['mac'].lower() == _subject_mac(line['subject']) == (OWN if accepted else ''), line


# --- the client subject rule -------------------------------------------------------------------

@pytest.mark.parametrize('attributes', [
    [('OU', 'cisco.com'), ('L', 'ciscogeneric'), ('ST', OWN)],
    [('OU', 'cisco.com'), ('L', 'CiscoGeneric'), ('ST', '00:0E:08:AB:CD:EF')],
    [('OU', 'CP-8841-3PCC'), ('L', 'FCH1234ABCD'), ('ST', 'ciscogeneric'), ('CN', OWN)],
    [('OU', 'CP-8841-3PCC'), ('L', 'ciscogeneric'), ('L', 'x'), ('ST', OWN), ('ST', 'CISCOGENERIC')],
], ids=['L-generic-ST-mac', 'case', 'ST-generic', 'last-ST-generic'])
def test_generic_certificate_never_reads_a_profile(server, mint, attributes):
    files = mint.cert(attributes)
    assert server.curl('/cfg/%s.xml' % OWN, files).status == 403
    line = server.log_lines()[-1]
    assert line['generic'] is True and line['mac'] == ''
    assert client_subject(line['subject'])['generic'] is True
    assert server.curl('/shared/common.xml', files).status == 403  # mpp_server_allow_generic_cert false


MIC_SERIAL = ('serialNumber', 'PID:CP-8861 SN:FCH2133E8B9')
CN_SEP_CASES = [
    [MIC_SERIAL, ('O', 'Cisco Systems Inc.'), ('OU', 'CTG'), ('CN', 'CP-8861-SEP000E08ABCDEF')],
    [MIC_SERIAL, ('CN', 'SEP000e08abcdef')],
    [MIC_SERIAL, ('CN', 'cp-8861-sep000E08abcdef')],
    [MIC_SERIAL, ('CN', 'CP-8861-SEP000E08ABCDEF0')],               # not the suffix
    [MIC_SERIAL, ('CN', 'CP-8861-000E08ABCDEF')],                   # no SEP
    [MIC_SERIAL, ('CN', 'XSEP000E08ABCDEF')],                       # SEP inside a word
    [('CN', 'CP-8861-SEP000E08ABCDEF'), ('CN', 'CP-8861')],         # the last CN as nginx prints it counts
    [('CN', 'CP-8861-SEP000E08ABCDEF,CN=x')],                       # an escaped comma inside the CN
    [('OU', 'CP-8841-3PCC'), ('L', '000E08ABCDEF'), ('ST', OWN)],   # a guide subject: 12 hex digits, but no CN
    [('OU', 'cisco.com'), ('L', 'ciscogeneric'), ('CN', 'SEP000E08ABCDEF')],
]


def test_nginx_agrees_with_the_cn_sep_identity_rule(server, mint):
    try:
        assert server.deploy({'mpp_server_client_identity': 'cn_sep'}).rc == 0
        for attributes in CN_SEP_CASES:
            result = server.curl('/cfg/%s.xml' % OWN, mint.cert(attributes))
            line = server.log_lines()[-1]
            try:
                parsed = client_subject(line['subject'], 'cn_sep')
            except SubjectError:
                parsed = {'mac': None, 'serial': None, 'model': None}
            assert result.status == (200 if parsed['mac'] == OWN else 403), (attributes, line)
            assert line['mac'].lower() == (parsed['mac'] or ''), (attributes, line)
            if parsed['mac']:
                assert (line['serial'], line['cert_model']) == (parsed['serial'] or '', parsed['model'] or ''), (attributes, line)
                assert line['serial'] == ('FCH2133E8B9' if MIC_SERIAL in attributes else ''), (attributes, line)
    finally:
        assert server.deploy({'mpp_server_client_identity': 'st'}).rc == 0
    assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 200


def test_not_the_generic_marker(server, mint):
    # Only the whole value is the marker: a serial that merely contains it is a phone's.
    files = mint.cert([('OU', 'CP-8841-3PCC'), ('L', 'ciscogeneric2'), ('ST', OWN)])
    assert server.curl('/cfg/%s.xml' % OWN, files).status == 200
    assert server.log_lines()[-1]['generic'] is False


# --- the file name rule -----------------------------------------------------------------------

PROFILES_PLAY = '''
- name: Profiles as role phone_profiles writes them for this server
  hosts: localhost
  gather_facts: false
  roles:
    - role: phoneprov.mpp.phone_profiles
'''


@pytest.mark.parametrize('pattern', ['$MAU.cfg', 'cfg-$MA.xml', 'mpp_$MAC.xml'])
def test_profile_filename_is_one_rule_for_nginx_and_phone_profiles(server, tmp_path, pattern):
    try:
        result = server.deploy({'mpp_server_profile_filename': pattern})
        assert result.rc == 0, result.stdout[-3000:]
        profile_vars = dict(server.vars, mpp_phones=[{'mac': OWN}, {'mac': OTHER}], mpp_profiles_mode='0644',
                            mpp_profiles_group='0', mpp_profiles_prune=False)
        push = run_playbook(tmp_path / 'push', PROFILES_PLAY, extra_vars=profile_vars)
        assert push.rc == 0, push.stdout[-3000:]
        path = server.docroot / profile_filename(pattern, OWN)
        rule = dict((child.tag, child.text) for child in ElementTree.fromstring(path.read_bytes()))['Profile_Rule']
        url = expand_macros(parse_profile_rule(rule)[1], mac_macro_values(OWN), url=True)
        assert url == server.url('/cfg/' + path.name), (rule, url)
        own = server.curl(url[len(server.url('')):], OWN)
        assert own.status == 200 and own.body == path.read_bytes(), own
        other_path = '/cfg/' + profile_filename(pattern, OTHER)
        assert server.curl(other_path, OWN).status == 403
        assert server.curl(other_path, OTHER).status == 200
        assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 403  # the default name is not served now
    finally:
        for name in [profile_filename(pattern, mac) for mac in (OWN, OTHER)] + ['.phone_profiles.json']:
            if (server.docroot / name).exists():
                (server.docroot / name).unlink()
        result = server.deploy({'mpp_server_profile_filename': '$MA.xml'})
    assert result.rc == 0
    assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 200


@pytest.mark.parametrize('pattern, words', [
    ('profile.xml', 'exactly one MAC macro'),
    ('$MA/$MA.xml', 'exactly one MAC macro'),
    ('$MA x.xml', 'only letters, digits'),
    ('.$MA.xml', 'starts with a dot'),
])
def test_a_file_name_nginx_cannot_serve_is_refused(server, pattern, words):
    site = Path('/etc/nginx/sites-available/phoneprov-mpp.conf').read_bytes()
    try:
        result = server.deploy({'mpp_server_profile_filename': pattern})
    finally:
        server.vars['mpp_server_profile_filename'] = '$MA.xml'
    assert result.rc != 0
    assert words in str(result.task('Check the profile file name')), result.task('Check the profile file name')
    assert Path('/etc/nginx/sites-available/phoneprov-mpp.conf').read_bytes() == site


# --- several sites on one nginx -----------------------------------------------------------------

SECOND = 'phoneprov-mpp-second'
SECOND_PHONE = {'mac': '00562b0a0b0c', 'model': 'CP-7841-3PCC', 'serial': 'FCH0000SCND'}


def _second_site(tmp_path):
    pki = make_pki(tmp_path / 'pki2', fqdn='prov2.mpp.test', phones=(SECOND_PHONE,))
    second = ProvisioningServer(tmp_path / 'second', pki, free_port(), extra_vars={
        'mpp_server_site_name': SECOND, 'mpp_server_fqdn': 'prov2.mpp.test', 'mpp_server_url_path': '/prov/',
        'mpp_server_profile_filename': '$MAU.cfg', 'mpp_server_allow_generic_cert': True,
        'mpp_server_default_server': False})
    second.fqdn = 'prov2.mpp.test'
    return second


def test_two_sites_side_by_side_then_one_removed(server, tmp_path):
    second = _second_site(tmp_path)
    try:
        result = second.deploy()
        assert result.rc == 0, result.stdout[-3000:]
        (second.docroot / '00562B0A0B0C.cfg').write_text(OTHER_PROFILE)
        os.chmod(str(second.docroot / '00562B0A0B0C.cfg'), 0o644)
        second.write_shared('common.xml', PROFILE)
        assert len(glob.glob(HTTP_CONF_GLOB)) == 1
        # Each phone is served by its own site, with that site's name, port, path and file name.
        mine = second.curl('/prov/00562B0A0B0C.cfg', SECOND_PHONE['mac'])
        assert mine.status == 200 and mine.body.decode() == OTHER_PROFILE, mine
        assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 200
        # The other site's phones come from a client root this site does not trust.
        assert second.curl('/prov/00562B0A0B0C.cfg', server.pki.phone(OWN)).status == 400
        assert server.curl('/cfg/%s.xml' % OWN, second.pki.phone(SECOND_PHONE['mac'])).status == 400
        # Per-site settings: only the second site lets the generic certificate read shared files.
        assert second.curl('/shared/common.xml', 'generic').status == 200
        assert server.curl('/shared/common.xml', 'generic').status == 403
        assert second.log_lines()[-1]['generic'] is True
        assert second.deploy().changed == 0 and server.deploy().changed == 0

        master = nginx_pids()[0]
        gone = second.deploy({'mpp_server_state': 'absent'})
        assert gone.rc == 0, gone.stdout[-3000:]
        assert gone.task('Reload nginx')['changed'] is True and nginx_pids()[0] == master
        leftovers = ['/etc/nginx/sites-available/%s.conf' % SECOND, '/etc/nginx/sites-enabled/%s.conf' % SECOND,
                     '/etc/nginx/%s' % SECOND] + glob.glob('/etc/nginx/sites-available/%s.conf.*~' % SECOND)
        assert [path for path in leftovers if os.path.lexists(path)] == []
        assert len(glob.glob(HTTP_CONF_GLOB)) == 1  # the first site still uses it
        assert second.curl('/prov/00562B0A0B0C.cfg', SECOND_PHONE['mac']).status == 0  # nothing listens
        assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 200
        assert server.curl('/cfg/%s.xml' % OWN, OTHER).status == 403
        assert second.deploy().changed == 0  # absent again: nothing left to remove
    finally:
        remove_site(SECOND)
        second.cleanup()


def test_removing_the_last_site_removes_the_http_level_file(server):
    try:
        check = server.deploy({'mpp_server_state': 'absent'}, check=True)
        assert check.rc == 0 and check.task("Remove the role's http-level configuration with the last site of the role")['changed']
        assert len(glob.glob(HTTP_CONF_GLOB)) == 1 and os.path.exists('/etc/nginx/sites-available/phoneprov-mpp.conf')
        gone = server.deploy({'mpp_server_state': 'absent'})
        assert gone.rc == 0, gone.stdout[-3000:]
        assert glob.glob(HTTP_CONF_GLOB) == [] and not os.path.lexists('/etc/nginx/sites-enabled/phoneprov-mpp.conf')
        assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 0
    finally:
        back = server.deploy({'mpp_server_state': 'present'})
    assert back.rc == 0, back.stdout[-3000:]
    assert server.curl('/cfg/%s.xml' % OWN, OWN).status == 200
