# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Python libraries the modules need on the managed host (module_helper.create_module checks them).

- ``phoneprov.mpp.requirements``: cryptography (keys, CSRs, certificates).
- ``phoneprov.mpp.requirements.dnspython``: dnspython (the phone's DNS check).

The minimum versions are the oldest a supported distribution ships (RHEL 9: cryptography 36.0.1,
dnspython 2.1.0; Debian 12: 38.0.4 and 2.3.0), as requirements.txt states and make core-matrix tests.
"""

from __future__ import annotations


class ModuleDocFragment(object):  # pylint: disable=too-few-public-methods

    # A fragment needs options or attributes to be accepted; these add none.
    DOCUMENTATION = r'''
options: {}
requirements:
  - cryptography >= 36.0.1 on the managed host (RHEL 9's python3-cryptography; Debian 12 has 38.0.4)
'''

    DNSPYTHON = r'''
options: {}
requirements:
  - dnspython >= 2.1 on the managed host (RHEL 9's python3-dns; Debian 12 has 2.3.0)
'''
