# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preview jobs of docs/gitops/ run as written: the commands of the GitLab job and of the GitHub
step, in bash as the CI runs them, on an inventory repository with a vault-encrypted production
vault, two servers nobody can reach and a merge request that changes one phone and removes another.
The preview shows both, from the branch's own data, with no SSH and no production secret."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from mpp_harness import BIN, REPO, ansible_env

GITOPS = REPO / 'docs' / 'gitops'
PRODUCTION_SECRET = 'production-secret-1002'
HOSTS = """all:
  children:
    provisioning_servers:
      hosts:
        prov-a: {ansible_host: 192.0.2.10}
        prov-b: {ansible_host: 192.0.2.11}
      vars:
        ansible_user: deploy
        ansible_become: true
        ansible_python_interpreter: /usr/bin/python3
        mpp_cert_fqdn: prov.example.net
"""


def git(repo, *args):
    return subprocess.run(['git', '-C', str(repo), '-c', 'user.name=test', '-c', 'user.email=test@example.net'] + list(args),
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def merge_request(tmp_path):
    """(repository, base commit): the target branch's commit, the merge request's checked out."""
    repo = tmp_path / 'inventory-repo'
    group_vars = repo / 'inventory' / 'group_vars' / 'all'
    group_vars.mkdir(parents=True)
    (repo / 'inventory' / 'hosts.yml').write_text(HOSTS)
    fleet = (REPO / 'examples' / 'lab' / 'group_vars' / 'all' / 'fleet.yml').read_text()
    fleet = fleet.replace('password: lab-secret-1002', 'password: "{{ vault_sip_1002 }}"')
    (group_vars / 'fleet.yml').write_text(fleet)
    vault_password = tmp_path / 'vault-pass'
    vault_password.write_text('the production vault password\n')
    (group_vars / 'vault.yml').write_text('vault_sip_1002: %s\n' % PRODUCTION_SECRET)
    subprocess.run([str(BIN / 'ansible-vault'), 'encrypt', '--vault-password-file', str(vault_password), str(group_vars / 'vault.yml')],
                   check=True, capture_output=True)
    shutil.copytree(str(GITOPS / 'ci'), str(repo / 'ci'))
    (repo / 'ci' / 'preview-vault.yml').write_text('vault_sip_1002: preview-sip-1002\n')
    git(repo, 'init', '-q')
    git(repo, 'add', '-A')
    git(repo, 'commit', '-qm', 'the fleet')
    base = git(repo, 'rev-parse', 'HEAD')
    entries = fleet.split('\n  - mac: ')
    entries = [entry for entry in entries if not entry.startswith('"0056.2b04.3618"')]   # phone 1004 leaves
    (group_vars / 'fleet.yml').write_text('\n  - mac: '.join(entries).replace('display_name: Support', 'display_name: Support desk'))
    git(repo, 'commit', '-qam', 'Support desk; the warehouse phone goes')
    return repo, base


def run_job(repo, script, env):
    """The job's commands in one bash, stopping at the first failure as GitLab's runner does."""
    run_env = ansible_env(env)
    for name in ('ANSIBLE_STDOUT_CALLBACK', 'ANSIBLE_CALLBACK_PLUGINS', 'ANSIBLE_CALLBACK_RESULT_FORMAT',
                 'ANSIBLE_HOST_KEY_CHECKING', 'ANSIBLE_ROLES_PATH'):
        run_env.pop(name, None)
    proc = subprocess.run(['bash', '-eo', 'pipefail', '-c', script], cwd=str(repo), env=run_env,
                          capture_output=True, text=True, timeout=600, check=False)
    return proc.returncode, re.sub(r'\x1b\[[0-9;]*m', '', proc.stdout + proc.stderr)


def gitlab_preview(repo, base):
    pipeline = yaml.safe_load((GITOPS / '.gitlab-ci.yml').read_text())
    job = pipeline['preview']
    env = {'CI_PROJECT_DIR': str(repo), 'CI_MERGE_REQUEST_DIFF_BASE_SHA': base, 'CI': 'true'}
    for name, value in list(pipeline['variables'].items()) + list(job['variables'].items()):
        env[name] = re.sub(r'\$(\w+)', lambda match: env.get(match.group(1), ''), value)
    return '\n'.join(job['script']), env


def github_preview(repo, base):
    workflow = yaml.safe_load((GITOPS / 'github' / 'workflows' / 'preview.yml').read_text())
    job = workflow['jobs']['preview']
    step = [step for step in job['steps'] if step.get('name') == 'Preview (pull request)'][0]
    env = {'MPP_PREVIEW_DIR': job['env']['MPP_PREVIEW_DIR'].replace('${{ github.workspace }}', str(repo)),
           'BASE_SHA': base, 'CI': 'true'}
    return step['run'], env


@pytest.mark.parametrize('platform', [gitlab_preview, github_preview], ids=['gitlab', 'github'])
def test_preview_without_production_secrets(merge_request, platform):
    repo, base = merge_request
    script, env = platform(repo, base)
    rc, output = run_job(repo, script, env)
    assert rc == 0, output[-6000:]
    assert 'not previewed (vault-encrypted): ./inventory/group_vars/all/vault.yml' in output, output[-4000:]
    # Both servers, rendered from the branch's fleet against the target branch's.
    assert output.count('"profiles: 0 created, 1 updated, 1 removed, 3 unchanged"') == 2, output[-4000:]
    assert '+  <Display_Name_1_>Support desk</Display_Name_1_>' in output, output[-4000:]
    assert 'removed 1: 00562b043618' in output, output[-4000:]
    assert PRODUCTION_SECRET not in output and 'UNREACHABLE' not in output
    # Nothing of the production vault was decrypted: the preview value is in the rendered profile.
    rendered = (repo / '.preview' / 'profiles' / 'prov-a' / '00562b043616.xml').read_text()
    assert 'preview-sip-1002' in rendered and PRODUCTION_SECRET not in rendered
    assert not os.path.exists(str(repo / 'inventory' / 'group_vars' / 'all' / 'vault.yml'))
