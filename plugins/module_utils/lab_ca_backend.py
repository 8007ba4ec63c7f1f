# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab_ca module's backend: two lab roots, server certificates from CSRs, phone client certificates.

For labs, the demo and tests only: the CA keys sit unencrypted in the CA directory, on the host
that runs the module (the controller, in role server_certificate). Every input is checked
(:meth:`LabCA.precheck`) before anything is written; existing CAs, certificates and client keys
are kept while they match what is asked for. New CAs have path length 0 and DNS name constraints
(``permitted_dns``, by default the domain of the server FQDN(s) of the CSR being signed); a CA
made by an older version is kept, with a warning saying how to regenerate it. Signing itself is
pki_lab.py's, the constraint rules pki_chain.py's. Errors are PKIError.
"""

from __future__ import annotations

import os

from ansible_collections.phoneprov.mpp.plugins.module_utils import pki, pki_chain, pki_csr, pki_lab
from ansible_collections.phoneprov.mpp.plugins.module_utils.client_subject import (
    DEFAULT_MODEL, SubjectError, build_client_subject, client_subject)
from ansible_collections.phoneprov.mpp.plugins.module_utils.files import publish_file, read_bytes
from ansible_collections.phoneprov.mpp.plugins.module_utils.mac import MACError, normalize_mac
from ansible_collections.phoneprov.mpp.plugins.module_utils.module_helper import merge_publish
from ansible_collections.phoneprov.mpp.plugins.module_utils.pki import PKIError

CA_FILES = {
    'server': ('server-ca.crt', 'server-ca.key', 'Server CA'),
    'client': ('client-ca.crt', 'client-ca.key', 'Phone Client Root CA'),
}


def ca_paths(directory):
    """The return values naming the CA files in ``directory``."""
    return dict(path=directory,
                server_ca_path=os.path.join(directory, CA_FILES['server'][0]),
                server_ca_key_path=os.path.join(directory, CA_FILES['server'][1]),
                client_ca_path=os.path.join(directory, CA_FILES['client'][0]),
                client_ca_key_path=os.path.join(directory, CA_FILES['client'][1]))


STYLE_IDENTITY = {'guide': 'st', 'mic': 'cn_sep'}


def client_facts(client, facts):
    """``facts`` plus ``identity`` (the identity rule that reads a client of this style) and ``mac`` read back by it."""
    identity = STYLE_IDENTITY[client.get('style') or 'guide']
    out = dict(facts, identity=identity)
    if 'subject' in facts:
        out['mac'] = client_subject(facts['subject'], identity)['mac']
    return out


def cert_facts(cert):
    """The return values describing an issued or kept certificate."""
    return dict(subject=pki.name_rfc4514(cert.subject), serial=pki.serial_hex(cert),
                not_before=pki.isoformat(pki.not_valid_before(cert)),
                not_after=pki.isoformat(pki.not_valid_after(cert)))


def load_or_none(loader, data, *args):
    """``loader(data, *args)``, or None when the data cannot be loaded (an existing file we replace)."""
    try:
        return loader(data, *args)
    except PKIError:
        return None


class LabCA(object):
    """The module's state: the two CAs, what changed and the diffs."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.result = {'changed': False}
        self.cas = {}

    def publish(self, path, content, private=False):
        """publish_file for certs (file args apply) and keys (always 0600, no diff)."""
        if private:
            saved_mode = self.params.get('mode')
            self.params['mode'] = '0600'
            try:
                outcome = publish_file(self.module, path, content, default_mode=0o600, sensitive=True)
            finally:
                self.params['mode'] = saved_mode
        else:
            outcome = publish_file(self.module, path, content, default_mode=0o644)
        merge_publish(self.result, outcome)
        return outcome

    def mark_changed(self):
        self.result['changed'] = True

    # -- the CAs
    def permitted_dns(self, csr=None):
        """The name constraints of new CAs: the option, else derived from the CSR's FQDN(s), else None (none)."""
        if self.params['permitted_dns'] is not None:
            return pki_lab.normalize_permitted_dns(self.params['permitted_dns'])
        return pki_lab.default_permitted_dns(pki_lab.csr_fqdns(csr)) if csr is not None else None

    def warn_constraints(self, created, outdated, permitted):
        """Say when new CAs got no name constraints, and when kept CAs lack what new ones get."""
        directory = self.params['path']
        # in check mode a CSR of an earlier task does not exist yet: the real run derives the constraints from it
        csr_pending = self.params['csr_path'] and self.module.check_mode
        if created and not permitted and self.params['permitted_dns'] is None and not csr_pending:
            self.module.warn('the lab CA in %s was created without name constraints: neither permitted_dns nor a CSR to '
                             'derive them from was given' % directory)
        if outdated:
            self.module.warn('the lab %s CA in %s was made by an older version of lab_ca or with other constraints (new lab CAs '
                             'have path length 0 and the name constraints of permitted_dns); it is kept. To regenerate it, remove %s '
                             'and run the lab again: every certificate it signed (the server certificate, the phone client '
                             'certificates) is issued anew' % (' and '.join(outdated), directory, directory))

    def ensure_cas(self):
        directory = self.params['path']
        csr = self.read_csr(required=False) if self.params['csr_path'] else None
        permitted = self.permitted_dns(csr)
        created = self.make_cas(directory, permitted)
        explicit = permitted if self.params['permitted_dns'] is not None else None
        outdated = [role for role, (cert, _key) in self.cas.items()
                    if role not in created and pki_lab.ca_constraints_outdated(cert, explicit)]
        self.warn_constraints(created, outdated, permitted)
        return created

    def make_cas(self, directory, permitted):
        """Create the CAs missing in ``directory`` (path length 0, name constraints ``permitted``); returns their roles."""
        if not os.path.isdir(directory):
            if os.path.exists(directory):
                raise PKIError('CA path %s exists and is not a directory' % directory)
            self.mark_changed()
            if self.module.check_mode:
                return ['server', 'client']
            os.makedirs(directory, 0o700)
        created = []
        for role, (cert_name, key_name, label) in CA_FILES.items():
            cert_path = os.path.join(directory, cert_name)
            key_path = os.path.join(directory, key_name)
            cert_data, key_data = read_bytes(cert_path), read_bytes(key_path)
            if cert_data is not None and key_data is not None:
                self.cas[role] = self.existing_ca(cert_path, cert_data, key_path, key_data)
                continue
            if cert_data is not None or key_data is not None:
                raise PKIError('CA directory %s holds only one of %s and %s; restore the other or remove both'
                               % (directory, cert_name, key_name))
            created.append(role)
            self.mark_changed()
            if self.module.check_mode:
                continue
            key = pki.generate_private_key('rsa', 2048)
            short = pki.public_key_fingerprint(key).replace(':', '')[:8]
            subject = {'O': self.params['name'], 'CN': '%s %s %s' % (self.params['name'], label, short)}
            cert = pki_lab.create_ca_certificate(key, subject, days=self.params['ca_days'], path_length=0, permitted_dns=permitted)
            self.publish(key_path, pki.private_key_pem(key), private=True)
            self.publish(cert_path, pki.certificate_pem(cert))
            self.cas[role] = (cert, key)
        return created

    @staticmethod
    def existing_ca(cert_path, cert_data, key_path, key_data):
        """(certificate, key) of a CA found in the directory; PKIError when it cannot serve."""
        try:
            cert = pki.load_certificate(cert_data, 'CA certificate %s' % cert_path)
            key = pki.load_private_key(key_data, None, 'CA key %s' % key_path)
        except PKIError as exc:
            raise PKIError('%s; remove the CA directory to start a new lab CA' % exc)
        if not pki.key_matches(key, cert):
            raise PKIError('CA certificate %s does not match its key %s' % (cert_path, key_path))
        problem = pki.validity_problem(cert)
        if problem:
            raise PKIError('CA certificate %s %s; remove the CA directory to start a new lab CA' % (cert_path, problem))
        return cert, key

    # -- every input checked before anything is written
    def precheck(self):
        params = self.params
        if params['client'] is not None and not params['client'].get('generic') and not params['client'].get('mac'):
            raise PKIError('client needs mac (or generic: true)')
        self.window()
        if params['permitted_dns'] is not None:
            pki_lab.normalize_permitted_dns(params['permitted_dns'])
        if params['csr_path']:
            self.check_csr_names(self.read_csr(required=not self.module.check_mode))
        if params['client'] is not None:
            self.client_subject(params['client'])
        if params['clients'] is not None:
            directory = params['client_dir']
            if not os.path.isdir(directory) and not (self.module.check_mode and not os.path.exists(directory)):
                raise PKIError('client_dir %s does not exist or is not a directory' % directory)
            seen = set()
            for index, client in enumerate(params['clients']):
                name = self.client_name(index, client)
                if name in seen:
                    raise PKIError('clients[%d]: %s is listed twice' % (index, name))
                seen.add(name)
                self.client_subject(client)

    def read_csr(self, required=True):
        """The CSR of csr_path with a valid signature, or None when it is missing and not ``required``."""
        csr_path = self.params['csr_path']
        data = read_bytes(csr_path)
        if data is None:
            if required:
                raise PKIError('CSR %s does not exist' % csr_path)
            return None
        csr = pki_csr.load_csr(data, 'CSR %s' % csr_path)
        if not pki_csr.csr_signature_valid(csr):
            raise PKIError('CSR %s: its signature does not verify' % csr_path)
        return csr

    def check_csr_names(self, csr):
        """Refuse, before anything is written, a CSR whose names the server CA (existing or to be made) may not sign."""
        if csr is None:
            return
        cert_path = os.path.join(self.params['path'], CA_FILES['server'][0])
        existing = read_bytes(cert_path)
        ca_cert = load_or_none(pki.load_certificate, existing) if existing is not None else None
        if ca_cert is not None:
            problem = pki_chain.name_constraint_problem(ca_cert, pki_lab.csr_fqdns(csr))
        else:
            problem = pki_chain.dns_subtrees_problem(self.permitted_dns(csr), [], pki_lab.csr_fqdns(csr), 'the lab server CA to be made')
        if problem:
            raise PKIError('CSR %s: %s; remove %s and set permitted_dns to make a lab CA for it'
                           % (self.params['csr_path'], problem, self.params['path']))

    @staticmethod
    def client_name(index, client):
        """The file name stem of a client of ``clients``: its MAC in the $MA form, or ``generic``."""
        if not isinstance(client, dict):
            raise PKIError('clients[%d] must be a dict with mac (and model, serial), got %r' % (index, client))
        if client.get('generic'):
            return 'generic'
        try:
            return normalize_mac(client.get('mac') or '')
        except MACError as exc:
            raise PKIError('clients[%d]: %s' % (index, exc))

    @staticmethod
    def client_subject(client):
        """The subject dict of ``client`` in its style (``guide``: OU/L/ST, ``mic``: CN=<model>-SEP<mac>, serialNumber)."""
        try:
            return build_client_subject(client.get('mac'), client.get('model') or DEFAULT_MODEL, client.get('serial'),
                                        bool(client.get('generic')), style=client.get('style') or 'guide')
        except SubjectError as exc:
            raise PKIError('client %r: %s' % (client, exc))

    # -- validity asked for
    def window(self):
        return pki_lab.validity_window(self.params['days'], self.params['not_before'], self.params['not_after'])

    def kept(self, cert_data, ca_cert, usage, window, **wanted):
        """The existing certificate (bytes or None) to keep, or None to issue it anew.

        Kept when ``ca_cert`` issued it with ``wanted`` (subject_name, public_key, sans, see
        pki_lab.issued_by_matches), the extended key usage ``usage`` and the validity asked for,
        and ``force`` is off.
        """
        old = load_or_none(pki.load_certificate, cert_data) if cert_data is not None and not self.params['force'] else None
        if old is None or not pki_lab.issued_by_matches(old, ca_cert, **wanted) or pki.extended_key_usages(old) != [usage]:
            return None
        if self.params['not_before'] or self.params['not_after']:
            return old if pki_lab.window_matches(old, *window) else None
        return old if pki.validity_problem(old) is None else None

    # -- server CSR
    def sign_server(self):
        csr_path, cert_path = self.params['csr_path'], self.params['cert_path']
        csr = self.read_csr(required=not self.module.check_mode)
        if csr is None:
            # an earlier task in the same check-mode run (server_csr) would have written it
            self.module.warn('CSR %s does not exist (yet); in check mode it is assumed to come from an '
                             'earlier task' % csr_path)
            self.mark_changed()
            return dict(cert_path=cert_path)
        usage = self.params['extended_key_usage'] or 'serverAuth'
        sans = pki.subject_alt_names(csr)
        out = dict(cert_path=cert_path, subject_alt_names=sans)
        if 'server' not in self.cas:  # check mode, CA not yet created
            self.mark_changed()
            out['subject'] = pki.name_rfc4514(csr.subject)
            return out
        ca_cert, ca_key = self.cas['server']
        start, end = self.window()
        existing = read_bytes(cert_path)
        old = self.kept(existing, ca_cert, usage, (start, end), subject_name=csr.subject, public_key=csr.public_key(), sans=sans)
        if old is not None:
            self.publish(cert_path, existing)
            out.update(cert_facts(old))
            return out
        try:
            cert = pki_lab.sign_csr(csr, ca_cert, ca_key, self.params['days'], start, end, usage)
        except PKIError as exc:
            raise PKIError('CSR %s: %s' % (csr_path, exc))
        self.publish(cert_path, pki.certificate_pem(cert))
        out.update(cert_facts(cert))
        return out

    # -- phone client certificates
    def existing_client_key(self, key_path, key_data):
        """The client key to keep: readable and of the type asked for, else None."""
        key = load_or_none(pki.load_private_key, key_data, None, 'client key %s' % key_path) if key_data is not None else None
        wanted = pki.key_spec(self.params['key_type'], self.params['key_size'], self.params['curve'])
        return key if key is not None and pki.key_description(key) == wanted else None

    def issue_client(self, client, cert_path, key_path, start, end):
        """Issue or keep one client; returns (changed, facts)."""
        subject = self.client_subject(client)
        usage = self.params['extended_key_usage'] or 'clientAuth'
        if 'client' not in self.cas:
            self.mark_changed()
            return True, dict(subject=pki.name_rfc4514(pki.build_name(subject)))
        ca_cert, ca_key = self.cas['client']
        cert_data, key_data = read_bytes(cert_path), read_bytes(key_path)
        key = self.existing_client_key(key_path, key_data)
        old = self.kept(cert_data, ca_cert, usage, (start, end), subject_name=pki.build_name(subject),
                        public_key=key) if key is not None else None
        if old is not None:
            cert_changed = self.publish(cert_path, cert_data)['changed']
            key_changed = self.publish(key_path, key_data, private=True)['changed']
            return cert_changed or key_changed, cert_facts(old)
        if self.params['force']:
            key = None
        if self.module.check_mode:
            self.mark_changed()
            return True, dict(subject=pki.name_rfc4514(pki.build_name(subject)))
        if key is None:
            key = pki.generate_private_key(self.params['key_type'], self.params['key_size'], self.params['curve'])
            self.publish(key_path, pki.private_key_pem(key), private=True)
        else:
            self.publish(key_path, key_data, private=True)
        cert = pki_lab.issue_certificate(subject, key.public_key(), ca_cert, ca_key, self.params['days'],
                                         start, end, usage)
        self.publish(cert_path, pki.certificate_pem(cert))
        return True, cert_facts(cert)

    def issue_many(self):
        directory = self.params['client_dir']
        if not os.path.isdir(directory):
            if self.module.check_mode and not os.path.exists(directory):
                # an earlier task in the same check-mode run would have created it
                self.cas.pop('client', None)
            else:
                raise PKIError('client_dir %s does not exist or is not a directory' % directory)
        start, end = self.window()
        issued, unchanged = [], []
        for index, client in enumerate(self.params['clients']):
            name = self.client_name(index, client)
            changed, _facts = self.issue_client(client, os.path.join(directory, name + '.crt'),
                                                os.path.join(directory, name + '.key'), start, end)
            (issued if changed else unchanged).append(name)
        # one summary instead of a diff per file (a fleet has hundreds), also instead of the CA files' diffs
        self.result.pop('diff', None)
        if self.module._diff and issued:  # pylint: disable=protected-access
            self.result['diff'] = [{'before_header': directory, 'after_header': directory, 'before': '',
                                    'after': ''.join('%s.crt %s.key issued\n' % (name, name) for name in issued)}]
        return dict(client_dir=directory, issued=issued, unchanged=unchanged)


def run_lab_ca(module, result):
    """Ensure the CAs, then sign the CSR or issue the client certificate(s) asked for; fills ``result``."""
    params = module.params
    result.update(ca_paths(params['path']))
    lab = LabCA(module)
    lab.precheck()
    result['created_ca'] = lab.ensure_cas()
    if params['csr_path']:
        result.update(lab.sign_server())
    elif params['client'] is not None:
        _changed, facts = lab.issue_client(params['client'], params['cert_path'], params['key_path'], *lab.window())
        result.update(client_facts(params['client'], facts), cert_path=params['cert_path'], key_path=params['key_path'])
    elif params['clients'] is not None:
        result.update(lab.issue_many())
    result.update(lab.result)
    return result
