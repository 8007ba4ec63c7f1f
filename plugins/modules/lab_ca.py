#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lab_ca
short_description: A lab CA standing in for Cisco's, for labs, the demo and tests only
version_added: 0.1.0
description:
  - B(For labs, the demo and tests only.) Production phones trust Cisco's Server CA and carry
    client certificates from Cisco's Multiplatform Phone CA; this module imitates both so that
    the whole chain can be exercised without Cisco. Its CA keys sit unencrypted in O(path).
  - On first use it creates two self-signed roots in the CA directory O(path) - a server CA
    (stands in for the Cisco Server CA that phones trust; C(server-ca.crt), C(server-ca.key))
    and a phone client CA (stands in for Cisco's Multiplatform Phone CA Client Root, which
    nginx verifies phones with; C(client-ca.crt), C(client-ca.key)). Existing CAs are kept.
    Another O(path) gives another, independent pair of CAs (an untrusted CA for tests).
  - With O(csr_path) and O(cert_path) it signs a server CSR with the server CA - subject and
    subject alternative names from the CSR, extended key usage serverAuth.
  - With O(client), O(cert_path) and O(key_path) it issues a phone-like client certificate with
    the client CA - subject C(OU)=model, C(L)=serial, C(ST)=MAC (the C($MA) form), extended key
    usage clientAuth; O(client.generic=true) issues the pre-2.0 generic certificate
    (C(OU=cisco.com, L=ciscogeneric, ST=ciscogeneric)).
  - With O(clients) and O(client_dir) it issues many phones in one task, files
    C(<mac>.crt) and C(<mac>.key) named by the C($MA) form.
  - Idempotent - an existing certificate that matches the CSR (or client), the CA, the key type
    and the validity asked for is kept. Private keys are written with mode C(0600).
author:
  - phoneprov.mpp contributors (@phoneprov)
requirements:
  - cryptography >= 3.1 on the managed host
options:
  path:
    description: CA directory; created (mode C(0700)) when missing.
    type: path
    required: true
  name:
    description: Organization (C(O)) of the CA subjects; the CA CNs add a short key fingerprint.
    type: str
    default: phoneprov lab
  ca_days:
    description: Validity of newly created CA certificates, in days.
    type: int
    default: 3650
  csr_path:
    description: Server CSR to sign with the server CA. Needs O(cert_path).
    type: path
  cert_path:
    description: Where the signed server certificate or the client certificate is written.
    type: path
  key_path:
    description: Where the client's private key is written (with O(client)).
    type: path
  client:
    description: One phone client certificate to issue. Needs O(cert_path) and O(key_path).
    type: dict
    suboptions:
      mac:
        description: The phone's MAC, any spelling; written in the C($MA) form to C(ST).
        type: str
      model:
        description: Product name, written to C(OU).
        type: str
        default: CP-8841-3PCC
      serial:
        description: Serial number, written to C(L). Defaults to the MAC in upper case.
        type: str
      generic:
        description: Issue the generic certificate of units made before firmware 2.0.
        type: bool
        default: false
  clients:
    description:
      - Many phone client certificates, each a dict like O(client) (V(mac) required unless
        V(generic)), written to O(client_dir) as C(<mac>.crt) and C(<mac>.key).
    type: list
    elements: dict
  client_dir:
    description:
      - Directory for O(clients); it must exist (in check mode it may be missing, when an
        earlier task would create it).
    type: path
  key_type:
    description: Key type of issued client keys.
    type: str
    choices: [rsa, ecc]
    default: rsa
  key_size:
    description: RSA size of issued client keys.
    type: int
    choices: [2048, 3072, 4096]
    default: 2048
  curve:
    description: Curve of issued ECC client keys.
    type: str
    choices: [P-256, P-384]
    default: P-256
  days:
    description: Validity of issued certificates in days, from now (ignored when O(not_after) is set).
    type: int
    default: 365
  not_before:
    description:
      - Start of validity of issued certificates, a relative offset (V(-10d), V(+2d), V(-3h),
        V(+30m)) or an absolute UTC time (V(2030-01-01T00:00:00Z)). Default is five minutes ago.
      - A future value makes a not-yet-valid certificate, for tests.
    type: str
  not_after:
    description:
      - End of validity of issued certificates, as O(not_before). A past value (V(-1d)) makes an
        expired certificate, for tests.
    type: str
  extended_key_usage:
    description:
      - Extended key usage of the issued certificate. Default serverAuth for O(csr_path) and
        clientAuth for client certificates; the other value makes a wrong certificate for tests.
    type: str
    choices: [serverAuth, clientAuth]
  force:
    description: Issue new certificates (and client keys) even when the existing ones match.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.files
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Diffs are shown for issued certificates, never for private keys; with O(clients), one
      summary lists the phones issued.
  platform:
    platforms: posix
notes:
  - File arguments (O(mode), O(owner), O(group), ...) apply to the certificates this task
    issues; private keys are always C(0600).
  - The validity of an existing certificate matches a requested O(not_before)/O(not_after)
    when it lies within one day of it.
seealso:
  - module: phoneprov.mpp.server_csr
  - module: phoneprov.mpp.server_cert
'''

EXAMPLES = r'''
- name: Lab CAs (server CA and phone client CA)
  phoneprov.mpp.lab_ca:
    path: /srv/lab-ca
  register: ca

- name: Sign the server CSR like Cisco would
  phoneprov.mpp.lab_ca:
    path: /srv/lab-ca
    csr_path: /etc/ssl/provserver.csr
    cert_path: /root/provserver.crt

- name: A phone client certificate
  phoneprov.mpp.lab_ca:
    path: /srv/lab-ca
    client:
      mac: 00:0e:08:ab:cd:ef
      model: CP-8841-3PCC
      serial: FCH1234ABCD
    cert_path: /srv/phones/000e08abcdef.crt
    key_path: /srv/phones/000e08abcdef.key

- name: A whole fleet of phone certificates in one task, fast ECC keys
  phoneprov.mpp.lab_ca:
    path: /srv/lab-ca
    clients: "{{ mpp_phones }}"
    client_dir: /srv/phones
    key_type: ecc

- name: An expired server certificate, for a test
  phoneprov.mpp.lab_ca:
    path: /srv/lab-ca
    csr_path: /etc/ssl/provserver.csr
    cert_path: /tmp/expired.crt
    not_before: -30d
    not_after: -1d
'''

RETURN = r'''
path:
  description: The CA directory.
  type: str
  returned: always
  sample: /srv/lab-ca
server_ca_path:
  description: Server CA certificate (phones trust it; O(phoneprov.mpp.server_cert#module:ca_path)).
  type: str
  returned: always
  sample: /srv/lab-ca/server-ca.crt
server_ca_key_path:
  description: Server CA private key (mode C(0600)).
  type: str
  returned: always
  sample: /srv/lab-ca/server-ca.key
client_ca_path:
  description: Phone client CA certificate (nginx C(ssl_client_certificate)).
  type: str
  returned: always
  sample: /srv/lab-ca/client-ca.crt
client_ca_key_path:
  description: Phone client CA private key (mode C(0600)).
  type: str
  returned: always
  sample: /srv/lab-ca/client-ca.key
cert_path:
  description: The certificate issued or kept.
  type: str
  returned: with O(csr_path) or O(client)
  sample: /root/provserver.crt
key_path:
  description: The client key written or kept.
  type: str
  returned: with O(client)
  sample: /srv/phones/000e08abcdef.key
subject:
  description: Subject of the certificate issued or kept (RFC 4514, as nginx prints it).
  type: str
  returned: with O(csr_path) or O(client)
  sample: OU=CP-8841-3PCC,L=FCH1234ABCD,ST=000e08abcdef
subject_alt_names:
  description: SANs of the signed server certificate.
  type: list
  elements: str
  returned: with O(csr_path)
  sample: [DNS:pv.lab.example]
serial:
  description: Serial number (upper-case hex).
  type: str
  returned: with O(csr_path) or O(client)
  sample: 4F1A2B
not_before:
  description: Start of validity (UTC, ISO 8601).
  type: str
  returned: with O(csr_path) or O(client)
  sample: "2026-01-01T00:00:00Z"
not_after:
  description: End of validity (UTC, ISO 8601).
  type: str
  returned: with O(csr_path) or O(client)
  sample: "2027-01-01T00:00:00Z"
client_dir:
  description: The directory of the fleet's certificates and keys.
  type: str
  returned: with O(clients)
  sample: /srv/phones
issued:
  description: MACs (C($MA) form, or C(generic)) whose certificates were issued by this run.
  type: list
  elements: str
  returned: with O(clients)
  sample: [000e08abcdef]
unchanged:
  description: MACs whose existing certificates were kept.
  type: list
  elements: str
  returned: with O(clients)
  sample: []
created_ca:
  description: The CAs created by this run (V(server), V(client)).
  type: list
  elements: str
  returned: always
  sample: [server, client]
'''

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.phoneprov.mpp.plugins.module_utils import pki
from ansible_collections.phoneprov.mpp.plugins.module_utils.files import publish_file, read_bytes
from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import MACError, normalize_mac

CA_FILES = {
    'server': ('server-ca.crt', 'server-ca.key', 'Server CA'),
    'client': ('client-ca.crt', 'client-ca.key', 'Phone Client Root CA'),
}


class LabCA(object):
    """The module's state: the two CAs and what changed."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.changed = False
        self.diffs = []
        self.cas = {}

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    def publish(self, path, content, private=False):
        """publish_file for certs (file args apply) and keys (always 0600, no diff)."""
        if private:
            saved = dict((k, self.params.get(k)) for k in ('mode',))
            self.params['mode'] = '0600'
            try:
                outcome = publish_file(self.module, path, content, default_mode=0o600, sensitive=True)
            finally:
                self.params.update(saved)
        else:
            outcome = publish_file(self.module, path, content, default_mode=0o644)
        if outcome['changed']:
            self.changed = True
        if 'diff' in outcome:
            self.diffs.append(outcome['diff'])
        return outcome

    # -- the CAs
    def ensure_cas(self):
        directory = self.params['path']
        if not os.path.isdir(directory):
            if os.path.exists(directory):
                self.fail('CA path %s exists and is not a directory' % directory)
            self.changed = True
            if self.module.check_mode:
                return ['server', 'client']
            os.makedirs(directory, 0o700)
        created = []
        for role, (cert_name, key_name, label) in CA_FILES.items():
            cert_path = os.path.join(directory, cert_name)
            key_path = os.path.join(directory, key_name)
            cert_data, key_data = read_bytes(cert_path), read_bytes(key_path)
            if cert_data is not None and key_data is not None:
                try:
                    cert = pki.load_certificate(cert_data, 'CA certificate %s' % cert_path)
                    key = pki.load_private_key(key_data, None, 'CA key %s' % key_path)
                except pki.PKIError as exc:
                    self.fail('%s; remove the CA directory to start a new lab CA' % exc)
                if not pki.key_matches(key, cert):
                    self.fail('CA certificate %s does not match its key %s' % (cert_path, key_path))
                problem = pki.validity_problem(cert)
                if problem:
                    self.fail('CA certificate %s %s; remove the CA directory to start a new lab CA'
                              % (cert_path, problem))
                self.cas[role] = (cert, key)
                continue
            if cert_data is not None or key_data is not None:
                self.fail('CA directory %s holds only one of %s and %s; restore the other or remove both'
                          % (directory, cert_name, key_name))
            created.append(role)
            self.changed = True
            if self.module.check_mode:
                continue
            key = pki.generate_private_key('rsa', 2048)
            short = pki.public_key_fingerprint(key).replace(':', '')[:8]
            subject = {'O': self.params['name'], 'CN': '%s %s %s' % (self.params['name'], label, short)}
            cert = pki.create_ca_certificate(key, subject, days=self.params['ca_days'])
            self.publish(key_path, pki.private_key_pem(key), private=True)
            self.publish(cert_path, pki.certificate_pem(cert))
            self.cas[role] = (cert, key)
        return created

    # -- every input checked before anything is written
    def precheck(self):
        self.window()
        params = self.params
        if params['csr_path']:
            data = read_bytes(params['csr_path'])
            if data is None and not self.module.check_mode:
                self.fail('CSR %s does not exist' % params['csr_path'])
            if data is not None:
                try:
                    csr = pki.load_csr(data, 'CSR %s' % params['csr_path'])
                except pki.PKIError as exc:
                    self.fail(str(exc))
                if not pki.csr_signature_valid(csr):
                    self.fail('CSR %s: its signature does not verify' % params['csr_path'])
        if params['client'] is not None:
            self.client_spec(params['client'])
        if params['clients'] is not None:
            directory = params['client_dir']
            if not os.path.isdir(directory) and not (self.module.check_mode and not os.path.exists(directory)):
                self.fail('client_dir %s does not exist or is not a directory' % directory)
            seen = set()
            for index, client in enumerate(params['clients']):
                name = self.client_name(index, client)
                if name in seen:
                    self.fail('clients[%d]: %s is listed twice' % (index, name))
                seen.add(name)
                self.client_spec(client)

    def client_name(self, index, client):
        if not isinstance(client, dict):
            self.fail('clients[%d] must be a dict with mac (and model, serial), got %r' % (index, client))
        if client.get('generic'):
            return 'generic'
        try:
            return normalize_mac(client.get('mac') or '')
        except MACError as exc:
            self.fail('clients[%d]: %s' % (index, exc))
        return None

    # -- validity asked for
    def window(self):
        try:
            return pki.validity_window(self.params['days'], self.params['not_before'], self.params['not_after'])
        except pki.PKIError as exc:
            self.fail(str(exc))

    def validity_ok(self, cert, start, end):
        if self.params['not_before'] or self.params['not_after']:
            return pki.window_matches(cert, start, end)
        return pki.validity_problem(cert) is None

    @staticmethod
    def cert_facts(cert):
        return dict(subject=pki.name_rfc4514(cert.subject), serial=pki.serial_hex(cert),
                    not_before=pki.isoformat(pki.not_valid_before(cert)),
                    not_after=pki.isoformat(pki.not_valid_after(cert)))

    # -- server CSR
    def sign_server(self):
        csr_path, cert_path = self.params['csr_path'], self.params['cert_path']
        data = read_bytes(csr_path)
        if data is None and self.module.check_mode:
            # an earlier task in the same check-mode run (server_csr) would have written it
            self.module.warn('CSR %s does not exist (yet); in check mode it is assumed to come from an '
                             'earlier task' % csr_path)
            self.changed = True
            return dict(cert_path=cert_path)
        if data is None:
            self.fail('CSR %s does not exist' % csr_path)
        try:
            csr = pki.load_csr(data, 'CSR %s' % csr_path)
        except pki.PKIError as exc:
            self.fail(str(exc))
        if not pki.csr_signature_valid(csr):
            self.fail('CSR %s: its signature does not verify' % csr_path)
        usage = self.params['extended_key_usage'] or 'serverAuth'
        sans = pki.subject_alt_names(csr)
        out = dict(cert_path=cert_path, subject_alt_names=sans)
        if 'server' not in self.cas:  # check mode, CA not yet created
            self.changed = True
            out['subject'] = pki.name_rfc4514(csr.subject)
            return out
        ca_cert, ca_key = self.cas['server']
        start, end = self.window()
        existing = read_bytes(cert_path)
        if existing is not None and not self.params['force']:
            try:
                old = pki.load_certificate(existing)
            except pki.PKIError:
                old = None
            if (old is not None and pki.issued_by_matches(old, ca_cert, csr.subject, csr.public_key(), sans)
                    and pki.extended_key_usages(old) == [usage] and self.validity_ok(old, start, end)):
                self.publish(cert_path, existing)
                out.update(self.cert_facts(old))
                return out
        try:
            cert = pki.sign_csr(csr, ca_cert, ca_key, self.params['days'], start, end, usage)
        except pki.PKIError as exc:
            self.fail('CSR %s: %s' % (csr_path, exc))
        self.publish(cert_path, pki.certificate_pem(cert))
        out.update(self.cert_facts(cert))
        return out

    # -- phone client certificates
    def client_spec(self, client):
        generic = bool(client.get('generic'))
        try:
            subject = pki.client_subject_attributes(client.get('mac'), client.get('model') or 'CP-8841-3PCC',
                                                    client.get('serial'), generic)
        except pki.PKIError as exc:
            self.fail('client %r: %s' % (client, exc))
        return subject

    def issue_client(self, client, cert_path, key_path, start, end):
        """Issue or keep one client; returns (changed, facts)."""
        subject = self.client_spec(client)
        usage = self.params['extended_key_usage'] or 'clientAuth'
        wanted_type = self.params['key_type']
        wanted = ('rsa', self.params['key_size'], None) if wanted_type == 'rsa' else \
            ('ecc', int(self.params['curve'][2:]), self.params['curve'])
        if 'client' not in self.cas:
            self.changed = True
            return True, dict(subject=pki.name_rfc4514(pki.build_name(subject)))
        ca_cert, ca_key = self.cas['client']
        cert_data, key_data = read_bytes(cert_path), read_bytes(key_path)
        key = None
        if key_data is not None:
            try:
                key = pki.load_private_key(key_data, None, 'client key %s' % key_path)
            except pki.PKIError:
                key = None
            if key is not None and pki.key_description(key) != wanted:
                key = None
        if cert_data is not None and key is not None and not self.params['force']:
            try:
                old = pki.load_certificate(cert_data)
            except pki.PKIError:
                old = None
            if (old is not None and pki.issued_by_matches(old, ca_cert, pki.build_name(subject), key)
                    and pki.extended_key_usages(old) == [usage] and self.validity_ok(old, start, end)):
                cert_changed = self.publish(cert_path, cert_data)['changed']
                key_changed = self.publish(key_path, key_data, private=True)['changed']
                return cert_changed or key_changed, self.cert_facts(old)
        if self.params['force']:
            key = None
        if self.module.check_mode:
            self.changed = True
            return True, dict(subject=pki.name_rfc4514(pki.build_name(subject)))
        if key is None:
            key = pki.generate_private_key(wanted_type, self.params['key_size'], self.params['curve'])
            self.publish(key_path, pki.private_key_pem(key), private=True)
        else:
            self.publish(key_path, key_data, private=True)
        cert = pki.issue_certificate(subject, key.public_key(), ca_cert, ca_key, self.params['days'],
                                     start, end, usage)
        self.publish(cert_path, pki.certificate_pem(cert))
        return True, self.cert_facts(cert)

    def issue_many(self):
        directory = self.params['client_dir']
        if not os.path.isdir(directory):
            if self.module.check_mode and not os.path.exists(directory):
                # an earlier task in the same check-mode run would have created it
                self.cas.pop('client', None)
            else:
                self.fail('client_dir %s does not exist or is not a directory' % directory)
        start, end = self.window()
        issued, unchanged = [], []
        for index, client in enumerate(self.params['clients']):
            name = self.client_name(index, client)
            changed, _facts = self.issue_client(client, os.path.join(directory, name + '.crt'),
                                                os.path.join(directory, name + '.key'), start, end)
            (issued if changed else unchanged).append(name)
        if self.module._diff:  # pylint: disable=protected-access
            # one summary instead of a diff per file: a fleet has hundreds
            self.diffs = [{'before_header': directory, 'after_header': directory, 'before': '',
                           'after': ''.join('%s.crt %s.key issued\n' % (name, name) for name in issued)}] \
                if issued else []
        return dict(client_dir=directory, issued=issued, unchanged=unchanged)


def main():
    client_options = dict(mac=dict(type='str'), model=dict(type='str', default='CP-8841-3PCC'),
                          serial=dict(type='str'), generic=dict(type='bool', default=False))
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            name=dict(type='str', default='phoneprov lab'),
            ca_days=dict(type='int', default=3650),
            csr_path=dict(type='path'),
            cert_path=dict(type='path'),
            key_path=dict(type='path'),
            client=dict(type='dict', options=client_options),
            clients=dict(type='list', elements='dict'),
            client_dir=dict(type='path'),
            key_type=dict(type='str', choices=['rsa', 'ecc'], default='rsa'),
            key_size=dict(type='int', choices=[2048, 3072, 4096], default=2048),
            curve=dict(type='str', choices=['P-256', 'P-384'], default='P-256'),
            days=dict(type='int', default=365),
            not_before=dict(type='str'),
            not_after=dict(type='str'),
            extended_key_usage=dict(type='str', choices=['serverAuth', 'clientAuth']),
            force=dict(type='bool', default=False),
        ),
        mutually_exclusive=[('csr_path', 'client', 'clients')],
        required_by={'csr_path': 'cert_path', 'client': ('cert_path', 'key_path'), 'clients': 'client_dir'},
        add_file_common_args=True,
        supports_check_mode=True,
    )
    if not pki.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=pki.CRYPTOGRAPHY_IMPORT_ERROR)

    params = module.params
    lab = LabCA(module)
    directory = params['path']
    result = dict(
        path=directory,
        server_ca_path=os.path.join(directory, CA_FILES['server'][0]),
        server_ca_key_path=os.path.join(directory, CA_FILES['server'][1]),
        client_ca_path=os.path.join(directory, CA_FILES['client'][0]),
        client_ca_key_path=os.path.join(directory, CA_FILES['client'][1]),
    )
    if params['client'] is not None and not params['client'].get('generic') and not params['client'].get('mac'):
        module.fail_json(msg='client needs mac (or generic: true)', **result)
    lab.precheck()
    result['created_ca'] = lab.ensure_cas()
    if params['csr_path']:
        result.update(lab.sign_server())
    elif params['client'] is not None:
        _changed, facts = lab.issue_client(params['client'], params['cert_path'], params['key_path'], *lab.window())
        result.update(facts, cert_path=params['cert_path'], key_path=params['key_path'])
    elif params['clients'] is not None:
        result.update(lab.issue_many())
    result['changed'] = lab.changed
    if lab.diffs:
        result['diff'] = lab.diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
