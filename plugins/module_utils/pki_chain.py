# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The chain and server-certificate rules: who may sign, what a TLS server certificate must be.

One place for each rule, used by server_cert (through server_cert_backend.py) and lab_ca (the
lab CAs' path length and name constraints):

- every issuer in a chain is a CA: basicConstraints CA:TRUE, keyUsage keyCertSign when keyUsage
  is present, its pathLenConstraint respected by the CAs below it, its DNS name constraints
  respected by the names below it (:func:`check_issuers`);
- the server certificate is no CA, its keyUsage (when present) allows digitalSignature or
  keyEncipherment, its extendedKeyUsage (when present) has serverAuth, it is not signed with
  SHA-1 or MD5 and its key is RSA >= 2048 bits or EC P-256, P-384, P-521 (:func:`check_server_leaf`);
- a DNS SAN that exists must name the FQDN (:func:`san_problem`; the phones read the CN, other
  TLS clients the SANs).

Where the installed cryptography has its RFC 5280 verifier (``cryptography.x509.verification``,
cryptography >= 42), :func:`verify_chain` also asks it (:func:`api_verify`); on older releases
(cryptography 36 on RHEL 9, 38 on Debian 12) the hand checks above are the whole judgement. The
hand checks always run first, so the same fault gets the same message on every host.
"""

from __future__ import annotations

from ansible_collections.phoneprov.mpp.plugins.module_utils import pki
from ansible_collections.phoneprov.mpp.plugins.module_utils.pki import PKIError

try:
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
except ImportError:  # pragma: no cover - pki.HAS_CRYPTOGRAPHY says so, the modules report it
    x509 = None
    UnsupportedAlgorithm = ValueError

try:
    from cryptography.x509 import verification
    HAS_VERIFICATION_API = hasattr(verification, 'PolicyBuilder') and hasattr(verification, 'Store')
except ImportError:  # cryptography < 42
    verification = None
    HAS_VERIFICATION_API = False

ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0'
WEAK_SIGNATURE_HASHES = ('md5', 'sha1')
MIN_RSA_BITS = 2048
STRONG_CURVES = ('secp256r1', 'secp384r1', 'secp521r1')
CURVE_NAMES = {'secp256r1': 'P-256', 'secp384r1': 'P-384', 'secp521r1': 'P-521'}


def subject_of(cert):
    """The subject of ``cert`` as RFC 4514 text, for messages."""
    return pki.name_rfc4514(cert.subject) or '(empty subject)'


def _extension(cert, cls):
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def basic_constraints(cert):
    """(ca, path_length) from basicConstraints; (False, None) when the extension is absent."""
    value = _extension(cert, x509.BasicConstraints)
    return (bool(value.ca), value.path_length) if value is not None else (False, None)


def is_ca(cert):
    """True when basicConstraints says CA:TRUE."""
    return basic_constraints(cert)[0]


def _self_issued(cert):
    return cert.issuer == cert.subject


# --------------------------------------------------------------------------- name constraints

def dns_within(name, base):
    """True when DNS ``name`` lies in the RFC 5280 subtree ``base`` (``example.net``: itself and below; ``.example.net``: below)."""
    name, base = name.lower().rstrip('.'), base.lower().rstrip('.')
    if not base:
        return True
    if base.startswith('.'):
        return name.endswith(base)
    return name == base or name.endswith('.' + base)


def dns_constraints(ca_cert):
    """(permitted, excluded) DNS subtrees of a CA's nameConstraints; permitted is None when DNS names are not limited."""
    value = _extension(ca_cert, x509.NameConstraints)
    if value is None:
        return None, []
    permitted = [tree.value for tree in value.permitted_subtrees or [] if isinstance(tree, x509.DNSName)]
    excluded = [tree.value for tree in value.excluded_subtrees or [] if isinstance(tree, x509.DNSName)]
    return permitted or None, excluded


def name_constraint_problem(ca_cert, names):
    """Why ``ca_cert``'s DNS name constraints forbid one of the DNS ``names``, or None."""
    permitted, excluded = dns_constraints(ca_cert)
    return dns_subtrees_problem(permitted, excluded, names, subject_of(ca_cert))


def dns_subtrees_problem(permitted, excluded, names, owner):
    """Why the DNS subtrees ``permitted`` (None: any) and ``excluded`` of ``owner`` (a CA's subject) forbid one of ``names``, or None."""
    for name in names:
        barred = [base for base in excluded if dns_within(name, base)]
        if barred:
            return 'the DNS name %s is excluded by the name constraints of %s (excluded: %s)' % (name, owner, ', '.join(barred))
        if permitted is not None and not any(dns_within(name, base) for base in permitted):
            return 'the DNS name %s lies outside the name constraints of %s (permitted: %s)' % (name, owner, ', '.join(permitted))
    return None


def dns_names(cert, fqdn=None):
    """The DNS SANs of ``cert`` (or CSR) and ``fqdn`` (the name phones read from the CN), without repeats."""
    names = [san[4:] for san in pki.subject_alt_names(cert) if san.startswith('DNS:')]
    if fqdn and fqdn not in names:
        names.append(fqdn)
    return names


# --------------------------------------------------------------------------- the issuers

def issuer_problem(issuer, cas_below):
    """Why ``issuer`` may not sign the chain below it, or None; ``cas_below`` counts the non-self-issued CAs under it."""
    ca, path_length = basic_constraints(issuer)
    if not ca:
        return 'the issuer %s is not a CA (no basicConstraints CA:TRUE), so it may not sign certificates' % subject_of(issuer)
    usage = _extension(issuer, x509.KeyUsage)
    if usage is not None and not usage.key_cert_sign:
        return 'the issuer %s has a keyUsage without keyCertSign, so it may not sign certificates' % subject_of(issuer)
    if path_length is not None and cas_below > path_length:
        return ('the issuer %s allows %d CA certificate(s) below it (pathLenConstraint %d), but the chain has %d'
                % (subject_of(issuer), path_length, path_length, cas_below))
    return None


def check_issuers(chain, fqdn=None):
    """Refuse a chain ``[leaf, intermediate..., root]`` one of whose issuers may not sign what is below it."""
    for index in range(1, len(chain)):
        below = chain[1:index]
        cas_below = len([cert for cert in below if not _self_issued(cert)])
        problem = issuer_problem(chain[index], cas_below)
        if problem is None:
            names = dns_names(chain[0], fqdn)
            for cert in below:
                names += [name for name in dns_names(cert) if name not in names]
            problem = name_constraint_problem(chain[index], names)
        if problem:
            raise PKIError(problem)


# --------------------------------------------------------------------------- the server certificate

def signature_hash_problem(cert):
    """'signed with SHA-1' style problem of a weak signature hash, or None."""
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return 'has a signature algorithm the cryptography library does not know (%s)' % cert.signature_algorithm_oid.dotted_string
    if algorithm is not None and algorithm.name in WEAK_SIGNATURE_HASHES:
        return 'is signed with %s, which TLS clients refuse; have it signed with SHA-256' % algorithm.name.upper().replace('SHA1', 'SHA-1')
    return None


def key_strength_problem(cert):
    """Why the public key of ``cert`` is too weak for TLS, or None."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            return 'has a %d-bit RSA key; at least %d bits are needed' % (key.key_size, MIN_RSA_BITS)
        return None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in STRONG_CURVES:
            return 'has an EC key on curve %s; use P-256, P-384 or P-521' % key.curve.name
        return None
    return 'has a %s key; phones take RSA (>= %d bits) or EC (P-256, P-384) keys' % (type(key).__name__, MIN_RSA_BITS)


def usage_problem(cert):
    """Why ``cert``'s basicConstraints, keyUsage or extendedKeyUsage do not fit a TLS server certificate, or None."""
    if is_ca(cert):
        return 'is a CA certificate (basicConstraints CA:TRUE); a server certificate must not be one'
    usage = _extension(cert, x509.KeyUsage)
    if usage is not None and not (usage.digital_signature or usage.key_encipherment):
        return 'has a keyUsage with neither digitalSignature nor keyEncipherment, which a TLS server key needs'
    ekus = pki.extended_key_usages(cert)
    if ekus is not None and 'serverAuth' not in ekus and ANY_EXTENDED_KEY_USAGE not in ekus:
        return ('has an extended key usage (%s) that does not include serverAuth, so it cannot '
                'authenticate a TLS server' % ', '.join(ekus))
    return None


def check_server_leaf(leaf):
    """Refuse a server certificate that is a CA, lacks the usages of a TLS server, is SHA-1/MD5 signed or has a weak key."""
    for rule in (usage_problem, signature_hash_problem, key_strength_problem):
        problem = rule(leaf)
        if problem:
            raise PKIError('the certificate %s %s' % (subject_of(leaf), problem))


def check_intermediates(chain):
    """Refuse an intermediate CA (neither the leaf nor the trusted root) with a weak signature hash or key."""
    for cert in chain[1:-1]:
        for rule in (signature_hash_problem, key_strength_problem):
            problem = rule(cert)
            if problem:
                raise PKIError('the intermediate CA %s %s' % (subject_of(cert), problem))


def san_problem(sans, fqdn):
    """Why the DNS SANs do not name ``fqdn`` (only when there are some: phones read the CN), or None."""
    dns_sans = [san[4:] for san in sans if san.startswith('DNS:')]
    if dns_sans and fqdn.lower() not in [name.lower().rstrip('.') for name in dns_sans]:
        return ('the certificate\'s DNS SANs (%s) do not include %s; TLS clients other than the phones '
                '(curl, browsers, monitoring) refuse it for that name' % (', '.join(dns_sans), fqdn))
    return None


# --------------------------------------------------------------------------- the whole chain

def api_verify(leaf, intermediates, roots, fqdn):
    """Ask cryptography's RFC 5280 verifier (cryptography >= 42) about the chain for ``fqdn``; PKIError when it refuses."""
    builder = verification.PolicyBuilder().store(verification.Store(list(roots)))
    verifier = builder.build_server_verifier(x509.DNSName(fqdn))
    try:
        verifier.verify(leaf, list(intermediates))
    except verification.VerificationError as exc:
        raise PKIError('the RFC 5280 verifier of the cryptography library refuses the chain of %s for %s: %s'
                       % (subject_of(leaf), fqdn, exc))


def verify_chain(leaf, intermediates, roots, fqdn, use_api=None):
    """[leaf, intermediates..., root] when the chain passes every rule of this file; PKIError naming the first fault.

    The chain is built by pki.build_chain (names, signatures, validity), then judged by hand
    (:func:`check_issuers`, :func:`check_intermediates`); then, when ``use_api`` (default:
    the verifier is installed) and the leaf has a DNS SAN naming ``fqdn`` (the verifier matches
    SANs only; a CN-only certificate is the phones' case), by :func:`api_verify`.
    """
    chain = pki.build_chain(leaf, intermediates, roots)
    check_issuers(chain, fqdn)
    check_intermediates(chain)
    if use_api is None:
        use_api = HAS_VERIFICATION_API
    if use_api and fqdn and san_problem(pki.subject_alt_names(leaf), fqdn) is None and any(
            san.startswith('DNS:') for san in pki.subject_alt_names(leaf)):
        api_verify(leaf, intermediates, roots, fqdn)
    return chain
