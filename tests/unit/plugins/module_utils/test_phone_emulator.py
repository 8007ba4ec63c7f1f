# -*- coding: utf-8 -*-
"""Unit tests for module_utils/phone_emulator: the resync engine's flows.

The flow tests use a real TLS server (Python's ssl module over loopback) and the real
DNS check against a dnsmasq started here; no part of the emulator is mocked. Macros and rule
options are tested in test_profile_rule.py, authentication headers in test_http_auth.py,
redaction and fleet summaries in test_resync_report.py.
"""

from __future__ import annotations

import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ansible_collections.phoneprov.mpp.plugins.module_utils import phone_emulator as pe
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_codec import encode_profile

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / 'integration'))
from mpp_harness import DnsServer, free_port  # noqa: E402  pylint: disable=wrong-import-position
from phone_check_helpers import LabPKI  # noqa: E402  pylint: disable=wrong-import-position

MAC = '00:0E:08:AB:CD:EF'


def test_user_agent():
    assert pe.user_agent('CP-8841-3PCC', '11.0', '00-56-2B-04-36-15') == 'Cisco-CP-8841-3PCC/11.0 (00562b043615)'


# --------------------------------------------------------------------------- flows over real TLS

DNS_RECORDS = {'prov.mpp.test': ['127.0.0.1'], 'other.mpp.test': ['127.0.0.2']}


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
    dns = DnsServer(base / 'dns', DNS_RECORDS)
    yield {'pki': pki, 'files': files, 'port': httpd.server_address[1], 'dns_port': dns.port, 'dns': dns}
    httpd.shutdown()
    httpd.server_close()
    dns.stop()


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
    lab['dns'].set_records({'prov.mpp.test': ['127.0.0.2']})
    try:
        result = _emulator(lab).resync(_url(lab, '/x', host='127.0.0.1'), MAC)
    finally:
        lab['dns'].set_records(DNS_RECORDS)
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
    result = _emulator(lab).resync('https://prov.mpp.test:%d/x' % free_port(), MAC)
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
