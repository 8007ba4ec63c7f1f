# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP authentication as the phone answers a 401/407: Digest (RFC 7616) preferred over Basic.

``parse_challenges`` reads ``WWW-Authenticate``/``Proxy-Authenticate`` values,
``authorization_for`` picks the strongest challenge offered and builds the ``Authorization``
value. How often the phone retries is the status table's (module_utils/http_behavior.py).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re

from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_rule import EmulatorError

_AUTH_ITEM = re.compile(r'\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*))?\s*,?')
_DIGEST_HASHES = {'MD5': hashlib.md5, 'SHA-256': hashlib.sha256}


def parse_challenges(headers):
    """Parse WWW-Authenticate header values into ``[(scheme lower-case, {param: value})]``."""
    challenges = []
    for header in headers:
        pos = 0
        while pos < len(header):
            match = _AUTH_ITEM.match(header, pos)
            if not match or match.end() == pos:
                break
            pos = match.end()
            name, value = match.group(1), match.group(2)
            if value is None:
                challenges.append((name.lower(), {}))
            elif challenges:
                if value.startswith('"'):
                    value = re.sub(r'\\(.)', r'\1', value[1:-1])
                challenges[-1][1][name.lower()] = value
    return challenges


def digest_authorization(params, method, uri, username, password, nc=1, cnonce=None):
    """The ``Authorization`` value answering a Digest challenge (RFC 7616: MD5, SHA-256, -sess).

    Raises EmulatorError for an algorithm the phone does not speak.
    """
    algorithm = params.get('algorithm', 'MD5')
    base = algorithm.upper()
    sess = base.endswith('-SESS')
    if sess:
        base = base[:-5]
    if base not in _DIGEST_HASHES:
        raise EmulatorError('Digest algorithm %s is not supported (MD5, SHA-256)' % algorithm)

    def digest(text):
        return _DIGEST_HASHES[base](text.encode('utf-8')).hexdigest()
    realm, nonce = params.get('realm', ''), params.get('nonce', '')
    cnonce = cnonce or hashlib.sha256(os.urandom(16)).hexdigest()[:16]
    ha1 = digest('%s:%s:%s' % (username, realm, password))
    if sess:
        ha1 = digest('%s:%s:%s' % (ha1, nonce, cnonce))
    ha2 = digest('%s:%s' % (method, uri))
    qops = [q.strip() for q in params.get('qop', '').split(',') if q.strip()]
    fields = [('username', username), ('realm', realm), ('nonce', nonce), ('uri', uri)]
    nc_text = '%08x' % nc
    if 'auth' in qops:
        response = digest('%s:%s:%s:%s:auth:%s' % (ha1, nonce, nc_text, cnonce, ha2))
    else:
        response = digest('%s:%s:%s' % (ha1, nonce, ha2))
    fields += [('response', response), ('algorithm', algorithm)]
    if 'opaque' in params:
        fields.append(('opaque', params['opaque']))
    text = ', '.join('%s="%s"' % (k, v.replace('\\', '\\\\').replace('"', '\\"')) for k, v in fields)
    if 'auth' in qops:
        text += ', qop=auth, nc=%s, cnonce="%s"' % (nc_text, cnonce)
    return 'Digest ' + text


def basic_authorization(username, password):
    """The ``Authorization`` value of Basic authentication (RFC 7617, UTF-8)."""
    token = base64.b64encode(('%s:%s' % (username, password)).encode('utf-8')).decode('ascii')
    return 'Basic ' + token


def authorization_for(challenges, method, uri, username, password, nc=1):
    """``(scheme, header value)`` answering the strongest challenge offered (Digest, then Basic)."""
    for scheme, params in challenges:
        if scheme == 'digest':
            try:
                return 'Digest', digest_authorization(params, method, uri, username, password, nc=nc)
            except EmulatorError:
                continue
    for scheme, params in challenges:
        if scheme == 'basic':
            return 'Basic', basic_authorization(username, password)
    return None, None
