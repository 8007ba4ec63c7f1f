#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: server_cert
short_description: Install the signed certificate of a Cisco MPP provisioning server
version_added: 0.1.0
description:
  - Checks the certificate Cisco (or a lab CA) signed for the provisioning server and installs
    it, optionally with the full chain (leaf first, then the intermediates, as nginx wants it).
  - The certificate is refused, with nothing written, when it does not match the private key,
    does not chain to O(ca_path) (through O(chain_path) when given), is expired or not yet
    valid, has a CN that breaks the phones' CN rule or names another FQDN than O(fqdn), or
    has an extended key usage without serverAuth.
  - The task fails when fewer than O(min_days_valid) days of validity remain and reports
    RV(days_remaining); nothing is written then either.
  - Files are written atomically; the certificate is always written in PEM form.
  - A DNS subject alternative name holding the whole CN with its C(/...) suffix, or DNS SANs
    without the FQDN, draw a warning (phones check the CN; other TLS clients check the SANs).
author:
  - phoneprov.mpp contributors (@phoneprov)
requirements:
  - cryptography >= 3.1 on the managed host
options:
  src:
    description:
      - Path of the signed certificate on the managed host, PEM or DER.
      - A PEM file may carry intermediates after the leaf; they join O(chain_path).
      - Exactly one of O(src) and O(content) is required.
    type: path
  content:
    description: The signed certificate itself, PEM text (or a PEM bundle, leaf first).
    type: str
  path:
    description: Where the certificate is installed (PEM).
    type: path
    required: true
  privatekey_path:
    description: The server's private key; the certificate must belong to it.
    type: path
    required: true
  privatekey_passphrase:
    description: Passphrase of the private key.
    type: str
  ca_path:
    description:
      - Trusted root certificate(s), a PEM bundle. The certificate must chain to one of them
        (Cisco's Server CA root, or a public CA the phones trust).
    type: path
    required: true
  chain_path:
    description: Intermediate CA certificates (PEM bundle) between the certificate and O(ca_path).
    type: path
  fullchain_path:
    description:
      - When given, also write the full chain there - the certificate, then the intermediates
        that link it to the root (the root itself is left out), as nginx C(ssl_certificate) wants.
    type: path
  fqdn:
    description:
      - The FQDN the certificate must name. Its CN's FQDN part must equal it.
      - When not given, the CN only has to follow the CN rule.
    type: str
  min_days_valid:
    description: Fail when fewer days of validity remain.
    type: int
    default: 30
  backup:
    description: Keep timestamped copies of files that get replaced.
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
  platform:
    platforms: posix
notes:
  - File arguments (O(mode), O(owner), O(group), ...) apply to O(path) and O(fullchain_path).
seealso:
  - module: phoneprov.mpp.server_csr
  - module: phoneprov.mpp.cn_dns_verify
'''

EXAMPLES = r'''
- name: Install the certificate Cisco signed
  phoneprov.mpp.server_cert:
    src: /root/provserver.crt
    path: /etc/ssl/provserver.crt
    fullchain_path: /etc/ssl/provserver-fullchain.crt
    privatekey_path: /etc/ssl/private/provserver.key
    ca_path: /etc/ssl/cisco-server-ca.pem
    fqdn: pv.telco.net
'''

RETURN = r'''
path:
  description: Where the certificate is installed.
  type: str
  returned: always
  sample: /etc/ssl/provserver.crt
common_name:
  description: Subject CN of the certificate.
  type: str
  returned: when the certificate could be read
  sample: pv.telco.net/mailto:admin@telco.net
fqdn:
  description: FQDN part of the CN.
  type: str
  returned: when the CN follows the rule
  sample: pv.telco.net
subject_alt_names:
  description: Subject alternative names of the certificate.
  type: list
  elements: str
  returned: when the certificate could be read
  sample: [DNS:pv.telco.net]
issuer:
  description: Issuer DN (RFC 4514).
  type: str
  returned: when the certificate could be read
  sample: CN=Cisco Server CA,O=Cisco
serial:
  description: Serial number, upper-case hex as C(openssl x509 -serial) prints it.
  type: str
  returned: when the certificate could be read
  sample: 4F1A2B
not_before:
  description: Start of validity (UTC, ISO 8601).
  type: str
  returned: when the certificate could be read
  sample: "2026-01-01T00:00:00Z"
not_after:
  description: End of validity (UTC, ISO 8601).
  type: str
  returned: when the certificate could be read
  sample: "2027-01-01T00:00:00Z"
days_remaining:
  description: Whole days until RV(not_after); negative when expired.
  type: int
  returned: when the certificate could be read
  sample: 364
fingerprint:
  description: SHA-256 of the DER certificate, lower-case hex pairs separated by colons.
  type: str
  returned: when the certificate could be read
  sample: "5b:0e:...:9c"
chain:
  description: Subjects from the certificate up to the trusted root that signed it.
  type: list
  elements: str
  returned: success
  sample: [CN=pv.telco.net, CN=Cisco Server CA]
fullchain_path:
  description: Where the full chain is written, when asked for.
  type: str
  returned: when O(fullchain_path) is given
  sample: /etc/ssl/provserver-fullchain.crt
backup_file:
  description: Copy of the replaced certificate when O(backup=true).
  type: str
  returned: changed and backup made
  sample: /etc/ssl/provserver.crt.1234.2026-01-01@10:00:00~
fullchain_backup_file:
  description: Copy of the replaced full chain when O(backup=true).
  type: str
  returned: changed and backup made
  sample: /etc/ssl/provserver-fullchain.crt.1234.2026-01-01@10:00:00~
'''

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.phoneprov.mpp.plugins.module_utils import pki
from ansible_collections.phoneprov.mpp.plugins.module_utils.cn import CNError, split_cn, validate_fqdn
from ansible_collections.phoneprov.mpp.plugins.module_utils.files import publish_file, read_bytes


def read_required(module, path, what, result):
    data = read_bytes(path)
    if data is None:
        module.fail_json(msg='%s %s does not exist' % (what, path), **result)
    return data


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type='path'),
            content=dict(type='str'),
            path=dict(type='path', required=True),
            privatekey_path=dict(type='path', required=True),
            privatekey_passphrase=dict(type='str', no_log=True),
            ca_path=dict(type='path', required=True),
            chain_path=dict(type='path'),
            fullchain_path=dict(type='path'),
            fqdn=dict(type='str'),
            min_days_valid=dict(type='int', default=30),
            backup=dict(type='bool', default=False),
        ),
        required_one_of=[('src', 'content')],
        mutually_exclusive=[('src', 'content')],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    if not pki.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=pki.CRYPTOGRAPHY_IMPORT_ERROR)

    params = module.params
    path = params['path']
    result = dict(changed=False, path=path)
    if params['fullchain_path']:
        result['fullchain_path'] = params['fullchain_path']

    def refuse(message):
        module.fail_json(msg='certificate refused, nothing written: %s' % message, **result)

    if params['src']:
        data = read_required(module, params['src'], 'src', result)
        what = 'certificate %s' % params['src']
    else:
        data = params['content']
        what = 'certificate content'
    try:
        certs = pki.load_certificates(data, what)
    except pki.PKIError as exc:
        refuse(str(exc))
    leaf = certs[0]
    extra_intermediates = certs[1:]

    result.update(
        common_name=pki.common_name(leaf),
        subject_alt_names=pki.subject_alt_names(leaf),
        issuer=pki.name_rfc4514(leaf.issuer),
        serial=pki.serial_hex(leaf),
        not_before=pki.isoformat(pki.not_valid_before(leaf)),
        not_after=pki.isoformat(pki.not_valid_after(leaf)),
        days_remaining=pki.days_remaining(leaf),
        fingerprint=pki.certificate_fingerprint(leaf),
    )

    # The CN rule and the expected FQDN.
    if result['common_name'] is None:
        refuse('the certificate has no subject CN; phones need the FQDN of the provisioning server there')
    try:
        fqdn, _suffix = split_cn(result['common_name'])
    except CNError as exc:
        refuse('the CN breaks the phones\' CN rule: %s' % exc)
    result['fqdn'] = fqdn
    if params['fqdn']:
        try:
            expected = validate_fqdn(params['fqdn'])
        except CNError as exc:
            module.fail_json(msg='option fqdn: %s' % exc, **result)
        if expected != fqdn:
            refuse('the CN %r names the FQDN %s, but fqdn is %s' % (result['common_name'], fqdn, expected))

    # Subject alternative names: phones check the CN, other TLS clients the SANs.
    dns_sans = [san[4:] for san in result['subject_alt_names'] if san.startswith('DNS:')]
    for name in dns_sans:
        if '/' in name:
            module.warn('the certificate has the DNS SAN %r, the whole CN with its /suffix; a SAN should '
                        'hold the FQDN alone (%s)' % (name, fqdn))
    if dns_sans and fqdn not in [name.lower() for name in dns_sans]:
        module.warn('the certificate\'s DNS SANs (%s) do not include %s; TLS clients other than the '
                    'phones will reject it for that name' % (', '.join(dns_sans), fqdn))

    # Validity window.
    problem = pki.validity_problem(leaf)
    if problem:
        refuse('the certificate %s' % problem)

    # Extended key usage.
    ekus = pki.extended_key_usages(leaf)
    if ekus is not None and 'serverAuth' not in ekus and '2.5.29.37.0' not in ekus:
        refuse('the certificate\'s extended key usage (%s) does not include serverAuth, so it cannot '
               'authenticate a TLS server' % ', '.join(ekus))

    # The private key.
    key_data = read_required(module, params['privatekey_path'], 'private key', result)
    try:
        key = pki.load_private_key(key_data, params['privatekey_passphrase'],
                                   what='private key %s' % params['privatekey_path'])
    except pki.PKIError as exc:
        module.fail_json(msg=str(exc), **result)
    if not pki.key_matches(key, leaf):
        refuse('the certificate does not match the private key %s (public key fingerprints %s and %s)'
               % (params['privatekey_path'], pki.public_key_fingerprint(leaf), pki.public_key_fingerprint(key)))

    # The chain to a trusted root.
    try:
        roots = pki.load_certificates(read_required(module, params['ca_path'], 'ca_path', result),
                                      'ca_path %s' % params['ca_path'])
        intermediates = list(extra_intermediates)
        if params['chain_path']:
            intermediates += pki.load_certificates(
                read_required(module, params['chain_path'], 'chain_path', result),
                'chain_path %s' % params['chain_path'])
    except pki.PKIError as exc:
        module.fail_json(msg=str(exc), **result)
    try:
        chain = pki.build_chain(leaf, intermediates, roots)
    except pki.PKIError as exc:
        refuse('the certificate %s' % exc)
    result['chain'] = [pki.name_rfc4514(cert.subject) for cert in chain]

    if result['days_remaining'] < params['min_days_valid']:
        module.fail_json(msg='the certificate has only %d days of validity left (until %s), fewer than '
                             'min_days_valid %d; nothing written - get it renewed'
                             % (result['days_remaining'], result['not_after'], params['min_days_valid']),
                         **result)

    for target in (path, params['fullchain_path']):
        if target and not module.check_mode and not os.path.isdir(os.path.dirname(os.path.abspath(target))):
            module.fail_json(msg='destination directory of %s does not exist; nothing written' % target, **result)

    leaf_pem = pki.certificate_pem(leaf)
    diffs = []
    publish = publish_file(module, path, leaf_pem, default_mode=0o644, backup=params['backup'])
    changed = publish['changed']
    if 'diff' in publish:
        diffs.append(publish['diff'])
    if 'backup_file' in publish:
        result['backup_file'] = publish['backup_file']
    if params['fullchain_path']:
        fullchain = ''.join(pki.certificate_pem(cert) for cert in chain[:-1])
        publish = publish_file(module, params['fullchain_path'], fullchain, default_mode=0o644,
                               backup=params['backup'])
        changed = changed or publish['changed']
        if 'diff' in publish:
            diffs.append(publish['diff'])
        if 'backup_file' in publish:
            result['fullchain_backup_file'] = publish['backup_file']
    result['changed'] = changed
    if diffs:
        result['diff'] = diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
