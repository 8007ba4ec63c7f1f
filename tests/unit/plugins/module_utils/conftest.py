# -*- coding: utf-8 -*-
"""Fixtures of the crypto backend tests (test_pki*.py): a lab root and a server certificate."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils import pki, pki_csr, pki_lab


@pytest.fixture(scope='module')
def ca():
    key = pki.generate_private_key('ecc', curve='P-256')
    return pki_lab.create_ca_certificate(key, {'O': 'unit', 'CN': 'Unit Root'}), key


@pytest.fixture(scope='module')
def server(ca):
    key = pki.generate_private_key('ecc')
    csr = pki_csr.build_csr(key, {'CN': 'pv.example.net/mailto:x@example.net', 'O': 'Ex'}, ['DNS:pv.example.net'])
    return pki_lab.sign_csr(csr, ca[0], ca[1]), key, csr


@pytest.fixture(scope='session')
def realworld():
    """shared/realworld beside the clone (CI: ../shared) or beside the main checkout of this git worktree."""
    repo = Path(__file__).resolve().parents[4]
    candidates = [repo.parent / 'shared' / 'realworld']
    if (repo / '.git').is_file():  # a worktree: .git names <main checkout>/.git/worktrees/<name>
        candidates.append(Path((repo / '.git').read_text().split(':', 1)[1].strip()).parents[3] / 'shared' / 'realworld')
    found = next((path for path in candidates if path.is_dir()), None)
    if found is None:
        pytest.skip('the real-world files (shared/realworld beside the repository) are absent')
    return found
