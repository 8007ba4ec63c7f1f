# -*- coding: utf-8 -*-
"""PKI hardening through real module runs: server_cert refuses chains and certificates a TLS client would
refuse (openssl makes them), and the lab CA's path length and name constraints hold under openssl and curl."""

from __future__ import annotations

import pytest

from mpp_harness import playbook_text, run_playbook
from pki_helpers import ossl, refusal, snapshot, task

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
