# -*- coding: utf-8 -*-
"""Helpers for the PKI module tests: tasks built from Python data (for mpp_harness.playbook_text), file snapshots, openssl."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path


def task(name, module, args, **extra):
    """One task calling ``phoneprov.mpp.<module>`` with ``args``; ``extra`` adds keywords (register...)."""
    item = {'name': name, (module if '.' in module else 'phoneprov.mpp.' + module): args}
    item.update(extra)
    return item


def refusal(name, module, args):
    """A task expected to fail; the play goes on so one run checks many refusals."""
    return task(name, module, args, ignore_errors=True)


def snapshot(*paths):
    """{path: (sha256, mtime_ns, mode)} or None for a missing file, to prove nothing changed."""
    out = {}
    for path in paths:
        path = str(path)
        if os.path.exists(path):
            st = os.stat(path)
            out[path] = (hashlib.sha256(Path(path).read_bytes()).hexdigest(), st.st_mtime_ns, st.st_mode & 0o7777)
        else:
            out[path] = None
    return out


def mode_of(path):
    return os.stat(str(path)).st_mode & 0o7777


def ossl(*args, check=True, input=None):
    """Run the real openssl; returns CompletedProcess (text)."""
    return subprocess.run(['openssl'] + [str(a) for a in args], capture_output=True, text=True,
                          check=check, timeout=120, input=input)


def _colon_sha256(der):
    """SHA-256 of ``der`` as colon-separated lower-case hex; not pki.colon_hex, so the judge is independent of the code it judges."""
    digest = hashlib.sha256(der).hexdigest()
    return ':'.join(digest[i:i + 2] for i in range(0, len(digest), 2))


def pubkey_sha256(key_path, passphrase=None):
    """SHA-256 of the DER public key as openssl extracts it, colon-separated lower-case hex."""
    cmd = ['openssl', 'pkey', '-in', str(key_path), '-pubout', '-outform', 'DER']
    if passphrase:
        cmd += ['-passin', 'pass:%s' % passphrase]
    return _colon_sha256(subprocess.run(cmd, capture_output=True, check=True, timeout=60).stdout)


def cert_pubkey_sha256(cert_path):
    """SHA-256 of the DER public key of a certificate (openssl as the judge)."""
    pem = subprocess.run(['openssl', 'x509', '-in', str(cert_path), '-noout', '-pubkey'],
                         capture_output=True, check=True, timeout=60).stdout
    der = subprocess.run(['openssl', 'pkey', '-pubin', '-outform', 'DER'], input=pem,
                         capture_output=True, check=True, timeout=60).stdout
    return _colon_sha256(der)


def subject_rfc2253(cert_path):
    """``openssl x509 -subject -nameopt RFC2253`` without the ``subject=`` prefix."""
    out = ossl('x509', '-in', cert_path, '-noout', '-subject', '-nameopt', 'RFC2253').stdout.strip()
    return out.split('=', 1)[1] if out.startswith('subject=') else out


def ext_text(cert_or_csr_path, ext, req=False):
    """Text openssl prints for extension(s) ``ext`` (e.g. 'subjectAltName,extendedKeyUsage')."""
    if req:  # openssl req has no -ext: the "Requested Extensions" part of -text
        text = ossl('req', '-in', cert_or_csr_path, '-noout', '-text').stdout
        return text.split('Requested Extensions:', 1)[1].split('Signature Algorithm', 1)[0] \
            if 'Requested Extensions:' in text else ''
    return ossl('x509', '-in', cert_or_csr_path, '-noout', '-ext', ext).stdout


HOST_MOUNTS = ('/proc', '/sys', '/dev', '/run')


def pem_private_keys_and_needles(root, needles):
    """(files under ``root`` that are PEM private keys, files holding one of ``needles``), as paths inside ``root``."""
    keys, holding = [], []
    for dirpath, dirs, files in os.walk(root):
        inside = '/' + os.path.relpath(dirpath, root).lstrip('.')
        dirs[:] = [name for name in dirs if os.path.join(inside, name).replace('//', '/') not in HOST_MOUNTS]
        for name in files:
            path = os.path.join(dirpath, name)
            if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > 50 << 20:
                continue
            with open(path, 'rb') as handle:
                data = handle.read()
            where = path[len(str(root)):]
            if data.lstrip().startswith(b'-----BEGIN') and b'PRIVATE KEY-----' in data:
                keys.append(where)
            if any(needle in data for needle in needles):
                holding.append(where)
    return sorted(keys), holding
