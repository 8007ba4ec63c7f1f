# -*- coding: utf-8 -*-
"""Unit tests of the crypto backend module_utils/pki.py (real cryptography, openssl as judge)."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils import pki, pki_lab


def openssl(*args, data=None):
    return subprocess.run(['openssl'] + list(args), input=data, capture_output=True, check=True, timeout=60).stdout


def test_load_certificate_pem_der_bundle_and_errors(server, ca):
    cert = server[0]
    pem = pki.certificate_pem(cert)
    der = openssl('x509', '-outform', 'DER', data=pem.encode())
    assert pki.load_certificate(pem) == cert
    assert pki.load_certificate(pem.encode()) == cert
    assert pki.load_certificate(der) == cert
    bundle = pem + pki.certificate_pem(ca[0])
    assert pki.load_certificates(bundle) == [cert, ca[0]]
    assert pki.load_certificate(bundle) == cert
    assert pki.load_certificates(der) == [cert]
    with pytest.raises(pki.PKIError, match='is empty'):
        pki.load_certificate(b'  \n')
    with pytest.raises(pki.PKIError, match='neither a PEM nor a DER'):
        pki.load_certificate(b'\x30\x03\x02\x01\x01junk')
    with pytest.raises(pki.PKIError, match='holds no CERTIFICATE block .found PRIVATE KEY'):
        pki.load_certificate(pki.private_key_pem(server[1]))
    with pytest.raises(pki.PKIError, match='cannot be parsed'):
        pki.load_certificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')
    with pytest.raises(pki.PKIError, match='expected PEM/DER data'):
        pki.load_certificate(42)


def test_fingerprints_match_openssl(server):
    cert, key, csr = server
    pem = pki.certificate_pem(cert).encode()
    printed = openssl('x509', '-noout', '-fingerprint', '-sha256', data=pem).decode().strip().split('=', 1)[1]
    assert pki.certificate_fingerprint(cert) == printed.lower()
    der_pub = openssl('pkey', '-pubout', '-outform', 'DER', data=pki.private_key_pem(key))
    expected = ':'.join('%02x' % b for b in hashlib.sha256(der_pub).digest())
    assert pki.public_key_fingerprint(key) == expected
    assert pki.public_key_fingerprint(key.public_key()) == expected
    assert pki.public_key_fingerprint(cert) == expected
    assert pki.public_key_fingerprint(csr) == expected
    assert len(expected.split(':')) == 32


def test_common_name_and_names(server, ca):
    cert, _key, csr = server
    assert pki.common_name(cert) == 'pv.example.net/mailto:x@example.net'
    assert pki.common_name(csr) == 'pv.example.net/mailto:x@example.net'
    assert pki.common_name(pki_lab.issue_client_certificate(ca[0], ca[1], mac='000e08abcdef', key_type='ecc')[0]) is None
    assert pki.name_to_dict(cert.subject) == {'CN': 'pv.example.net/mailto:x@example.net', 'O': 'Ex'}
    with pytest.raises(pki.PKIError, match='unknown subject attribute'):
        pki.build_name({'XX': 'y'})
    with pytest.raises(pki.PKIError, match='two-letter'):
        pki.build_name({'C': 'USA'})


def test_private_key_loading_errors():
    key = pki.generate_private_key('ecc', curve='P-384')
    assert pki.key_description(key) == ('ecc', 384, 'P-384')
    enc = pki.private_key_pem(key, 'pw')
    assert b'ENCRYPTED' in enc
    assert pki.key_matches(pki.load_private_key(enc, 'pw'), key)
    with pytest.raises(pki.PKIError, match='wrong passphrase'):
        pki.load_private_key(enc, 'nope')
    with pytest.raises(pki.PKIError, match='passphrase is required'):
        pki.load_private_key(enc)
    with pytest.raises(pki.PKIError, match='not encrypted, but a passphrase was given'):
        pki.load_private_key(pki.private_key_pem(key), 'pw')
    with pytest.raises(pki.PKIError, match='not a readable'):
        pki.load_private_key(b'garbage')
    with pytest.raises(pki.PKIError, match='is empty'):
        pki.load_private_key(b'')
    der = openssl('pkey', '-outform', 'DER', data=pki.private_key_pem(key))
    assert pki.key_matches(pki.load_private_key(der), key)
    traditional = openssl('ec', data=pki.private_key_pem(key))  # "BEGIN EC PRIVATE KEY"
    assert pki.key_matches(pki.load_private_key(traditional), key)


def test_generate_key_choices():
    assert pki.key_description(pki.generate_private_key('rsa', 2048)) == ('rsa', 2048, None)
    assert pki.normalize_curve('prime256v1') == 'P-256'
    with pytest.raises(pki.PKIError, match='unsupported RSA size'):
        pki.generate_private_key('rsa', 1000)
    with pytest.raises(pki.PKIError, match='unsupported curve'):
        pki.generate_private_key('ecc', curve='P-521')
    with pytest.raises(pki.PKIError, match='unsupported key type'):
        pki.generate_private_key('dsa')


def test_san_parsing():
    assert pki.normalize_sans(['dns:a.example.net', 'IP:2001:db8::1', 'email:a@b.c', 'URI:https://x']) == \
        ['DNS:a.example.net', 'IP:2001:db8::1', 'email:a@b.c', 'URI:https://x']
    for bad, message in (('a.example.net', 'TYPE:value'), ('IP:999.1.1.1', 'not an IP'),
                         ('DNS:', 'empty value'), ('FOO:x', 'unsupported type')):
        with pytest.raises(pki.PKIError, match=message):
            pki.parse_san(bad)


def test_validity_and_days_remaining(ca):
    expired, _k = pki_lab.issue_client_certificate(ca[0], ca[1], mac='000e08abcdef', key_type='ecc',
                                                   not_before='-30d', not_after='-1d')
    future, _k = pki_lab.issue_client_certificate(ca[0], ca[1], mac='000e08abcdef', key_type='ecc',
                                                  not_before='+1d', not_after='+10d')
    assert pki.validity_problem(expired).startswith('has expired: notAfter was ')
    assert pki.validity_problem(future).startswith('is not yet valid: notBefore is ')
    assert pki.days_remaining(expired) == -2  # whole days, rounded down: 1 day and a few ms ago
    assert pki.days_remaining(future) == 9


def test_chain_building(ca, server):
    cert = server[0]
    assert pki.build_chain(cert, [], [ca[0]]) == [cert, ca[0]]
    other_key = pki.generate_private_key('ecc')
    other = pki_lab.create_ca_certificate(other_key, {'CN': 'Other Root'})
    with pytest.raises(pki.PKIError, match='does not chain to a trusted CA'):
        pki.build_chain(cert, [], [other])
    # same subject name, different key: the name links, the signature does not
    impostor = pki_lab.create_ca_certificate(other_key, {'O': 'unit', 'CN': 'Unit Root'})
    with pytest.raises(pki.PKIError, match='does not chain'):
        pki.build_chain(cert, [], [impostor])
    # an intermediate between leaf and root
    inter_key = pki.generate_private_key('ecc')
    inter = pki_lab.issue_certificate({'CN': 'Inter'}, inter_key.public_key(), ca[0], ca[1], usage='serverAuth')
    leaf_key = pki.generate_private_key('ecc')
    leaf = pki_lab.issue_certificate({'CN': 'pv.example.net'}, leaf_key.public_key(), inter, inter_key, usage='serverAuth')
    assert pki.build_chain(leaf, [other, inter], [ca[0]]) == [leaf, inter, ca[0]]
    with pytest.raises(pki.PKIError, match='ca_path or chain_path'):
        pki.build_chain(leaf, [other], [ca[0]])


def test_bundle_names_a_certificate_cryptography_cannot_read_and_goes_on(realworld, ca):
    # Cisco ECC Root CA: its notAfter has fractional seconds; OpenSSL reads it, cryptography does not.
    ecc_root = (realworld / 'cisco-ca-trustbundle' / 'Cisco_ECC_Root_CA.pem').read_bytes()
    root_2048 = (realworld / 'cisco-ca-trustbundle' / 'Cisco_Root_CA_2048.pem').read_bytes()
    assert b'Cisco ECC Root CA' in openssl('x509', '-noout', '-subject', data=ecc_root)
    certs, problems = pki.load_certificate_bundle(root_2048 + ecc_root + pki.certificate_pem(ca[0]).encode(), 'client bundle')
    assert [pki.common_name(cert) for cert in certs] == ['Cisco Root CA 2048', 'Unit Root']
    assert len(problems) == 1 and problems[0].startswith('client bundle: certificate 2 (CN=Cisco ECC Root CA,O=Cisco) cannot be read')


def test_bundle_with_an_unreadable_block_of_our_own(ca):
    garbage = b'-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n'
    certs, problems = pki.load_certificate_bundle(garbage + pki.certificate_pem(ca[0]).encode())
    assert certs == [ca[0]] and 'certificate 1 cannot be read' in problems[0]
    with pytest.raises(pki.PKIError, match='holds no PEM CERTIFICATE'):
        pki.load_certificate_bundle(b'-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n')
