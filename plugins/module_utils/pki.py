# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's private crypto backend, over the ``cryptography`` library: the basics.

Loading and writing certificates and keys, subject names, subject alternative names, key
generation, validity and chains. Two files build on it: pki_csr.py (certificate signing
requests, with the weak digests Cisco's portal offers) and pki_lab.py (the lab CA's signing).
The PKI modules (server_key, server_csr, server_cert, lab_ca, cn_dns_verify), phone_check and
the benchmark scripts call these functions; nothing else in the collection touches
``cryptography`` for keys, CSRs and certificates.

Fingerprints are SHA-256, written as lower-case hex pairs separated by colons
(``3a:9f:...``, 32 pairs): :func:`public_key_fingerprint` hashes the DER
SubjectPublicKeyInfo of a key (the same value for a private key, its public key, a CSR
and a certificate made from it), :func:`certificate_fingerprint` hashes the DER
certificate (``openssl x509 -fingerprint -sha256`` prints the same, upper-cased).

Errors are raised as :class:`PKIError` with a message that names the problem.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import re

from ansible_collections.phoneprov.mpp.plugins.module_utils import dn
from ansible_collections.phoneprov.mpp.plugins.module_utils.client_subject import SubjectError, build_client_subject

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by the sanity import test
    import traceback as _traceback
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = _traceback.format_exc()
    x509 = None


class PKIError(ValueError):
    """A key, CSR or certificate that cannot be used; the message names the problem."""


_PEM_CERT = re.compile(
    br'-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----\s.*?-----END (?:X509 |TRUSTED )?CERTIFICATE-----',
    re.DOTALL)


def as_bytes(data):
    """PEM/DER input (bytes or text) as bytes; PKIError for anything else."""
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
    return b'-----BEGIN ' in as_bytes(data)


# --------------------------------------------------------------------------- certificates

def load_certificate(data, what='certificate'):
    """Load one X.509 certificate from PEM or DER bytes; the first one of a PEM bundle.

    Raises PKIError when the data is neither a PEM nor a DER certificate.
    """
    data = as_bytes(data)
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
    data = as_bytes(data)
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


def load_certificate_bundle(data, what='certificate bundle'):
    """Every certificate of a PEM bundle that loads, and a message naming each one that does not.

    Returns ``(certificates, problems)``. Real bundles hold certificates the cryptography library
    refuses although OpenSSL (and nginx) read them (Cisco ECC Root CA: its notAfter carries
    fractional seconds); such a block is named (number, subject as far as it can be read, reason)
    and skipped. Raises PKIError only when the data holds no certificate block at all.
    """
    data = as_bytes(data)
    if not data.strip():
        raise PKIError('%s is empty' % what)
    if not is_pem(data):
        return [load_certificate(data, what)], []
    blocks = _PEM_CERT.findall(data)
    if not blocks:
        raise PKIError('%s holds no PEM CERTIFICATE block (found %s)' % (what, _pem_labels(data) or 'none'))
    certs, problems = [], []
    for index, block in enumerate(blocks):
        try:
            certs.append(load_certificate(block, '%s (certificate %d)' % (what, index + 1)))
        except PKIError as exc:
            subject = _der_subject(block)
            problems.append('%s: certificate %d%s cannot be read by the cryptography library and was skipped (%s)'
                            % (what, index + 1, ' (%s)' % subject if subject else '', str(exc).split(': ', 1)[-1]))
    return certs, problems


# Subject attributes worth naming an unreadable certificate by: CN, O, OU, C.
_DER_NAME_OIDS = {b'\x55\x04\x03': 'CN', b'\x55\x04\x0a': 'O', b'\x55\x04\x0b': 'OU', b'\x55\x04\x06': 'C'}


def _der_items(der, start, end):
    """(tag, content start, content end) of each DER element between ``start`` and ``end``."""
    while start < end:
        tag, length, start = der[start], der[start + 1], start + 2
        if length & 0x80:
            count = length & 0x7f
            length, start = int.from_bytes(der[start:start + count], 'big'), start + count
        yield tag, start, start + length
        start += length


def _der_subject(pem_block):
    """The subject of a PEM certificate read from its DER by hand (``CN=...,O=...``), or None."""
    try:
        der = base64.b64decode(b''.join(line for line in pem_block.splitlines() if not line.startswith(b'-----')))
        _tag, start, end = next(_der_items(der, 0, len(der)))
        _tag, start, end = next(_der_items(der, start, end))        # tbsCertificate
        fields = [item for item in _der_items(der, start, end) if item[0] != 0xa0]  # without [0] version
        _tag, start, end = fields[4]                                # serial, signature, issuer, validity, subject
        parts = []
        for _set, set_start, set_end in _der_items(der, start, end):
            for _seq, seq_start, seq_end in _der_items(der, set_start, set_end):
                (_o, oid_start, oid_end), (_v, value_start, value_end) = list(_der_items(der, seq_start, seq_end))[:2]
                name = _DER_NAME_OIDS.get(der[oid_start:oid_end])
                if name:
                    parts.append('%s=%s' % (name, der[value_start:value_end].decode('utf-8', 'replace')))
        return ','.join(reversed(parts)) or None
    except (ValueError, IndexError, StopIteration, TypeError):
        return None


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


def key_spec(key_type, size, curve):
    """(type, size, curve) of the key asked for, as :func:`key_description` describes a key (ECC size from the curve)."""
    if key_type == 'rsa':
        return 'rsa', size, None
    return 'ecc', int(curve[2:]), curve


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
        encryption = serialization.BestAvailableEncryption(as_bytes(passphrase))
    else:
        encryption = serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def load_private_key(data, passphrase=None, what='private key'):
    """Load a PEM or DER private key, decrypting with ``passphrase``.

    Raises PKIError naming the problem: empty, not a key, encrypted without passphrase,
    wrong passphrase, passphrase given for an unencrypted key.
    """
    data = as_bytes(data)
    if not data.strip():
        raise PKIError('%s is empty' % what)
    password = as_bytes(passphrase) if passphrase else None
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


def read_input(path, what, missing_hint=''):
    """The bytes of an input file the task needs; PKIError ``<what> <path> does not exist<missing_hint>``."""
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except FileNotFoundError:
        raise PKIError('%s %s does not exist%s' % (what, path, missing_hint))


def load_private_key_file(path, passphrase=None, missing_hint=''):
    """The private key stored at ``path`` (see :func:`load_private_key`); PKIError when missing or unreadable."""
    return load_private_key(read_input(path, 'private key', missing_hint), passphrase, what='private key %s' % path)


def key_matches(private_key, cert_or_csr_or_public):
    """True when the private key belongs to the certificate/CSR/public key."""
    return public_key_fingerprint(private_key) == public_key_fingerprint(cert_or_csr_or_public)


# --------------------------------------------------------------------------- subject alternative names

def parse_san(entry):
    """An x509.GeneralName from ``DNS:name``, ``IP:addr``, ``email:x`` or ``URI:x``."""
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


def signature_valid(public_key, signature, data, hash_algorithm):
    """True when ``public_key`` verifies ``signature`` over ``data`` (RSA PKCS#1 v1.5, ECDSA, EdDSA)."""
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), hash_algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(hash_algorithm))
        else:
            public_key.verify(signature, data)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def signed_by(cert, issuer):
    """True when ``issuer``'s key verifies ``cert``'s signature and the names link."""
    if cert.issuer != issuer.subject:
        return False
    return signature_valid(issuer.public_key(), cert.signature, cert.tbs_certificate_bytes, cert.signature_hash_algorithm)


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


# --------------------------------------------------------------------------- phone client certificates

def client_subject_attributes(mac=None, model=None, serial=None, generic=False, organization=None):
    """Subject dict of a phone client certificate (module_utils/client_subject.py builds it)."""
    try:
        return build_client_subject(mac, model, serial, generic, organization)
    except SubjectError as exc:
        raise PKIError(str(exc))
