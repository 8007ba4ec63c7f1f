# -*- coding: utf-8 -*-
"""module_utils/dns_check against real dnsmasq servers on 127.0.0.1 (no mocked resolver)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils.dns_check import (
    DNSCheckError, check_addresses, normalize_address, resolve_addresses, sort_addresses)

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / 'integration'))
from cndns_helpers import DnsLab, SilentDns  # noqa: E402  pylint: disable=wrong-import-position

RECORDS = {
    'prov.mpp.test': ['127.0.0.1'],
    'farm.mpp.test': ['192.0.2.10', '192.0.2.11', '2001:db8::10'],
    'six.mpp.test': ['2001:db8::1'],
    'four.mpp.test': ['192.0.2.4'],
}


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    server = DnsLab(tmp_path_factory.mktemp('dnslab'), RECORDS, empty_names=('txtonly.mpp.test',))
    yield server
    server.stop()


def resolve(lab, name, **kwargs):
    return resolve_addresses(name, nameservers=[lab.address], port=lab.port, timeout=kwargs.pop('timeout', 3), **kwargs)


def test_resolves_a_and_aaaa_sorted(lab):
    assert resolve(lab, 'farm.mpp.test') == ['192.0.2.10', '192.0.2.11', '2001:db8::10']
    assert resolve(lab, 'FARM.mpp.test.') == ['192.0.2.10', '192.0.2.11', '2001:db8::10']


def test_only_aaaa_or_only_a_is_not_an_empty_answer(lab):
    assert resolve(lab, 'six.mpp.test') == ['2001:db8::1']
    assert resolve(lab, 'four.mpp.test') == ['192.0.2.4']


def test_nxdomain(lab):
    with pytest.raises(DNSCheckError) as info:
        resolve(lab, 'nothere.mpp.test')
    assert info.value.kind == 'NXDOMAIN'
    assert 'nothere.mpp.test does not exist' in str(info.value)
    assert 'port %d' % lab.port in str(info.value)


def test_empty_answer_is_noanswer(lab):
    with pytest.raises(DNSCheckError) as info:
        resolve(lab, 'txtonly.mpp.test')
    assert info.value.kind == 'NOANSWER'
    assert 'no A or AAAA record' in str(info.value)


def test_servfail_from_real_dnsmasq(lab):
    with pytest.raises(DNSCheckError) as info:
        resolve(lab, 'broken.sf')
    assert info.value.kind == 'SERVFAIL'
    assert 'SERVFAIL' in str(info.value)
    # the judge: dnsmasq itself says it answered SERVFAIL because validation failed
    assert 'validation broken.sf is BOGUS' in lab.log()


def test_timeout_is_bounded():
    silent = SilentDns()
    try:
        start = time.monotonic()
        with pytest.raises(DNSCheckError) as info:
            resolve_addresses('prov.mpp.test', nameservers=['127.0.0.1'], port=silent.port, timeout=1.0)
        elapsed = time.monotonic() - start
    finally:
        silent.close()
    assert info.value.kind == 'TIMEOUT'
    assert 'within 1.0 seconds' in str(info.value)
    assert elapsed < 3.0  # one deadline for both A and AAAA, not one each plus retries


def test_bad_nameserver_is_config_error():
    with pytest.raises(DNSCheckError) as info:
        resolve_addresses('prov.mpp.test', nameservers=['dns.example.net'])
    assert info.value.kind == 'CONFIG'
    assert "'dns.example.net' is not an IP address" in str(info.value)


def test_check_match(lab):
    result = check_addresses('prov.mpp.test', ['127.0.0.1'], nameservers=[lab.address], port=lab.port, timeout=3)
    assert result['ok'] is True
    assert result['missing_addresses'] == []
    assert result['resolved_addresses'] == ['127.0.0.1']
    assert result['dns_error'] is None


def test_check_scale_out_one_server_missing(lab):
    expected = ['192.0.2.10', '192.0.2.11', '192.0.2.12', '2001:0db8:0:0::10']
    result = check_addresses('farm.mpp.test', expected, nameservers=[lab.address], port=lab.port, timeout=3)
    assert result['ok'] is False
    assert result['missing_addresses'] == ['192.0.2.12']
    assert result['expected_addresses'] == ['192.0.2.10', '192.0.2.11', '192.0.2.12', '2001:db8::10']


def test_check_reports_dns_failure_without_raising(lab):
    result = check_addresses('nothere.mpp.test', '127.0.0.1', nameservers=[lab.address], port=lab.port, timeout=3)
    assert result['ok'] is False
    assert result['dns_error'] == 'NXDOMAIN'
    assert result['missing_addresses'] == ['127.0.0.1']
    assert 'does not exist' in result['dns_error_msg']


def test_check_without_expected_only_needs_an_answer(lab):
    assert check_addresses('six.mpp.test', [], nameservers=[lab.address], port=lab.port)['ok'] is True


def test_check_rejects_non_address():
    with pytest.raises(ValueError, match="'prov.mpp.test' is not an IPv4 or IPv6 address"):
        check_addresses('prov.mpp.test', ['prov.mpp.test'])


@pytest.mark.parametrize('given, normal', [
    ('2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'),
    ('::ffff:192.0.2.1', '192.0.2.1'),
    ('fe80::1%eth0', 'fe80::1'),
    ('[::1]', '::1'),
    (' 192.0.2.1 ', '192.0.2.1'),
])
def test_normalize_address(given, normal):
    assert normalize_address(given) == normal


def test_sort_addresses_ipv4_first_numeric_dedup():
    assert sort_addresses(['::1', '192.0.2.10', '192.0.2.9', '192.0.2.9', '0::1']) == ['192.0.2.9', '192.0.2.10', '::1']


def test_invalid_name_is_config_error():
    with pytest.raises(DNSCheckError) as info:
        resolve_addresses('%s.mpp.test' % ('a' * 64), nameservers=['127.0.0.1'], port=9, timeout=1)
    assert info.value.kind == 'CONFIG'
    assert 'is not a DNS name' in str(info.value)


def test_system_resolver_is_used_without_nameservers():
    # /etc/resolv.conf of this machine is not under test control: only check the failure is named,
    # never a traceback (an unreachable or absent resolver gives one of the kinds).
    # .invalid never resolves (RFC 6761).
    with pytest.raises(DNSCheckError) as info:
        resolve_addresses('nothere.invalid', timeout=1)
    assert info.value.kind in ('NXDOMAIN', 'SERVFAIL', 'TIMEOUT', 'NOANSWER', 'CONFIG')
