# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One resync exactly as a Cisco MPP phone does it: the engine behind ``phone_check``.

Steps (the phone's rules: docs/phone-facts.md; the module's view of them: docs/phone-check.md):

1. Expand the profile rule's macros (``$MA $MAU $MAC $PN $PSN $SN $CCERT $SWVER``, ``$A``..``$P``
   from GPP values, ``$IP $EXTIP $HWVER`` when given) and parse the ``[--key ...]`` options
   (module_utils/profile_rule.py; MAC spellings are module_utils/mac.py's).
2. Resolve the host (module_utils/dns_check.py) and connect to its addresses in turn.
3. TLS: verify the chain against ``ca_path`` only (never the system store), present the client
   certificate, apply the CN rule (module_utils/cn.py), then the DNS check: the connected address
   must be among the DNS addresses of the CN's FQDN.
4. GET with the phone's User-Agent; follow 301/302 at once (bounded); on 401/407 repeat with
   credentials (Basic or Digest: module_utils/http_auth.py), at most twice.
5. Classify with module_utils/http_behavior.py (the one status table).
6. On 200 decode (gzip, AES-256-CBC, RFC 8188) with module_utils/profile_codec.py and parse with
   module_utils/flat_profile.py; a profile that cannot be decoded or parsed is behaviour B.

Nothing here raises for a failed resync: :func:`resync` returns a result dict whose
``behavior`` is A, B or C and whose ``reason`` names the failing step. Bad input (an invalid
MAC, a macro without a value, a malformed rule) raises :class:`EmulatorError` before any traffic.
How results are filtered, redacted and summarised for a fleet is module_utils/resync_report.py
(``redact_parameters`` and ``summarize`` are importable from here too).
"""

from __future__ import annotations

import os
import socket
import ssl
import time
from http import client as http_client
from urllib.parse import urljoin

from ansible_collections.phoneprov.mpp.plugins.module_utils.client_subject import DEFAULT_MODEL, SubjectError, client_subject
from ansible_collections.phoneprov.mpp.plugins.module_utils.client_subject import client_identity as client_identity_rule
from ansible_collections.phoneprov.mpp.plugins.module_utils.cn import CNError, split_cn
from ansible_collections.phoneprov.mpp.plugins.module_utils.dns_check import (
    DNSCheckError, normalize_address, resolve_addresses)
from ansible_collections.phoneprov.mpp.plugins.module_utils.flat_profile import ProfileError, profile_elements
from ansible_collections.phoneprov.mpp.plugins.module_utils.http_behavior import (
    AUTH, BEHAVIOR_A, BEHAVIOR_B, BEHAVIOR_C, MAX_AUTH_RETRIES, REDIRECT, http_behavior,
    next_try_parameter, status_reason)
from ansible_collections.phoneprov.mpp.plugins.module_utils.http_auth import authorization_for, parse_challenges
from ansible_collections.phoneprov.mpp.plugins.module_utils.user_agent import DEFAULT_FIRMWARE, build_user_agent
from ansible_collections.phoneprov.mpp.plugins.module_utils.pki import sha256_fingerprint
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_rule import (
    EmulatorError, expand_macros, macro_values, parse_profile_rule, parse_url)
from ansible_collections.phoneprov.mpp.plugins.module_utils.resync_report import redact_parameters, summarize

try:
    from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_codec import ProfileCodecError, decode_profile
    HAS_PROFILE_CODEC = True
except ImportError:  # pragma: no cover - profile_codec needs the cryptography library
    HAS_PROFILE_CODEC = False

    class ProfileCodecError(ValueError):
        """Stand-in so ``except`` clauses work when profile_codec cannot be imported."""

    decode_profile = None

__all__ = ['DEFAULT_FIRMWARE', 'DEFAULT_MAX_REDIRECTS', 'DEFAULT_MAX_SIZE', 'DEFAULT_MODEL', 'FETCH_FIRMWARE', 'FETCH_PROFILE', 'HAS_PROFILE_CODEC', 'Emulator',
           'EmulatorError', 'redact_parameters', 'summarize', 'user_agent']

DEFAULT_MAX_REDIRECTS = 5
FETCH_PROFILE, FETCH_FIRMWARE = 'profile', 'firmware'
DEFAULT_MAX_SIZE = 16 * 1024 * 1024


# nginx answers 400 when OpenSSL's security level refuses a SHA-1 signature in the client's chain.
SHA1_CHAIN_REASON = "client certificate chain uses SHA-1: refused by the server's security level"


# --------------------------------------------------------------------------- the phone

def _load_client_chain(ctx, client_cert, client_key):
    """Load the phone's chain; one with a SHA-1 signature (an older MIC) is sent as the phone sends it.

    OpenSSL 3 refuses to load or send such a chain at its default security level, which is the
    server's decision to make, not the phone's: the context then runs at level 0 (the cipher
    list is kept; the server certificate is verified at that level too).
    """
    try:
        ctx.load_cert_chain(client_cert, client_key or None)
    except ssl.SSLError as exc:
        if 'CA_MD_TOO_WEAK' not in str(exc) and 'ca md too weak' not in str(exc):
            raise
        ctx.set_ciphers(':'.join(cipher['name'] for cipher in ctx.get_ciphers() if cipher['protocol'] != 'TLSv1.3')
                        + ':@SECLEVEL=0')
        ctx.load_cert_chain(client_cert, client_key or None)


def _chain_uses_sha1(client_cert):
    """True when a certificate of the client's PEM file (leaf and intermediates; not a self-signed root) is signed with SHA-1."""
    try:
        from ansible_collections.phoneprov.mpp.plugins.module_utils.pki import load_certificate_bundle  # pylint: disable=import-outside-toplevel
        with open(client_cert, 'rb') as handle:
            certs, _problems = load_certificate_bundle(handle.read(), 'client certificate %s' % client_cert)
    except (ImportError, OSError, ValueError):
        return False
    return any(cert.signature_hash_algorithm is not None and cert.signature_hash_algorithm.name == 'sha1'
               and cert.issuer != cert.subject for cert in certs)


def user_agent(model, firmware, mac, serial=None):
    """The User-Agent the device sends (module_utils/user_agent.py): ``Cisco-<model>/<firmware> (<$MA>)`` for MPP phones."""
    try:
        return build_user_agent(model, firmware, mac, serial)
    except ValueError as exc:
        raise EmulatorError(str(exc))


# --------------------------------------------------------------------------- the resync

class _Failure(Exception):
    """A failed step: ends the resync with ``behavior`` and ``reason``."""

    def __init__(self, behavior, reason, step):
        super(_Failure, self).__init__(reason)
        self.behavior = behavior
        self.reason = reason
        self.step = step


def _cert_info(peer, der):
    def _name(rdns):
        return ','.join('%s=%s' % (k, v) for rdn in rdns or () for (k, v) in rdn)
    cns = [v for rdn in peer.get('subject', ()) for (k, v) in rdn if k == 'commonName']
    return {
        'subject': _name(peer.get('subject')),
        'issuer': _name(peer.get('issuer')),
        'common_name': cns[-1] if cns else None,
        'serial': peer.get('serialNumber'),
        'not_before': peer.get('notBefore'),
        'not_after': peer.get('notAfter'),
        'subject_alt_names': ['%s:%s' % pair for pair in peer.get('subjectAltName', ())],
        'fingerprint': sha256_fingerprint(der) if der else None,
    }


class Emulator(object):
    """Resyncs phones against servers. One instance may serve many phones (fleet mode):
    it caches DNS answers and TLS contexts for the life of the instance (one task run), so
    a thousand phones do not ask DNS two thousand times. Thread-safe for concurrent resyncs.
    """

    def __init__(self, ca_path=None, nameservers=None, dns_port=53, timeout=10.0, address=None,
                 max_redirects=DEFAULT_MAX_REDIRECTS, max_size=DEFAULT_MAX_SIZE, dns_cache=True, client_identity=None):
        self.ca_path = ca_path
        try:
            # The server's identity rule (mpp_server_client_identity): which MAC it reads from the client certificate.
            self.client_identity = client_identity_rule(client_identity)
        except SubjectError as exc:
            raise EmulatorError(str(exc))
        self.nameservers = list(nameservers) if nameservers else None
        self.dns_port = int(dns_port)
        self.timeout = float(timeout)
        self.address = normalize_address(address) if address else None
        self.max_redirects = int(max_redirects)
        self.max_size = int(max_size)
        self._dns_cache = {} if dns_cache else None
        self._contexts = {}

    # ---------------------------------------------------------------- helpers
    def resolve(self, fqdn):
        key = fqdn.lower()
        if self._dns_cache is not None and key in self._dns_cache:
            cached = self._dns_cache[key]
            if isinstance(cached, DNSCheckError):
                raise cached
            return cached
        try:
            result = resolve_addresses(fqdn, nameservers=self.nameservers, port=self.dns_port, timeout=self.timeout)
        except DNSCheckError as exc:
            if self._dns_cache is not None:
                self._dns_cache[key] = exc
            raise
        if self._dns_cache is not None:
            self._dns_cache[key] = result
        return result

    def context(self, client_cert, client_key):
        key = (client_cert, client_key)
        ctx = self._contexts.get(key)
        if ctx is not None:
            return ctx
        if not self.ca_path:
            raise EmulatorError('ca_path is required for https: it holds the roots the phone trusts '
                                '(the Cisco Server CA or the lab server CA)')
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        # The phone's roots only: never the system store.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
        try:
            ctx.load_verify_locations(cafile=self.ca_path)
        except (OSError, ssl.SSLError) as exc:
            raise EmulatorError('ca_path %s cannot be loaded as PEM certificates: %s' % (self.ca_path, exc))
        if client_cert:
            try:
                _load_client_chain(ctx, client_cert, client_key)
            except (OSError, ssl.SSLError) as exc:
                raise EmulatorError('client certificate %s (key %s) cannot be loaded: %s'
                                    % (client_cert, client_key or client_cert, exc))
        self._contexts[key] = ctx
        return ctx

    def certificate_mac(self, client_cert):
        """The MAC the server reads from the first certificate of ``client_cert`` by the identity rule, or None."""
        try:
            from ansible_collections.phoneprov.mpp.plugins.module_utils import pki  # pylint: disable=import-outside-toplevel
            with open(client_cert, 'rb') as handle:
                subject = pki.name_rfc4514(pki.load_certificate(handle.read()).subject)
            return client_subject(subject, self.client_identity)['mac']
        except (ImportError, OSError, ValueError):
            return None

    # ---------------------------------------------------------------- one phone
    def resync(self, url, mac, model=DEFAULT_MODEL, serial=None, firmware=DEFAULT_FIRMWARE, client_cert=None,
               client_key=None, key=None, key_encoding='utf-8', username=None, password=None, macros=None, resync_fails_on_fnf=True,
               fetch=FETCH_PROFILE):
        """One resync; returns the result dict (never raises for a failed resync).

        ``fetch=FETCH_FIRMWARE`` fetches an Upgrade_Rule's file instead (module_utils/firmware_upgrade.py):
        a ranged GET of its first byte, 200 or 206 is A, nothing is decoded.

        ``result['_secrets']`` lists the key and password actually used (from the options, the
        rule or a macro): a caller that logs results must hide them and drop this entry.

        ``client_cert``/``client_key`` may hold macros (``/certs/$MA.crt``). ``key`` overrides
        the rule's ``--key``; ``username``/``password`` override ``--uid``/``--pwd``.
        """
        model = model or DEFAULT_MODEL
        firmware = firmware or DEFAULT_FIRMWARE
        values = macro_values(mac, model, serial, bool(client_cert), firmware, macros)
        client_cert = expand_macros(client_cert, values, 'client_cert')
        client_key = expand_macros(client_key, values, 'client_key')
        values['CCERT'] = 'Installed' if client_cert else 'Not Installed'
        options, rule_url = parse_profile_rule(url)
        options = dict((name, expand_macros(value, values, 'rule option --%s' % name)) for name, value in options.items())
        fetch_url = expand_macros(rule_url, values, url=True)
        scheme = parse_url(fetch_url)[0]
        if client_cert and not os.path.isfile(client_cert):
            raise EmulatorError('client certificate %s does not exist' % client_cert)
        if client_key and not os.path.isfile(client_key):
            raise EmulatorError('client key %s does not exist' % client_key)
        if scheme == 'https':
            self.context(client_cert, client_key)  # bad ca_path or client files fail before any traffic
        if key is None:
            key = options.get('key')
        if username is None:
            username = options.get('uid')
        if password is None:
            password = options.get('pwd')
        ma = values['MA']
        # The effective key and password, whatever their source (option, rule, macro): callers hide them.
        secrets = [value for value in (key, password, options.get('key'), options.get('pwd')) if value]
        result = {
            'mac': ma, 'url': fetch_url, 'rule_url': fetch_url, 'status': None, 'behavior': None,
            'reason': None, 'step': None, 'fqdn': None, 'common_name': None, 'peer_address': None,
            'dns_ok': None, 'dns_addresses': [], 'parameters': {}, 'parameter_count': 0,
            'next_try_parameter': None, 'next_try_value': None, 'redirects': [], 'auth': None, 'tls': None, 'decoding': None,
            'user_agent': user_agent(model, firmware, ma, serial), 'client_cert': client_cert, 'elapsed': 0.0,
            'client_cert_mac': self.certificate_mac(client_cert) if client_cert else None,
            '_secrets': secrets,
        }
        start = time.monotonic()
        try:
            outcome = self._run(result, client_cert, client_key, (key, key_encoding), username, password,
                                resync_fails_on_fnf, fetch == FETCH_FIRMWARE)
        except _Failure as failure:
            outcome = (failure.behavior, failure.reason, failure.step)
        result['behavior'], result['reason'], result['step'] = outcome
        result['next_try_parameter'] = next_try_parameter(result['behavior'])
        # After A the phone runs the profile it just read: its timer is known when the profile sets it.
        result['next_try_value'] = result['parameters'].get(result['next_try_parameter'])
        result['elapsed'] = round(time.monotonic() - start, 4)
        return result

    def _run(self, result, client_cert, client_key, key, username, password, resync_fails_on_fnf, ranged=False):
        url = result['url']
        auth_header = None
        auth_tries = 0
        nc = 0
        while True:
            status, response, body = self._request(result, url, client_cert, client_key, auth_header, ranged)
            result['status'] = status
            result['url'] = url
            # A ranged GET's 206 is the file the phone would download whole (200).
            outcome = http_behavior(200 if ranged and status == 206 else status, resync_fails_on_fnf)
            if outcome == REDIRECT:
                location = response.getheader('Location')
                if not location:
                    raise _Failure(BEHAVIOR_C, '%s without a Location header' % status_reason(status), 'redirect')
                target = urljoin(url, location.strip())
                result['redirects'].append({'status': status, 'from': url, 'location': target})
                if len(result['redirects']) > self.max_redirects:
                    raise _Failure(BEHAVIOR_C, 'more than %d redirects' % self.max_redirects, 'redirect')
                try:
                    parse_url(target)
                except EmulatorError as exc:
                    raise _Failure(BEHAVIOR_C, 'redirect to an unusable location: %s' % exc, 'redirect')
                url = target
                auth_header, auth_tries, nc = None, 0, 0
                continue
            if outcome == AUTH:
                if username is None:
                    raise _Failure(BEHAVIOR_C, '%s: the server asks for credentials and none were given '
                                   '(username/password)' % status_reason(status), 'auth')
                if auth_tries >= MAX_AUTH_RETRIES:
                    raise _Failure(BEHAVIOR_C, '%s: credentials refused after %d retries (%s)'
                                   % (status_reason(status), MAX_AUTH_RETRIES, result['auth']), 'auth')
                header_name = 'Proxy-Authenticate' if status == 407 else 'WWW-Authenticate'
                challenges = parse_challenges(response.msg.get_all(header_name) or [])
                nc += 1
                path = parse_url(url)[3]
                scheme, value = authorization_for(challenges, 'GET', path, username, password or '', nc=nc)
                if scheme is None:
                    raise _Failure(BEHAVIOR_C, '%s: no Basic or Digest challenge offered (%s)'
                                   % (status_reason(status), ', '.join(c[0] for c in challenges) or 'none'), 'auth')
                result['auth'] = scheme
                auth_header = ('Proxy-Authorization' if status == 407 else 'Authorization', value)
                auth_tries += 1
                continue
            break
        if ranged and status in (200, 206):
            result['content_range'] = response.getheader('Content-Range') or response.getheader('Content-Length')
            return BEHAVIOR_A, '%s: the file is there' % status_reason(status), 'done'
        if status != 200:
            behavior = outcome
            reason = status_reason(status)
            if status == 400 and client_cert and _chain_uses_sha1(client_cert):
                reason = '%s (%s)' % (SHA1_CHAIN_REASON, reason)
            if status == 403 and result['client_cert_mac'] not in (None, result['mac']):
                reason += ' (the client certificate names %s under identity rule %s, not this phone)' % (
                    result['client_cert_mac'], self.client_identity.rule)
            if status == 404 and behavior == BEHAVIOR_A:
                reason += ' (Resync_Fails_On_FNF is No: counted as success)'
            raise _Failure(behavior, reason, 'http')
        if body is None:
            raise _Failure(BEHAVIOR_B, 'profile larger than %d bytes: not read' % self.max_size, 'decode')
        if not HAS_PROFILE_CODEC:
            raise EmulatorError('profile_codec cannot be imported (the cryptography library is required)')
        try:
            data, info = decode_profile(body, key[0], key[1])
        except ProfileCodecError as exc:
            raise _Failure(BEHAVIOR_B, 'profile cannot be decoded: %s' % exc, 'decode')
        result['decoding'] = info
        try:
            elements = profile_elements(data)
        except ProfileError as exc:
            raise _Failure(BEHAVIOR_B, 'profile does not parse: %s' % exc, 'parse')
        # Every parameter element the phone reads (a repeated name counts each time; the last value wins).
        result['parameters'] = dict(elements)
        result['parameter_count'] = len(elements)
        return BEHAVIOR_A, '%s, profile parsed' % status_reason(200), 'done'

    def _addresses(self, host):
        try:
            literal = normalize_address(host)
        except ValueError:
            literal = None
        if literal:
            return [literal]
        if self.address:
            return [self.address]
        try:
            return self.resolve(host)
        except DNSCheckError as exc:
            raise _Failure(BEHAVIOR_C, 'DNS lookup of the URL host failed: %s' % exc.message, 'resolve')

    def _connect(self, result, scheme, host, port, client_cert, client_key):
        addresses = self._addresses(host)
        errors = []
        sock = None
        for address in addresses:
            try:
                sock = socket.create_connection((address, port), timeout=self.timeout)
                break
            except OSError as exc:
                errors.append('%s port %d: %s' % (address, port, exc.strerror or exc))
        if sock is None:
            raise _Failure(BEHAVIOR_C, 'cannot connect: %s' % '; '.join(errors), 'connect')
        peer = normalize_address(sock.getpeername()[0])
        result['peer_address'] = peer
        if scheme == 'http':
            return sock
        ctx = self.context(client_cert, client_key)
        try:
            tls = ctx.wrap_socket(sock, server_hostname=host if not _is_literal(host) else None)
        except ssl.SSLCertVerificationError as exc:
            sock.close()
            raise _Failure(BEHAVIOR_C, 'TLS: server certificate rejected: %s' % (exc.verify_message or exc), 'tls')
        except (ssl.SSLError, OSError) as exc:
            sock.close()
            raise _Failure(BEHAVIOR_C, 'TLS handshake failed: %s' % exc, 'tls')
        der = tls.getpeercert(binary_form=True)
        info = _cert_info(tls.getpeercert() or {}, der)
        info.update({'version': tls.version(), 'cipher': (tls.cipher() or (None,))[0],
                     'client_cert_sent': bool(client_cert)})
        result['tls'] = info
        result['common_name'] = info['common_name']
        try:
            fqdn = split_cn(info['common_name'] or '')[0]
        except CNError as exc:
            tls.close()
            raise _Failure(BEHAVIOR_C, 'CN rule: %s' % exc, 'cn')
        result['fqdn'] = fqdn
        try:
            dns_addresses = self.resolve(fqdn)
        except DNSCheckError as exc:
            tls.close()
            result['dns_ok'] = False
            raise _Failure(BEHAVIOR_C, 'DNS check failed: the lookup of the CN FQDN %s failed: %s'
                           % (fqdn, exc.message), 'dns_check')
        result['dns_addresses'] = dns_addresses
        if peer not in dns_addresses:
            tls.close()
            result['dns_ok'] = False
            raise _Failure(BEHAVIOR_C, 'DNS check failed: the server address %s is not among the addresses of the '
                           'CN FQDN %s (%s)' % (peer, fqdn, ', '.join(dns_addresses)), 'dns_check')
        result['dns_ok'] = True
        return tls

    def _request(self, result, url, client_cert, client_key, auth_header, ranged=False):
        scheme, host, port, path = parse_url(url)
        sock = self._connect(result, scheme, host, port, client_cert, client_key)
        conn = http_client.HTTPConnection(host, port, timeout=self.timeout)
        conn.sock = sock
        default_port = 443 if scheme == 'https' else 80
        host_header = '[%s]' % host if ':' in host else host
        if port != default_port:
            host_header += ':%d' % port
        try:
            conn.putrequest('GET', path, skip_host=True, skip_accept_encoding=True)
            conn.putheader('Host', host_header)
            conn.putheader('User-Agent', result['user_agent'])
            conn.putheader('Accept', '*/*')
            conn.putheader('Connection', 'close')
            if auth_header:
                conn.putheader(*auth_header)
            if ranged:
                conn.putheader('Range', 'bytes=0-0')
            conn.endheaders()
            response = conn.getresponse()
            status = response.status
            body = None
            if status == 200 and not ranged:
                body = response.read(self.max_size + 1)
                if len(body) > self.max_size:
                    body = None
            else:
                response.read(65536)
        except (socket.timeout, OSError, http_client.HTTPException) as exc:
            raise _Failure(BEHAVIOR_C, 'HTTP exchange failed: %s' % (exc or type(exc).__name__), 'http')
        finally:
            conn.close()
        if status < 100 or status > 599:
            raise _Failure(BEHAVIOR_C, 'HTTP status %s is not valid' % status, 'http')
        return status, response, body


def _is_literal(host):
    try:
        normalize_address(host)
    except ValueError:
        return False
    return True
