# -*- coding: utf-8 -*-
"""Unit tests of the profile encodings (gzip, OpenSSL AES-256-CBC, RFC 8188 aes128gcm)."""

from __future__ import annotations

import base64
import gzip
import subprocess

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_codec import (
    KEY_ENCODINGS, MIN_KEY_BITS, ProfileCodecError, check_key, decode_profile, derive_salt, encode_profile, evp_bytes_to_key,
    gzip_compress, key_bytes, key_strength_bits, openssl_decrypt, openssl_encrypt, rfc8188_decrypt, rfc8188_encrypt,
    weak_key_problem,
)

PROFILE = b'<flat-profile>\n  <Resync_Periodic>3600</Resync_Periodic>\n</flat-profile>\n'


def b64url(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def test_rfc8188_section_3_1_known_answer():
    """RFC 8188 section 3.1: 'I am the walrus', one record, rs 4096, empty keyid."""
    out = rfc8188_encrypt(b'I am the walrus', 'yqdlZ-tYemfogSmv7Ws5PQ', key_encoding='base64url',
                          salt=b64url('I1BsxtFttlv3u_Oo94xnmw'), record_size=4096)
    assert out == b64url('I1BsxtFttlv3u_Oo94xnmwAAEAAA-NAVub2qFgBEuQKRapoZu-IxkIva3MEB1PD-ly8Thjg')
    plain, info = decode_profile(out, key='yqdlZ-tYemfogSmv7Ws5PQ', key_encoding='base64url')
    assert plain == b'I am the walrus'
    assert info == {'encryption': 'rfc8188', 'compressed': False, 'record_size': 4096, 'keyid': ''}


def test_rfc8188_section_3_2_multiple_records_decrypt():
    """RFC 8188 section 3.2: rs 25, keyid 'a1', padding in the records."""
    data = b64url('uNCkWiNYzKTnBN9ji3-qWAAAABkCYTHOG8chz_gnvgOqdGYovxyjuqRyJFjEDyoF1Fvkj6hQPdPHI51OEUKEpgz3SsLWIqS_uA')
    assert rfc8188_decrypt(data, 'BO3ZVPxUlnLORbVGMpbT1Q', 'base64url') == b'I am the walrus'
    _plain, info = decode_profile(data, 'BO3ZVPxUlnLORbVGMpbT1Q', 'base64url')
    assert info['keyid'] == 'a1' and info['record_size'] == 25


@pytest.mark.parametrize('size', [0, 1, 24, 25, 4079, 4080, 4081, 20000])
def test_rfc8188_roundtrip_record_boundaries(size):
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    for rs in (18, 25, 4096):
        enc = rfc8188_encrypt(data, 'secret', record_size=rs)
        assert rfc8188_decrypt(enc, 'secret') == data


def test_rfc8188_wrong_key_truncated_and_reordered():
    enc = rfc8188_encrypt(PROFILE * 10, 'secret', record_size=64)
    with pytest.raises(ProfileCodecError, match='failed authentication'):
        rfc8188_decrypt(enc, 'other')
    with pytest.raises(ProfileCodecError, match='truncated|authentication'):
        rfc8188_decrypt(enc[:-64], 'secret')  # a whole last record dropped
    with pytest.raises(ProfileCodecError, match='truncated'):
        rfc8188_decrypt(enc[:10], 'secret')
    with pytest.raises(ProfileCodecError, match='no key'):
        decode_profile(enc)


def test_evp_bytes_to_key_matches_openssl_known_vector():
    # openssl enc -aes-256-cbc -md md5 -k password -S 0102030405060708 -P
    key, iv = evp_bytes_to_key(b'password', bytes.fromhex('0102030405060708'))
    assert key.hex().upper() == 'E7B0971E52CA5CC8D0539FB3412F6316F7BA2E6EE293D9F3457B99436B51CE02'
    assert iv.hex().upper() == '8D450E2ED75A84A923D4EAC9FE49226B'


def test_openssl_roundtrip_and_errors():
    enc = openssl_encrypt(PROFILE, 'k3y', salt=b'12345678')
    assert enc.startswith(b'Salted__12345678') and (len(enc) - 16) % 16 == 0
    assert openssl_decrypt(enc, 'k3y') == PROFILE
    with pytest.raises(ProfileCodecError, match='padding'):
        openssl_decrypt(enc[:-16] + bytes(16), 'k3y')
    with pytest.raises(ProfileCodecError, match='truncated'):
        openssl_decrypt(enc[:-3], 'k3y')
    with pytest.raises(ProfileCodecError, match='no key'):
        decode_profile(enc)


def test_wrong_openssl_key_is_detected_or_garbage():
    """A wrong key gives bad padding (almost always) and never the plaintext."""
    enc = openssl_encrypt(PROFILE, 'right', salt=b'abcdefgh')
    try:
        plain = openssl_decrypt(enc, 'wrong')
    except ProfileCodecError as exc:
        assert 'bad decrypt' in str(exc)
    else:
        assert plain != PROFILE


def test_encode_compress_then_encrypt_order():
    enc = encode_profile(PROFILE, compress=True, encrypt='aes-256-cbc', key='k')
    inner = openssl_decrypt(enc, 'k')
    assert inner[:2] == b'\x1f\x8b'
    assert gzip.decompress(inner) == PROFILE
    plain, info = decode_profile(enc, key='k')
    assert plain == PROFILE and info == {'encryption': 'aes-256-cbc', 'compressed': True}


@pytest.mark.parametrize('encrypt', ['none', 'aes-256-cbc', 'rfc8188'])
@pytest.mark.parametrize('compress', [False, True])
def test_decode_detects_every_combination(encrypt, compress):
    key = None if encrypt == 'none' else 'phone-key'
    enc = encode_profile(PROFILE, compress=compress, encrypt=encrypt, key=key)
    plain, info = decode_profile(enc, key=key)
    assert plain == PROFILE
    assert info['encryption'] == encrypt and info['compressed'] is compress


def test_derived_salt_is_deterministic_per_key_and_content():
    a = encode_profile(PROFILE, encrypt='aes-256-cbc', key='k', salt='derive')
    assert a == encode_profile(PROFILE, encrypt='aes-256-cbc', key='k', salt='derive')
    assert a != encode_profile(PROFILE, encrypt='aes-256-cbc', key='k2', salt='derive')
    assert a != encode_profile(PROFILE + b' ', encrypt='aes-256-cbc', key='k', salt='derive')
    b = encode_profile(PROFILE, encrypt='rfc8188', key='k', salt='derive')
    assert b == encode_profile(PROFILE, encrypt='rfc8188', key='k', salt='derive')
    assert len(derive_salt('k', PROFILE, 16)) == 16
    # random salts otherwise
    assert encode_profile(PROFILE, encrypt='aes-256-cbc', key='k') != encode_profile(PROFILE, encrypt='aes-256-cbc', key='k')


def test_gzip_is_deterministic():
    assert gzip_compress(PROFILE) == gzip_compress(PROFILE)
    with pytest.raises(ProfileCodecError, match='gzip'):
        decode_profile(gzip_compress(PROFILE)[:-5])


def test_plain_and_unrecognised():
    assert decode_profile(PROFILE) == (PROFILE, {'encryption': 'none', 'compressed': False})
    with pytest.raises(ProfileCodecError, match='unrecognised'):
        decode_profile(b'\x00\x01junk')


def test_key_bytes_encodings_and_errors():
    assert key_bytes('abc') == b'abc'
    assert key_bytes('00ff', 'hex') == b'\x00\xff'
    assert key_bytes('AP8', 'base64url') == b'\x00\xff'
    for bad, enc in (('zz', 'hex'), ('', 'utf-8'), (None, 'utf-8')):
        with pytest.raises(ProfileCodecError):
            key_bytes(bad, enc)
    with pytest.raises(ProfileCodecError, match='unknown key encoding'):
        key_bytes('a', 'latin1')
    with pytest.raises(ProfileCodecError, match='unknown encryption'):
        encode_profile(PROFILE, encrypt='des')


@pytest.mark.parametrize('first', [b'<', b' ', b'\x1f\x8b'])
def test_rfc8188_salt_that_looks_like_xml_or_gzip_is_still_decrypted(first):
    """aes128gcm starts with a random salt; one starting like XML or gzip must not fool detection."""
    salt = (first + b'0123456789abcdef')[:16]
    for compress in (False, True):
        enc = encode_profile(PROFILE, compress=compress, encrypt='rfc8188', key='k', salt=salt)
        assert enc.startswith(first)
        plain, info = decode_profile(enc, key='k')
        assert plain == PROFILE and info['encryption'] == 'rfc8188' and info['compressed'] is compress


def test_plain_and_gzip_still_decode_when_a_key_is_given():
    assert decode_profile(PROFILE, key='k')[0] == PROFILE
    assert decode_profile(gzip_compress(PROFILE), key='k') == (PROFILE, {'encryption': 'none', 'compressed': True})


# Keys as operators write them: non-ASCII letters, shell and XML specials, a hex-looking passphrase.
SPECIAL_KEYS = ['Grüße-aus-Köln-€-ключ-密钥!', 'q"$B`\\\' <&>;|*?~#%^()[]{}=+ 1x', '00112233445566778899aabbccddeeff']


@pytest.mark.parametrize('key', SPECIAL_KEYS)
@pytest.mark.parametrize('key_encoding', KEY_ENCODINGS)
def test_aes_salt_is_derived_from_the_passphrase_octets_it_encrypts_with(key, key_encoding):
    """AES-256-CBC always uses the UTF-8 passphrase (key_encoding is RFC 8188's): the derived salt
    comes from those same octets, whatever key_encoding the task carries."""
    out = encode_profile(PROFILE, compress=True, encrypt='aes-256-cbc', key=key, key_encoding=key_encoding, salt='derive')
    assert out[8:16] == derive_salt(key.encode('utf-8'), gzip_compress(PROFILE), 8)
    assert out == encode_profile(PROFILE, compress=True, encrypt='aes-256-cbc', key=key, salt='derive')  # idempotent
    assert decode_profile(out, key=key) == (PROFILE, {'encryption': 'aes-256-cbc', 'compressed': True})


@pytest.mark.parametrize('key', SPECIAL_KEYS)
def test_the_phones_openssl_decrypts_profiles_with_special_keys(key):
    """What the phone runs on a ``[--key KEY]`` profile (docs/phone-facts.md): openssl enc -d -aes-256-cbc -md md5 -k KEY."""
    out = encode_profile(PROFILE, encrypt='aes-256-cbc', key=key, key_encoding='hex', salt='derive')
    run = subprocess.run(['openssl', 'enc', '-d', '-aes-256-cbc', '-md', 'md5', '-k', key.encode('utf-8')],
                         input=out, capture_output=True, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout == PROFILE


def test_rfc8188_salt_is_derived_from_the_decoded_key():
    key = '00112233445566778899aabbccddeeff'
    out = encode_profile(PROFILE, encrypt='rfc8188', key=key, key_encoding='hex', salt='derive')
    assert out[:16] == derive_salt(bytes.fromhex(key), PROFILE, 16)
    assert decode_profile(out, key=key, key_encoding='hex')[0] == PROFILE


@pytest.mark.parametrize('key, encrypt, key_encoding, bits', [
    ('00112233445566778899aabbccddeeff', 'aes-256-cbc', 'utf-8', 128),   # openssl rand -hex 16: 32 hex digits
    ('0011223344aabbcc', 'aes-256-cbc', 'utf-8', 64),
    ('12345678901234567890', 'aes-256-cbc', 'utf-8', 66.4),              # digits only: 10 symbols
    ('abcdefghijklmnopqrstuvwxyzabcd', 'aes-256-cbc', 'utf-8', 141.0),  # 30 lower-case letters
    ('Abcdefghij0123456789', 'aes-256-cbc', 'utf-8', 119.1),             # 62 symbols
    ('correct horse battery staple', 'aes-256-cbc', 'utf-8', 164.7),     # lower case and other ASCII: 59
    ('ключ', 'aes-256-cbc', 'utf-8', 28.0),                              # non-ASCII: 128 symbols
    ('00112233445566778899aabbccddeeff', 'rfc8188', 'hex', 128),         # 16 octets
    ('AAECAwQFBgcICQoLDA0ODw', 'rfc8188', 'base64url', 128),
    ('AAECAwQFBgcICQoLDA0O', 'rfc8188', 'base64url', 120),
    ('AAECAwQFBgcICQoLDA0O', 'rfc8188', 'utf-8', 119.1),                 # the text itself is the IKM
])
def test_key_strength_is_length_times_the_alphabet(key, encrypt, key_encoding, bits):
    assert key_strength_bits(key, encrypt, key_encoding) == pytest.approx(bits, abs=0.1)
    problem = weak_key_problem(key, encrypt, key_encoding)
    assert (problem is None) is (bits >= MIN_KEY_BITS)
    if problem:
        assert key not in problem and '128' in problem


def test_check_key_refuses_weak_keys_or_lets_them_pass():
    strong = 'Xy7-' * 6
    assert check_key(strong, 'aes-256-cbc', 'hex') == strong.encode('utf-8')  # a passphrase: key_encoding is not used
    assert check_key('00112233445566778899aabbccddeeff', 'rfc8188', 'hex') == bytes(range(0, 256, 17))
    with pytest.raises(ProfileCodecError, match=r'too weak .* 13 characters from an alphabet of 69 is about 79 bits, 128 needed') as error:
        check_key('sip-pass-1234', 'aes-256-cbc', 'utf-8')
    assert 'sip-pass-1234' not in str(error.value)
    assert check_key('sip-pass-1234', 'aes-256-cbc', 'utf-8', refuse_weak=False) == b'sip-pass-1234'
    with pytest.raises(ProfileCodecError, match='not valid hex'):
        check_key('not hex', 'rfc8188', 'hex', refuse_weak=False)
