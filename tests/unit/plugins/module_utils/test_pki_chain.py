# -*- coding: utf-8 -*-
"""Unit tests of module_utils/pki_chain.py: chains built with cryptography, each fault refused with its message.

Every chain case runs twice: through cryptography's verifier where it is installed (cryptography
>= 42) and with the hand checks alone (use_api=False: what cryptography 36/38 hosts get).
"""

from __future__ import annotations

import datetime
import subprocess

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils import pki, pki_chain
from ansible_collections.phoneprov.mpp.plugins.module_utils.pki import PKIError

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

FQDN = 'pv.example.net'
PATHS = [pytest.param(False, id='hand-checks'),
         pytest.param(True, id='cryptography-verifier',
                      marks=pytest.mark.skipif(not pki_chain.HAS_VERIFICATION_API,
                                               reason='cryptography < 42 has no x509.verification'))]
USAGES = dict(digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
              key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False)


def make_cert(cn, key, issuer=None, ca=None, path_length=None, usage=None, eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
              sans=(FQDN,), permitted_dns=None):
    """A certificate for ``key`` signed by ``issuer`` ((cert, key), self-signed when None); ``ca`` None: no basicConstraints."""
    now = pki.utcnow()
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, cn)])
    issuer_cert, issuer_key = issuer or (None, key)
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer_cert.subject if issuer_cert else name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=90))
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False))
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
    if usage is not None:
        builder = builder.add_extension(x509.KeyUsage(**dict(USAGES, **{flag: True for flag in usage})), critical=True)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    if permitted_dns:
        builder = builder.add_extension(x509.NameConstraints([x509.DNSName(d) for d in permitted_dns], None), critical=True)
    return builder.sign(issuer_key, hashes.SHA256()), key


def make_ca(cn, issuer=None, **kwargs):
    kwargs.setdefault('ca', True)
    kwargs.setdefault('usage', ('key_cert_sign', 'crl_sign'))
    return make_cert(cn, pki.generate_private_key('ecc'), issuer, eku=None, sans=None, **kwargs)


def make_leaf(issuer, cn=FQDN, key=None, **kwargs):
    kwargs.setdefault('ca', False)
    kwargs.setdefault('usage', ('digital_signature',))
    return make_cert(cn, key or pki.generate_private_key('ecc'), issuer, **kwargs)[0]


def sha1_signed(self_signed, issuer, tmp_path):
    """A self-signed certificate signed again by ``issuer`` with SHA-1, by the real openssl (current cryptography refuses SHA-1)."""
    cert = self_signed
    (tmp_path / 'in.pem').write_text(pki.certificate_pem(cert))
    (tmp_path / 'ca.pem').write_text(pki.certificate_pem(issuer[0]))
    (tmp_path / 'ca.key').write_bytes(pki.private_key_pem(issuer[1]))
    subprocess.run(['openssl', 'x509', '-in', str(tmp_path / 'in.pem'), '-CA', str(tmp_path / 'ca.pem'), '-CAkey', str(tmp_path / 'ca.key'),
                    '-sha1', '-out', str(tmp_path / 'out.pem')], check=True, capture_output=True, timeout=60)
    signed = pki.load_certificate((tmp_path / 'out.pem').read_bytes())
    assert signed.signature_hash_algorithm.name == 'sha1' and pki.signed_by(signed, issuer[0])
    return signed


def judge(leaf, intermediates, roots, use_api, fqdn=FQDN):
    """What server_cert checks of a certificate, in its order: the leaf, its SANs, the chain."""
    pki_chain.check_server_leaf(leaf)
    problem = pki_chain.san_problem(pki.subject_alt_names(leaf), fqdn)
    if problem:
        raise PKIError(problem)
    return pki_chain.verify_chain(leaf, intermediates, roots, fqdn, use_api=use_api)


@pytest.fixture(scope='module')
def root():
    return make_ca('Test Root')


@pytest.mark.parametrize('use_api', PATHS)
def test_good_chains_pass(root, use_api):
    leaf = make_leaf(root)
    assert judge(leaf, [], [root[0]], use_api) == [leaf, root[0]]
    inter = make_ca('Inter', root, path_length=0)
    below = make_leaf(inter)
    assert judge(below, [inter[0]], [root[0]], use_api) == [below, inter[0], root[0]]
    rsa_leaf = make_leaf(root, key=pki.generate_private_key('rsa', 2048), usage=('digital_signature', 'key_encipherment'))
    assert judge(rsa_leaf, [], [root[0]], use_api)[0] == rsa_leaf
    # no keyUsage, no EKU, no SAN at all: nothing forbids it (the phones read the CN)
    bare = make_leaf(root, usage=None, eku=None, sans=None)
    assert judge(bare, [], [root[0]], use_api)[0] == bare


@pytest.mark.parametrize('use_api', PATHS)
def test_issuer_without_ca_flag_is_refused(root, use_api):
    for ca_flag in (None, False):
        not_ca = make_cert('Not A CA', pki.generate_private_key('ecc'), root, ca=ca_flag, usage=('key_cert_sign',), eku=None, sans=None)
        with pytest.raises(PKIError, match='^the issuer CN=Not A CA is not a CA .no basicConstraints CA:TRUE.'):
            judge(make_leaf(not_ca), [not_ca[0]], [root[0]], use_api)


@pytest.mark.parametrize('use_api', PATHS)
def test_issuer_without_key_cert_sign_is_refused(root, use_api):
    inter = make_ca('No Cert Sign', root, usage=('digital_signature', 'crl_sign'))
    with pytest.raises(PKIError, match='^the issuer CN=No Cert Sign has a keyUsage without keyCertSign'):
        judge(make_leaf(inter), [inter[0]], [root[0]], use_api)
    untrusted_root = make_ca('Root No Cert Sign', usage=('crl_sign',))
    with pytest.raises(PKIError, match='^the issuer CN=Root No Cert Sign has a keyUsage without keyCertSign'):
        judge(make_leaf(untrusted_root), [], [untrusted_root[0]], use_api)


@pytest.mark.parametrize('use_api', PATHS)
def test_path_length_zero_violated_by_an_intermediate_below(use_api):
    root0 = make_ca('Root PathLen 0', path_length=0)
    inter = make_ca('Inter Below', root0)
    with pytest.raises(PKIError, match=r'^the issuer CN=Root PathLen 0 allows 0 CA certificate\(s\) below it '
                                       r'\(pathLenConstraint 0\), but the chain has 1'):
        judge(make_leaf(inter), [inter[0]], [root0[0]], use_api)
    inter0 = make_ca('Inter PathLen 0', make_ca('Root Free'), path_length=0)
    inter1 = make_ca('Inter Deeper', inter0)
    with pytest.raises(PKIError, match='^the issuer CN=Inter PathLen 0 allows 0'):
        pki_chain.check_issuers([make_leaf(inter1), inter1[0], inter0[0]])


@pytest.mark.parametrize('use_api', PATHS)
def test_leaf_faults_are_refused(root, use_api, tmp_path):
    cases = [
        (make_leaf(root, ca=True), 'is a CA certificate .basicConstraints CA:TRUE.; a server certificate must not be one'),
        (sha1_signed(make_leaf(None), root, tmp_path), 'is signed with SHA-1, which TLS clients refuse'),
        (make_leaf(root, key=pki.generate_private_key('rsa', 1024), usage=('digital_signature', 'key_encipherment')),
         'has a 1024-bit RSA key; at least 2048 bits are needed'),
        (make_leaf(root, eku=(ExtendedKeyUsageOID.CLIENT_AUTH,)), r'has an extended key usage \(clientAuth\) that does not include serverAuth'),
        (make_leaf(root, usage=('key_agreement',)), 'has a keyUsage with neither digitalSignature nor keyEncipherment'),
    ]
    for leaf, message in cases:
        with pytest.raises(PKIError, match='^the certificate CN=pv.example.net ' + message):
            judge(leaf, [], [root[0]], use_api)


def test_weak_curve_and_sha1_intermediate(root, tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ec
    weak = make_leaf(root, key=ec.generate_private_key(ec.SECP224R1()))
    with pytest.raises(PKIError, match='has an EC key on curve secp224r1; use P-256'):
        pki_chain.check_server_leaf(weak)
    inter_cert, inter_key = make_ca('SHA1 Inter')
    sha1_inter = (sha1_signed(inter_cert, root, tmp_path), inter_key)
    with pytest.raises(PKIError, match='^the intermediate CA CN=SHA1 Inter is signed with SHA-1'):
        pki_chain.verify_chain(make_leaf(sha1_inter), [sha1_inter[0]], [root[0]], FQDN, use_api=False)


@pytest.mark.parametrize('use_api', PATHS)
def test_san_not_naming_the_fqdn_is_refused(root, use_api):
    leaf = make_leaf(root, sans=('other.example.net',))
    with pytest.raises(PKIError, match=r"^the certificate's DNS SANs \(other.example.net\) do not include pv.example.net"):
        judge(leaf, [], [root[0]], use_api)
    assert pki_chain.san_problem(['DNS:PV.example.net', 'IP:192.0.2.1'], FQDN) is None
    assert pki_chain.san_problem(['IP:192.0.2.1'], FQDN) is None  # no DNS SAN: the phones' CN decides


@pytest.mark.parametrize('use_api', PATHS)
def test_name_constraints_of_an_issuer(use_api):
    root_nc = make_ca('Lab Root', path_length=0, permitted_dns=['example.net'])
    assert judge(make_leaf(root_nc), [], [root_nc[0]], use_api)[0].subject.rfc4514_string() == 'CN=' + FQDN
    outside = make_leaf(root_nc, cn='pv.other.test', sans=('pv.other.test',))
    with pytest.raises(PKIError, match=r'^the DNS name pv.other.test lies outside the name constraints of CN=Lab Root \(permitted: example.net\)'):
        judge(outside, [], [root_nc[0]], use_api, fqdn='pv.other.test')
    # a CN-only certificate: the phones' FQDN is judged too
    cn_only = make_leaf(root_nc, cn='pv.other.test', sans=None)
    with pytest.raises(PKIError, match='the DNS name pv.other.test lies outside'):
        judge(cn_only, [], [root_nc[0]], use_api, fqdn='pv.other.test')


def test_dns_subtrees():
    assert pki_chain.dns_within('pv.example.net', 'example.net')
    assert pki_chain.dns_within('example.net', 'EXAMPLE.net.')
    assert not pki_chain.dns_within('example.net', '.example.net')
    assert pki_chain.dns_within('a.example.net', '.example.net')
    assert not pki_chain.dns_within('badexample.net', 'example.net')
    assert pki_chain.dns_within('anything.test', '')


@pytest.mark.skipif(not pki_chain.HAS_VERIFICATION_API, reason='cryptography < 42 has no x509.verification')
def test_the_verifier_is_asked_when_installed(root):
    # an unknown critical extension: no hand check looks at it, the RFC 5280 verifier refuses it
    leaf = make_leaf(root)
    odd_builder = (x509.CertificateBuilder().subject_name(leaf.subject).issuer_name(root[0].subject)
                   .public_key(leaf.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(pki.not_valid_before(leaf)).not_valid_after(pki.not_valid_after(leaf)))
    for extension in leaf.extensions:
        odd_builder = odd_builder.add_extension(extension.value, extension.critical)
    odd = odd_builder.add_extension(x509.UnrecognizedExtension(x509.ObjectIdentifier('1.3.6.1.4.1.99999.1'), b'\x05\x00'),
                                    critical=True).sign(root[1], hashes.SHA256())
    assert pki_chain.verify_chain(odd, [], [root[0]], FQDN, use_api=False)[0] == odd
    with pytest.raises(PKIError, match='^the RFC 5280 verifier of the cryptography library refuses the chain of CN=pv.example.net'):
        pki_chain.verify_chain(odd, [], [root[0]], FQDN, use_api=True)
    with pytest.raises(PKIError, match='RFC 5280 verifier'):  # the default where the verifier is installed
        pki_chain.verify_chain(odd, [], [root[0]], FQDN)
