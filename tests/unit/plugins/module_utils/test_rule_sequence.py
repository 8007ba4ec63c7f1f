# -*- coding: utf-8 -*-
"""Unit tests for the phone's full rule sequence: rule_condition, rule_schedule, rule_sequence, firmware_upgrade.

The sequence and firmware tests run the real emulator against a real HTTPS server on loopback
that demands the phone's client certificate (Python's ssl module) and a real dnsmasq; the
server records every request, so a test sees which rules the phone fetched and how.
"""

from __future__ import annotations

import datetime
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils import phone_emulator as pe
from ansible_collections.phoneprov.mpp.plugins.module_utils import profile_rule as pr
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_codec import encode_profile
from ansible_collections.phoneprov.mpp.plugins.module_utils import rule_condition as rc
from ansible_collections.phoneprov.mpp.plugins.module_utils import rule_schedule as rs
from ansible_collections.phoneprov.mpp.plugins.module_utils.rule_sequence import run_sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / 'integration'))
from mpp_harness import DnsServer  # noqa: E402  pylint: disable=wrong-import-position
from phone_check_helpers import AuthServer, LabPKI  # noqa: E402  pylint: disable=wrong-import-position

MA = '000e08abcdef'
OLD, NEW = 'sip88xx.11-0-1MPP', 'sip88xx.12-0-1MPP'


def table(firmware=OLD, **macros):
    return pr.macro_values(MA, 'CP-8841-3PCC', 'FCH123', True, firmware, macros)


# --------------------------------------------------------------------------- conditions

@pytest.mark.parametrize('expr, expected', [
    ('$SWVER ne sip88xx.12-0-1MPP', True),
    ('$SWVER eq sip88xx.11-0-1MPP', True),
    ('$SWVER lt sip88xx.12-0-1MPP', True),
    ('$SWVER >= sip88xx.11-0-1MPP', True),
    ('$SWVER gt sip88xx.9-3-1-7MPP', True),  # 11 > 9: parts compare as numbers, not text
    ('$SWVER le sip88xx.11-0-0MPP', False),
    ('"$CCERT" eq "Installed" and "$PN" eq "CP-8841-3PCC"', True),
    ('"$CCERT" eq "Installed" and "$PN" ne "CP-8841-3PCC"', False),
    ('"$PN" eq "CP-7841-3PCC" or "$PN" eq "CP-8841-3PCC"', True),
    ('"$PN" eq "x" and $PSN eq 8841 or $PSN lt 8000', False),  # and binds tighter than or
    ('$PSN gt 8000', True),
    ('"$EXTIP" ne ""', False),  # a macro without a value is empty in a condition
    ('! sip88xx.11-0-1MPP', False),  # legacy form: no left operand means $SWVER
    ('"$A" eq "a b"', True),
])
def test_conditions(expr, expected):
    assert rc.evaluate_condition(expr, table(A='a b')) is expected


def test_versions_compare_as_the_guide_says():
    key = rc.version_key
    assert key('sip88xx.11-0-0MPP-BN') > key('sip88xx.9-3-1-7MPP-BN')
    assert key('sip68xx.11-0-0MPP-BN') < key('sip68xx.11-0-0MN-1MPP-BN')
    assert key('sip88xx.12-0-1MPP-5') > key('sip88xx.12-0-1MPP-4')
    assert key('12.0.1') == key('sip88xx.12-0-1MPP')


@pytest.mark.parametrize('expr, message', [
    ('"a" lt "b"', 'eq or ne only'),
    ('"x" eq 1', 'only with a quoted string'),
    ('$SWVER eq', 'needs an operator'),
    ('$SWVER eq 1 xor 2', 'joined by and'),
    ('$SWVER ge 1 and', 'ends with and'),
    ('$SWVER ge vX', 'not a version number'),
])
def test_conditions_the_phone_cannot_evaluate(expr, message):
    with pytest.raises(rc.ConditionError, match=message):
        rc.evaluate_condition(expr, table())


@pytest.mark.parametrize('rule, expected', [
    ('https://p/x.xml', (None, 'https://p/x.xml', None)),
    ('( $SWVER ne sip88xx.12-0-1MPP )? https://p/$PN.loads', ('$SWVER ne sip88xx.12-0-1MPP', 'https://p/$PN.loads', None)),
    ('($SWVER ge 1.0.0)? https://p/a | https://p/b', ('$SWVER ge 1.0.0', 'https://p/a', 'https://p/b')),
    ('( "$A" eq "x)|y" )? [--key $B] https://p/a', ('"$A" eq "x)|y"', '[--key $B] https://p/a', None)),
])
def test_split_conditional_rule(rule, expected):
    assert pr.split_conditional_rule(rule) == expected


@pytest.mark.parametrize('rule', ['( $SWVER ne 1 ) https://p/x', '( $SWVER ne 1 https://p/x', '( )? https://p/x', '( 1 eq 1 )?'])
def test_split_conditional_rule_refuses(rule):
    with pytest.raises(pr.EmulatorError):
        pr.split_conditional_rule(rule)


def test_select_rule_and_scheme():
    assert rc.select_rule('( $SWVER ne %s )? https://p/fw | https://p/none' % NEW, table(NEW))[2] == 'https://p/none'
    assert rc.select_rule('( $SWVER ne %s )? https://p/fw' % NEW, table(NEW)) == ('$SWVER ne %s' % NEW, False, None)
    assert [rc.rule_scheme(rule) for rule in ('[--key x] https://p/a', 'http://p/a', 'tftp://p/a', 'p/a', '/a')] == [
        'https', 'http', 'tftp', 'tftp', 'tftp']


# --------------------------------------------------------------------------- timers

def test_delay_lists_and_random():
    delays = rs.parse_delays('1800,3600+600,\n 7200')
    assert delays == [{'delay': 1800, 'random': 0}, {'delay': 3600, 'random': 600}, {'delay': 7200, 'random': 0}]
    assert [rs.delay_for_attempt(delays, n)['delay'] for n in (1, 2, 3, 4, 9)] == [1800, 3600, 7200, 7200, 7200]
    with pytest.raises(pr.EmulatorError, match='Resync_Error_Retry_Delay'):
        rs.parse_delays('1800,soon', 'Resync_Error_Retry_Delay')


def test_schedule_after_failure_success_and_resync_at():
    now = datetime.datetime(2026, 12, 2, 5, 0)
    failed = rs.resync_schedule({'Resync_Error_Retry_Delay': '1800,3600,7200'}, True, attempt=2, now=now)
    assert failed['next_retry'] == {'delay': 3600, 'random': 0} and failed['next_periodic'] is None
    ok = rs.resync_schedule({'Resync_Periodic': '7200+600'}, False, now=now)
    assert ok['next_retry'] is None and ok['next_periodic'] == {'delay': 7200, 'random': 600}
    assert ok['retry_delays'] == [{'delay': 3600, 'random': 0}]  # the phone's default
    at = rs.resync_schedule({'Resync_At__HHmm_': '0400', 'Resync_At_Random_Delay': '600'}, False, now=now)
    assert at['next_periodic'] is None  # Resync_At wins over Resync_Periodic
    assert at['resync_at'] == {'time': '0400', 'random_delay': 600, 'window_minutes': 10, 'next': '2026-12-03T04:00'}
    assert rs.resync_schedule({'Resync_At': '2500'}, False, now=now)['resync_at'] is None  # invalid: ignored
    assert rs.resync_schedule({'Resync_Periodic': '0'}, False, now=now)['next_periodic'] is None
    assert rs.resync_schedule({'Resync_Error_Retry_Delay': '0'}, True, now=now)['next_retry'] is None


# --------------------------------------------------------------------------- the sequence over real TLS

FIRMWARE = b'\x00firmware image ' * 64


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    """An HTTPS server that requires the phone's client certificate; ``files`` path -> (status, body)."""
    base = tmp_path_factory.mktemp('rules')
    pki = LabPKI(base / 'pki')
    cert, key = pki.client(MA)
    files, seen = {}, []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            peer = self.connection.getpeercert() or {}
            seen.append({'path': self.path, 'range': self.headers.get('Range'), 'client_cert': bool(peer)})
            status, body = files.get(self.path, (404, b''))
            if status == 200 and self.headers.get('Range') == 'bytes=0-0':
                self.send_response(206)
                self.send_header('Content-Range', 'bytes 0-0/%d' % len(body))
                body = body[:1]
            else:
                self.send_response(status)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*pki.good)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(str(pki.client_ca.path))
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    dns = DnsServer(base / 'dns', {'prov.mpp.test': ['127.0.0.1']})
    emulator = pe.Emulator(ca_path=str(pki.server_ca.path), nameservers=['127.0.0.1'], dns_port=dns.port, timeout=3)
    base_url = 'https://prov.mpp.test:%d' % httpd.server_address[1]
    yield {'files': files, 'seen': seen, 'base': base_url, 'emulator': emulator, 'cert': cert, 'key': key, 'pki': pki}
    httpd.shutdown()
    httpd.server_close()
    dns.stop()


def _profile(**params):
    return ('<flat-profile>%s</flat-profile>' % ''.join(
        '<%s>%s</%s>' % (name, value.replace('&', '&amp;'), name) for name, value in params.items())).encode()


def _run(lab, path, firmware=OLD, settings=None, phone_args=None, **kwargs):
    del lab['seen'][:]
    phone = {'mac': MA, 'model': 'CP-8841-3PCC', 'firmware': firmware, 'client_cert': lab['cert'], 'client_key': lab['key']}
    phone.update(phone_args or {})
    return run_sequence(lab['emulator'], phone, {'Profile_Rule': lab['base'] + path}, settings=settings, **kwargs)


def test_profile_rule_b_is_followed_after_profile_rule(lab):
    base = lab['base']
    lab['files']['/a/%s.xml' % MA] = (200, _profile(Profile_Rule_B=base + '/b/$MA.xml', GPP_B='from-a',
                                                    Profile_Rule_C='( $SWVER lt sip88xx.10-0-0MPP )? %s/c.xml' % base,
                                                    Profile_Rule_D='tftp://tftp.mpp.test/$MA.cfg', Resync_Periodic='7200'))
    lab['files']['/b/%s.xml' % MA] = (200, _profile(Station_Name='b'))
    run = _run(lab, '/a/$MA.xml')
    assert [request['path'] for request in lab['seen']] == ['/a/%s.xml' % MA, '/b/%s.xml' % MA]
    names = [(rule['name'], rule['behavior'], rule['step']) for rule in run['rules']]
    assert names == [('Profile_Rule', 'A', 'done'), ('Profile_Rule_B', 'A', 'done'),
                     ('Profile_Rule_C', None, 'condition'), ('Profile_Rule_D', None, 'not_fetched')]
    skipped, tftp = run['rules'][2], run['rules'][3]
    assert skipped['condition'] == '$SWVER lt sip88xx.10-0-0MPP' and skipped['condition_true'] is False
    assert tftp['not_fetched'] == 'tftp' and 'not a server failure' in tftp['reason']
    assert run['first']['url'] == '%s/a/%s.xml' % (base, MA)
    assert run['sequence'] == {'behavior': 'A', 'failed_rule': None, 'reason': '2 rule(s) fetched', 'rules_fetched': 2}
    assert run['state']['Station_Name'] == 'b' and run['state']['GPP_B'] == 'from-a'
    assert run['schedule']['next_periodic'] == {'delay': 7200, 'random': 0} and run['upgrade'] is None


def test_a_failing_rule_restarts_the_sequence_with_the_listed_delay(lab):
    base = lab['base']
    lab['files']['/a2/%s.xml' % MA] = (200, _profile(Profile_Rule_B=base + '/down.xml', Profile_Rule_C=base + '/c2.xml',
                                                     Resync_Error_Retry_Delay='1800,3600,7200'))
    lab['files']['/down.xml'] = (503, b'')
    lab['files']['/c2.xml'] = (200, _profile(Station_Name='c'))
    run = _run(lab, '/a2/$MA.xml')
    assert [request['path'] for request in lab['seen']] == ['/a2/%s.xml' % MA, '/down.xml']  # C never ran
    assert run['sequence']['behavior'] == 'C' and run['sequence']['failed_rule'] == 'Profile_Rule_B'
    assert 'HTTP 503' in run['sequence']['reason']
    assert run['schedule']['next_retry'] == {'delay': 1800, 'random': 0}
    assert _run(lab, '/a2/$MA.xml', attempt=3)['schedule']['next_retry'] == {'delay': 7200, 'random': 0}
    assert _run(lab, '/a2/$MA.xml', attempt=7)['schedule']['next_retry'] == {'delay': 7200, 'random': 0}
    going_on = _run(lab, '/a2/$MA.xml', stop_on_failure=False)
    assert [rule['behavior'] for rule in going_on['rules']] == ['A', 'C', 'A']
    assert going_on['sequence']['failed_rule'] == 'Profile_Rule_B'


def test_a_later_rule_uses_its_own_options_and_the_gpp_values_a_profile_set(lab):
    """Profile_Rule_B's [--key $B --uid --pwd]: $B from GPP_B of the profile just read, not the task's key or password."""
    secret = 'key-from-gpp-b'
    body = encode_profile(_profile(Station_Name='encrypted b'), compress=True, encrypt='aes-256-cbc', key=secret)
    auth = AuthServer(*lab['pki'].good, files={'/b.xml': body}, username='phone', password='s3cret-b', scheme='basic')
    try:
        rule_b = '[--key $B --uid phone --pwd s3cret-b] https://prov.mpp.test:%d/b.xml' % auth.port
        lab['files']['/a4.xml'] = (200, _profile(GPP_B=secret, Profile_Rule_B=rule_b))
        run = _run(lab, '/a4.xml', phone_args={'key': 'task-key', 'username': 'task-user', 'password': 'task-password'})
    finally:
        auth.stop()
    rule = run['rules'][1]
    assert (rule['behavior'], rule['status'], rule['decoding']['encryption']) == ('A', 200, 'aes-256-cbc'), rule['reason']
    assert run['state']['Station_Name'] == 'encrypted b'
    assert [seen['authorization'] is not None for seen in auth.seen] == [False, True]
    assert secret in run['secrets'] and 's3cret-b' in run['secrets']


def test_first_rule_conditional_and_its_bad_input(lab):
    lab['files']['/plain.xml'] = (200, _profile(Station_Name='x'))
    rules = {'Profile_Rule': '( $SWVER eq %s )? %s/plain.xml' % (NEW, lab['base']), 'Profile_Rule_B': lab['base'] + '/plain.xml'}
    phone = {'mac': MA, 'firmware': OLD, 'client_cert': lab['cert'], 'client_key': lab['key']}
    run = run_sequence(lab['emulator'], phone, rules)
    assert run['first'] is None and run['rules'][0]['step'] == 'condition'
    assert run['rules'][1]['behavior'] == 'A'
    with pytest.raises(pr.EmulatorError, match='TFTP'):
        run_sequence(lab['emulator'], phone, {'Profile_Rule': 'prov.mpp.test/$MA.xml'})
    with pytest.raises(rc.ConditionError):
        run_sequence(lab['emulator'], phone, {'Profile_Rule': '( "$PN" lt "x" )? %s/plain.xml' % lab['base']})


def test_a_later_rule_the_phone_cannot_use_is_reported(lab):
    lab['files']['/a3.xml'] = (200, _profile(Profile_Rule_B='https://prov.mpp.test/$SN.xml'))
    run = _run(lab, '/a3.xml')
    assert run['rules'][1]['step'] == 'input' and '$SN' in run['rules'][1]['reason']
    assert run['sequence']['behavior'] == 'A'


# --------------------------------------------------------------------------- Upgrade_Rule

def _upgrade_profile(lab, **extra):
    params = {'Upgrade_Rule': '( $SWVER ne %s )? %s/fw/$PN-12-0-1.loads' % (NEW, lab['base']),
              'Upgrade_Error_Retry_Delay': '600,1200'}
    params.update(extra)
    lab['files']['/up.xml'] = (200, _profile(**params))
    lab['files']['/fw/CP-8841-3PCC-12-0-1.loads'] = (200, FIRMWARE)


def test_a_phone_on_the_old_version_starts_the_upgrade(lab):
    _upgrade_profile(lab)
    upgrade = _run(lab, '/up.xml')['upgrade']
    assert upgrade['condition_true'] is True and upgrade['would_start'] is True
    assert upgrade['status'] == 206 and upgrade['size'] == len(FIRMWARE)
    assert upgrade['url'] == '%s/fw/CP-8841-3PCC-12-0-1.loads' % lab['base']
    assert lab['seen'][-1] == {'path': '/fw/CP-8841-3PCC-12-0-1.loads', 'range': 'bytes=0-0', 'client_cert': True}
    assert upgrade['retry_delays'] == [{'delay': 600, 'random': 0}, {'delay': 1200, 'random': 0}]


def test_a_phone_on_the_new_version_does_not_upgrade(lab):
    _upgrade_profile(lab)
    upgrade = _run(lab, '/up.xml', firmware=NEW)['upgrade']
    assert upgrade['condition_true'] is False and upgrade['would_start'] is False and upgrade['status'] is None
    assert [request['path'] for request in lab['seen']] == ['/up.xml']


def test_upgrade_disabled_missing_file_and_tftp(lab):
    _upgrade_profile(lab, Upgrade_Enable='No')
    disabled = _run(lab, '/up.xml')
    assert disabled['upgrade']['would_start'] is False and 'Upgrade_Enable is No' in disabled['upgrade']['reason']
    assert len(lab['seen']) == 1
    _upgrade_profile(lab, Upgrade_Rule=lab['base'] + '/fw/missing.loads')
    missing = _run(lab, '/up.xml')['upgrade']
    assert missing['status'] == 404 and missing['would_start'] is False
    assert missing['next_retry'] == {'delay': 600, 'random': 0}
    _upgrade_profile(lab, Upgrade_Rule='tftp://tftp.mpp.test/fw.loads')
    tftp = _run(lab, '/up.xml')['upgrade']
    assert tftp['not_fetched'] == 'tftp' and tftp['would_start'] is None
    # The phone's own settings hold an Upgrade_Rule when no profile sets one.
    lab['files']['/plain2.xml'] = (200, _profile(Station_Name='x'))
    from_settings = _run(lab, '/plain2.xml', settings={'Upgrade_Rule': lab['base'] + '/fw/CP-8841-3PCC-12-0-1.loads'})
    assert from_settings['upgrade']['would_start'] is True
    assert _run(lab, '/plain2.xml', upgrade=False)['upgrade'] is None
