#!/bin/sh
# The production jobs of deploy.yml (GitHub Actions; copy to ci/deploy-setup.sh): Ansible, the
# collection and the production credentials from the environment's secrets. Only ever run on main,
# in the protected environments: a pull request's jobs have no such secrets (preview.yml).
set -eu
pip install --quiet "ansible-core>=2.16,<2.20" "cryptography>=41" "dnspython>=2.4,<3"
ansible-galaxy collection install git+https://github.com/phoneprov/mpp.git,0.1.0
umask 077
mkdir -p ~/.ssh
printf '%s\n' "$PROD_SSH_PRIVATE_KEY" > ~/.ssh/id_ed25519
printf '%s' "$PROD_VAULT_PASSWORD" > .vault-pass
