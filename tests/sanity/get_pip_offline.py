# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for the get-pip.py that ``ansible-test --venv`` downloads from its CI file host.

That host is not reachable from these machines (only package registries are), so the Makefile
puts this script where ansible-test caches get-pip. It bootstraps pip from Python's bundled
``ensurepip`` and then installs the requested pip version from the package index, which is
what get-pip.py does.
"""

from __future__ import annotations

import subprocess
import sys


def main():
    args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
    subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--quiet'] + args)


if __name__ == '__main__':
    main()
