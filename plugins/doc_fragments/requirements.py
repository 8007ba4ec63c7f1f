# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Python libraries the modules need on the managed host (module_helper.create_module checks them).

- ``phoneprov.mpp.requirements``: cryptography (keys, CSRs, certificates).
- ``phoneprov.mpp.requirements.dnspython``: dnspython (the phone's DNS check).
"""

from __future__ import annotations


class ModuleDocFragment(object):  # pylint: disable=too-few-public-methods

    # A fragment needs options or attributes to be accepted; these add none.
    DOCUMENTATION = r'''
options: {}
requirements:
  - cryptography >= 3.1 on the managed host
'''

    DNSPYTHON = r'''
options: {}
requirements:
  - dnspython >= 2.0 on the managed host
'''
