# -*- coding: utf-8 -*-
"""Unit tests of the lab CA's constraints: path length 0, DNS name constraints from the server FQDN(s) (issue 13)."""

from __future__ import annotations

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils import pki, pki_chain, pki_csr, pki_lab
from ansible_collections.phoneprov.mpp.plugins.module_utils.pki_lab import ca_constraints_outdated, default_permitted_dns

from cryptography import x509


def test_default_permitted_dns_is_the_domain_of_each_server_fqdn():
    assert default_permitted_dns(['prov.mpp.test']) == ['mpp.test']
    assert default_permitted_dns(['pv.lab.example.net', 'pv2.lab.example.net', 'PV.other.test.']) == ['lab.example.net', 'other.test']
    assert default_permitted_dns(['example.net']) == ['example.net']  # two labels: the name itself, never a whole TLD
    assert default_permitted_dns([]) == []


def test_ca_has_path_length_zero_and_name_constraints():
    key = pki.generate_private_key('ecc')
    cert = pki_lab.create_ca_certificate(key, {'CN': 'Lab Root'}, path_length=0, permitted_dns=['mpp.test'])
    assert pki_chain.basic_constraints(cert) == (True, 0)
    constraints = cert.extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical is True
    assert pki_chain.dns_constraints(cert) == (['mpp.test'], [])
    assert not ca_constraints_outdated(cert, ['mpp.test'])
    assert ca_constraints_outdated(cert, ['other.test'])
    # a CA made by an older version: no path length, no name constraints
    old = pki_lab.create_ca_certificate(key, {'CN': 'Old Lab Root'})
    assert ca_constraints_outdated(old, None) and ca_constraints_outdated(old, ['mpp.test'])


def test_lab_signing_refuses_a_csr_outside_the_name_constraints():
    ca_key = pki.generate_private_key('ecc')
    ca = pki_lab.create_ca_certificate(ca_key, {'CN': 'Lab Root'}, path_length=0, permitted_dns=['mpp.test'])
    key = pki.generate_private_key('ecc')
    inside = pki_csr.build_csr(key, {'CN': 'prov.mpp.test/mailto:x@mpp.test'}, ['DNS:prov.mpp.test'])
    cert = pki_lab.sign_csr(inside, ca, ca_key)
    assert pki_chain.verify_chain(cert, [], [ca], 'prov.mpp.test')[0] == cert
    outside = pki_csr.build_csr(key, {'CN': 'prov.example.net'}, ['DNS:prov.example.net'])
    with pytest.raises(pki.PKIError, match=r'the DNS name prov.example.net lies outside the name constraints of CN=Lab Root \(permitted: mpp.test\)'):
        pki_lab.sign_csr(outside, ca, ca_key)
    cn_only = pki_csr.build_csr(key, {'CN': 'prov.example.net/x'}, [])
    with pytest.raises(pki.PKIError, match='the DNS name prov.example.net lies outside'):
        pki_lab.sign_csr(cn_only, ca, ca_key)
