#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: phone_profiles
short_description: Render and publish every Cisco MPP phone's profile in one task
version_added: 0.1.0
description:
  - Renders one C(<flat-profile>) XML profile per phone from a Jinja2 template on the controller,
    with the full Ansible variable context (host and group vars) plus the phone's own entry as
    C(phone), optionally compresses (gzip) and encrypts it (OpenSSL AES-256-CBC or RFC 8188
    C(aes128gcm)) with the phone's own key, and publishes the results into O(dest) on the
    managed host, one file per phone, named C($MA.xml) by default.
  - Every phone entry and every rendered profile is checked before anything is written. A missing,
    malformed or duplicate MAC, a missing key, a template error or a result that is not well-formed
    XML with root C(<flat-profile>) fails the task naming the phone, and nothing is published.
  - The controller renders the fleet and sends the managed host one compressed payload holding only
    the profiles whose content changed (it first asks the host for the hashes of what it has).
    The host writes only changed files, each atomically (temporary file, ownership and mode set,
    then rename), so a phone resyncing during a push reads the old or the new profile, never a
    part of one. A rerun with nothing to change transfers no profile content.
  - The host first writes every changed profile to a temporary file beside it (flushed to disk), then the
    new manifest, and only when all of them are written renames the profiles into place, flushes the
    directory and replaces the manifest. A push that fails while writing (a full disk, say) fails
    naming the file and removes its temporary files; the published profiles and the manifest stay as
    they were.
  - One push at a time per directory. A push that writes holds an exclusive lock (C(flock)) on the
    directory O(dest) itself (no lock file among the profiles) and reads the manifest only once it
    holds it. A second push waits 2 seconds at most, then fails naming the directory and the pid
    holding the lock (from C(/proc/locks)), having written nothing. Check mode and the action's
    read-only first call take no lock.
  - Temporary files of an interrupted push (C(.<file>.XXXXXXXX.tmp) for a profile this module
    manages or writes, or for the manifest; regular files older than the running push) are removed by
    the next push that writes or prunes (the action runs nothing on the host when nothing changed),
    listed in RV(removed_temp_files).
  - The files this module manages are listed in a manifest file in O(dest) (O(manifest), default
    C(.phone_profiles.json)) with their SHA-256, size and stat data. Only files in the manifest are
    ever removed by O(prune), and only while it is the regular file the manifest describes (same
    SHA-256; not a symbolic link or a directory); anything else is left in place with a warning and
    forgotten. Manifest entries whose name is not a profile file name in O(dest) (a path, the
    manifest itself, a name the file name rule cannot give the entry's MAC) are ignored with a warning.
    A file already present at a phone's path but not in the manifest is
    adopted when its content is what the template renders, and replaced otherwise.
  - Encrypted output uses a salt derived from the key and the plaintext (HMAC-SHA256 keyed with the key
    octets the cipher uses, for V(aes-256-cbc) the UTF-8 passphrase), so an unchanged profile encrypts
    to unchanged bytes and reruns are idempotent; changing the content or the key changes the salt.
  - Runs on the controller (action plugin) and on the managed host (this module); the options
    O(payload) and O(inventory) are set by the action plugin, not by users.
requirements:
  - ansible-core 2.16 to 2.19 on the controller
  - cryptography >= 36.0.1 on the controller when O(encrypt) is not V(none) (the action encrypts the profiles)
author:
  - phoneprov.mpp contributors (@phoneprov)
extends_documentation_fragment: [ansible.builtin.action_common_attributes, phoneprov.mpp.attributes]
attributes:
  diff_mode:
    details: Shows which phones' profiles are created, updated or removed and a unified diff of the
      plaintext for the first O(diff_count) of them. Keys never appear; values of the parameters
      O(redact) names are masked.
options:
  phones:
    description:
      - The fleet, a list of dicts (usually C(mpp_phones)). Each entry needs C(mac) in any common
        spelling (C(000e08abcdef), C(00:0e:08:ab:cd:ef), C(00-0e-08-ab-cd-ef), C(000e.08ab.cdef)).
      - Every other key is free for the template, which sees the entry as C(phone). C(model) selects
        a per-model template from O(templates); the key named by O(key_field) holds the phone's
        encryption key.
      - The template also sees C(phone_mac) (C($MA) form), C(phone_mac_colon) (C($MAC) form) and
        C(phone_filename).
      - Give O(phones) or O(phones_from). An empty list with O(phones_from) is allowed (a role
        passes both); a non-empty one is an error.
    type: list
    elements: dict
  phones_from:
    description:
      - The fleet read from files on the controller instead of O(phones); for big fleets, which
        then never become an inventory variable (Ansible would tag, copy and template every value of
        it for every task). The profiles are byte for byte those of the same data in O(phones).
      - Each path is a fleet file or a directory of them (read in name order; hidden files, backups
        ending in C(~) and other extensions are ignored), read as the P(phoneprov.mpp.fleet#vars)
        vars plugin reads C(fleet/) files. A YAML (C(.yml), C(.yaml)) or JSON (C(.json)) file holds
        a list of phone entries or a mapping with the one key C(mpp_phones). A CSV file (C(.csv)) has
        a header row and one phone a row; a column name with dots nests (C(lines.0.user_id) is
        C(phone.lines[0].user_id), numeric parts are list indexes from 0), empty cells are left out,
        every value is a string.
      - A whole file may be vault-encrypted; it is decrypted with the run's vault secrets. A string
        that contains a template (C({{ vault_sip_1001 }})) is templated, as in C(group_vars/).
      - A relative path is looked up in the host's C(inventory_dir) first, then in the playbook's
        directory. Parsed files are cached per process until they change.
    type: list
    elements: path
  template:
    description:
      - Path of the Jinja2 template on the controller, searched like M(ansible.builtin.template)'s
        C(src) (role C(templates/) directories first).
      - Used for every phone whose model has no entry in O(templates).
    type: path
  templates:
    description:
      - Per-model templates, a dict of model name (the phone entry's C(model), such as
        C(CP-8841-3PCC)) to template path. Phones whose model is not listed use O(template); when
        O(template) is not set either, such a phone fails the task.
    type: dict
  dest:
    description: Directory on the managed host that receives the profiles; it must exist unless
      O(create_dest) is set.
    type: path
    required: true
  create_dest:
    description: Create O(dest) (mode 0750, O(owner) and O(group)) when it does not exist. Its parent
      must exist.
    type: bool
    default: false
  filename:
    description:
      - File name of each phone's profile in O(dest). It holds exactly one of the phone macros
        C($MA) (MAC lower-case), C($MAU) (upper-case) or C($MAC) (lower-case with colons), each
        also in the phone's delimited form, the name in parentheses after the C($); a literal
        C({{ mac }}) is accepted for C($MA) (quote it with C(!unsafe) or C({% raw %})).
      - Around the macro only letters, digits and C(. _ - ~), and it does not start with a dot, so
        that it is one file per phone that nginx can serve, as the phone asks for it. Any other name (no
        MAC macro, a C(/), another macro such as C($PN)) fails the task before anything is written.
    type: str
    default: $MA.xml
  compress:
    description: Compress each profile with gzip (before encryption, as the phone expects).
    type: bool
    default: false
  encrypt:
    description:
      - V(none) publishes plain (or only compressed) profiles.
      - V(aes-256-cbc) produces exactly what C(openssl enc -d -aes-256-cbc -md md5 -k KEY) decrypts
        (OpenSSL C(Salted__) header, key and IV by EVP_BytesToKey with MD5); the phone's rule needs
        C([--key KEY]), usually C([--key $B]) with the key in C(GPP_B).
      - V(rfc8188) produces RFC 8188 C(aes128gcm) content; the phone's input keying material is its
        C(IKM_HTTP_Encrypt_Content) parameter. How the phone turns that text into key octets is
        unverified; see O(key_encoding).
      - Each phone's key comes from its entry (O(key_field)); a phone without one fails the task.
    type: str
    choices: [none, aes-256-cbc, rfc8188]
    default: none
  key_field:
    description: Name of the phone entry key that holds the phone's encryption key.
    type: str
    default: key
  key_encoding:
    description:
      - How the key text becomes key octets for V(rfc8188). V(utf-8) (default, an unverified
        assumption about the phone) uses the text's UTF-8 octets; V(base64url) and V(hex) decode it.
      - V(aes-256-cbc) always uses the UTF-8 text as the OpenSSL passphrase.
    type: str
    choices: [utf-8, base64url, hex]
    default: utf-8
  weak_keys:
    description:
      - What a profile key under 128 bits of entropy-equivalent length does. V(refuse) fails the task
        before anything is rendered or written, naming the phone (MAC), never the key; V(warn) publishes
        and warns once, naming the phones.
      - A key used as text (the V(aes-256-cbc) passphrase; V(rfc8188) with O(key_encoding=utf-8)) counts
        its length in characters times log2 of its alphabet, which is 10 for digits only, 16 for hex digits
        of one case, otherwise the sum of the classes it uses (digits 10, C(a-z) 26, C(A-Z) 26, other
        printable ASCII 33, any other character 128). So 32 hex digits (C(openssl rand -hex 16)), 22
        random letters and digits, or 20 characters using all four ASCII classes pass. A V(hex) or
        V(base64url) key counts 8 bits per octet and needs 16 octets.
      - This bounds a key's strength by its length; it cannot tell a random key from a long guessable one.
    type: str
    choices: [refuse, warn]
    default: refuse
  record_size:
    description: RFC 8188 record size (C(rs)), 18 or more.
    type: int
    default: 4096
  prune:
    description: Remove profiles this module published earlier (listed in the manifest) for phones
      no longer in O(phones). Other files in O(dest) are never touched.
    type: bool
    default: false
  manifest:
    description: File name, in O(dest), of the manifest listing the files this module manages.
    type: str
    default: .phone_profiles.json
  diff_count:
    description: With C(--diff), how many changed phones get a unified diff (all are listed).
    type: int
    default: 3
  redact:
    description:
      - Parameters whose values the C(--diff) masks as C(********), by element name (shell patterns,
        case-insensitive). Masked are the element's text and CDATA, its attributes (but C(ua)), any
        attribute named like a secret, and each masked value and the phone's key wherever else they appear.
      - The rule and default of O(phoneprov.mpp.phone_check#module:redact) (module_utils/redaction.py).
        GitOps pipelines print C(--check --diff) into CI logs, so add your own secret parameters here.
      - An empty list masks only the phone's key.
    type: list
    elements: str
    default: ['*Password*', '*Passwd*', '*Pwd*', '*Secret*', 'IKM_*', 'GPP_*']
  render_cache:
    description:
      - Skip rendering a phone whose entry, template (text and path), encoding options and the values
        of every variable the template names are the same as at the last push that wrote its profile,
        and whose file on the host is unchanged. The fingerprint (SHA-256) is kept in the manifest.
      - Templates whose Jinja2 code uses C(lookup), C(query), C(q), C(now), C(random), C(shuffle),
        C(password_hash), C(include), C(import), C(extends), C(from), C(hostvars), C(vars),
        C(ansible_date_time) or C(template_run_date) are always rendered, as is every phone when this is
        V(false). Set it to V(false) when a template's output depends on something else (a filter
        plugin reading files, for example).
    type: bool
    default: true
  direct_render:
    description:
      - Render with a plain sandboxed Jinja2 environment set up like Ansible's (same filter and test
        plugins, C(trim_blocks), V(None) rendered as nothing, trailing newlines kept) when every
        variable the templates read has been resolved once for all phones into plain data (no
        lookups, C(hostvars) or variables resolved per phone). The templar of ansible-core 2.19
        costs about 1 ms per profile, this about a tenth of that.
      - Never at the price of a different result. The first phone of each template is rendered both
        ways and must match byte for byte, otherwise the template goes to Ansible's templar for the
        rest of the run; any render that raises (an undefined variable, say) is repeated by
        Ansible's templar, so errors are Ansible's. V(false) always uses Ansible's templar.
    type: bool
    default: true
  render_workers:
    description:
      - How many processes render the fleet on the controller. V(0) (default) uses one per CPU, at
        most 4; fleets under 1,000 phones are rendered by one. Each worker is a fork of the Ansible
        worker process, so the variable context is shared, not copied.
    type: int
    default: 0
  mode:
    description:
      - Permissions of the profile files, an octal string such as V('0640'). Profiles hold SIP
        credentials, so the default is not world-readable; give the web server's group with
        O(group).
    type: raw
    default: '0640'
  owner:
    description: Owner of the profile files (name or uid). Default the connecting user.
    type: str
  group:
    description: Group of the profile files (name or gid), e.g. the web server's group.
    type: str
  payload:
    description: Internal, set by the action plugin. Path of the payload file on the managed host.
    type: path
  inventory:
    description: Internal, set by the action plugin. Only report the hashes of managed files.
    type: bool
    default: false
  push_digest:
    description:
      - Internal, set by the action plugin. Digest of everything the push publishes (templates, variables,
        phone entries, the options that shape the files).
      - A successful publish records it in the manifest. The inventory call answers C(fresh) when the
        manifest holds the same digest and every managed file still verifies (size, mtime, inode, mode,
        owner, group); the controller then renders and sends nothing.
    type: str
  buckets:
    description:
      - Internal, set by the action plugin. The controller's bucket digests (module_utils/profile_buckets.py),
        a dict with C(count) and C(digests).
      - The inventory call then returns the hashes of the files in the buckets whose digests differ from the
        host's only, and lists those buckets as C(dirty_buckets).
    type: dict
  keep_buckets:
    description:
      - Internal, set by the action plugin. The buckets the inventory call found current. The payload has no
        record for their phones; the host keeps their files as they are after checking that their digests
        still match O(buckets).
    type: list
    elements: int
notes:
  - Every profile written is on disk, then the directory, before the manifest is replaced. On Linux 5.8
    and later one C(syncfs) flushes all new profiles (one journal commit instead of one per file) and
    each file takes as few system calls as it can (created with its final mode; C(chown) only when a
    new file's owner or group is not the one asked for). On other systems each file is fsync-ed, on 4
    threads.
  - Phone entries are resolved one by one, so an entry whose values fail to template (an undefined
    variable in a vaulted password, say) is named in the error.
  - With C(-vv) the task prints the time of its phases (check, host inventory, render, publish).
  - Profiles are written atomically, so a reader sees a complete old or new file. Across files the
    push is not one transaction; an interrupted push leaves some phones updated, and a rerun
    completes it.
seealso:
  - module: ansible.builtin.template
    description: The per-file way; about 0.4 s per phone, which this module replaces for fleets.
'''

EXAMPLES = r'''
- name: Publish every phone's profile
  phoneprov.mpp.phone_profiles:
    phones: "{{ mpp_phones }}"
    template: flat-profile.xml.j2
    dest: /srv/mpp/profiles
    group: www-data
    prune: true

- name: Per-model templates, compressed and encrypted with each phone's own key
  phoneprov.mpp.phone_profiles:
    phones: "{{ mpp_phones }}"
    template: generic.xml.j2
    templates:
      CP-8841-3PCC: cp8841.xml.j2
      CP-7841-3PCC: cp7841.xml.j2
    dest: /srv/mpp/profiles
    filename: $MA.cfg
    compress: true
    encrypt: aes-256-cbc
    key_field: profile_key
'''

RETURN = r'''
created:
  description: MACs (C($MA) form) whose profile was created (or would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [000e08abcdef]
updated:
  description: MACs whose profile content (or file mode/owner/group) changed.
  returned: always
  type: list
  elements: str
removed:
  description: MACs whose profile was removed by O(prune).
  returned: always
  type: list
  elements: str
not_pruned:
  description: >-
    Manifest entries left in place, each with C(file), C(mac) and C(reason): a name that is not a
    profile file name in O(dest), or (with O(prune)) a file that is no longer what this module wrote.
    They are dropped from the manifest.
  returned: when the managed host had profiles to write or manifest entries to prune or refuse
  type: list
  elements: dict
  sample: [{file: 000e08abcdef.xml, mac: 000e08abcdef, reason: is a symbolic link}]
unchanged:
  description: MACs whose profile was already up to date.
  returned: always
  type: list
  elements: str
counts:
  description: Number of phones in each list, and C(total) phones.
  returned: always
  type: dict
  sample: {created: 1, updated: 0, removed: 0, unchanged: 9999, total: 10000}
dest:
  description: The destination directory.
  returned: always
  type: str
  sample: /srv/mpp/profiles
manifest:
  description: Path of the manifest file.
  returned: always
  type: str
  sample: /srv/mpp/profiles/.phone_profiles.json
rendered:
  description: Number of phones whose template was rendered in this run (the others were unchanged
    according to their render fingerprint, see O(render_cache)).
  returned: always
  type: int
  sample: 1
removed_temp_files:
  description: Temporary files of an interrupted earlier push that this push removed (names in O(dest)).
  returned: when the managed host had profiles to write or manifest entries to prune or refuse
  type: list
  elements: str
  sample: [.000e08abcdef.xml.k2x9_q0a.tmp]
shipped:
  description: Number of profiles whose content was transferred to the managed host.
  returned: always
  type: int
  sample: 1
'''

import base64
import hashlib
import grp
import os
import pwd

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.phoneprov.mpp.plugins.module_utils.files import fsync_directory, remove_stale_temp_files
from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_profiles_spec import task_argument_spec
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_manifest import Manifest, ManifestError, ManifestLock, sha256_file
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_payload import read_payload
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_buckets import bucket_digests, bucket_of, differing_buckets
from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_staging import Staging

DIFF_OLD_LIMIT = 256 * 1024
UNCHANGED = 'nothing was published: the profiles and the manifest are as they were'


class Publisher(object):
    """Host side: the destination directory, the files' mode/owner/group and the manifest."""

    def __init__(self, module):
        self.module = module
        self.created_dest = False
        params = module.params
        self.dest = params['dest']
        name = params['manifest']
        if not name or '/' in name or name in ('.', '..'):
            module.fail_json(msg='manifest must be a plain file name, got %r' % name)
        self.manifest_name = name
        self.mode = self._mode(params['mode'])
        self.uid = self._id(params['owner'], lambda name: pwd.getpwnam(name).pw_uid, 'owner')
        self.gid = self._id(params['group'], lambda name: grp.getgrnam(name).gr_gid, 'group')
        if not os.path.isdir(self.dest):
            if not params['create_dest']:
                if not module.check_mode:
                    module.fail_json(msg='destination directory %s does not exist' % self.dest, dest=self.dest)
                # In check mode an earlier stage (provisioning_server) may only have reported that it
                # would create the document root: report every phone as created, as that run would.
                module.warn('destination directory %s does not exist yet; check mode reports every phone '
                            'as created' % self.dest)
            if not module.check_mode and not params['inventory']:
                try:
                    os.mkdir(self.dest, 0o750)
                    os.chown(self.dest, -1 if self.uid is None else self.uid, -1 if self.gid is None else self.gid)
                except OSError as exc:
                    module.fail_json(msg='could not create %s: %s' % (self.dest, to_native(exc)), dest=self.dest)
                self.created_dest = True
        self.lock = None
        try:
            if not module.check_mode and not params['inventory']:
                # Before the manifest is read: the push holding the lock may be about to replace it.
                self.lock = ManifestLock(self.dest).acquire()
            self.manifest = Manifest(self.dest, name)
        except ManifestError as exc:
            module.fail_json(msg=to_native(exc), dest=self.dest)

    def _mode(self, mode):
        if isinstance(mode, int):
            return mode
        try:
            value = int(str(mode), 8)
        except ValueError:
            self.module.fail_json(msg='mode must be an octal number such as 0640, got %r' % (mode,))
        if not 0 <= value <= 0o7777:
            self.module.fail_json(msg='mode %r is out of range' % (mode,))
        return value

    def _id(self, name, lookup, what):
        """The uid or gid of ``name`` (a name or a number); None when not given."""
        if name is None:
            return None
        if name.isdigit():
            return int(name)
        try:
            return lookup(name)
        except KeyError:
            self.module.fail_json(msg='%s %s does not exist on the managed host' % (what, name))

    def actual_hash(self, filename):
        """(sha256, stat) of the file as it is now (hashing it when the manifest cannot vouch)."""
        sha, st = self.manifest.verified(filename)
        if sha is None and st is not None:
            path = os.path.join(self.dest, filename)
            if not os.path.isfile(path) or os.path.islink(path):
                self.module.fail_json(msg='%s exists and is not a regular file' % path)
            sha = sha256_file(path)
        return sha, st

    def attributes_differ(self, st):
        if st is None:
            return False
        if (st.st_mode & 0o7777) != self.mode:
            return True
        if self.uid is not None and st.st_uid != self.uid:
            return True
        return self.gid is not None and st.st_gid != self.gid

    def fix_attributes(self, path):
        os.chmod(path, self.mode)
        if self.uid is not None or self.gid is not None:
            os.chown(path, -1 if self.uid is None else self.uid, -1 if self.gid is None else self.gid)

    def commit(self, staging, fixes, doomed, push_digest=None):
        """Publish a push's staged files (module_utils/profile_staging.py), fix the attributes of the
        ``fixes`` paths and prune ``doomed``; the manifest, staged before anything is renamed, replaces
        the old one last, after the directory is flushed. (removed MACs, entries left in place)."""
        manifest, module = self.manifest, self.module
        kept = dict((name, entry) for name, entry in manifest.files.items() if name not in doomed)
        manifest_tmp, removed, left = None, [], []
        try:
            # Same mode, owner and group as the profiles: it lists the phones' MACs.
            manifest_tmp = manifest.stage(kept, self.mode, uid=self.uid, gid=self.gid, push_digest=push_digest)
        except OSError as exc:
            staging.abort()
            module.fail_json(msg='publishing profiles into %s failed: %s; %s' % (self.dest, to_native(exc), UNCHANGED))
        try:
            staging.commit()
            for path in fixes:
                self.fix_attributes(path)
            removed, left = prune(self, doomed, False)
            fsync_directory(self.dest)
            os.replace(manifest_tmp, manifest.path)
            fsync_directory(self.dest)
        except OSError as exc:
            staging.abort()
            if manifest_tmp and os.path.lexists(manifest_tmp):
                os.unlink(manifest_tmp)
            module.fail_json(msg='publishing profiles into %s failed after %d of %d new profiles were in place: %s; run the '
                                 'task again' % (self.dest, staging.committed, len(staging.staged), to_native(exc)))
        return removed, left

    def remove_stale_temp_files(self, names):
        """Temporary files of ``names`` (and the manifest) an interrupted push left behind, removed."""
        try:
            return remove_stale_temp_files(self.dest, set(names) | {self.manifest_name}, self.lock.acquired_ns)
        except OSError as exc:
            self.module.warn('could not remove the temporary files of an interrupted push in %s: %s' % (self.dest, to_native(exc)))
            return []


def verified_hashes(publisher):
    """filename -> [sha256, render fingerprint] of the managed files that still verify."""
    manifest = publisher.manifest
    hashes = {}
    for filename, entry in manifest.files.items():
        sha, st = manifest.verified(filename)
        if sha is not None and not publisher.attributes_differ(st):
            hashes[filename] = [sha, entry.get('render')]
    return hashes


def host_bucket_digests(manifest, hashes, count):
    """The host's bucket digests: a managed file that does not verify makes its bucket unknown."""
    return bucket_digests(((filename, hashes[filename][1] if filename in hashes else None) for filename in manifest.files), count)


def controller_buckets(module):
    """(count, digests) of the ``buckets`` option, checked; (None, None) without it."""
    buckets = module.params['buckets']
    if not buckets:
        return None, None
    count, digests = buckets.get('count'), buckets.get('digests')
    if not isinstance(count, int) or count < 1 or not isinstance(digests, list) or len(digests) != count:
        module.fail_json(msg='buckets must have a count and that many digests')
    return count, digests


def inventory(module, publisher):
    """The hashes of the managed files that still verify; ``fresh`` when the last push recorded the
    push digest asked about and every managed file still verifies (the controller then has nothing
    to render or send, and the hashes are not returned). With the controller's bucket digests, only
    the hashes of the buckets that differ, listed as ``dirty_buckets``."""
    manifest = publisher.manifest
    hashes = verified_hashes(publisher)
    # Refused entries count as managed: the controller then sends a payload and the push reports them.
    managed = len(manifest.files) + len(manifest.refused)
    digest = module.params['push_digest']
    fresh = bool(digest) and digest == manifest.push_digest and not manifest.refused and len(hashes) == len(manifest.files)
    result = dict(changed=False, fresh=fresh, managed=managed, dest=publisher.dest, manifest=manifest.path)
    count, digests = controller_buckets(module)
    if fresh:
        hashes = {}
    elif count:
        dirty = differing_buckets(host_bucket_digests(manifest, hashes, count), digests)
        wanted = set(dirty)
        hashes = dict((filename, item) for filename, item in hashes.items() if bucket_of(filename, count) in wanted)
        result['dirty_buckets'] = dirty
    module.exit_json(hashes=hashes, **result)


def kept_buckets(module, publisher):
    """The managed files of the buckets the controller keeps (``keep_buckets``), once the host's
    digests of those buckets still equal the controller's: file name -> entry."""
    keep = set(module.params['keep_buckets'] or [])
    count, digests = controller_buckets(module)
    if not keep:
        return {}
    if not count or not all(0 <= bucket < count for bucket in keep):
        module.fail_json(msg='keep_buckets needs buckets, and bucket numbers below their count')
    manifest = publisher.manifest
    ours = host_bucket_digests(manifest, verified_hashes(publisher), count)
    moved = sorted(keep.intersection(differing_buckets(ours, digests)))
    if moved:
        module.fail_json(msg='profiles in %s changed on the managed host during the push (%d buckets of files no longer as '
                             'the inventory saw them); run the task again (%s)' % (publisher.dest, len(moved), UNCHANGED))
    return dict((filename, entry) for filename, entry in manifest.files.items() if bucket_of(filename, count) in keep)


def refused_entries(module, manifest):
    """The manifest's entries that are not this module's, each warned about: never pruned."""
    out = []
    for filename in sorted(manifest.refused):
        reason = manifest.refused[filename]
        module.warn('manifest %s: entry %r %s; ignored and dropped, nothing deleted' % (manifest.path, filename, reason))
        out.append({'file': filename, 'mac': None, 'reason': reason})
    return out


def prune(publisher, filenames, check):
    """Remove the managed files ``filenames`` (relative to the directory's descriptor, see
    Manifest.remove): the MACs removed, and the entries left in place, each warned about; the
    manifest forgets both."""
    manifest, module = publisher.manifest, publisher.module
    removed, left = [], []
    if not filenames:
        return removed, left
    try:
        dir_fd = os.open(publisher.dest, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        module.fail_json(msg='prune: cannot open %s as a directory (a symbolic link is not followed): %s'
                             % (publisher.dest, to_native(exc)), dest=publisher.dest)
    try:
        for filename in filenames:
            mac = manifest.files[filename].get('mac')
            reason = manifest.remove(filename, dir_fd, check)
            if reason is None:
                removed.append(mac)
            else:
                module.warn('prune: left %r (phone %s) in %s in place: it %s; no longer managed'
                            % (filename, mac, publisher.dest, reason))
                left.append({'file': filename, 'mac': mac, 'reason': reason})
            if not check:
                del manifest.files[filename]
    finally:
        os.close(dir_fd)
    return removed, left


def publish(module, publisher):
    """Stage every changed profile, then publish them all with the manifest (Publisher.commit)."""
    check = module.check_mode
    manifest = publisher.manifest
    created, updated, unchanged, removed, not_pruned, fixes = [], [], [], [], [], []
    wanted = set()
    old_contents = {}
    shipped = 0
    recorded = False
    manifest.read_directory()
    kept = kept_buckets(module, publisher)
    wanted.update(kept)  # their MACs are not listed back: the controller knows them (its phones of those buckets)
    staging = Staging(publisher.mode, uid=publisher.uid, gid=publisher.gid)
    problem = None
    try:
        for record in read_payload(module.params['payload']):
            filename, mac, sha = record.filename, record.mac, record.sha256
            if '/' in filename or filename in ('.', '..', publisher.manifest_name):
                staging.abort()
                module.fail_json(msg='invalid profile file name %r for phone %s' % (filename, mac))
            if filename in wanted:
                staging.abort()
                module.fail_json(msg='profile file name %r of phone %s is in the payload twice, or in a kept bucket' % (filename, mac))
            wanted.add(filename)
            path = os.path.join(publisher.dest, filename)
            actual, st = publisher.actual_hash(filename)
            if record.content is not None:
                shipped += 1
            if record.diff and actual is not None and actual != sha and st is not None and st.st_size <= DIFF_OLD_LIMIT:
                with open(path, 'rb') as handle:
                    old_contents[mac] = base64.b64encode(handle.read()).decode('ascii')
            if actual == sha:
                if publisher.attributes_differ(st):
                    updated.append(mac)
                    fixes.append(path)
                else:
                    unchanged.append(mac)
                if not check and not manifest.is_current(filename, mac, record.render):
                    manifest.record(filename, mac, sha, record.render)
                    recorded = True
                continue
            (created if actual is None else updated).append(mac)
            if check:
                continue
            if record.content is None:
                problem = ('profile %s of phone %s changed on the managed host during the push; run the task again'
                           % (path, mac))
                break
            if hashlib.sha256(record.content).hexdigest() != sha:
                problem = 'payload for phone %s is corrupt (hash mismatch)' % mac
                break
            staging.add(path, record)
        staging.close()
    except (OSError, ValueError) as exc:
        staging.abort()
        module.fail_json(msg='publishing profiles into %s failed: %s; %s' % (publisher.dest, to_native(exc), UNCHANGED))
    if problem:
        staging.abort()
        module.fail_json(msg='%s (%s)' % (problem, UNCHANGED))
    not_pruned = refused_entries(module, manifest)
    doomed = sorted(set(manifest.files) - wanted) if module.params['prune'] else []
    temp_files = []
    if check:
        removed, left = prune(publisher, doomed, True)
    else:
        for _tmp, _path, record, st in staging.staged:
            manifest.record(record.filename, record.mac, record.sha256, record.render, st=st)
        left = []
        digest = module.params['push_digest']
        # refused entries: the rewritten manifest drops them; a new push digest is recorded
        if staging.staged or fixes or recorded or not_pruned or doomed or (digest and digest != manifest.push_digest):
            removed, left = publisher.commit(staging, fixes, doomed, digest)
        temp_files = publisher.remove_stale_temp_files(set(manifest.files) | wanted | set(doomed))
    not_pruned.extend(left)
    counts = {'created': len(created), 'updated': len(updated), 'removed': len(removed),
              'unchanged': len(unchanged) + len(kept), 'total': len(wanted)}
    changed = bool(created or updated or removed or temp_files or publisher.created_dest)
    module.exit_json(changed=changed, created=created, updated=updated, removed=removed, unchanged=unchanged, counts=counts,
                     dest=publisher.dest, manifest=manifest.path, shipped=shipped, old_contents=old_contents,
                     not_pruned=not_pruned, removed_temp_files=temp_files, kept=len(kept))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            task_argument_spec(),
            payload=dict(type='path'),
            inventory=dict(type='bool', default=False),
            push_digest=dict(type='str'),
            buckets=dict(type='dict'),
            keep_buckets=dict(type='list', elements='int'),
        ),
        supports_check_mode=True,
    )
    if module.params['phones']:
        module.fail_json(msg='phone_profiles renders on the controller: the action plugin sends the host a '
                             'payload, not the phones')
    publisher = Publisher(module)
    if module.params['inventory']:
        inventory(module, publisher)
    if not module.params['payload']:
        module.fail_json(msg='payload is required (it is set by the phone_profiles action plugin)')
    publish(module, publisher)


if __name__ == '__main__':
    main()
