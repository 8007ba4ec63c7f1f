# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Profile encodings Cisco MPP phones read: gzip, OpenSSL AES-256-CBC and RFC 8188 aes128gcm.

The one place these encodings live (docs/phone-facts.md, "The profile file"). A profile is compressed *before*
it is encrypted; the phone detects a gzip header after decrypting.

- ``gzip``: a plain gzip member (RFC 1952), ``mtime`` 0 so equal input gives equal output;
  ``gzip -d`` reads it.
- ``aes-256-cbc``: exactly what ``openssl enc -d -aes-256-cbc -md md5 -k KEY`` decrypts:
  ``Salted__`` + 8-byte salt + ciphertext, key and IV from EVP_BytesToKey(MD5, 1 round) over
  the UTF-8 passphrase and the salt, PKCS#7 padding. The phone's rule carries ``[--key KEY]``.
- ``rfc8188``: the ``aes128gcm`` content coding of RFC 8188: header salt (16) | rs (uint32) |
  idlen (1) | keyid, then records of at most ``rs`` octets, AES-128-GCM with a content
  encryption key and nonce from HKDF-SHA256 over the input keying material (IKM).
  The phone takes its IKM from parameter ``IKM_HTTP_Encrypt_Content``; how the phone turns
  that text into IKM octets is *unverified*. Default here: the UTF-8 octets of the text
  (``key_encoding='utf-8'``); ``key_encoding='base64url'`` (RFC 8188's own examples) and
  ``'hex'`` are available when the key is given in those forms.

A salt may be passed in; by default the salt is random. ``derive_salt`` gives a salt that
depends on the key and the plaintext only, so an unchanged profile encrypts to unchanged
octets (idempotent publishing) while different profiles or keys never share a salt. It is derived
from the key octets the cipher uses (``encryption_key``): for ``aes-256-cbc`` always the UTF-8
passphrase, whatever ``key_encoding`` says (that option is RFC 8188's).

Key strength (``key_strength_bits``, ``weak_key_problem``, ``check_key``): a key is *weak* under
``MIN_KEY_BITS`` (128) bits of entropy-equivalent length. A key used as text (the AES-256-CBC
passphrase, an RFC 8188 IKM with ``key_encoding='utf-8'``) counts its length in characters times
log2 of its alphabet: 10 when it is all digits, 16 when it is all hex digits of one case (the
output of ``openssl rand -hex``), otherwise the sum of the classes it uses: digits 10, a-z 26,
A-Z 26, other printable ASCII (punctuation, space) 33, any other character 128. So 32 hex
digits, 22 mixed letters and digits, 28 lower-case letters or 20 characters from all four ASCII
classes pass. A decoded key (``hex``, ``base64url``) counts 8 bits per octet: 16 octets pass.
This bounds the strength from above by length; it cannot see that a long key is not random.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import hmac
import io
import math
import os
import string
import struct
import zlib

try:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.exceptions import InvalidTag
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - exercised by sanity import test only
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = _exc

ENCRYPTIONS = ('none', 'aes-256-cbc', 'rfc8188')
KEY_ENCODINGS = ('utf-8', 'base64url', 'hex')
OPENSSL_MAGIC = b'Salted__'
GZIP_MAGIC = b'\x1f\x8b'
RFC8188_HEADER_MIN = 21  # salt 16 + rs 4 + idlen 1
RFC8188_TAG = 16
RFC8188_DEFAULT_RS = 4096
MIN_KEY_BITS = 128
_ALPHABETS = ((frozenset(string.digits), 10), (frozenset(string.ascii_lowercase), 26), (frozenset(string.ascii_uppercase), 26),
              (frozenset(string.punctuation + ' '), 33))
_OTHER_ALPHABET = 128
_CEK_INFO = b'Content-Encoding: aes128gcm\x00'
_NONCE_INFO = b'Content-Encoding: nonce\x00'


class ProfileCodecError(ValueError):
    """A profile that cannot be encoded or decoded: bad key, truncated data, bad padding..."""


def _need_crypto():
    if not HAS_CRYPTOGRAPHY:
        raise ProfileCodecError('profile encryption needs the Python library cryptography, which is not '
                                'installed (%s)' % (CRYPTOGRAPHY_IMPORT_ERROR,))


def key_bytes(key, key_encoding='utf-8'):
    """The key octets for ``key`` (str or bytes) read as ``key_encoding``."""
    if key is None or key == '' or key == b'':
        raise ProfileCodecError('an encryption key is required and none (or an empty one) was given')
    if isinstance(key, bytes):
        return key
    if not isinstance(key, str):
        raise ProfileCodecError('the key must be a string, got %s' % type(key).__name__)
    if key_encoding == 'utf-8':
        return key.encode('utf-8')
    if key_encoding == 'base64url':
        text = key.strip().replace('+', '-').replace('/', '_').rstrip('=')
        try:
            return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))
        except (binascii.Error, ValueError) as exc:
            raise ProfileCodecError('the key is not valid base64url: %s' % exc)
    if key_encoding == 'hex':
        try:
            return binascii.unhexlify(key.strip())
        except (binascii.Error, ValueError) as exc:
            raise ProfileCodecError('the key is not valid hex: %s' % exc)
    raise ProfileCodecError('unknown key encoding %r, expected one of %s' % (key_encoding, ', '.join(KEY_ENCODINGS)))


def encryption_key(key, encrypt, key_encoding='utf-8'):
    """The key octets the cipher ``encrypt`` uses: the UTF-8 passphrase for ``aes-256-cbc``
    (``key_encoding`` applies to ``rfc8188`` only), ``key_bytes(key, key_encoding)`` otherwise."""
    return key_bytes(key, 'utf-8' if encrypt == 'aes-256-cbc' else key_encoding)


def key_alphabet(text):
    """The alphabet size the key text is taken from (see the module's docstring)."""
    characters = set(text)
    if characters <= set(string.digits):
        return 10
    if characters <= set(string.hexdigits) and (text == text.lower() or text == text.upper()):
        return 16
    size = sum(alphabet for members, alphabet in _ALPHABETS if characters & members)
    if any(not any(char in members for members, _size in _ALPHABETS) for char in characters):
        size += _OTHER_ALPHABET
    return size


def key_strength_bits(key, encrypt='aes-256-cbc', key_encoding='utf-8'):
    """Entropy-equivalent length of a profile key in bits: characters times log2 of the alphabet
    for a key used as text, 8 per octet for a decoded one. ProfileCodecError for an unusable key."""
    octets = encryption_key(key, encrypt, key_encoding)
    if encrypt == 'rfc8188' and key_encoding != 'utf-8':
        return 8.0 * len(octets)
    text = octets.decode('utf-8', 'replace')
    return len(text) * math.log2(max(key_alphabet(text), 2))


def weak_key_problem(key, encrypt='aes-256-cbc', key_encoding='utf-8'):
    """Why the key is too weak to encrypt profiles (a text that never holds the key), or None."""
    bits = key_strength_bits(key, encrypt, key_encoding)
    if bits >= MIN_KEY_BITS:
        return None
    if encrypt == 'rfc8188' and key_encoding != 'utf-8':
        measure = '%d octets' % len(encryption_key(key, encrypt, key_encoding))
        advice = 'at least 16 octets'
    else:
        text = encryption_key(key, encrypt, key_encoding).decode('utf-8', 'replace')
        measure = '%d characters from an alphabet of %d' % (len(text), key_alphabet(text))
        advice = 'for example 32 hex digits (openssl rand -hex 16) or 22 random letters and digits'
    return 'the key is too weak for %s: %s is about %d bits, %d needed (%s)' % (encrypt, measure, bits, MIN_KEY_BITS, advice)


def check_key(key, encrypt, key_encoding='utf-8', refuse_weak=True):
    """The key octets ``encrypt`` uses; ProfileCodecError for a key that cannot be used or, with
    ``refuse_weak``, is weak (``weak_key_problem``)."""
    octets = encryption_key(key, encrypt, key_encoding)
    problem = weak_key_problem(key, encrypt, key_encoding) if refuse_weak else None
    if problem:
        raise ProfileCodecError(problem)
    return octets


def derive_salt(key, data, length):
    """A salt of ``length`` octets that depends only on the key and the plaintext.

    HMAC-SHA256 keyed with the key over a label and the plaintext: equal input, equal salt
    (so an unchanged profile re-encrypts to the same octets); no salt repeats across
    different plaintexts or keys.
    """
    if isinstance(key, str):
        key = key.encode('utf-8')
    return hmac.new(key, b'phoneprov.mpp profile salt\x00' + data, hashlib.sha256).digest()[:length]


# -- gzip ------------------------------------------------------------------------------------

def gzip_compress(data, level=9):
    """A gzip member of ``data`` with mtime 0 and no file name (deterministic)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename='', mode='wb', fileobj=buf, compresslevel=level, mtime=0) as handle:
        handle.write(data)
    return buf.getvalue()


def gzip_decompress(data):
    """Decompress a gzip member, ProfileCodecError when it is truncated or corrupt."""
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise ProfileCodecError('gzip data is truncated or corrupt: %s' % exc)


# -- OpenSSL enc AES-256-CBC ---------------------------------------------------------------

def evp_bytes_to_key(password, salt, key_len=32, iv_len=16):
    """OpenSSL EVP_BytesToKey with MD5 and one iteration (``openssl enc -md md5``)."""
    derived = b''
    block = b''
    while len(derived) < key_len + iv_len:
        block = hashlib.md5(block + password + salt).digest()
        derived += block
    return derived[:key_len], derived[key_len:key_len + iv_len]


def openssl_encrypt(data, key, salt=None):
    """``openssl enc -e -aes-256-cbc -md md5 -k KEY``: Salted__ + salt + AES-256-CBC(PKCS#7)."""
    _need_crypto()
    password = key_bytes(key)
    if salt is None:
        salt = os.urandom(8)
    if len(salt) != 8:
        raise ProfileCodecError('an OpenSSL salt is 8 octets, got %d' % len(salt))
    aes_key, iv = evp_bytes_to_key(password, salt)
    pad = 16 - len(data) % 16
    padded = data + bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
    return OPENSSL_MAGIC + salt + encryptor.update(padded) + encryptor.finalize()


def openssl_decrypt(data, key):
    """Decrypt ``Salted__`` AES-256-CBC (MD5 key derivation); ProfileCodecError on any fault."""
    _need_crypto()
    if not data.startswith(OPENSSL_MAGIC):
        raise ProfileCodecError('not OpenSSL encrypted data: the "Salted__" header is missing')
    if key is None or key == '' or key == b'':
        raise ProfileCodecError('the profile is AES-256-CBC encrypted (OpenSSL "Salted__" header) and no key was given')
    body = data[16:]
    if len(data) < 16:
        raise ProfileCodecError('AES-256-CBC data is truncated: the 8-octet salt after "Salted__" is incomplete')
    if not body or len(body) % 16:
        raise ProfileCodecError('AES-256-CBC data is truncated: %d ciphertext octets is not a positive multiple '
                                'of the 16-octet block' % len(body))
    aes_key, iv = evp_bytes_to_key(key_bytes(key), data[8:16])
    decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(body) + decryptor.finalize()
    pad = padded[-1]
    if not 1 <= pad <= 16 or padded[-pad:] != bytes([pad]) * pad:
        raise ProfileCodecError('AES-256-CBC bad decrypt: the padding is invalid (wrong key, or corrupt data)')
    return padded[:-pad]


# -- RFC 8188 aes128gcm ----------------------------------------------------------------------

def _hkdf_sha256(salt, ikm, info, length):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out = b''
    block = b''
    counter = 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def _rfc8188_keys(ikm, salt):
    return _hkdf_sha256(salt, ikm, _CEK_INFO, 16), _hkdf_sha256(salt, ikm, _NONCE_INFO, 12)


def _record_nonce(nonce, seq):
    return (int.from_bytes(nonce, 'big') ^ seq).to_bytes(12, 'big')


def rfc8188_encrypt(data, key, key_encoding='utf-8', salt=None, record_size=RFC8188_DEFAULT_RS, keyid=b''):
    """Encrypt ``data`` as RFC 8188 ``aes128gcm`` content (header + records)."""
    _need_crypto()
    ikm = key_bytes(key, key_encoding)
    if salt is None:
        salt = os.urandom(16)
    if len(salt) != 16:
        raise ProfileCodecError('an RFC 8188 salt is 16 octets, got %d' % len(salt))
    if isinstance(keyid, str):
        keyid = keyid.encode('utf-8')
    if len(keyid) > 255:
        raise ProfileCodecError('an RFC 8188 keyid is at most 255 octets')
    if not 18 <= record_size < 2 ** 32:
        raise ProfileCodecError('RFC 8188 record size must be between 18 and 2^32-1, got %d' % record_size)
    cek, nonce = _rfc8188_keys(ikm, salt)
    aead = AESGCM(cek)
    chunk = record_size - RFC8188_TAG - 1
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] or [b'']
    out = [salt, struct.pack('!IB', record_size, len(keyid)), keyid]
    last = len(pieces) - 1
    for seq, piece in enumerate(pieces):
        delimiter = b'\x02' if seq == last else b'\x01'
        out.append(aead.encrypt(_record_nonce(nonce, seq), piece + delimiter, None))
    return b''.join(out)


def rfc8188_header(data):
    """``(salt, rs, keyid, header_length)`` of aes128gcm content; ProfileCodecError when impossible."""
    if len(data) < RFC8188_HEADER_MIN:
        raise ProfileCodecError('RFC 8188 data is truncated: %d octets is shorter than the 21-octet header' % len(data))
    salt = data[:16]
    record_size, idlen = struct.unpack('!IB', data[16:21])
    if record_size < 18:
        raise ProfileCodecError('RFC 8188 header is invalid: record size %d is below 18' % record_size)
    if len(data) < RFC8188_HEADER_MIN + idlen:
        raise ProfileCodecError('RFC 8188 data is truncated inside the keyid')
    return salt, record_size, data[21:21 + idlen], RFC8188_HEADER_MIN + idlen


def rfc8188_decrypt(data, key, key_encoding='utf-8'):
    """Decrypt RFC 8188 ``aes128gcm`` content; ProfileCodecError on a wrong key or damaged data."""
    _need_crypto()
    salt, record_size, _keyid, start = rfc8188_header(data)
    if key is None or key == '' or key == b'':
        raise ProfileCodecError('the profile looks RFC 8188 (aes128gcm) encrypted and no key was given')
    cek, nonce = _rfc8188_keys(key_bytes(key, key_encoding), salt)
    aead = AESGCM(cek)
    body = data[start:]
    if not body:
        raise ProfileCodecError('RFC 8188 data is truncated: no record follows the header')
    records = [body[i:i + record_size] for i in range(0, len(body), record_size)]
    out = []
    for seq, record in enumerate(records):
        if len(record) <= RFC8188_TAG:
            raise ProfileCodecError('RFC 8188 data is truncated: record %d has no content' % seq)
        try:
            plain = aead.decrypt(_record_nonce(nonce, seq), record, None)
        except InvalidTag:
            raise ProfileCodecError('RFC 8188 record %d failed authentication (wrong key, or corrupt or '
                                    'truncated data)' % seq)
        stripped = plain.rstrip(b'\x00')
        if not stripped:
            raise ProfileCodecError('RFC 8188 record %d has no padding delimiter' % seq)
        delimiter = stripped[-1]
        is_last = seq == len(records) - 1
        if delimiter == 2 and not is_last:
            raise ProfileCodecError('RFC 8188 record %d is marked last but more records follow' % seq)
        if delimiter == 1 and is_last:
            raise ProfileCodecError('RFC 8188 data is truncated: the last record is not marked last')
        if delimiter not in (1, 2):
            raise ProfileCodecError('RFC 8188 record %d has an invalid padding delimiter' % seq)
        out.append(stripped[:-1])
    return b''.join(out)


# -- the whole pipeline ----------------------------------------------------------------------

def encode_profile(data, compress=False, encrypt='none', key=None, key_encoding='utf-8', salt=None,
                   record_size=RFC8188_DEFAULT_RS, keyid=b''):
    """Encode a profile: gzip when ``compress``, then encrypt (``none``, ``aes-256-cbc``, ``rfc8188``).

    ``salt`` None means random; ``'derive'`` means ``derive_salt`` over the key octets the cipher
    uses (``encryption_key``), deterministic per key and plaintext; octets are used as given.
    """
    if isinstance(data, str):
        data = data.encode('utf-8')
    if encrypt not in ENCRYPTIONS:
        raise ProfileCodecError('unknown encryption %r, expected one of %s' % (encrypt, ', '.join(ENCRYPTIONS)))
    if compress:
        data = gzip_compress(data)
    if encrypt == 'none':
        return data
    # One key, as the cipher uses it, for the salt and for the encryption.
    secret = encryption_key(key, encrypt, key_encoding)
    if salt == 'derive':
        salt = derive_salt(secret, data, 8 if encrypt == 'aes-256-cbc' else 16)
    if encrypt == 'aes-256-cbc':
        return openssl_encrypt(data, secret, salt=salt)
    return rfc8188_encrypt(data, secret, salt=salt, record_size=record_size, keyid=keyid)


def _looks_plain(data):
    head = data[:64].lstrip(b'\xef\xbb\xbf \t\r\n')
    return head.startswith(b'<') or not head


def decode_profile(data, key=None, key_encoding='utf-8'):
    """Decode what a server sent: ``(plaintext, info)``.

    Detects OpenSSL ``Salted__`` AES-256-CBC, RFC 8188 aes128gcm and gzip, in the phone's order:
    decrypt, then decompress. aes128gcm has no magic number (it starts with a random salt), so
    with a ``key`` any data with a plausible aes128gcm header is first tried as aes128gcm (the
    authentication tag makes a false match practically impossible); data that fails that and
    looks like XML or gzip is taken as such. Without a key, data that is neither XML, gzip nor
    ``Salted__`` is reported as encrypted.
    ``info`` has ``encryption`` (none, aes-256-cbc, rfc8188), ``compressed`` (bool) and, for
    rfc8188, ``record_size`` and ``keyid``.
    Raises ProfileCodecError with the reason (wrong key, truncated data, bad padding...).
    """
    if isinstance(data, str):
        data = data.encode('utf-8')
    info = {'encryption': 'none', 'compressed': False}
    if data.startswith(OPENSSL_MAGIC):
        data = openssl_decrypt(data, key)
        info['encryption'] = 'aes-256-cbc'
    else:
        plain_looking = data.startswith(GZIP_MAGIC) or _looks_plain(data)
        try:
            _salt, record_size, keyid, _start = rfc8188_header(data)
            header_error = None
        except ProfileCodecError as exc:
            header_error = exc
        if header_error is None and (key not in (None, '', b'') or not plain_looking):
            try:
                data = rfc8188_decrypt(data, key, key_encoding)
                info.update(encryption='rfc8188', record_size=record_size,
                            keyid=keyid.decode('utf-8', 'replace'))
            except ProfileCodecError:
                if not plain_looking:
                    raise
        elif not plain_looking:
            raise ProfileCodecError('unrecognised profile encoding: not XML, gzip, OpenSSL "Salted__" or '
                                    'RFC 8188 (%s)' % header_error)
    if data.startswith(GZIP_MAGIC):
        data = gzip_decompress(data)
        info['compressed'] = True
    return data, info
