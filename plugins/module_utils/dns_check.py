# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phone's DNS check, written once: resolve the certificate's FQDN, compare addresses.

A Cisco MPP phone resolves the FQDN named in the server certificate's CN and rejects the
server when the address it connected to is not among the answers. With several servers
behind one name, every server's address must be in DNS. This module resolves A and AAAA
records with dnspython (the system resolver by default, or given name servers and port) and
reports which expected addresses are missing.

Failures carry a ``kind`` a caller can act on:

- ``NXDOMAIN``: the name does not exist.
- ``SERVFAIL``: no name server gave a usable answer (SERVFAIL, REFUSED, or other errors
  from every server).
- ``TIMEOUT``: no answer within ``timeout`` seconds.
- ``NOANSWER``: the name exists but has neither an A nor an AAAA record (empty answer).
- ``CONFIG``: the lookup could not be made (a name server that is not an IP address, no
  usable system resolver configuration, a name that is not a valid DNS name).
"""

from __future__ import annotations

import ipaddress
import time

try:
    import dns.exception
    import dns.name
    import dns.resolver
    HAS_DNSPYTHON = True
    DNSPYTHON_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - depends on the managed host
    import traceback as _traceback
    HAS_DNSPYTHON = False
    DNSPYTHON_IMPORT_ERROR = _traceback.format_exc()

DNS_ERROR_KINDS = ('NXDOMAIN', 'SERVFAIL', 'TIMEOUT', 'NOANSWER', 'CONFIG')
RECORD_TYPES = ('A', 'AAAA')


class DNSCheckError(Exception):
    """A DNS lookup that gave no addresses; ``kind`` is one of DNS_ERROR_KINDS."""

    def __init__(self, kind, message, fqdn=None):
        super(DNSCheckError, self).__init__(message)
        self.kind = kind
        self.fqdn = fqdn
        self.message = message


def normalize_address(address):
    """Canonical text of an IP address: compressed IPv6, IPv4-mapped IPv6 as IPv4, no zone.

    ``'0:0:0:0:0:0:0:1'`` -> ``'::1'``, ``'::ffff:192.0.2.1'`` -> ``'192.0.2.1'``,
    ``'fe80::1%eth0'`` -> ``'fe80::1'``. Raises ValueError naming the bad value.
    """
    text = str(address).strip()
    if text.startswith('[') and text.endswith(']'):
        text = text[1:-1]
    text = text.split('%', 1)[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError('%r is not an IPv4 or IPv6 address' % (address,))
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.compressed


def _sort_key(text):
    addr = ipaddress.ip_address(text)
    return (addr.version, int(addr))


def sort_addresses(addresses):
    """Normalised, de-duplicated addresses, IPv4 first, in numeric order."""
    return sorted(set(normalize_address(a) for a in addresses), key=_sort_key)


def _resolver(nameservers, port, timeout, fqdn):
    if not HAS_DNSPYTHON:
        raise DNSCheckError('CONFIG', 'the dnspython Python library is required for the DNS check', fqdn)
    if nameservers:
        if isinstance(nameservers, str):
            nameservers = [nameservers]
        servers = []
        for server in nameservers:
            try:
                servers.append(normalize_address(server))
            except ValueError:
                raise DNSCheckError('CONFIG', 'name server %r is not an IP address' % (server,), fqdn)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = servers
    else:
        try:
            resolver = dns.resolver.Resolver(configure=True)
        except dns.resolver.NoResolverConfiguration as exc:
            raise DNSCheckError('CONFIG', 'no usable system resolver configuration (%s); give nameservers' % exc, fqdn)
    resolver.port = int(port)
    resolver.timeout = float(timeout)
    resolver.lifetime = float(timeout)
    resolver.cache = None
    return resolver


def _where(nameservers, port):
    if not nameservers:
        return 'the system resolver'
    if isinstance(nameservers, str):
        nameservers = [nameservers]
    return 'name server%s %s port %d' % ('s' if len(nameservers) > 1 else '', ', '.join(nameservers), int(port))


def resolve_addresses(fqdn, nameservers=None, port=53, timeout=5.0, record_types=RECORD_TYPES):
    """Resolve ``fqdn``'s A and AAAA records like the phone does; return sorted address strings.

    ``nameservers``: list of IP addresses (None: the system resolver); ``port``: their port;
    ``timeout``: seconds for the whole lookup (both record types). Raises DNSCheckError whose
    ``kind`` names the failure (NXDOMAIN, SERVFAIL, TIMEOUT, NOANSWER, CONFIG).
    """
    fqdn = str(fqdn).rstrip('.')
    resolver = _resolver(nameservers, port, timeout, fqdn)
    try:
        qname = dns.name.from_text(fqdn)
    except dns.exception.DNSException as exc:
        raise DNSCheckError('CONFIG', '%r is not a DNS name that can be looked up: %s' % (fqdn, exc), fqdn)
    where = _where(nameservers, port)
    deadline = time.monotonic() + float(timeout)
    addresses = []
    for rdtype in record_types:
        remaining = max(deadline - time.monotonic(), 0.001)
        try:
            answer = resolver.resolve(qname, rdtype, search=False, lifetime=remaining,
                                      raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            raise DNSCheckError('NXDOMAIN', 'NXDOMAIN: %s does not exist (asked %s)' % (fqdn, where), fqdn)
        except dns.resolver.NoNameservers as exc:
            raise DNSCheckError('SERVFAIL', 'SERVFAIL: no name server answered the %s query for %s (asked %s): %s'
                                % (rdtype, fqdn, where, exc), fqdn)
        except dns.exception.Timeout:
            raise DNSCheckError('TIMEOUT', 'TIMEOUT: no answer for %s (%s) from %s within %s seconds'
                                % (fqdn, rdtype, where, timeout), fqdn)
        except dns.resolver.NoResolverConfiguration as exc:
            raise DNSCheckError('CONFIG', 'no usable resolver configuration: %s' % exc, fqdn)
        except dns.exception.DNSException as exc:
            raise DNSCheckError('SERVFAIL', 'SERVFAIL: the %s lookup of %s failed (asked %s): %s'
                                % (rdtype, fqdn, where, exc), fqdn)
        if answer.rrset is not None:
            addresses.extend(rdata.address for rdata in answer.rrset)
    if not addresses:
        raise DNSCheckError('NOANSWER', 'NOANSWER: %s exists but has no %s record (asked %s)'
                            % (fqdn, ' or '.join(record_types), where), fqdn)
    return sort_addresses(addresses)


def check_addresses(fqdn, expected, nameservers=None, port=53, timeout=5.0):
    """Compare the addresses ``fqdn`` resolves to with the ``expected`` server addresses.

    Returns a dict: ``fqdn``, ``resolved_addresses``, ``expected_addresses`` (normalised),
    ``missing_addresses`` (expected but not in DNS), ``ok`` (DNS answered and nothing is
    missing), ``dns_error`` (None or the failure kind) and ``dns_error_msg``. A DNS failure
    does not raise: it gives ``ok`` false with ``dns_error`` set, every expected address
    missing. An expected value that is not an IP address raises ValueError.
    """
    if isinstance(expected, str):
        expected = [expected]
    expected_norm = sort_addresses(expected or [])
    result = {'fqdn': fqdn, 'resolved_addresses': [], 'expected_addresses': expected_norm,
              'missing_addresses': list(expected_norm), 'ok': False,
              'dns_error': None, 'dns_error_msg': None}
    try:
        resolved = resolve_addresses(fqdn, nameservers=nameservers, port=port, timeout=timeout)
    except DNSCheckError as exc:
        result['dns_error'] = exc.kind
        result['dns_error_msg'] = exc.message
        return result
    result['resolved_addresses'] = resolved
    result['missing_addresses'] = [a for a in expected_norm if a not in resolved]
    result['ok'] = not result['missing_addresses']
    return result
