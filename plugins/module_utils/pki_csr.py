# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificate signing requests: loading, building, and the weak digests Cisco's portal offers.

Cisco's signing portal offers MD5, SHA1 and SHA256 signatures on a CSR. Current cryptography
refuses to sign with MD5 or SHA-1, so :func:`build_csr` signs the request info itself for those
(DER of the CertificationRequest written here) and :func:`csr_signature_valid` verifies them.
Builds on module_utils/pki.py; server_csr (server_csr_backend.py) and the lab CA use it.
"""

from __future__ import annotations

from ansible_collections.phoneprov.mpp.plugins.module_utils import pki
from ansible_collections.phoneprov.mpp.plugins.module_utils.pki import PKIError

try:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    DIGESTS = {'sha256': hashes.SHA256, 'sha384': hashes.SHA384, 'sha512': hashes.SHA512,
               'sha1': hashes.SHA1, 'md5': hashes.MD5}
except ImportError:  # pragma: no cover - pki.HAS_CRYPTOGRAPHY says so, the modules report it
    DIGESTS = {}
WEAK_DIGESTS = ('md5', 'sha1')


def load_csr(data, what='CSR'):
    """Load a PEM or DER certificate signing request; PKIError otherwise."""
    data = pki.as_bytes(data)
    if not data.strip():
        raise PKIError('%s is empty' % what)
    try:
        if pki.is_pem(data):
            return x509.load_pem_x509_csr(data)
        return x509.load_der_x509_csr(data)
    except ValueError as exc:
        raise PKIError('%s is not a readable PEM or DER certificate signing request (%s)' % (what, exc))


def csr_pem(csr):
    """PEM text (str) of a CSR."""
    return csr.public_bytes(serialization.Encoding.PEM).decode('ascii')


def hash_name(algorithm):
    """'sha256' etc. for a signature hash algorithm object (None when there is none)."""
    return algorithm.name if algorithm is not None else None


def build_csr(private_key, subject, sans=None, digest='sha256'):
    """A CSR signed by ``private_key`` for subject dict ``subject`` and SAN strings ``sans``."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(pki.build_name(subject))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([pki.parse_san(s) for s in sans]), critical=False)
    if digest not in DIGESTS:
        raise PKIError('unsupported digest %r; use one of %s' % (digest, ', '.join(sorted(DIGESTS))))
    if digest in WEAK_DIGESTS:
        # Current cryptography refuses to sign with MD5/SHA-1; sign the request info ourselves.
        template = builder.sign(private_key, hashes.SHA256())
        return _resign_weak(template, private_key, digest)
    try:
        return builder.sign(private_key, DIGESTS[digest]())
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise PKIError('cannot sign the CSR with %s: %s' % (digest, exc))


def _der_length(length):
    if length < 0x80:
        return bytes(bytearray([length]))
    body = []
    while length:
        body.insert(0, length & 0xff)
        length >>= 8
    return bytes(bytearray([0x80 | len(body)] + body))


def _der(tag, content):
    return bytes(bytearray([tag])) + _der_length(len(content)) + content


# DER of the signature AlgorithmIdentifier for the weak digests Cisco's portal still offers.
_WEAK_ALGORITHMS = {
    ('rsa', 'md5'): _der(0x30, _der(0x06, b'\x2a\x86\x48\x86\xf7\x0d\x01\x01\x04') + b'\x05\x00'),
    ('rsa', 'sha1'): _der(0x30, _der(0x06, b'\x2a\x86\x48\x86\xf7\x0d\x01\x01\x05') + b'\x05\x00'),
    ('ecc', 'sha1'): _der(0x30, _der(0x06, b'\x2a\x86\x48\xce\x3d\x04\x01')),
}


def _resign_weak(template, private_key, digest):
    key_type = pki.key_description(private_key)[0]
    algorithm = _WEAK_ALGORITHMS.get((key_type, digest))
    if algorithm is None:
        raise PKIError('digest %s cannot be used with an %s key; use sha256' % (digest, key_type.upper()))
    tbs = template.tbs_certrequest_bytes
    try:
        if key_type == 'rsa':
            signature = private_key.sign(tbs, padding.PKCS1v15(), DIGESTS[digest]())
        else:
            signature = private_key.sign(tbs, ec.ECDSA(DIGESTS[digest]()))
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise PKIError('cannot sign the CSR with %s: %s' % (digest, exc))
    der = _der(0x30, tbs + algorithm + _der(0x03, b'\x00' + signature))
    return x509.load_der_x509_csr(der)


def csr_signature_valid(csr):
    """True when the CSR's self-signature verifies (MD5 and SHA-1 ones too, which cryptography rejects)."""
    algorithm = csr.signature_hash_algorithm
    if algorithm is None or algorithm.name not in WEAK_DIGESTS:
        return bool(csr.is_signature_valid)
    return pki.signature_valid(csr.public_key(), csr.signature, csr.tbs_certrequest_bytes, algorithm)
