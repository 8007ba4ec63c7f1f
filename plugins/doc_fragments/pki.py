# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options the PKI modules share (server_key, server_csr, server_cert, lab_ca).

- ``phoneprov.mpp.pki.privatekey``: O(privatekey_path) and O(privatekey_passphrase), the server's key.
- ``phoneprov.mpp.pki.backup``: O(backup).
- ``phoneprov.mpp.pki.force``: O(force).

File attributes (O(mode), O(owner), O(group), ...) come from ``ansible.builtin.files``.
"""

from __future__ import annotations


class ModuleDocFragment(object):  # pylint: disable=too-few-public-methods

    PRIVATEKEY = r'''
options:
  privatekey_path:
    description: The server's private key (see M(phoneprov.mpp.server_key)); it must exist.
    type: path
    required: true
  privatekey_passphrase:
    description: Passphrase of the private key.
    type: str
'''

    BACKUP = r'''
options:
  backup:
    description: Keep a timestamped copy of each file this task replaces.
    type: bool
    default: false
'''

    FORCE = r'''
options:
  force:
    description: Write a new key, CSR or certificate even when the existing one matches what is asked for.
    type: bool
    default: false
'''
