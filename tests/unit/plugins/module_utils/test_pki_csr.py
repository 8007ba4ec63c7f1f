# -*- coding: utf-8 -*-
"""Unit tests of module_utils/pki_csr.py: CSR digests, the weak ones re-signed (openssl as judge)."""

from __future__ import annotations

import subprocess

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils import pki, pki_csr


@pytest.mark.parametrize('digest, key_type, oid_name', [
    ('md5', 'rsa', 'md5WithRSAEncryption'), ('sha1', 'rsa', 'sha1WithRSAEncryption'),
    ('sha1', 'ecc', 'ecdsa-with-SHA1'), ('sha384', 'ecc', 'ecdsa-with-SHA384')])
def test_csr_digests_openssl_verifies(digest, key_type, oid_name):
    key = pki.generate_private_key(key_type)
    csr = pki_csr.build_csr(key, {'CN': 'pv.example.net'}, ['DNS:pv.example.net', 'IP:192.0.2.1'], digest)
    assert pki_csr.hash_name(csr.signature_hash_algorithm) == digest
    assert pki_csr.csr_signature_valid(csr)
    proc = subprocess.run(['openssl', 'req', '-verify', '-noout', '-text'], input=pki_csr.csr_pem(csr).encode(),
                          capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0 and b'verify OK' in proc.stdout + proc.stderr
    assert oid_name.encode() in proc.stdout
    assert pki.subject_alt_names(csr) == ['DNS:pv.example.net', 'IP:192.0.2.1']


def test_tampered_weak_csr_signature_fails():
    key = pki.generate_private_key('rsa')
    csr = pki_csr.build_csr(key, {'CN': 'pv.example.net'}, None, 'md5')
    other = pki_csr.build_csr(pki.generate_private_key('rsa'), {'CN': 'pv.example.net'}, None, 'md5')
    der = csr.public_bytes(pki.serialization.Encoding.DER)
    forged = der[:-256] + other.signature
    assert pki_csr.csr_signature_valid(csr)
    assert not pki_csr.csr_signature_valid(pki_csr.load_csr(forged))


def test_md5_with_ecc_is_refused():
    with pytest.raises(pki.PKIError, match='md5 cannot be used with an ECC key'):
        pki_csr.build_csr(pki.generate_private_key('ecc'), {'CN': 'pv.example.net'}, None, 'md5')
