# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``trust_as_template`` on every ansible-core the collection supports, written once.

ansible-core 2.19 templates only strings marked as trusted templates (as it marks what it loads
from group_vars or a template file); older releases template every string, so there the mark is
nothing. Used by the fleet vars plugin (fleet strings holding a template) and the
phone_profiles action (the template files it loads itself).
"""

from __future__ import annotations

try:  # ansible-core >= 2.19: only values marked trusted are templates
    from ansible.template import trust_as_template
except ImportError:  # pragma: no cover - older ansible-core templates every string
    def trust_as_template(value):
        """The value itself: this ansible-core templates every string anyway."""
        return value

__all__ = ['trust_as_template']
