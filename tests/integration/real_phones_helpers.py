# -*- coding: utf-8 -*-
"""What tests of real phones' certificates and profiles share: the real-world files, MIC and SHA-1 clients.

The real files (phone dumps, peers' templates, Cisco CA certificates) are not part of the
project: they sit in ``shared/realworld`` beside the clone (in CI a copy of ``shared/`` is at
``../shared`` relative to the repository root), or beside the main checkout of a git worktree.
Tests read them from there and skip, naming the reason, when they are absent.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from xml.dom import minidom
from xml.parsers.expat import ExpatError

import pytest

from mpp_harness import REPO, openssl

JINJA2_CONSTRUCT = re.compile(rb'\{[{%#]')


def realworld_dir():
    """The directory of the real-world files, or None."""
    candidates = [REPO.parent / 'shared' / 'realworld']
    if (REPO / '.git').is_file():  # a worktree: .git names <main checkout>/.git/worktrees/<name>
        candidates.append(Path((REPO / '.git').read_text().split(':', 1)[1].strip()).parents[3] / 'shared' / 'realworld')
    return next((path for path in candidates if path.is_dir()), None)


def require_realworld():
    found = realworld_dir()
    if found is None:
        pytest.skip('the real-world files (shared/realworld beside the repository root) are absent')
    return found


def leaf_elements(data):
    """The number of leaf elements below the root, counted by xml.dom.minidom (not the collection's parser), or None."""
    try:
        document = minidom.parseString(data)
    except ExpatError:
        return None
    elements = document.documentElement.getElementsByTagName('*')
    return sum(1 for node in elements if not any(child.nodeType == child.ELEMENT_NODE for child in node.childNodes))


def profile_files(directory):
    """Every real profile (``*.xml``) below ``directory``: ``[(relative name, bytes)]``, sorted."""
    return [(str(path.relative_to(directory)), path.read_bytes()) for path in sorted(directory.rglob('*.xml'))]


def pushable_dumps(directory):
    """The real profiles a phone would read as they are: well-formed and without a Jinja2 construct."""
    return [(name, data) for name, data in profile_files(directory)
            if leaf_elements(data) is not None and not JINJA2_CONSTRUCT.search(data)]


def mint_root(directory, name='Lab Root CA 2048 (no path length)'):
    """A root CA without a path length, made with openssl: the lab CA's roots have path length 0
    and cannot stand for Cisco's root with its Manufacturing CA below. Returns (cert, key)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / 'root.crt', directory / 'root.key'
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', str(key), '-out', str(cert), '-days', '2',
            '-subj', '/O=Lab/CN=%s' % name, '-addext', 'basicConstraints=critical,CA:true',
            '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
    os.chmod(str(key), 0o600)
    return str(cert), str(key)


def mint_sha1_chain(directory, ca_cert, ca_key, subject):
    """A client whose intermediate CA is signed with SHA-1 by ``ca_cert`` (like Cisco Manufacturing CA).

    The cryptography library refuses to sign with SHA-1, so openssl does. Returns ``cert`` (the
    leaf, SHA-256 by the intermediate, as a phone sends it), ``key``, ``intermediate`` and
    ``chain`` (leaf and intermediate in one PEM file).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca_ext = directory / 'ca.ext'
    ca_ext.write_text('basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n')
    leaf_ext = directory / 'leaf.ext'
    leaf_ext.write_text('basicConstraints=CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n')
    files = {}
    for name, subj, issuer, digest, ext in (('sha1-ca', '/O=Lab/CN=Lab Manufacturing CA (SHA-1)', (ca_cert, ca_key), 'sha1', ca_ext),
                                            ('sha1-leaf', subject, None, 'sha256', leaf_ext)):
        key, csr, cert = (directory / ('%s.%s' % (name, suffix)) for suffix in ('key', 'csr', 'crt'))
        openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', str(key),
                '-out', str(csr), '-subj', subj)
        issuer = issuer or (files['sha1-ca']['cert'], files['sha1-ca']['key'])
        openssl('x509', '-req', '-in', str(csr), '-CA', str(issuer[0]), '-CAkey', str(issuer[1]), '-CAcreateserial',
                '-out', str(cert), '-days', '2', '-%s' % digest, '-extfile', str(ext))
        os.chmod(str(key), 0o600)
        files[name] = {'cert': str(cert), 'key': str(key)}
    chain = directory / 'sha1-chain.crt'
    chain.write_bytes(Path(files['sha1-leaf']['cert']).read_bytes() + Path(files['sha1-ca']['cert']).read_bytes())
    return {'cert': files['sha1-leaf']['cert'], 'key': files['sha1-leaf']['key'], 'intermediate': files['sha1-ca']['cert'],
            'chain': str(chain)}
