# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Signing for the lab CA: CA roots, server certificates from CSRs, phone client certificates.

Builds on module_utils/pki.py (names, keys, SANs, validity) and pki_csr.py (CSR signatures).
The lab_ca module (through lab_ca_backend.py), the tests and the benchmark scripts sign here,
and only here (pki.py has no signing of its own).

Validity is given as a number of days or as ``not_before``/``not_after``, each a relative
offset (``+365d``, ``-10d``, ``+12h``) or an absolute time (:func:`parse_time`).
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.phoneprov.mpp.plugins.module_utils import pki, pki_chain
from ansible_collections.phoneprov.mpp.plugins.module_utils.cn import CNError, split_cn
from ansible_collections.phoneprov.mpp.plugins.module_utils.pki import PKIError
from ansible_collections.phoneprov.mpp.plugins.module_utils.pki_csr import csr_signature_valid

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID
    EXTENDED_KEY_USAGES = {'serverAuth': ExtendedKeyUsageOID.SERVER_AUTH, 'clientAuth': ExtendedKeyUsageOID.CLIENT_AUTH}
except ImportError:  # pragma: no cover - pki.HAS_CRYPTOGRAPHY says so, the modules report it
    EXTENDED_KEY_USAGES = {}

_OFFSET = re.compile(r'^\s*([+-]?)\s*(\d+)\s*([smhdw]?)\s*$')
_OFFSET_UNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800, '': 86400}


def parse_time(value, now=None):
    """An aware datetime from a relative offset or an absolute time.

    Relative: ``+365d``, ``-10d``, ``+12h``, ``-30m``, ``+0s``, ``2w`` (units s, m, h, d, w;
    no unit means days). Absolute: ISO 8601 (``2030-01-01``, ``2030-01-01T00:00:00Z``) or
    ASN.1 ``YYYYMMDDHHMMSSZ``. PKIError on anything else.
    """
    now = now or pki.utcnow()
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
    now = now or pki.utcnow()
    start = parse_time(not_before, now) if not_before not in (None, '') else now - datetime.timedelta(minutes=5)
    end = parse_time(not_after, now) if not_after not in (None, '') else now + datetime.timedelta(days=int(days))
    if end <= start:
        raise PKIError('not_after (%s) must be later than not_before (%s)'
                       % (end.strftime('%Y-%m-%d %H:%M:%S UTC'), start.strftime('%Y-%m-%d %H:%M:%S UTC')))
    return start, end


def window_matches(cert, start, end, tolerance=datetime.timedelta(days=1)):
    """True when the certificate's validity lies within ``tolerance`` of (start, end)."""
    return (abs(pki.not_valid_before(cert) - start) <= tolerance and abs(pki.not_valid_after(cert) - end) <= tolerance)


def _sign_hash(key):
    return hashes.SHA256() if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)) else None


def create_ca_certificate(key, subject, days=3650, path_length=None, permitted_dns=None):
    """A self-signed CA certificate for ``key`` with subject dict ``subject``.

    ``path_length`` 0: no CA below it (the lab CAs); ``permitted_dns``: the DNS subtrees it may
    sign names in (a critical nameConstraints extension, as RFC 5280 wants it).
    """
    name = pki.build_name(subject)
    now = pki.utcnow()
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
    if permitted_dns:
        builder = builder.add_extension(
            x509.NameConstraints([x509.DNSName(name) for name in permitted_dns], None), critical=True)
    return builder.sign(key, _sign_hash(key))


def csr_fqdns(csr):
    """The DNS names a server CSR asks for: its DNS SANs and the FQDN of its CN (the name phones check)."""
    try:
        fqdn = split_cn(pki.common_name(csr) or '')[0]
    except CNError:
        fqdn = None
    return pki_chain.dns_names(csr, fqdn)


def is_ca(cert):
    """True when basicConstraints says CA:TRUE (pki_chain's rule)."""
    return pki_chain.is_ca(cert)


def _sign_leaf(subject_name, public_key, ca_cert, ca_key, validity, usage, sans):
    """A leaf certificate signed by the CA; ``validity`` is (days, not_before, not_after)."""
    if usage not in EXTENDED_KEY_USAGES:
        raise PKIError('unsupported extended key usage %r; use serverAuth or clientAuth' % (usage,))
    start, end = validity_window(*validity)
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
               .add_extension(x509.ExtendedKeyUsage([EXTENDED_KEY_USAGES[usage]]), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    except x509.ExtensionNotFound:
        pass
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([pki.parse_san(s) for s in sans]), critical=False)
    return builder.sign(ca_key, _sign_hash(ca_key))


def sign_csr(csr, ca_cert, ca_key, days=365, not_before=None, not_after=None, usage='serverAuth'):
    """Sign a server CSR: subject and SANs from the CSR, EKU ``usage`` (serverAuth by default)."""
    if not csr_signature_valid(csr):
        raise PKIError('the CSR signature does not verify (corrupted CSR or not signed by its key)')
    problem = pki_chain.name_constraint_problem(ca_cert, csr_fqdns(csr))
    if problem:
        raise PKIError('%s; no TLS client would accept the certificate' % problem)
    return _sign_leaf(csr.subject, csr.public_key(), ca_cert, ca_key, (days, not_before, not_after), usage,
                      pki.subject_alt_names(csr))


def issue_certificate(subject, public_key, ca_cert, ca_key, days=365, not_before=None, not_after=None,
                      usage='clientAuth', sans=None):
    """Sign ``public_key`` for subject dict ``subject`` with EKU ``usage``."""
    return _sign_leaf(pki.build_name(subject), public_key, ca_cert, ca_key, (days, not_before, not_after), usage, sans)


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
    subject = pki.client_subject_attributes(mac, model, serial, generic)
    key = private_key or pki.generate_private_key(key_type, key_size, curve)
    cert = issue_certificate(subject, key.public_key(), ca_cert, ca_key, days, not_before, not_after, 'clientAuth')
    return cert, key


def issued_by_matches(cert, ca_cert, subject_name=None, public_key=None, sans=None):
    """True when ``cert`` was signed by ``ca_cert`` and carries the given subject/key/SANs."""
    if not pki.signed_by(cert, ca_cert):
        return False
    if subject_name is not None and cert.subject != subject_name:
        return False
    if public_key is not None and pki.public_key_fingerprint(cert) != pki.public_key_fingerprint(public_key):
        return False
    if sans is not None and sorted(pki.subject_alt_names(cert)) != sorted(sans):
        return False
    return True


# --------------------------------------------------------------------------- the lab CAs' constraints

# A DNS subtree of name constraints: labels, optionally a leading dot (only names below it).
_DNS_SUBTREE = re.compile(r'^\.?(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$')


def default_permitted_dns(fqdns):
    """The lab CAs' default name constraints: the domain of each server FQDN (``prov.mpp.test``: ``mpp.test``).

    A name of two labels stands for itself: a lab CA is never constrained to a whole top-level domain only.
    """
    domains = []
    for fqdn in fqdns:
        labels = fqdn.lower().rstrip('.').split('.')
        domain = '.'.join(labels[1:] if len(labels) > 2 else labels)
        if domain not in domains:
            domains.append(domain)
    return domains


def normalize_permitted_dns(names):
    """The ``permitted_dns`` option checked: DNS names (``mpp.test``, ``.mpp.test``), lower case."""
    out = []
    for name in names:
        text = str(name).strip().lower().rstrip('.')
        if not _DNS_SUBTREE.match(text):
            raise PKIError('permitted_dns: %r is not a DNS domain (write mpp.test, or .mpp.test for the names below it only)' % (name,))
        out.append(text)
    return out


def ca_constraints_outdated(ca_cert, permitted_dns):
    """True when a CA lacks path length 0, or (``permitted_dns`` given) has other DNS name constraints."""
    if pki_chain.basic_constraints(ca_cert) != (True, 0):
        return True
    return permitted_dns is not None and sorted(pki_chain.dns_constraints(ca_cert)[0] or []) != sorted(permitted_dns)
