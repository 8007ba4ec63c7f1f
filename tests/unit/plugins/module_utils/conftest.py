# -*- coding: utf-8 -*-
"""Fixtures of the crypto backend tests (test_pki*.py): a lab root and a server certificate."""

from __future__ import annotations

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
