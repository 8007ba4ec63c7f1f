# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's private crypto backend, over the ``cryptography`` library.

All PKI modules (server_key, server_csr, server_cert, lab_ca, cn_dns_verify, phone_check)
and the benchmark scripts call these functions; nothing else in the collection touches
``cryptography`` for keys, CSRs and certificates.

Fingerprints are SHA-256, written as lower-case hex pairs separated by colons
(``3a:9f:...``, 32 pairs): :func:`public_key_fingerprint` hashes the DER
SubjectPublicKeyInfo of a key (the same value for a private key, its public key, a CSR
and a certificate made from it), :func:`certificate_fingerprint` hashes the DER
certificate (``openssl x509 -fingerprint -sha256`` prints the same, upper-cased).

Errors are raised as :class:`PKIError` with a message that names the problem.
"""

from __future__ import annotations

import binascii
import datetime
import hashlib
import re

from ansible_collections.phoneprov.mpp.plugins.module_utils import dn
from ansible_collections.phoneprov.mpp.plugins.module_utils.client_subject import SubjectError, build_client_subject

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as _import_exc:  # pragma: no cover - exercised by the sanity import test
    import traceback as _traceback
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = _traceback.format_exc()
    x509 = None


class PKIError(ValueError):
    """A key, CSR or certificate that cannot be used; the message names the problem."""


_PEM_CERT = re.compile(
    br'-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----\s.*?-----END (?:X509 |TRUSTED )?CERTIFICATE-----',
    re.DOTALL)


def _to_bytes(data):
    if isinstance(data, str):
        return data.encode('utf-8')
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    raise PKIError('expected PEM/DER data as bytes or text, got %s' % type(data).__name__)


def colon_hex(digest):
    """Bytes as lower-case hex pairs joined by colons (``3a:9f:...``): every fingerprint we print."""
    return ':'.join('%02x' % b for b in bytearray(digest))


def sha256_fingerprint(data):
    """SHA-256 of ``data`` (DER bytes) as :func:`colon_hex`; needs no cryptography library."""
    return colon_hex(hashlib.sha256(data).digest())


def is_pem(data):
    """True when ``data`` looks like PEM text (has a ``-----BEGIN`` line)."""
    return b'-----BEGIN ' in _to_bytes(data)


# --------------------------------------------------------------------------- certificates

def load_certificate(data, what='certificate'):
    """Load one X.509 certificate from PEM or DER bytes; the first one of a PEM bundle.

    Raises PKIError when the data is neither a PEM nor a DER certificate.
    """
    data = _to_bytes(data)
    if not data.strip():
        raise PKIError('%s is empty' % what)
    if is_pem(data):
        match = _PEM_CERT.search(data)
        if not match:
            raise PKIError('%s is PEM but holds no CERTIFICATE block (found %s)'
                           % (what, _pem_labels(data) or 'no readable block'))
        try:
            return x509.load_pem_x509_certificate(match.group(0).replace(b'TRUSTED ', b'').replace(b'X509 ', b''))
        except ValueError as exc:
            raise PKIError('%s: PEM certificate block cannot be parsed: %s' % (what, exc))
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise PKIError('%s is neither a PEM nor a DER X.509 certificate (%s)' % (what, exc))


def _pem_labels(data):
    labels = re.findall(br'-----BEGIN ([A-Z0-9 ]+)-----', data)
    return ', '.join(sorted(set(label.decode('ascii') for label in labels)))


def load_certificates(data, what='certificate bundle'):
    """Load every certificate of a PEM bundle (or one DER certificate) as a list, in order.

    Raises PKIError when no certificate is found or one block cannot be parsed.
    """
    data = _to_bytes(data)
    if not data.strip():
        raise PKIError('%s is empty' % what)
    if not is_pem(data):
        return [load_certificate(data, what)]
    blocks = _PEM_CERT.findall(data)
    if not blocks:
        raise PKIError('%s holds no PEM CERTIFICATE block (found %s)' % (what, _pem_labels(data) or 'none'))
    certs = []
    for index, block in enumerate(blocks):
        certs.append(load_certificate(block, '%s (certificate %d)' % (what, index + 1)))
    return certs


def certificate_pem(cert):
    """PEM text (str) of a certificate."""
    return cert.public_bytes(serialization.Encoding.PEM).decode('ascii')


def certificate_fingerprint(cert):
    """SHA-256 over the DER certificate, lower-case colon-separated hex."""
    return sha256_fingerprint(cert.public_bytes(serialization.Encoding.DER))


def _name_attribute(name, oid):
    values = name.get_attributes_for_oid(oid)
    if not values:
        return None
    value = values[0].value
    return value.decode('utf-8', 'replace') if isinstance(value, bytes) else value


def common_name(cert_or_csr):
    """The subject CN of a certificate or CSR (first one), or None when it has none."""
    return _name_attribute(cert_or_csr.subject, NameOID.COMMON_NAME)


_SUBJECT_OIDS = None


def _subject_oids():
    """(short name, ObjectIdentifier) for every attribute of module_utils/dn.py, in its order."""
    global _SUBJECT_OIDS  # pylint: disable=global-statement
    if _SUBJECT_OIDS is None:
        _SUBJECT_OIDS = [(short, x509.ObjectIdentifier(dn.OIDS[short])) for short in dn.SHORT_NAMES]
    return _SUBJECT_OIDS


def name_to_dict(name):
    """A Name as a dict of short attribute names (C, ST, L, O, OU, CN, emailAddress)."""
    out = {}
    for short, oid in _subject_oids():
        value = _name_attribute(name, oid)
        if value is not None:
            out[short] = value
    return out


def build_name(attributes):
    """An x509.Name from a dict of short names; order C, ST, L, O, OU, CN, emailAddress."""
    known = dict(_subject_oids())
    unknown = sorted(set(attributes) - set(known))
    if unknown:
        raise PKIError('unknown subject attribute(s) %s; allowed: %s'
                       % (', '.join(unknown), ', '.join(short for short, _oid in _subject_oids())))
    parts = []
    for short, oid in _subject_oids():
        value = attributes.get(short)
        if value is None or value == '':
            continue
        if short == 'C' and len(str(value)) != 2:
            raise PKIError('subject C must be a two-letter country code, got %r' % (value,))
        try:
            parts.append(x509.NameAttribute(oid, str(value)))
        except ValueError as exc:
            raise PKIError('subject %s=%r: %s' % (short, value, exc))
    return x509.Name(parts)


def name_rfc4514(name):
    """RFC 4514 string of a Name (as nginx prints ``$ssl_client_s_dn``)."""
    return name.rfc4514_string()


# --------------------------------------------------------------------------- keys

def public_key_fingerprint(key):
    """SHA-256 over the DER SubjectPublicKeyInfo, lower-case colon-separated hex.

    ``key`` may be a private key, a public key, a certificate or a CSR.
    """
    if hasattr(key, 'public_key'):
        key = key.public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return sha256_fingerprint(der)


CURVES = {}
if HAS_CRYPTOGRAPHY:
    CURVES = {'P-256': ec.SECP256R1, 'P-384': ec.SECP384R1}
CURVE_ALIASES = {'p-256': 'P-256', 'p256': 'P-256', 'secp256r1': 'P-256', 'prime256v1': 'P-256',
                 'p-384': 'P-384', 'p384': 'P-384', 'secp384r1': 'P-384'}
RSA_SIZES = (1024, 2048, 3072, 4096)
WEAK_RSA_SIZES = (1024,)


def normalize_curve(curve):
    """P-256 or P-384 from any common spelling; PKIError otherwise."""
    name = CURVE_ALIASES.get(str(curve).strip().lower())
    if name is None:
        raise PKIError('unsupported curve %r; use P-256 or P-384' % (curve,))
    return name


def key_description(key):
    """(type, size, curve) of a private or public key: ('rsa', 2048, None) or ('ecc', 256, 'P-256')."""
    if hasattr(key, 'public_key') and not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        pub = key.public_key()
    else:
        pub = key
    if isinstance(pub, rsa.RSAPublicKey):
        return 'rsa', pub.key_size, None
    if isinstance(pub, ec.EllipticCurvePublicKey):
        for name, cls in CURVES.items():
            if isinstance(pub.curve, cls):
                return 'ecc', pub.curve.key_size, name
        return 'ecc', pub.curve.key_size, pub.curve.name
    return type(pub).__name__, None, None


def generate_private_key(key_type='rsa', size=2048, curve='P-256'):
    """A new RSA (``size`` bits) or ECC (``curve``) private key."""
    if key_type == 'rsa':
        if int(size) not in RSA_SIZES:
            raise PKIError('unsupported RSA size %r; use one of %s' % (size, ', '.join(str(s) for s in RSA_SIZES)))
        return rsa.generate_private_key(public_exponent=65537, key_size=int(size))
    if key_type == 'ecc':
        return ec.generate_private_key(CURVES[normalize_curve(curve)]())
    raise PKIError('unsupported key type %r; use rsa or ecc' % (key_type,))


def private_key_pem(key, passphrase=None):
    """PEM bytes (PKCS#8) of a private key, encrypted with ``passphrase`` when given."""
    if passphrase:
        encryption = serialization.BestAvailableEncryption(_to_bytes(passphrase))
    else:
        encryption = serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def load_private_key(data, passphrase=None, what='private key'):
    """Load a PEM or DER private key, decrypting with ``passphrase``.

    Raises PKIError naming the problem: empty, not a key, encrypted without passphrase,
    wrong passphrase, passphrase given for an unencrypted key.
    """
    data = _to_bytes(data)
    if not data.strip():
        raise PKIError('%s is empty' % what)
    password = _to_bytes(passphrase) if passphrase else None
    encrypted = b'ENCRYPTED' in data
    loader = serialization.load_pem_private_key if is_pem(data) else serialization.load_der_private_key
    try:
        return loader(data, password=password)
    except TypeError as exc:
        text = str(exc)
        if password is None:
            raise PKIError('%s is encrypted; a passphrase is required' % what)
        if 'not encrypted' in text:
            raise PKIError('%s is not encrypted, but a passphrase was given' % what)
        raise PKIError('%s cannot be loaded: %s' % (what, text))
    except ValueError as exc:
        if password is not None and (encrypted or 'decrypt' in str(exc).lower() or 'password' in str(exc).lower()):
            raise PKIError('%s cannot be decrypted: wrong passphrase' % what)
        raise PKIError('%s is not a readable PEM or DER private key (%s)' % (what, exc))
    except UnsupportedAlgorithm as exc:
        raise PKIError('%s uses an unsupported algorithm: %s' % (what, exc))


def key_matches(private_key, cert_or_csr_or_public):
    """True when the private key belongs to the certificate/CSR/public key."""
    return public_key_fingerprint(private_key) == public_key_fingerprint(cert_or_csr_or_public)


# --------------------------------------------------------------------------- CSRs

DIGESTS = {}
if HAS_CRYPTOGRAPHY:
    DIGESTS = {'sha256': hashes.SHA256, 'sha384': hashes.SHA384, 'sha512': hashes.SHA512,
               'sha1': hashes.SHA1, 'md5': hashes.MD5}
WEAK_DIGESTS = ('md5', 'sha1')


def load_csr(data, what='CSR'):
    """Load a PEM or DER certificate signing request; PKIError otherwise."""
    data = _to_bytes(data)
    if not data.strip():
        raise PKIError('%s is empty' % what)
    try:
        if is_pem(data):
            return x509.load_pem_x509_csr(data)
        return x509.load_der_x509_csr(data)
    except ValueError as exc:
        raise PKIError('%s is not a readable PEM or DER certificate signing request (%s)' % (what, exc))


def csr_pem(csr):
    """PEM text (str) of a CSR."""
    return csr.public_bytes(serialization.Encoding.PEM).decode('ascii')


def parse_san(entry):
    """An x509.GeneralName from ``DNS:name``, ``IP:addr``, ``email:x`` or ``URI:x``."""
    import ipaddress
    if not isinstance(entry, str) or ':' not in entry:
        raise PKIError('subject alternative name %r must be written TYPE:value (DNS:pv.example.net, IP:192.0.2.1)'
                       % (entry,))
    kind, value = entry.split(':', 1)
    kind = kind.strip().upper()
    value = value.strip()
    if not value:
        raise PKIError('subject alternative name %r has an empty value' % (entry,))
    if kind == 'DNS':
        return x509.DNSName(value)
    if kind in ('IP', 'IP ADDRESS'):
        try:
            return x509.IPAddress(ipaddress.ip_address(value))
        except ValueError:
            raise PKIError('subject alternative name %r: %r is not an IP address' % (entry, value))
    if kind in ('EMAIL', 'RFC822'):
        return x509.RFC822Name(value)
    if kind == 'URI':
        return x509.UniformResourceIdentifier(value)
    raise PKIError('subject alternative name %r: unsupported type %s (use DNS, IP, email or URI)' % (entry, kind))


def format_san(general_name):
    """``DNS:name`` / ``IP:addr`` / ``email:x`` / ``URI:x`` text of an x509.GeneralName."""
    if isinstance(general_name, x509.DNSName):
        return 'DNS:%s' % general_name.value
    if isinstance(general_name, x509.IPAddress):
        return 'IP:%s' % general_name.value
    if isinstance(general_name, x509.RFC822Name):
        return 'email:%s' % general_name.value
    if isinstance(general_name, x509.UniformResourceIdentifier):
        return 'URI:%s' % general_name.value
    return '%s:%s' % (type(general_name).__name__, general_name.value)


def subject_alt_names(cert_or_csr):
    """List of ``TYPE:value`` SAN strings of a certificate or CSR (empty when it has none)."""
    try:
        ext = cert_or_csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [format_san(name) for name in ext.value]


def normalize_sans(entries):
    """Canonical ``TYPE:value`` strings for a list of SAN entries (validated)."""
    return [format_san(parse_san(entry)) for entry in entries]


def hash_name(algorithm):
    """'sha256' etc. for a signature hash algorithm object (None when there is none)."""
    return algorithm.name if algorithm is not None else None


def build_csr(private_key, subject, sans=None, digest='sha256'):
    """A CSR signed by ``private_key`` for subject dict ``subject`` and SAN strings ``sans``."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(build_name(subject))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([parse_san(s) for s in sans]), critical=False)
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
    key_type = key_description(private_key)[0]
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


# --------------------------------------------------------------------------- validity and chains

def utcnow():
    """Timezone-aware now in UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


def not_valid_before(cert):
    """Timezone-aware notBefore."""
    if hasattr(cert, 'not_valid_before_utc'):
        return cert.not_valid_before_utc
    return cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)


def not_valid_after(cert):
    """Timezone-aware notAfter."""
    if hasattr(cert, 'not_valid_after_utc'):
        return cert.not_valid_after_utc
    return cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def days_remaining(cert, now=None):
    """Whole days until notAfter (negative when expired)."""
    now = now or utcnow()
    return int((not_valid_after(cert) - now).total_seconds() // 86400)


def validity_problem(cert, now=None):
    """'expired on ...' / 'not yet valid until ...' or None."""
    now = now or utcnow()
    if now < not_valid_before(cert):
        return 'is not yet valid: notBefore is %s (now %s)' % (
            not_valid_before(cert).strftime('%Y-%m-%d %H:%M:%S UTC'), now.strftime('%Y-%m-%d %H:%M:%S UTC'))
    if now > not_valid_after(cert):
        return 'has expired: notAfter was %s (now %s)' % (
            not_valid_after(cert).strftime('%Y-%m-%d %H:%M:%S UTC'), now.strftime('%Y-%m-%d %H:%M:%S UTC'))
    return None


def extended_key_usages(cert):
    """List of EKU dotted names/short names ('serverAuth', 'clientAuth', ...) or None when absent."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return None
    names = {ExtendedKeyUsageOID.SERVER_AUTH: 'serverAuth', ExtendedKeyUsageOID.CLIENT_AUTH: 'clientAuth',
             ExtendedKeyUsageOID.CODE_SIGNING: 'codeSigning', ExtendedKeyUsageOID.EMAIL_PROTECTION: 'emailProtection',
             ExtendedKeyUsageOID.TIME_STAMPING: 'timeStamping', ExtendedKeyUsageOID.OCSP_SIGNING: 'OCSPSigning'}
    return [names.get(oid, oid.dotted_string) for oid in ext.value]


def signed_by(cert, issuer):
    """True when ``issuer``'s key verifies ``cert``'s signature and the names link."""
    if cert.issuer != issuer.subject:
        return False
    pub = issuer.public_key()
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        else:
            pub.verify(cert.signature, cert.tbs_certificate_bytes)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def csr_signature_valid(csr):
    """True when the CSR's self-signature verifies (MD5 and SHA-1 ones too, which cryptography rejects)."""
    algorithm = csr.signature_hash_algorithm
    if algorithm is None or algorithm.name not in WEAK_DIGESTS:
        return bool(csr.is_signature_valid)
    pub = csr.public_key()
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(csr.signature, csr.tbs_certrequest_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(csr.signature, csr.tbs_certrequest_bytes, ec.ECDSA(algorithm))
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def build_chain(leaf, intermediates, roots, now=None):
    """Chain ``leaf`` through ``intermediates`` to one of ``roots``.

    Returns the list [leaf, intermediate..., root]. Raises PKIError naming why no chain
    was found (unknown issuer, bad signature, an expired intermediate or root).
    """
    now = now or utcnow()
    chain = [leaf]
    current = leaf
    pool = list(intermediates)
    for _depth in range(len(pool) + 2):
        for root in roots:
            if signed_by(current, root):
                problem = validity_problem(root, now)
                if problem:
                    raise PKIError('the trusted CA %s %s' % (name_rfc4514(root.subject), problem))
                chain.append(root)
                return chain
        nxt = None
        for candidate in pool:
            if signed_by(current, candidate):
                nxt = candidate
                break
        if nxt is None:
            raise PKIError('does not chain to a trusted CA: no certificate in ca_path%s signed %s (issuer %s)'
                           % (' or chain_path' if intermediates else '', name_rfc4514(current.subject),
                              name_rfc4514(current.issuer)))
        problem = validity_problem(nxt, now)
        if problem:
            raise PKIError('intermediate CA %s %s' % (name_rfc4514(nxt.subject), problem))
        pool.remove(nxt)
        chain.append(nxt)
        current = nxt
    raise PKIError('does not chain to a trusted CA (chain loop)')


def serial_hex(cert):
    """The serial number as upper-case hex, as ``openssl x509 -noout -serial`` prints it."""
    text = '%X' % cert.serial_number
    if len(text) % 2:
        text = '0' + text
    return text


def isoformat(moment):
    """``2026-01-01T10:00:00Z`` for an aware datetime."""
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def hexlify(data):
    """Plain lower-case hex."""
    return binascii.hexlify(data).decode('ascii')


# --------------------------------------------------------------------------- signing (lab CA)

_OFFSET = re.compile(r'^\s*([+-]?)\s*(\d+)\s*([smhdw]?)\s*$')
_OFFSET_UNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800, '': 86400}


def parse_time(value, now=None):
    """An aware datetime from a relative offset or an absolute time.

    Relative: ``+365d``, ``-10d``, ``+12h``, ``-30m``, ``+0s``, ``2w`` (units s, m, h, d, w;
    no unit means days). Absolute: ISO 8601 (``2030-01-01``, ``2030-01-01T00:00:00Z``) or
    ASN.1 ``YYYYMMDDHHMMSSZ``. PKIError on anything else.
    """
    now = now or utcnow()
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    if isinstance(value, int):
        return now + datetime.timedelta(days=value)
    text = str(value).strip()
    match = _OFFSET.match(text)
    if match:
        sign, number, unit = match.groups()
        seconds = int(number) * _OFFSET_UNITS[unit]
        return now - datetime.timedelta(seconds=seconds) if sign == '-' else now + datetime.timedelta(seconds=seconds)
    for fmt in ('%Y%m%d%H%M%SZ', '%Y-%m-%dT%H:%M:%SZ', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%d %H:%M:%S', '%Y-%m-%d'):
        try:
            return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            continue
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise PKIError('time %r is neither a relative offset (+365d, -10d, +12h) nor an absolute date '
                       '(2030-01-01T00:00:00Z)' % (value,))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def validity_window(days=365, not_before=None, not_after=None, now=None):
    """(not_before, not_after) aware datetimes; defaults: now - 5 minutes, not_before + days."""
    now = now or utcnow()
    start = parse_time(not_before, now) if not_before not in (None, '') else now - datetime.timedelta(minutes=5)
    end = parse_time(not_after, now) if not_after not in (None, '') else now + datetime.timedelta(days=int(days))
    if end <= start:
        raise PKIError('not_after (%s) must be later than not_before (%s)'
                       % (end.strftime('%Y-%m-%d %H:%M:%S UTC'), start.strftime('%Y-%m-%d %H:%M:%S UTC')))
    return start, end


def window_matches(cert, start, end, tolerance=datetime.timedelta(days=1)):
    """True when the certificate's validity lies within ``tolerance`` of (start, end)."""
    return (abs(not_valid_before(cert) - start) <= tolerance and abs(not_valid_after(cert) - end) <= tolerance)


def _sign_hash(key):
    return hashes.SHA256() if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)) else None


def create_ca_certificate(key, subject, days=3650, path_length=None):
    """A self-signed CA certificate for ``key`` with subject dict ``subject``."""
    name = build_name(subject)
    now = utcnow()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    builder = (x509.CertificateBuilder()
               .subject_name(name).issuer_name(name)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=int(days)))
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=True, crl_sign=True,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(ski, critical=False))
    return builder.sign(key, _sign_hash(key))


def is_ca(cert):
    """True when basicConstraints says CA:TRUE."""
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _leaf_builder(subject_name, public_key, ca_cert, ca_key, start, end, eku_oid):
    usage_kwargs = dict(digital_signature=True, content_commitment=False,
                        key_encipherment=isinstance(public_key, rsa.RSAPublicKey), data_encipherment=False,
                        key_agreement=False, key_cert_sign=False, crl_sign=False,
                        encipher_only=False, decipher_only=False)
    builder = (x509.CertificateBuilder()
               .subject_name(subject_name).issuer_name(ca_cert.subject)
               .public_key(public_key)
               .serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(**usage_kwargs), critical=True)
               .add_extension(x509.ExtendedKeyUsage([eku_oid]), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    except x509.ExtensionNotFound:
        pass
    return builder


def sign_csr(csr, ca_cert, ca_key, days=365, not_before=None, not_after=None, usage='serverAuth'):
    """Sign a server CSR: subject and SANs from the CSR, EKU ``usage`` (serverAuth by default)."""
    if not csr_signature_valid(csr):
        raise PKIError('the CSR signature does not verify (corrupted CSR or not signed by its key)')
    start, end = validity_window(days, not_before, not_after)
    eku = ExtendedKeyUsageOID.SERVER_AUTH if usage == 'serverAuth' else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = _leaf_builder(csr.subject, csr.public_key(), ca_cert, ca_key, start, end, eku)
    sans = subject_alt_names(csr)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([parse_san(s) for s in sans]), critical=False)
    return builder.sign(ca_key, _sign_hash(ca_key))


def client_subject_attributes(mac=None, model=None, serial=None, generic=False, organization=None):
    """Subject dict of a phone client certificate (module_utils/client_subject.py builds it)."""
    try:
        return build_client_subject(mac, model, serial, generic, organization)
    except SubjectError as exc:
        raise PKIError(str(exc))


def issue_certificate(subject, public_key, ca_cert, ca_key, days=365, not_before=None, not_after=None,
                      usage='clientAuth', sans=None):
    """Sign ``public_key`` for subject dict ``subject`` with EKU ``usage``."""
    start, end = validity_window(days, not_before, not_after)
    eku = ExtendedKeyUsageOID.CLIENT_AUTH if usage == 'clientAuth' else ExtendedKeyUsageOID.SERVER_AUTH
    builder = _leaf_builder(build_name(subject), public_key, ca_cert, ca_key, start, end, eku)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([parse_san(s) for s in sans]), critical=False)
    return builder.sign(ca_key, _sign_hash(ca_key))


def issue_client_certificate(ca_cert, ca_key, mac=None, model=None, serial=None, generic=False,
                             key_type='rsa', key_size=2048, curve='P-256', days=365,
                             not_before=None, not_after=None, private_key=None):
    """Mint a phone client certificate and its key; returns ``(certificate, private_key)``.

    Plain Python for benchmark scripts, e.g.::

        ca_cert = load_certificate(open('ca/client-ca.crt', 'rb').read())
        ca_key = load_private_key(open('ca/client-ca.key', 'rb').read())
        cert, key = issue_client_certificate(ca_cert, ca_key, mac='000e08abcdef', key_type='ecc')
        open('x.crt', 'w').write(certificate_pem(cert)); open('x.key', 'wb').write(private_key_pem(key))
    """
    subject = client_subject_attributes(mac, model, serial, generic)
    key = private_key or generate_private_key(key_type, key_size, curve)
    cert = issue_certificate(subject, key.public_key(), ca_cert, ca_key, days, not_before, not_after, 'clientAuth')
    return cert, key


def issued_by_matches(cert, ca_cert, subject_name=None, public_key=None, sans=None):
    """True when ``cert`` was signed by ``ca_cert`` and carries the given subject/key/SANs."""
    if not signed_by(cert, ca_cert):
        return False
    if subject_name is not None and cert.subject != subject_name:
        return False
    if public_key is not None and public_key_fingerprint(cert) != public_key_fingerprint(public_key):
        return False
    if sans is not None and sorted(subject_alt_names(cert)) != sorted(sans):
        return False
    return True
