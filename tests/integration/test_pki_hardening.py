# -*- coding: utf-8 -*-
"""PKI hardening through real module runs: server_cert refuses chains and certificates a TLS client would
refuse (openssl makes them), and the lab CA's path length and name constraints hold under openssl and curl."""

from __future__ import annotations

import pytest

from mpp_harness import playbook_text, run_playbook
from pki_helpers import ext_text, ossl, refusal, snapshot, task

FQDN = 'pv.lab.test'


def openssl_ca(directory, name, ext, issuer=None):
    """A CA key and certificate made by openssl, self-signed or signed by ``issuer`` (a name made before)."""
    key, cert = directory / (name + '.key'), directory / (name + '.crt')
    (directory / (name + '.ext')).write_text(ext)
    ossl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key,
         '-subj', '/CN=%s' % name, '-out', directory / (name + '.csr'))
    signer = ['-CA', directory / (issuer + '.crt'), '-CAkey', directory / (issuer + '.key')] if issuer else ['-key', key]
    ossl('x509', '-req', '-in', directory / (name + '.csr'), *signer, '-days', '365', '-set_serial', '0x%s' % name.encode().hex()[:16],
         '-extfile', directory / (name + '.ext'), '-out', cert)
    return cert


def openssl_leaf(directory, name, issuer, key, ext, digest='sha256'):
    """A server certificate for ``key`` (CN=FQDN) signed by the CA ``issuer`` with ``digest``."""
    (directory / (name + '.ext')).write_text(ext)
    ossl('req', '-new', '-key', key, '-subj', '/CN=%s' % FQDN, '-out', directory / (name + '.csr'))
    ossl('x509', '-req', '-in', directory / (name + '.csr'), '-CA', directory / (issuer + '.crt'),
         '-CAkey', directory / (issuer + '.key'), '-days', '365', '-set_serial', '0x%s' % name.encode().hex()[:16],
         '-%s' % digest, '-extfile', directory / (name + '.ext'), '-out', directory / (name + '.crt'))
    return directory / (name + '.crt')


LEAF_EXT = 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n' \
           'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s\n' % FQDN
CA_EXT = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n'


@pytest.fixture(scope='module')
def chains(tmp_path_factory):
    """A root, an issuer that is no CA, and leaves a TLS client refuses, all made by openssl for one RSA 2048 key."""
    d = tmp_path_factory.mktemp('pkiharden')
    ossl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', d / 'server.key')
    openssl_ca(d, 'Root', CA_EXT)
    openssl_ca(d, 'NotACA', 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyCertSign\n', issuer='Root')
    openssl_leaf(d, 'good', 'Root', d / 'server.key', LEAF_EXT)
    openssl_leaf(d, 'belownotaca', 'NotACA', d / 'server.key', LEAF_EXT)
    openssl_leaf(d, 'sha1', 'Root', d / 'server.key', LEAF_EXT, digest='sha1')
    openssl_leaf(d, 'isca', 'Root', d / 'server.key', LEAF_EXT.replace('CA:FALSE', 'CA:TRUE'))
    openssl_leaf(d, 'otherssan', 'Root', d / 'server.key', LEAF_EXT.replace('DNS:' + FQDN, 'DNS:other.lab.test'))
    (d / 'out').mkdir()
    return d


def cert_args(d, name, **extra):
    args = {'src': str(d / (name + '.crt')), 'path': str(d / 'out' / 'server.crt'), 'fullchain_path': str(d / 'out' / 'full.crt'),
            'privatekey_path': str(d / 'server.key'), 'ca_path': str(d / 'Root.crt'), 'fqdn': FQDN}
    args.update(extra)
    return args


def test_server_cert_refuses_what_tls_clients_refuse(chains):
    d = chains
    # openssl, the judge, refuses each of these chains too
    assert 'OK' in ossl('verify', '-CAfile', d / 'Root.crt', d / 'good.crt').stdout
    assert ossl('verify', '-CAfile', d / 'Root.crt', '-untrusted', d / 'NotACA.crt', d / 'belownotaca.crt', check=False).returncode != 0
    assert ossl('verify', '-CAfile', d / 'Root.crt', '-verify_hostname', FQDN, d / 'otherssan.crt', check=False).returncode != 0
    cases = {
        'issuer not a CA': (cert_args(d, 'belownotaca', chain_path=str(d / 'NotACA.crt')),
                            'the issuer CN=NotACA is not a CA (no basicConstraints CA:TRUE), so it may not sign certificates'),
        'sha1 leaf': (cert_args(d, 'sha1'), 'the certificate CN=%s is signed with SHA-1' % FQDN),
        'leaf is a CA': (cert_args(d, 'isca'), 'the certificate CN=%s is a CA certificate (basicConstraints CA:TRUE)' % FQDN),
        'san without fqdn': (cert_args(d, 'otherssan'), "the certificate's DNS SANs (other.lab.test) do not include %s" % FQDN),
    }
    tasks = [refusal(name, 'server_cert', args) for name, (args, _message) in cases.items()]
    warn_args = cert_args(d, 'otherssan', path=str(d / 'out' / 'warned.crt'), fullchain_path=None, san_mismatch='warn')
    tasks.append(task('san only warned', 'server_cert', warn_args))
    before = snapshot(d / 'out' / 'server.crt', d / 'out' / 'full.crt')
    run = run_playbook(d / 'run', playbook_text(tasks))
    for name, (_args, message) in cases.items():
        result = run.task(name)
        assert result.get('failed') is True, (name, result)
        assert result['msg'].startswith('certificate refused, nothing written: '), (name, result['msg'])
        assert message in result['msg'], (name, result['msg'])
    assert snapshot(d / 'out' / 'server.crt', d / 'out' / 'full.crt') == before == {
        str(d / 'out' / 'server.crt'): None, str(d / 'out' / 'full.crt'): None}
    warned = run.task('san only warned')
    assert warned['changed'] is True and 'do not include %s' % FQDN in ' '.join(warned['warnings'])
    assert (d / 'out' / 'warned.crt').read_text() == (d / 'otherssan.crt').read_text()


# --------------------------------------------------------------------------- lab_ca: path length 0, name constraints

PHONES = [{'mac': '00:0e:08:ab:cd:ef', 'model': 'CP-8841-3PCC', 'serial': 'FCH1234'},
          {'mac': '00:0e:08:ab:cd:f0', 'model': 'CP-8845-3PCC', 'style': 'mic'}, {'generic': True}]


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    """A lab CA made while signing the CSR of pv.lab.test, its phones, one with explicit permitted_dns, one of an older version."""
    d = tmp_path_factory.mktemp('labconstraints')
    (d / 'phones').mkdir()
    # the CA files of a lab CA made before issue 13: CA:TRUE, no path length, no name constraints
    (d / 'old').mkdir()
    openssl_ca(d / 'old', 'server-ca', CA_EXT)
    openssl_ca(d / 'old', 'client-ca', CA_EXT)
    ossl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', d / 'stranger.key', '-subj', '/CN=pv.elsewhere.example',
         '-addext', 'subjectAltName=DNS:pv.elsewhere.example', '-out', d / 'stranger.csr')
    csr = {'path': str(d / 's.csr'), 'privatekey_path': str(d / 's.key'), 'common_name': FQDN + '/mailto:ops@lab.test'}
    tasks = [task('key', 'server_key', {'path': str(d / 's.key')}), task('csr', 'server_csr', csr),
             task('sign', 'lab_ca', {'path': str(d / 'ca'), 'csr_path': csr['path'], 'cert_path': str(d / 's.crt')}),
             task('phones', 'lab_ca', {'path': str(d / 'ca'), 'clients': PHONES, 'client_dir': str(d / 'phones')}),
             task('explicit', 'lab_ca', {'path': str(d / 'explicit'), 'permitted_dns': ['mpp.test', 'lab.test']}),
             task('bare', 'lab_ca', {'path': str(d / 'bare')}),
             refusal('stranger', 'lab_ca', {'path': str(d / 'ca'), 'csr_path': str(d / 'stranger.csr'), 'cert_path': str(d / 'stranger.crt')}),
             task('old', 'lab_ca', {'path': str(d / 'old'), 'csr_path': csr['path'], 'cert_path': str(d / 'old.crt')})]
    old_ca = snapshot(*(d / 'old' / name for name in ('server-ca.crt', 'server-ca.key', 'client-ca.crt', 'client-ca.key')))
    run = run_playbook(d / 'setup', playbook_text(tasks))
    return d, run, old_ca


def test_lab_cas_have_path_length_zero_and_the_lab_domain_as_name_constraint(lab):
    d, run, _old = lab
    assert run.task('sign')['created_ca'] == ['server', 'client'], run.stdout
    for name in ('server-ca.crt', 'client-ca.crt'):
        text = ext_text(d / 'ca' / name, 'basicConstraints,nameConstraints')
        assert 'CA:TRUE, pathlen:0' in text and 'Permitted:' in text and 'DNS:lab.test' in text, text
    explicit = ext_text(d / 'explicit' / 'server-ca.crt', 'nameConstraints')
    assert 'DNS:mpp.test' in explicit and 'DNS:lab.test' in explicit, explicit
    assert not run.task('explicit').get('warnings') and not run.task('sign').get('warnings')
    # no CSR, no permitted_dns: nothing to derive the constraints from, and the task says so
    bare = ext_text(d / 'bare' / 'server-ca.crt', 'basicConstraints,nameConstraints')
    assert 'pathlen:0' in bare and 'Name Constraints' not in bare, bare
    assert 'created without name constraints' in ' '.join(run.task('bare')['warnings'])
    # the constraints break nothing the lab needs: openssl verifies the server (for its name) and every phone
    server_ca, client_ca = d / 'ca' / 'server-ca.crt', d / 'ca' / 'client-ca.crt'
    assert ossl('verify', '-CAfile', server_ca, '-purpose', 'sslserver', '-verify_hostname', FQDN, d / 's.crt').stdout.strip().endswith('OK')
    phones = sorted((d / 'phones').glob('*.crt'))
    assert len(phones) == 3
    for phone in phones:
        assert ossl('verify', '-CAfile', client_ca, '-purpose', 'sslclient', phone).stdout.strip().endswith('OK'), phone
    # the server CA signs nothing outside the lab domain, and writes nothing
    stranger = run.task('stranger')
    assert stranger.get('failed') is True
    assert 'the DNS name pv.elsewhere.example lies outside the name constraints of' in stranger['msg'], stranger['msg']
    assert 'permitted: lab.test' in stranger['msg'] and not (d / 'stranger.crt').exists()


def test_an_intermediate_below_the_lab_root_is_refused(lab):
    d, _run, _old = lab
    ca = d / 'ca'
    (d / 'inter.ext').write_text(CA_EXT)
    ossl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', d / 'inter.key',
         '-subj', '/CN=Lab Intermediate', '-out', d / 'inter.csr')
    ossl('x509', '-req', '-in', d / 'inter.csr', '-CA', ca / 'server-ca.crt', '-CAkey', ca / 'server-ca.key', '-set_serial', '7',
         '-days', '30', '-extfile', d / 'inter.ext', '-out', d / 'inter.crt')
    openssl_leaf(d, 'viainter', 'inter', d / 's.key', LEAF_EXT)
    verify = ossl('verify', '-CAfile', ca / 'server-ca.crt', '-untrusted', d / 'inter.crt', d / 'viainter.crt', check=False)
    assert verify.returncode != 0 and 'path length constraint exceeded' in verify.stdout + verify.stderr
    run = run_playbook(d / 'inter', playbook_text([refusal('install', 'server_cert', {
        'src': str(d / 'viainter.crt'), 'chain_path': str(d / 'inter.crt'), 'path': str(d / 'viainter-installed.crt'),
        'privatekey_path': str(d / 's.key'), 'ca_path': str(ca / 'server-ca.crt'), 'fqdn': FQDN})]))
    message = run.task('install')['msg']
    assert 'allows 0 CA certificate(s) below it (pathLenConstraint 0), but the chain has 1' in message, message
    assert not (d / 'viainter-installed.crt').exists()


def test_a_lab_ca_of_an_older_version_is_kept_and_says_how_to_regenerate(lab):
    d, run, old_ca = lab
    old = run.task('old')
    assert old['created_ca'] == [] and old['changed'] is True  # the certificate is new, the CAs are kept
    assert snapshot(*old_ca) == old_ca
    warnings = ' '.join(old.get('warnings', []))
    assert 'made by an older version' in warnings and 'remove %s' % (d / 'old') in warnings, warnings
    assert ossl('verify', '-CAfile', d / 'old' / 'server-ca.crt', d / 'old.crt').stdout.strip().endswith('OK')
    again = run_playbook(d / 'old-again', playbook_text([task('old', 'lab_ca', {
        'path': str(d / 'old'), 'csr_path': str(d / 's.csr'), 'cert_path': str(d / 'old.crt')})]))
    assert again.task('old')['changed'] is False
