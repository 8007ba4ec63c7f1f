# -*- coding: utf-8 -*-
"""Test helpers for phone_check: a small lab PKI and a Digest/Basic HTTPS server.

tests/integration/test_phone_check.py runs against the provisioning_server role's own nginx
configuration (provisioning_server_helpers.running_server) and uses only ``AuthServer`` from
here; ``LabPKI`` serves the emulator's unit tests.

- ``LabPKI(dir)``: a server CA (stands in for the Cisco Server CA), a second, untrusted CA, a phone
  client CA, server certificates (good, expired, from the untrusted CA) and phone client
  certificates (OU=model, L=serial, ST=$MA). ECDSA P-256 keys keep set-up fast. Certificates are
  minted with the collection's module_utils/pki_lab.py (the functions behind lab_ca); Python's ssl
  module (OpenSSL) is the judge.
- ``AuthServer``: HTTPS server on Python's http.server answering Digest (RFC 7616, MD5 or SHA-256,
  qop=auth) or Basic challenges. Used for Digest because stock Debian nginx has no Digest module
  and Apache is not installed: this keeps the test to loopback and the standard library.
"""

from __future__ import annotations

import base64
import hashlib
import os
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mpp_harness import COLLECTIONS

if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
from ansible_collections.phoneprov.mpp.plugins.module_utils import pki, pki_lab  # noqa: E402  pylint: disable=wrong-import-position


def _write_key(path, key):
    Path(path).write_bytes(pki.private_key_pem(key))
    os.chmod(str(path), 0o600)


class CA(object):
    """A self-signed ECDSA P-256 CA (module_utils/pki_lab.py), its certificate in ``path``."""

    def __init__(self, directory, name):
        self.key = pki.generate_private_key('ecc')
        self.cert = pki_lab.create_ca_certificate(self.key, {'O': 'phoneprov test', 'CN': name}, days=30)
        self.path = Path(directory) / ('%s.pem' % name.replace(' ', '_'))
        self.path.write_text(pki.certificate_pem(self.cert))

    def issue(self, cert_path, key_path, subject, server=True, sans=(), not_before='-1d', not_after='+30d'):
        """A leaf for ``subject`` (dict of short names), EKU serverAuth or clientAuth; returns the paths."""
        key = pki.generate_private_key('ecc')
        cert = pki_lab.issue_certificate(subject, key.public_key(), self.cert, self.key, not_before=not_before,
                                         not_after=not_after, usage='serverAuth' if server else 'clientAuth',
                                         sans=['DNS:%s' % name for name in sans])
        Path(cert_path).write_text(pki.certificate_pem(cert))
        _write_key(key_path, key)
        return str(cert_path), str(key_path)


class LabPKI(object):
    """Everything a phone_check test needs, in ``directory``."""

    FQDN = 'prov.mpp.test'
    CN = 'prov.mpp.test/mailto:ops@mpp.test'

    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.server_ca = CA(self.dir, 'server-ca')
        self.other_ca = CA(self.dir, 'untrusted-ca')
        self.client_ca = CA(self.dir, 'client-ca')
        subject = {'CN': self.CN, 'O': 'phoneprov test'}
        self.good = self.server_ca.issue(self.dir / 'good.crt', self.dir / 'good.key', subject, sans=[self.FQDN])
        self.untrusted = self.other_ca.issue(self.dir / 'untrusted.crt', self.dir / 'untrusted.key', subject,
                                             sans=[self.FQDN])
        self.expired = self.server_ca.issue(self.dir / 'expired.crt', self.dir / 'expired.key', subject,
                                            sans=[self.FQDN], not_before='-30d', not_after='-1d')
        self.clients = self.dir / 'clients'
        self.clients.mkdir(exist_ok=True)

    def client(self, mac, model='CP-8841-3PCC', serial='FCH0000TEST'):
        """Issue a phone client certificate (OU=model, L=serial, ST=$MA) into clients/<mac>.crt and .key."""
        cert, key = pki_lab.issue_client_certificate(self.client_ca.cert, self.client_ca.key, mac=mac, model=model,
                                                     serial=serial, key_type='ecc', days=30)
        cert_path, key_path = self.clients / ('%s.crt' % mac), self.clients / ('%s.key' % mac)
        cert_path.write_text(pki.certificate_pem(cert))
        _write_key(key_path, key)
        return str(cert_path), str(key_path)


class AuthServer(object):
    """HTTPS on 127.0.0.1 that demands Digest (``scheme='digest'``) or Basic credentials.

    Serves ``files`` (path -> bytes) after a correct Authorization; records every request's
    Authorization header in ``seen``. ``algorithm`` is MD5 or SHA-256.
    """

    def __init__(self, cert, key, files, username, password, scheme='digest', algorithm='MD5', realm='phones'):
        self.files, self.username, self.password = files, username, password
        self.scheme, self.algorithm, self.realm = scheme, algorithm, realm
        self.nonce = base64.b64encode(os.urandom(12)).decode()
        self.seen = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 - http.server's name
                header = self.headers.get('Authorization')
                server.seen.append({'path': self.path, 'authorization': header,
                                    'user_agent': self.headers.get('User-Agent')})
                if header and server.check(header, self.path):
                    body = server.files.get(self.path)
                    if body is None:
                        self.send_response(404)
                        self.send_header('Content-Length', '0')
                        self.end_headers()
                        return
                    self.send_response(200)
                    self.send_header('Content-Length', str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(401)
                if server.scheme == 'digest':
                    self.send_header('WWW-Authenticate', 'Digest realm="%s", qop="auth", algorithm=%s, nonce="%s", '
                                     'opaque="0pq"' % (server.realm, server.algorithm, server.nonce))
                else:
                    self.send_header('WWW-Authenticate', 'Basic realm="%s"' % server.realm)
                self.send_header('Content-Length', '0')
                self.end_headers()

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def _hash(self, text):
        algo = hashlib.sha256 if self.algorithm.upper().startswith('SHA-256') else hashlib.md5
        return algo(text.encode()).hexdigest()

    def check(self, header, path):
        scheme, _sep, rest = header.partition(' ')
        if self.scheme == 'basic':
            expected = base64.b64encode(('%s:%s' % (self.username, self.password)).encode()).decode()
            return scheme == 'Basic' and rest == expected
        if scheme != 'Digest':
            return False
        fields = {}
        for part in rest.split(','):
            name, _sep, value = part.strip().partition('=')
            fields[name] = value.strip('"')
        if fields.get('username') != self.username or fields.get('nonce') != self.nonce or fields.get('uri') != path:
            return False
        ha1 = self._hash('%s:%s:%s' % (self.username, self.realm, self.password))
        ha2 = self._hash('GET:%s' % path)
        expected = self._hash('%s:%s:%s:%s:%s:%s' % (ha1, self.nonce, fields.get('nc'), fields.get('cnonce'),
                                                     fields.get('qop'), ha2))
        return fields.get('response') == expected and fields.get('opaque') == '0pq'

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
