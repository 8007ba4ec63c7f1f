# -*- coding: utf-8 -*-
"""phone_check follows the phone's whole rule sequence and its Upgrade_Rule, against the REAL nginx of the role.

One deployment of the provisioning_server role (provisioning_server_helpers.running_server) and a
real dnsmasq; one playbook run. Each phone's own profile (``/cfg/$MA.xml``, readable only with its
client certificate) sets ``Profile_Rule_B`` to a shared file, a conditional ``Profile_Rule_C`` and a
TFTP ``Profile_Rule_D``, and an ``Upgrade_Rule`` to a firmware file in the role's shared
directory. nginx's access log is the judge of what was fetched and over which certificate.
"""

from __future__ import annotations

import pytest

from mpp_harness import DnsServer, playbook_text, run_playbook
from provisioning_server_helpers import make_pki, running_server

OLD_PHONE, NEW_PHONE, BROKEN_PHONE = '000e08000201', '000e08000202', '000e08000203'
PHONES = tuple({'mac': mac, 'model': 'CP-8841-3PCC', 'serial': 'FCH%07d' % index}
               for index, mac in enumerate((OLD_PHONE, NEW_PHONE, BROKEN_PHONE)))
OLD, NEW = 'sip88xx.11-0-1MPP', 'sip88xx.12-0-1MPP'
FIRMWARE_FILE = 'fw/CP-8841-3PCC-12-0-1.loads'
FIRMWARE = 'not really firmware, but 48 bytes of a file....\n'
PROFILE = '''<flat-profile>
  <Resync_Periodic>7200</Resync_Periodic>
  <Resync_Error_Retry_Delay>1800,3600,7200</Resync_Error_Retry_Delay>
  <Profile_Rule_B>{base}/shared/{rule_b}</Profile_Rule_B>
  <Profile_Rule_C>( $SWVER lt sip88xx.10-0-0MPP )? {base}/shared/never.xml</Profile_Rule_C>
  <Profile_Rule_D>tftp://tftp.mpp.test/$MA.cfg</Profile_Rule_D>
  <Upgrade_Enable>Yes</Upgrade_Enable>
  <Upgrade_Error_Retry_Delay>600</Upgrade_Error_Retry_Delay>
  <Upgrade_Rule>( $SWVER ne {new} )? {base}/shared/fw/$PN-12-0-1.loads</Upgrade_Rule>
</flat-profile>
'''
COMMON = '<flat-profile>\n  <Station_Display_Name>common</Station_Display_Name>\n</flat-profile>\n'
TASKS = [
    {'name': name, 'phoneprov.mpp.phone_check': {
        'url': '{{ base }}/cfg/$MA.xml', 'mac': mac, 'firmware': firmware,
        'client_cert': "{{ certs['%s'].cert }}" % mac, 'client_key': "{{ certs['%s'].key }}" % mac,
        'ca_path': '{{ ca }}', 'nameservers': ['127.0.0.1'], 'dns_port': '{{ ns }}', 'timeout': 20, 'expect': 'A'}}
    for name, mac, firmware in (('old', OLD_PHONE, OLD), ('new', NEW_PHONE, NEW), ('broken', BROKEN_PHONE, NEW))]
# The phone's own Profile_Rule is conditional and false: skipped; its Profile_Rule_B (an option) still runs.
TASKS.append({'name': 'skipped', 'phoneprov.mpp.phone_check': dict(
    TASKS[1]['phoneprov.mpp.phone_check'], url='( $SWVER lt %s )? {{ base }}/cfg/$MA.xml' % OLD,
    profile_rule_b='{{ base }}/shared/common.xml', expect='any')})


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """Deploy once, run the three phones in one playbook; yields (PlaybookResult, server)."""
    base = tmp_path_factory.mktemp('sequence')
    pki = make_pki(base / 'pki', phones=PHONES)
    dns = DnsServer(base / 'dns', {'prov.mpp.test': ['127.0.0.1']})
    try:
        with running_server(base / 'server', pki=pki) as server:
            url = 'https://prov.mpp.test:%d' % server.port
            for mac, rule_b in ((OLD_PHONE, 'common.xml'), (NEW_PHONE, 'common.xml'), (BROKEN_PHONE, 'missing.xml')):
                server.write_profile(mac, PROFILE.format(base=url, rule_b=rule_b, new=NEW))
            server.write_shared('common.xml', COMMON)
            server.write_shared(FIRMWARE_FILE, FIRMWARE)
            extra = {'base': url, 'ca': pki.server_ca, 'ns': dns.port,
                     'certs': dict((p['mac'], {'cert': p['cert'], 'key': p['key']}) for p in pki.phones)}
            result = run_playbook(base / 'play', playbook_text(TASKS, name='rule sequence'), extra_vars=extra)
            yield result, server, url
    finally:
        dns.stop()


def test_profile_rule_b_is_followed_after_profile_rule(run):
    result, server, url = run
    assert result.rc == 0, result.stdout[-3000:]
    old = result.task('old')
    # Today's top-level fields are Profile_Rule's own.
    assert (old['behavior'], old['status'], old['url']) == ('A', 200, '%s/cfg/%s.xml' % (url, OLD_PHONE))
    rules = [(rule['name'], rule['behavior'], rule['step'], rule['status']) for rule in old['rules']]
    assert rules == [('Profile_Rule', 'A', 'done', 200), ('Profile_Rule_B', 'A', 'done', 200),
                     ('Profile_Rule_C', None, 'condition', None), ('Profile_Rule_D', None, 'not_fetched', None)]
    assert old['rules'][1]['url'] == url + '/shared/common.xml'
    assert old['rules'][2]['condition_true'] is False
    assert old['rules'][3]['not_fetched'] == 'tftp'
    assert old['sequence']['behavior'] == 'A' and old['schedule']['next_periodic'] == {'delay': 7200, 'random': 0}
    fetched = [(line['request'], line['status']) for line in server.log_lines() if line['mac'] == OLD_PHONE]
    assert fetched[:2] == [('/cfg/%s.xml' % OLD_PHONE, 200), ('/shared/common.xml', 200)]
    assert not [line for line in server.log_lines() if 'never.xml' in line['request']]


def test_old_firmware_starts_the_upgrade_over_its_client_certificate(run):
    result, server, url = run
    upgrade = result.task('old')['upgrade']
    assert upgrade['condition_true'] is True and upgrade['would_start'] is True, upgrade
    assert (upgrade['status'], upgrade['size']) == (206, len(FIRMWARE))
    assert upgrade['url'] == '%s/shared/%s' % (url, FIRMWARE_FILE)
    logged = [line for line in server.log_lines() if line['request'] == '/shared/' + FIRMWARE_FILE]
    assert [(line['mac'], line['status'], line['client_verify']) for line in logged] == [(OLD_PHONE, 206, 'SUCCESS')]


def test_new_firmware_does_not_upgrade(run):
    result = run[0]
    new = result.task('new')
    assert new['upgrade']['condition_true'] is False and new['upgrade']['would_start'] is False
    assert new['upgrade']['status'] is None and 'condition false' in new['upgrade']['reason']


def test_a_failing_rule_restarts_the_sequence_after_the_listed_delay(run):
    result, server, _url = run
    broken = result.task('broken')
    assert broken['behavior'] == 'A'  # Profile_Rule itself: the task's expect holds
    assert [rule['name'] for rule in broken['rules']] == ['Profile_Rule', 'Profile_Rule_B']  # C, D never run
    assert (broken['rules'][1]['behavior'], broken['rules'][1]['status']) == ('B', 404)
    assert broken['sequence']['failed_rule'] == 'Profile_Rule_B' and broken['sequence']['behavior'] == 'B'
    assert broken['schedule']['next_retry'] == {'delay': 1800, 'random': 0}
    assert [d['delay'] for d in broken['schedule']['retry_delays']] == [1800, 3600, 7200]
    assert [(line['request'], line['status']) for line in server.log_lines() if line['mac'] == BROKEN_PHONE][:2] == [
        ('/cfg/%s.xml' % BROKEN_PHONE, 200), ('/shared/missing.xml', 404)]


def test_a_false_condition_skips_the_phones_own_profile_rule(run):
    skipped = run[0].task('skipped')
    assert (skipped['behavior'], skipped['status'], skipped['step']) == (None, None, 'condition')
    assert skipped['reason'].startswith('Profile_Rule not fetched: condition false')
    assert [(rule['name'], rule['behavior']) for rule in skipped['rules']] == [('Profile_Rule', None), ('Profile_Rule_B', 'A')]
    assert skipped['upgrade'] is None  # no profile was read that sets Upgrade_Rule
