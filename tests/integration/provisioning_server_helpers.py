# -*- coding: utf-8 -*-
"""Drive the one system nginx through the ``phoneprov.mpp.provisioning_server`` role in tests.

Several test modules (this area's and engineer "phonecheck"'s) use the machine's single system
nginx (``/etc/nginx``, ``service nginx ...``). Everything here serialises on an exclusive
``fcntl.flock`` on ``/tmp/mpp-system-nginx.lock``.

API (import from a test module in tests/integration: ``from provisioning_server_helpers import ...``)

``system_nginx_lock(timeout=900)``
    Context manager: holds the exclusive lock while the block runs (waits for it up to ``timeout``
    seconds, then raises TimeoutError).

``make_pki(directory, fqdn='prov.mpp.test', phones=DEFAULT_PHONES, use_lab_ca=None)`` -> ``PhonePKI``
    Phone-like PKI from the collection's ``lab_ca`` module (openssl CLI where lab_ca cannot
    express a subject, or for everything with ``use_lab_ca=False``): a server CA (stand-in for Cisco's server
    root) and a server certificate for ``fqdn`` (SAN DNS:fqdn, IP:127.0.0.1), a phone client
    root CA, one client certificate per phone (``OU``=model, ``L``=serial, ``ST``=MAC as given),
    the generic pre-2.0 certificate (``OU=cisco.com, L=ciscogeneric, ST=ciscogeneric``) and a
    client certificate from a CA the server does not trust.
    ``PhonePKI`` attributes: ``server_ca``, ``server_cert``, ``server_key``, ``client_ca``,
    ``phones`` (list of dicts mac/model/serial/cert/key, ``mac`` as written in the subject),
    ``generic`` and ``untrusted`` (dicts cert/key), ``phone(mac)`` -> that phone's dict.

``running_server(workdir, pki=None, port=None, extra_vars=None, profiles=None)``
    Context manager yielding a ``ProvisioningServer``: takes the lock, makes a PKI when none is
    given, deploys the role on localhost (``mpp_server_listen_address`` 127.0.0.1, a free high
    port, docroot and shared dir in a fresh world-readable directory under /tmp, JSON access
    log in ``workdir``), writes ``profiles`` ({mac: text}) into the docroot, and on exit stops
    nginx, removes the role's site and releases the lock. Raises AssertionError with the
    playbook output when the deployment fails.

``ProvisioningServer``
    ``.port``, ``.fqdn``, ``.pki``, ``.docroot``, ``.shared_dir``, ``.access_log``,
    ``.vars`` (the role variables used), ``.url(path)`` (``https://<fqdn>:<port><path>``),
    ``.profile_url(mac)``, ``.deploy(extra_vars=None, check=False, diff=False)`` ->
    PlaybookResult (runs the role again with ``.vars`` updated by ``extra_vars``),
    ``.deploy_trial(extra_vars)`` (one run with them, ``.vars`` unchanged),
    ``.write_profile(mac, text)``, ``.write_shared(name, text)``,
    ``.curl(path, client=None, method='GET', raw_path=False, user_agent=...)`` -> ``CurlResult`` (``.status`` (0 when no HTTP
    answer), ``.headers`` (dict, lower-case names), ``.body``, ``.rc``, ``.stderr``);
    ``client`` is a phone's MAC (as in ``make_pki``), ``'generic'``, ``'untrusted'``, a dict
    with cert/key, or None for no client certificate. ``.log_lines()`` -> parsed JSON access
    log lines.

``sign_client_cert(pki, name, subject)`` -> dict cert/key: a client certificate with any subject
(openssl ``-subj`` form, ``/OU=x``, two ``ST``...) signed by the PKI's client CA.
``make_crl(pki, path, revoked=(), days=7)`` writes a PEM CRL of the client CA revoking the
certificates ``revoked`` (paths), made with cryptography; returns ``path``.

``remove_site(site_name)`` removes a site of the role; with the last one, the role's http-level file.
``role_sites()`` -> paths of the role's site files in /etc/nginx.

``nginx_pids()`` -> (master pid or None, sorted list of worker pids)
``stop_system_nginx()`` stops the system nginx (``service nginx stop``, then the pid file).
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from mpp_harness import REPO, free_port, openssl, playbook_text, run_playbook, stop_process

SYSTEM_NGINX_LOCK = '/tmp/mpp-system-nginx.lock'
NGINX_PID_FILE = '/run/nginx.pid'
SITE_NAME = 'phoneprov-mpp'
# What the role writes: the first line of its site files, its http-level file (Debian and conf.d names).
SITE_MARKER = '# phoneprov.mpp provisioning_server site '
HTTP_CONF_GLOB = '/etc/nginx/conf.d/*phoneprov-mpp-http.conf'
DEFAULT_PHONES = (
    {'mac': '000e08abcdef', 'model': 'CP-8841-3PCC', 'serial': 'FCH1234ABCD'},
    {'mac': '00562b043615', 'model': 'CP-7841-3PCC', 'serial': 'FCH5678EFGH'},
)

ROLE_PLAY = playbook_text(None, name='Provisioning server under test', gather_facts=True, gather_subset=['min'],
                          roles=[{'role': 'phoneprov.mpp.provisioning_server'}])


@contextlib.contextmanager
def system_nginx_lock(timeout=900):
    """Hold the exclusive lock on the system nginx for the duration of the block."""
    handle = open(SYSTEM_NGINX_LOCK, 'a+')  # pylint: disable=consider-using-with
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError('system nginx lock %s still held after %ss' % (SYSTEM_NGINX_LOCK, timeout))
                time.sleep(0.2)
        yield
    finally:
        try:
            fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            handle.close()


class PhonePKI(object):
    """Paths of the test PKI's files (see make_pki)."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.server_ca = None
        self.server_cert = None
        self.server_key = None
        self.client_ca = None
        self.phones = []
        self.generic = None
        self.untrusted = None

    def phone(self, mac):
        for phone in self.phones:
            if phone['mac'] == mac:
                return phone
        raise KeyError('no phone %r in the test PKI' % (mac,))


def _ca(directory, name, subject):
    key = directory / ('%s.key' % name)
    cert = directory / ('%s.crt' % name)
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', str(key), '-out', str(cert),
            '-days', '30', '-subj', subject, '-addext', 'basicConstraints=critical,CA:true',
            '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
    return cert, key


def _signed(directory, name, subject, ca, extensions):
    key = directory / ('%s.key' % name)
    csr = directory / ('%s.csr' % name)
    cert = directory / ('%s.crt' % name)
    ext = directory / ('%s.ext' % name)
    ext.write_text(extensions)
    openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', str(key), '-out', str(csr), '-subj', subject)
    openssl('x509', '-req', '-in', str(csr), '-CA', str(ca[0]), '-CAkey', str(ca[1]), '-CAcreateserial',
            '-out', str(cert), '-days', '30', '-extfile', str(ext))
    os.chmod(str(key), 0o600)
    return {'cert': str(cert), 'key': str(key)}


CLIENT_EXT = 'basicConstraints=CA:false\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n'


LAB_CA_PLAY = playbook_text("""
- name: Server CA and server certificate
  phoneprov.mpp.lab_ca:
    path: "{{ dir }}/ca"
    csr_path: "{{ dir }}/server.csr"
    cert_path: "{{ dir }}/server.crt"
- name: Phone client certificates
  phoneprov.mpp.lab_ca:
    path: "{{ dir }}/ca"
    clients: "{{ phones }}"
    client_dir: "{{ dir }}/phones"
- name: Generic pre-2.0 certificate
  phoneprov.mpp.lab_ca:
    path: "{{ dir }}/ca"
    client: {generic: true}
    cert_path: "{{ dir }}/generic.crt"
    key_path: "{{ dir }}/generic.key"
- name: Client certificate from a CA the server does not trust
  phoneprov.mpp.lab_ca:
    path: "{{ dir }}/rogue-ca"
    client: "{{ phones[0] }}"
    cert_path: "{{ dir }}/untrusted.crt"
    key_path: "{{ dir }}/untrusted.key"
""", name='Test PKI from phoneprov.mpp.lab_ca')


def _is_ma(mac):
    return len(mac) == 12 and all(char in '0123456789abcdef' for char in mac)


def make_pki(directory, fqdn='prov.mpp.test', phones=DEFAULT_PHONES, use_lab_ca=None):
    """Build the test PKI into ``directory``; returns a PhonePKI.

    With the collection's ``lab_ca`` module (default when plugins/modules/lab_ca.py exists) the
    CAs, server certificate, phones (MAC in ``$MA`` form), generic and untrusted certificates come
    from it; phones whose MAC is spelled otherwise (upper case, colons) are signed by its client
    CA with the openssl CLI so that their ``ST`` keeps that spelling. Without it, all openssl.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if use_lab_ca is None:
        use_lab_ca = (REPO / 'plugins' / 'modules' / 'lab_ca.py').exists()
    if not use_lab_ca:
        return _make_pki_openssl(directory, fqdn, phones)
    pki = PhonePKI(directory)
    key = directory / 'server.key'
    openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', str(key), '-out', str(directory / 'server.csr'),
            '-subj', '/CN=%s' % fqdn, '-addext', 'subjectAltName=DNS:%s,IP:127.0.0.1' % fqdn)
    os.chmod(str(key), 0o600)
    (directory / 'phones').mkdir(exist_ok=True)
    lab_phones = [dict((k, v) for k, v in phone.items() if k in ('mac', 'model', 'serial'))
                  for phone in phones if _is_ma(phone['mac'])]
    result = run_playbook(directory / 'lab-ca-run', LAB_CA_PLAY, extra_vars={'dir': str(directory), 'phones': lab_phones})
    if result.rc != 0:
        raise AssertionError('lab_ca failed:\n%s\n%s' % (result.stdout[-4000:], result.stderr[-2000:]))
    ca_dir = directory / 'ca'
    pki.server_ca, pki.server_cert, pki.server_key = str(ca_dir / 'server-ca.crt'), str(directory / 'server.crt'), str(key)
    pki.client_ca = str(ca_dir / 'client-ca.crt')
    client_ca = (ca_dir / 'client-ca.crt', ca_dir / 'client-ca.key')
    for index, phone in enumerate(phones):
        entry = dict(phone)
        if _is_ma(phone['mac']):
            entry.update({'cert': str(directory / 'phones' / ('%s.crt' % phone['mac'])),
                          'key': str(directory / 'phones' / ('%s.key' % phone['mac']))})
        else:
            subject = '/OU=%s/L=%s/ST=%s' % (phone.get('model', 'CP-8841-3PCC'), phone.get('serial', 'SN%04d' % index), phone['mac'])
            entry.update(_signed(directory, 'phone%d' % index, subject, client_ca, CLIENT_EXT))
        pki.phones.append(entry)
    pki.generic = {'cert': str(directory / 'generic.crt'), 'key': str(directory / 'generic.key')}
    pki.untrusted = {'cert': str(directory / 'untrusted.crt'), 'key': str(directory / 'untrusted.key')}
    return pki


def _make_pki_openssl(directory, fqdn, phones):
    """The same PKI with the openssl CLI only."""
    pki = PhonePKI(directory)
    server_ca = _ca(directory, 'server-ca', '/O=Lab/CN=Lab Server CA Root')
    client_ca = _ca(directory, 'client-ca', '/O=Lab/CN=Lab Multiplatform Phone CA Client Root')
    rogue_ca = _ca(directory, 'rogue-ca', '/O=Rogue/CN=Rogue Client CA')
    server = _signed(directory, 'server', '/CN=%s' % fqdn, server_ca,
                     'basicConstraints=CA:false\nkeyUsage=critical,digitalSignature,keyEncipherment\n'
                     'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s,IP:127.0.0.1\n' % fqdn)
    pki.server_ca, pki.server_cert, pki.server_key = str(server_ca[0]), server['cert'], server['key']
    pki.client_ca = str(client_ca[0])
    for index, phone in enumerate(phones):
        subject = '/CN=%s/OU=%s/L=%s/ST=%s' % (phone.get('model', 'CP-8841-3PCC'), phone.get('model', 'CP-8841-3PCC'),
                                               phone.get('serial', 'SN%04d' % index), phone['mac'])
        files = _signed(directory, 'phone%d' % index, subject, client_ca, CLIENT_EXT)
        entry = dict(phone)
        entry.update(files)
        pki.phones.append(entry)
    pki.generic = _signed(directory, 'generic', '/OU=cisco.com/L=ciscogeneric/ST=ciscogeneric', client_ca, CLIENT_EXT)
    pki.untrusted = _signed(directory, 'untrusted', '/OU=CP-8841-3PCC/L=FCH0000ROGUE/ST=%s' % phones[0]['mac'],
                            rogue_ca, CLIENT_EXT)
    return pki


def _client_ca_files(pki):
    cert = Path(pki.client_ca)
    return cert, cert.with_suffix('.key')


def sign_client_cert(pki, name, subject):
    """A client certificate with ``subject`` (openssl -subj form) signed by the PKI's client CA."""
    return _signed(pki.directory, name, subject, _client_ca_files(pki), CLIENT_EXT)


def make_crl(pki, path, revoked=(), days=7):
    """Write a PEM CRL of the client CA revoking the certificates at the paths ``revoked``; return ``path``."""
    ca_cert_path, ca_key_path = _client_ca_files(pki)
    ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
               .last_update(now - datetime.timedelta(minutes=5)).next_update(now + datetime.timedelta(days=days))
               .add_extension(x509.CRLNumber(1), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    for cert_path in revoked:
        serial = x509.load_pem_x509_certificate(Path(cert_path).read_bytes()).serial_number
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now - datetime.timedelta(minutes=1)).build())
    crl = builder.sign(ca_key, hashes.SHA256())
    Path(path).write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    os.chmod(str(path), 0o644)
    return str(path)


class CurlResult(object):
    """One real curl request's outcome."""

    def __init__(self, proc, headers_file, body_file):
        self.rc = proc.returncode
        self.stderr = proc.stderr
        self.status = int(proc.stdout.strip() or 0)
        self.body = body_file.read_bytes() if body_file.exists() else b''
        self.headers = {}
        if headers_file.exists():
            for line in headers_file.read_text(errors='replace').splitlines():
                name, sep, value = line.partition(':')
                if sep and not line.startswith('HTTP/'):
                    self.headers[name.strip().lower()] = value.strip()

    def __repr__(self):
        return 'CurlResult(status=%s, rc=%s, stderr=%r)' % (self.status, self.rc, self.stderr[-300:])


def nginx_pids():
    """(master pid or None, sorted worker pids) of the system nginx."""
    try:
        master = int(Path(NGINX_PID_FILE).read_text().strip())
        os.kill(master, 0)
    except (OSError, ValueError):
        return None, []
    workers = []
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / 'stat').read_text()
            cmdline = (entry / 'cmdline').read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(')', 1)[1].split()[1])
        if ppid == master and b'nginx: worker' in cmdline:
            workers.append(int(entry.name))
    return master, sorted(workers)


def stop_system_nginx():
    """Stop the system nginx: the init script first, then the master's pid if still alive."""
    subprocess.run(['service', 'nginx', 'stop'], capture_output=True, check=False, timeout=60)
    stop_process(nginx_pids()[0])


def role_sites():
    """Paths of the site files of the role in /etc/nginx (by the marker line the role writes)."""
    found = []
    for path in glob.glob('/etc/nginx/sites-available/*.conf') + glob.glob('/etc/nginx/conf.d/*.conf'):
        try:
            with open(path, errors='replace') as handle:
                if any(line.startswith(SITE_MARKER) for line in handle):
                    found.append(path)
        except OSError:
            continue
    return found


def remove_site(site_name=SITE_NAME):
    """Remove the role's site files from /etc/nginx (Debian and conf.d layouts).

    With the last site of the role the role's http-level file goes too (and its backups), so
    that sites written by older versions of the role (each with its own maps and log format)
    pass ``nginx -t`` again.
    """
    for path in ('/etc/nginx/sites-enabled/%s.conf' % site_name, '/etc/nginx/sites-available/%s.conf' % site_name,
                 '/etc/nginx/conf.d/%s.conf' % site_name):
        if os.path.lexists(path):
            os.unlink(path)
    for backup in glob.glob('/etc/nginx/sites-available/%s.conf.*~' % site_name) + glob.glob('/etc/nginx/conf.d/%s.conf.*~' % site_name):
        os.unlink(backup)
    shutil.rmtree('/etc/nginx/%s' % site_name, ignore_errors=True)
    if not role_sites():
        for path in glob.glob(HTTP_CONF_GLOB) + glob.glob(HTTP_CONF_GLOB + '.*~'):
            os.unlink(path)


class ProvisioningServer(object):
    """The role deployed on the system nginx, with the test's PKI and files."""

    def __init__(self, workdir, pki, port, extra_vars=None):
        self.workdir = Path(workdir)
        self.pki = pki
        self.port = port
        self.fqdn = 'prov.mpp.test'
        # nginx workers run as www-data: the served tree must be readable by them.
        self.root = Path(tempfile.mkdtemp(prefix='mpp-server-', dir='/tmp'))
        os.chmod(str(self.root), 0o755)
        self.docroot = self.root / 'profiles'
        self.shared_dir = self.root / 'shared'
        self.access_log = self.workdir / 'logs' / 'mpp-access.log'
        self.vars = {
            'mpp_server_fqdn': self.fqdn,
            'mpp_server_listen_address': '127.0.0.1',
            'mpp_server_port': port,
            'mpp_server_cert_path': pki.server_cert,
            'mpp_server_key_path': pki.server_key,
            'mpp_server_client_ca': pki.client_ca,
            'mpp_server_docroot': str(self.docroot),
            'mpp_server_shared_dir': str(self.shared_dir),
            'mpp_server_access_log': str(self.access_log),
            'mpp_server_error_log': str(self.workdir / 'logs' / 'mpp-error.log'),
            'mpp_server_install': False,
        }
        self.vars.update(extra_vars or {})
        self._runs = 0

    def deploy(self, extra_vars=None, check=False, diff=False):
        """Run the role with ``self.vars`` (updated by ``extra_vars``) and return the PlaybookResult."""
        if extra_vars:
            self.vars.update(extra_vars)
        self._runs += 1
        return run_playbook(self.workdir / ('run%d' % self._runs), ROLE_PLAY, extra_vars=self.vars,
                            check=check, diff=diff)

    def deploy_trial(self, extra_vars):
        """Run the role once with ``extra_vars`` on top of ``self.vars``, which stay as they were; the PlaybookResult."""
        saved = dict(self.vars)
        try:
            return self.deploy(extra_vars)
        finally:
            self.vars.clear()
            self.vars.update(saved)

    def url(self, path):
        return 'https://%s:%d%s' % (self.fqdn, self.port, path)

    def profile_url(self, mac):
        return self.url('%s%s.xml' % (self.vars.get('mpp_server_url_path', '/cfg/'), mac))

    def write_profile(self, mac, text):
        path = self.docroot / ('%s.xml' % mac)
        path.write_text(text)
        os.chmod(str(path), 0o644)
        return path

    def write_shared(self, name, text):
        path = self.shared_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.chmod(str(path), 0o644)
        return path

    def _client(self, client):
        if client is None:
            return None
        if isinstance(client, dict):
            return client
        if client == 'generic':
            return self.pki.generic
        if client == 'untrusted':
            return self.pki.untrusted
        return self.pki.phone(client)

    def curl(self, path, client=None, method='GET', raw_path=False, timeout=20, user_agent='Cisco-CP-8841-3PCC/12.0.1 (test)'):
        """One request with real curl; ``path`` is sent as is when ``raw_path`` (no dot-segment squashing)."""
        tag = '%d' % time.monotonic_ns()
        headers_file = self.workdir / ('h-%s' % tag)
        body_file = self.workdir / ('b-%s' % tag)
        cmd = ['curl', '-sS', '-o', str(body_file), '-D', str(headers_file), '-w', '%{http_code}',
               '--max-time', str(timeout), '--cacert', self.pki.server_ca,
               '--resolve', '%s:%d:127.0.0.1' % (self.fqdn, self.port), '-X', method,
               '-A', user_agent]
        if raw_path:
            cmd.append('--path-as-is')
        files = self._client(client)
        if files:
            cmd += ['--cert', files['cert'], '--key', files['key']]
        cmd.append(self.url(path))
        logged_before = self._access_log_size()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 10, check=False)
        result = CurlResult(proc, headers_file, body_file)
        if result.status:
            self._wait_for_access_log(logged_before)
        return result

    def _access_log_size(self):
        try:
            return self.access_log.stat().st_size
        except FileNotFoundError:
            return 0

    def _wait_for_access_log(self, size_before, limit=5.0):
        # nginx writes the log line in its log phase, after the last byte of the response went
        # out: curl can return before it. A request that got an answer is logged; wait for it.
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            data = self.access_log.read_bytes() if self.access_log.exists() else b''
            if len(data) > size_before and data.endswith(b'\n'):
                return
            time.sleep(0.01)

    def log_lines(self):
        if not self.access_log.exists():
            return []
        return [json.loads(line) for line in self.access_log.read_text().splitlines() if line.strip()]

    def cleanup(self):
        shutil.rmtree(str(self.root), ignore_errors=True)


@contextlib.contextmanager
def running_server(workdir, pki=None, port=None, extra_vars=None, profiles=None):
    """Lock the system nginx, deploy the role, yield a ProvisioningServer; stop and clean up after."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    with system_nginx_lock():
        if pki is None:
            pki = make_pki(workdir / 'pki')
        server = ProvisioningServer(workdir, pki, port or free_port(), extra_vars)
        try:
            result = server.deploy()
            if result.rc != 0:
                raise AssertionError('provisioning_server role failed (rc=%s):\n%s\n%s'
                                     % (result.rc, result.stdout[-6000:], result.stderr[-3000:]))
            for mac, text in (profiles or {}).items():
                server.write_profile(mac, text)
            yield server
        finally:
            stop_system_nginx()
            remove_site()
            server.cleanup()


__all__ = ['SYSTEM_NGINX_LOCK', 'DEFAULT_PHONES', 'system_nginx_lock', 'make_pki', 'PhonePKI', 'ProvisioningServer',
           'CurlResult', 'running_server', 'sign_client_cert', 'make_crl', 'nginx_pids', 'stop_system_nginx', 'remove_site', 'role_sites', 'REPO']
