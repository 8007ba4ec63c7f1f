# -*- coding: utf-8 -*-
"""Unit tests for module_utils/phone_emulator: macros, rule options, auth headers, flows.

The flow tests use a real TLS server (Python's ssl module over loopback) and the real
DNS check against a dnsmasq started here; no part of the emulator is mocked.
"""

from __future__ import annotations

import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils import phone_emulator as pe
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_codec import encode_profile

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / 'integration'))
from phone_check_helpers import LabPKI  # noqa: E402  pylint: disable=wrong-import-position

MAC = '00:0E:08:AB:CD:EF'


def values(**kwargs):
    args = dict(mac=MAC, model='CP-8841-3PCC', serial='FCH123', client_cert_installed=True, firmware='12.0.1')
    args.update(kwargs)
    return pe.macro_values(**args)


@pytest.mark.parametrize('text, expected', [
    ('/cfg/$MA.xml', '/cfg/000e08abcdef.xml'),
    ('/cfg/$MAU.xml', '/cfg/000E08ABCDEF.xml'),
    ('/cfg/$MAC', '/cfg/00:0e:08:ab:cd:ef'),
    ('/$PN/$PSN/$SN', '/CP-8841-3PCC/8841/FCH123'),
    ('/$(MA)x', '/000e08abcdefx'),
    ('/$MAfoo', '/000e08abcdeffoo'),
    ('/c=$CCERT', '/c=Installed'),
    ('/v$SWVER', '/v12.0.1'),
    ('/a$$b', '/a$b'),
    ('/$ZZ', '/$ZZ'),
])
def test_macros(text, expected):
    assert pe.expand_macros(text, values()) == expected


def test_url_expansion_percent_encodes_values():
    table = values(client_cert_installed=False, macros={'A': 'a b?c#d%'})
    assert pe.expand_macros('/x?c=$CCERT&a=$A', table, url=True) == '/x?c=Not%20Installed&a=a%20b%3Fc%23d%25'
    assert pe.expand_macros('/$MAC', table, url=True) == '/00:0e:08:ab:cd:ef'


def test_ccert_not_installed_and_gpp():
    table = values(client_cert_installed=False, macros={'B': 'k', 'GPP_C': 'c', 'ip': '192.0.2.1'})
    assert pe.expand_macros('$CCERT/$B/$C/$IP', table) == 'Not Installed/k/c/192.0.2.1'


@pytest.mark.parametrize('text, missing', [('$SN', 'serial'), ('$B', "macros: {B"), ('$HWVER', 'HWVER')])
def test_macro_without_value_names_it(text, missing):
    table = values(serial=None)
    with pytest.raises(pe.EmulatorError, match=r'\$%s' % text[1:]) as info:
        pe.expand_macros(text, table)
    assert missing in str(info.value)


def test_macros_refuse_bad_input():
    with pytest.raises(pe.EmulatorError, match='invalid MAC'):
        values(mac='00:11')
    with pytest.raises(pe.EmulatorError, match='unknown macro'):
        values(macros={'Q': 'x'})
    with pytest.raises(pe.EmulatorError, match='cannot be set'):
        values(macros={'MA': 'x'})


@pytest.mark.parametrize('rule, options, url', [
    ('https://p.example.net/$MA.xml', {}, 'https://p.example.net/$MA.xml'),
    ('[--key "$B"] https://p.example.net/$MA.cfg', {'key': '$B'}, 'https://p.example.net/$MA.cfg'),
    ("[--key 'a b]c'] https://p/x", {'key': 'a b]c'}, 'https://p/x'),
    ('[--key secret --uid u --pwd "p w"]https://p/x', {'key': 'secret', 'uid': 'u', 'pwd': 'p w'}, 'https://p/x'),
    ('  [ --alias b ]  http://p/x ', {'alias': 'b'}, 'http://p/x'),
])
def test_rule_options(rule, options, url):
    assert pe.parse_profile_rule(rule) == (options, url)


@pytest.mark.parametrize('rule, message', [
    ('', 'empty'),
    ('[--key x https://p/x', 'not closed'),
    ('[--bogus x] https://p/x', "'--bogus' is not one the phone knows"),
    ('[--key] https://p/x', 'needs a value'),
    ('[--key x]', 'no URL'),
    ('[--key "x] https://p/x', 'not closed'),
])
def test_rule_errors(rule, message):
    with pytest.raises(pe.EmulatorError, match=message.replace('[', r'\[')):
        pe.parse_profile_rule(rule)


@pytest.mark.parametrize('url, expected', [
    ('https://p.example.net/a/b.xml?x=1', ('https', 'p.example.net', 443, '/a/b.xml?x=1')),
    ('http://p.example.net:8080', ('http', 'p.example.net', 8080, '/')),
    ('https://[::1]:4443/x', ('https', '::1', 4443, '/x')),
])
def test_parse_url(url, expected):
    assert pe.parse_url(url) == expected


@pytest.mark.parametrize('url, message', [
    ('p.example.net/x.xml', 'TFTP'), ('tftp://p/x', 'not supported'), ('https:///x', 'no host'),
    ('https://p:99999/x', 'invalid port')])
def test_parse_url_errors(url, message):
    with pytest.raises(pe.EmulatorError, match=message):
        pe.parse_url(url)


def test_user_agent():
    assert pe.user_agent('CP-8841-3PCC', '11.0', '00-56-2B-04-36-15') == 'Cisco-CP-8841-3PCC/11.0 (00562b043615)'


def test_parse_challenges():
    got = pe.parse_challenges(['Digest realm="a, b", qop="auth,auth-int", nonce="n\\"1", algorithm=MD5',
                               'Basic realm="x"'])
    assert got == [('digest', {'realm': 'a, b', 'qop': 'auth,auth-int', 'nonce': 'n"1', 'algorithm': 'MD5'}),
                   ('basic', {'realm': 'x'})]


def test_digest_rfc2617_example():
    # The worked example of RFC 2617 section 3.5.
    params = {'realm': 'testrealm@host.com', 'qop': 'auth,auth-int', 'nonce': 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
              'opaque': '5ccc069c403ebaf9f0171e9517f40e41'}
    header = pe.digest_authorization(params, 'GET', '/dir/index.html', 'Mufasa', 'Circle Of Life', nc=1,
                                     cnonce='0a4f113b')
    assert 'response="6629fae49393a05397450978507c4ef1"' in header
    assert 'qop=auth, nc=00000001, cnonce="0a4f113b"' in header
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in header


def test_digest_sha256_rfc7616_example():
    # RFC 7616 section 3.9.1 (SHA-256).
    params = {'realm': 'http-auth@example.org', 'qop': 'auth, auth-int', 'algorithm': 'SHA-256',
              'nonce': '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', 'opaque': 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS'}
    header = pe.digest_authorization(params, 'GET', '/dir/index.html', 'Mufasa', 'Circle of Life', nc=1,
                                     cnonce='f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ')
    assert 'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"' in header


def test_authorization_prefers_digest_and_refuses_unknown():
    challenges = [('basic', {'realm': 'x'}), ('digest', {'realm': 'x', 'nonce': 'n'})]
    assert pe.authorization_for(challenges, 'GET', '/', 'u', 'p')[0] == 'Digest'
    assert pe.authorization_for([('basic', {})], 'GET', '/', 'u', 'p') == ('Basic', 'Basic dTpw')
    assert pe.authorization_for([('negotiate', {})], 'GET', '/', 'u', 'p') == (None, None)
    with pytest.raises(pe.EmulatorError, match='SHA-512-256'):
        pe.digest_authorization({'algorithm': 'SHA-512-256'}, 'GET', '/', 'u', 'p')


def test_redact_and_filter():
    params = {'Password_1_': 'pw', 'User_ID_1_': '1001', 'GPP_B': 'k', 'IKM_HTTP_Encrypt_Content': 'x', 'Empty_Pwd': ''}
    assert pe.redact_parameters(params) == {'Password_1_': '********', 'User_ID_1_': '1001', 'GPP_B': '********',
                                            'IKM_HTTP_Encrypt_Content': '********', 'Empty_Pwd': ''}
    assert pe.redact_parameters(params, [], ['User_ID_1_', 'GPP_B']) == {'User_ID_1_': '1001', 'GPP_B': 'k'}


def test_summarize_groups_by_reason():
    results = [{'mac': 'a', 'behavior': 'A', 'reason': 'ok'}, {'mac': 'b', 'behavior': 'B', 'reason': '404'},
               {'mac': 'c', 'behavior': 'A', 'reason': 'ok'}]
    summary = pe.summarize(results)
    assert (summary['total'], summary['A'], summary['B'], summary['C']) == (3, 2, 1, 0)
    assert summary['by_reason'][0] == {'behavior': 'A', 'reason': 'ok', 'count': 2, 'macs': ['a', 'c']}
    assert summary['lines'] == ['A x2: ok (a, c)', 'B x1: 404 (b)']


# --------------------------------------------------------------------------- flows over real TLS

DNSMASQ = shutil.which('dnsmasq') or '/usr/sbin/dnsmasq'


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    """A TLS server with the lab server certificate, dnsmasq naming prov.mpp.test, the PKI."""
    base = tmp_path_factory.mktemp('emu')
    pki = LabPKI(base / 'pki')
    files = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            status, headers, body = files.get(self.path, (404, {}, b''))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            files.setdefault('_seen', []).append(dict(self.headers))

    httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*pki.good)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    dns_port = _free_port()
    hosts = base / 'hosts'
    hosts.write_text('127.0.0.1 prov.mpp.test\n127.0.0.2 other.mpp.test\n')
    dns = subprocess.Popen([DNSMASQ, '--keep-in-foreground', '--no-resolv', '--no-hosts', '--bind-interfaces',
                            '--listen-address=127.0.0.1', '--port=%d' % dns_port, '--addn-hosts=%s' % hosts,
                            '--pid-file=', '--user=root', '--group=root', '--local=/test/'],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:  # dnsmasq answers on TCP too: wait until it listens
        try:
            socket.create_connection(('127.0.0.1', dns_port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or dns.poll() is not None:
                raise RuntimeError('dnsmasq did not start on port %d' % dns_port)
            time.sleep(0.05)
    yield {'pki': pki, 'files': files, 'port': httpd.server_address[1], 'dns_port': dns_port, 'hosts': hosts,
           'dns': dns}
    httpd.shutdown()
    httpd.server_close()
    dns.terminate()
    dns.wait(timeout=5)


def _emulator(lab, **kwargs):
    args = dict(ca_path=str(lab['pki'].server_ca.path), nameservers=['127.0.0.1'], dns_port=lab['dns_port'], timeout=3)
    args.update(kwargs)
    return pe.Emulator(**args)


def _url(lab, path, host='prov.mpp.test'):
    return 'https://%s:%d%s' % (host, lab['port'], path)


PROFILE = b'<flat-profile><Resync_Periodic>600</Resync_Periodic><GPP_B>k</GPP_B></flat-profile>'


@pytest.mark.parametrize('body, key, encoding', [
    (PROFILE, None, {'encryption': 'none', 'compressed': False}),
    (encode_profile(PROFILE, compress=True), None, {'encryption': 'none', 'compressed': True}),
    (encode_profile(PROFILE, compress=True, encrypt='aes-256-cbc', key='s3'), 's3',
     {'encryption': 'aes-256-cbc', 'compressed': True}),
])
def test_flow_200_decodes_and_parses(lab, body, key, encoding):
    lab['files']['/cfg/000e08abcdef.xml'] = (200, {}, body)
    rule = '[--key s3] ' + _url(lab, '/cfg/$MA.xml') if key else _url(lab, '/cfg/$MA.xml')
    result = _emulator(lab).resync(rule, MAC)
    assert (result['behavior'], result['status'], result['step']) == ('A', 200, 'done'), result['reason']
    assert result['parameters'] == {'Resync_Periodic': '600', 'GPP_B': 'k'}
    assert result['decoding'] == encoding
    assert (result['next_try_parameter'], result['next_try_value']) == ('Resync_Periodic', '600')
    assert (result['fqdn'], result['peer_address'], result['dns_ok']) == ('prov.mpp.test', '127.0.0.1', True)
    assert result['tls']['common_name'] == LabPKI.CN
    assert lab['files']['_seen'][-1]['User-Agent'] == 'Cisco-CP-8841-3PCC/12.0.1 (000e08abcdef)'


@pytest.mark.parametrize('status, body, behavior, reason', [
    (404, b'', 'B', 'HTTP 404'),
    (200, b'<flat-profile><unclosed></flat-profile>', 'B', 'does not parse'),
    (200, b'Salted__12345678' + b'x' * 32, 'B', 'cannot be decoded'),
    (503, b'', 'C', 'HTTP 503'),
    (403, b'', 'C', 'HTTP 403'),
    (400, b'', 'C', 'HTTP 400'),
    (303, b'', 'C', 'HTTP 303'),
    (401, b'', 'C', 'none were given'),
])
def test_flow_classification(lab, status, body, behavior, reason):
    lab['files']['/cls.xml'] = (status, {}, body)
    result = _emulator(lab).resync(_url(lab, '/cls.xml'), MAC)
    assert result['behavior'] == behavior
    assert reason in result['reason']
    assert result['next_try_parameter'] == ('Resync_Periodic' if behavior == 'A' else 'Resync_Error_Retry_Delay')


def test_flow_404_with_resync_fails_on_fnf_off_is_a(lab):
    result = _emulator(lab).resync(_url(lab, '/nothing.xml'), MAC, resync_fails_on_fnf=False)
    assert result['behavior'] == 'A' and 'Resync_Fails_On_FNF' in result['reason']


def test_flow_redirect_relative_and_missing_location(lab):
    lab['files']['/r1'] = (302, {'Location': '/r2'}, b'')
    lab['files']['/r2'] = (301, {'Location': _url(lab, '/final.xml')}, b'')
    lab['files']['/final.xml'] = (200, {}, PROFILE)
    lab['files']['/nolocation'] = (301, {}, b'')
    result = _emulator(lab).resync(_url(lab, '/r1'), MAC)
    assert result['behavior'] == 'A' and result['url'].endswith('/final.xml')
    assert [r['status'] for r in result['redirects']] == [302, 301]
    result = _emulator(lab).resync(_url(lab, '/nolocation'), MAC)
    assert result['behavior'] == 'C' and 'Location' in result['reason']


def test_flow_tls_and_dns_failures(lab, tmp_path):
    # untrusted: the server CA is not in ca_path (only the other CA is)
    result = _emulator(lab, ca_path=str(lab['pki'].other_ca.path)).resync(_url(lab, '/x'), MAC)
    assert (result['behavior'], result['step']) == ('C', 'tls') and 'unable to get local issuer' in result['reason']
    # the connected address is not among the CN FQDN's addresses: DNS names only 127.0.0.2
    lab['hosts'].write_text('127.0.0.2 prov.mpp.test\n')
    lab['dns'].send_signal(signal.SIGHUP)
    time.sleep(0.3)
    try:
        result = _emulator(lab).resync(_url(lab, '/x', host='127.0.0.1'), MAC)
    finally:
        lab['hosts'].write_text('127.0.0.1 prov.mpp.test\n127.0.0.2 other.mpp.test\n')
        lab['dns'].send_signal(signal.SIGHUP)
        time.sleep(0.3)
    assert (result['step'], result['dns_ok'], result['status']) == ('dns_check', False, None)
    assert result['dns_addresses'] == ['127.0.0.2']
    assert result['reason'] == ('DNS check failed: the server address 127.0.0.1 is not among the addresses of the '
                                'CN FQDN prov.mpp.test (127.0.0.2)')
    # the address option: connect there although the URL host resolves elsewhere; DNS check still applies
    result = _emulator(lab, address='127.0.0.1').resync(_url(lab, '/x', host='other.mpp.test'), MAC)
    assert (result['step'], result['peer_address'], result['dns_ok']) == ('http', '127.0.0.1', True)
    # URL host that does not exist
    result = _emulator(lab).resync(_url(lab, '/x', host='nowhere.mpp.test'), MAC)
    assert result['step'] == 'resolve' and 'NXDOMAIN' in result['reason']
    # nothing listening
    result = _emulator(lab).resync('https://prov.mpp.test:%d/x' % _free_port(), MAC)
    assert result['step'] == 'connect' and result['behavior'] == 'C'


def test_bad_input_raises_before_traffic(lab, tmp_path):
    emu = _emulator(lab)
    with pytest.raises(pe.EmulatorError, match=r'\$SN'):
        emu.resync(_url(lab, '/$SN.xml'), MAC)
    with pytest.raises(pe.EmulatorError, match='client certificate .* does not exist'):
        emu.resync(_url(lab, '/x'), MAC, client_cert=str(tmp_path / '$MA.crt'))
    with pytest.raises(pe.EmulatorError, match='ca_path is required'):
        pe.Emulator(ca_path=None).resync('https://127.0.0.1:1/x', MAC)
    bad = tmp_path / 'bad.pem'
    bad.write_text('not a certificate')
    with pytest.raises(pe.EmulatorError, match='cannot be loaded'):
        pe.Emulator(ca_path=str(bad)).resync('https://127.0.0.1:1/x', MAC)


def test_dns_answers_are_cached_per_emulator(lab):
    emu = _emulator(lab)
    lab['files']['/c.xml'] = (200, {}, PROFILE)
    for _attempt in range(3):
        assert emu.resync(_url(lab, '/c.xml'), MAC)['behavior'] == 'A'
    assert list(emu._dns_cache) == ['prov.mpp.test']  # pylint: disable=protected-access


def test_flow_ccert_macro_reaches_the_server_encoded(lab):
    lab['files']['/ccert/Not%20Installed/000E08ABCDEF.xml'] = (200, {}, PROFILE)
    result = _emulator(lab).resync(_url(lab, '/ccert/$CCERT/$MAU.xml'), MAC)
    assert result['behavior'] == 'A', result['reason']
    assert result['url'].endswith('/ccert/Not%20Installed/000E08ABCDEF.xml')
