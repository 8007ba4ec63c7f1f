#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: phone_check
short_description: Resync exactly as a Cisco MPP phone would, for one phone or a whole fleet
version_added: 0.1.0
description:
  - Behaves like a Cisco multiplatform phone doing one resync against a provisioning server and
    reports how the phone would react (behaviour V(A), V(B) or V(C) of the provisioning guide's
    table 3-1). It never trusts more than a phone would. It is read-only, nothing on the server or the
    managed host changes, and the module runs the same way in check mode.
  - "Step 1: expands the macros of O(url) (C($MA), C($MAU), C($MAC), C($PN), C($PSN), C($SN),
    C($CCERT), C($SWVER), and C($A)..C($P), C($IP), C($EXTIP), C($HWVER) from O(macros)) and
    parses the rule's options in brackets: C([--key SECRET]), C([--uid U --pwd P]); values may be quoted."
  - "Step 2: resolves the URL host through DNS (O(nameservers)/O(dns_port) or the system resolver)
    and connects to its addresses in turn (or to O(address))."
  - "Step 3 (https): verifies the server chain against O(ca_path) B(only), never the system trust
    store; presents O(client_cert); applies the CN rule (the CN holds the FQDN, optionally followed
    by C(/) and text); then the phone's DNS check: the address connected to must be among the
    addresses the CN's FQDN resolves to. Any failure is behaviour V(C) with RV(reason) naming it."
  - "Step 4: sends C(GET) with the phone's C(User-Agent: Cisco-<model>/<firmware> (<mac>)); follows
    301/302 at once (at most O(max_redirects)); on 401/407 repeats with O(username)/O(password),
    Digest (MD5, SHA-256) preferred over Basic, at most twice, then V(C)."
  - "Step 5: classifies by table 3-1: 200 is V(A), 404 is V(B) (V(A) when O(resync_fails_on_fnf=false)),
    anything else V(C); RV(next_try_parameter) names the parameter that sets the next try."
  - "Step 6 (200): detects gzip, decrypts AES-256-CBC (OpenSSL C(Salted__) format) or RFC 8188
    aes128gcm with the key, parses the C(<flat-profile>); a profile that cannot be decoded or
    parsed is V(B). The parameters are returned as a dict (filtered and redacted, see O(parameter_names)
    and O(redact))."
  - "Then, with O(follow_rules) (default), the rest of the phone's sequence: C(Profile_Rule_B), C(_C), C(_D) in order
    (from the profiles read, or O(profile_rule_b)..O(profile_rule_d)), conditional rules evaluated, a failure stopping
    the sequence; the retry and periodic timers as data (RV(schedule)); and C(Upgrade_Rule) against O(firmware)
    (RV(upgrade)). The top-level fields, and O(expect), stay those of O(url) (C(Profile_Rule))."
  - The task fails when the behaviour differs from O(expect) and still returns every field;
    O(expect=any) only reports. Bad input (invalid MAC, a macro without a value, a rule that does
    not parse, a missing certificate file) fails before any traffic with a message naming it.
  - "Fleet mode: O(phones) checks many phones in one task, O(workers) at a time, and returns
    RV(phones) and a RV(summary) grouped by behaviour and reason. Each item needs C(mac); other keys
    override the task-level options for that phone; unknown keys are ignored, so C(mpp_phones) can be
    passed as it is. Within one task, DNS answers are cached (each name is asked once)."
author:
  - phoneprov.mpp contributors (@phoneprov)
requirements:
  - cryptography on the managed host only to decrypt encrypted profiles
extends_documentation_fragment: [ansible.builtin.action_common_attributes, phoneprov.mpp.attributes.check_only,
                                 phoneprov.mpp.requirements.dnspython]
options:
  url:
    description:
      - The phone's profile rule (C(Profile_Rule)), C([options] URL) with macros, for example
        C([--key "$B"] https://prov.example.net/cfg/$MA.xml).
      - Only C(http://) and C(https://) are supported; a rule without a scheme (TFTP on a phone)
        is refused. With O(follow_rules), the conditional form '( expr )? url' is evaluated (see O(profile_rule_b)); a false
        condition skips the rule (RV(behavior) null).
      - "Known options: C(--key), C(--uid), C(--pwd), C(--post), C(--alias). The C(--uid)/C(--pwd)
        syntax is not verified against the Cisco guide."
    type: str
    required: true
  mac:
    description:
      - MAC address of the phone, any spelling (C(000e08abcdef), C(00:0e:08:ab:cd:ef), ...).
      - Required unless O(phones) is given; mutually exclusive with it.
    type: str
  model:
    description: Product name (C($PN) and the User-Agent).
    type: str
    default: CP-8841-3PCC
  serial:
    description: Serial number (C($SN)). A URL using C($SN) without it fails before any traffic.
    type: str
  firmware:
    description: Firmware version sent in the User-Agent (and C($SWVER)).
    type: str
    default: 12.0.1
  macros:
    description:
      - Further macro values, keys C(A)..C(P) (or C(GPP_A)..C(GPP_P)), C(IP), C(EXTIP), C(HWVER),
        C(SWVER), C(PN), C(PSN), C(SN).
      - A value the rule uses as C(--key) or C(--pwd) is hidden from the task's output like O(key);
        other macro values are not.
    type: dict
  ca_path:
    description:
      - PEM file of the roots the phone trusts (the Cisco Server CA, or the lab server CA). Required
        for https. The system trust store is never used.
    type: path
  client_cert:
    description:
      - The phone's client certificate (PEM) presented to the server; sets C($CCERT) to
        C(Installed). May hold macros, for example C(/etc/mpp/clients/$MA.crt), which makes one
        value serve a whole fleet.
    type: str
  client_key:
    description: Private key of O(client_cert) (PEM, unencrypted). May hold macros like O(client_cert).
    type: str
  client_identity:
    description:
      - "The server's identity rule (role variable C(mpp_server_client_identity), module_utils/client_subject.py) -
        V(st) (C(ST)=MAC, the guide's subject), V(cn_sep) (the C(SEP<mac>) suffix of a manufacturing
        certificate's C(CN)) or a dict C({rule: attribute, attribute: NAME, pattern: REGEX})."
      - The MAC that rule reads from O(client_cert) is returned as RV(client_cert_mac); a 403 for a phone whose
        certificate names another MAC says so in RV(reason).
    type: raw
    default: st
  nameservers:
    description:
      - Name servers (IP addresses) for every DNS lookup; default the system resolver
        (C(/etc/resolv.conf); like a phone, C(/etc/hosts) is not used).
    type: list
    elements: str
  dns_port:
    description: Port of O(nameservers).
    type: int
    default: 53
  address:
    description:
      - Connect to this IP address instead of the addresses the URL host resolves to (like
        C(curl --resolve)); the DNS check still requires it among the CN FQDN's addresses.
      - Use it to check each server behind one name.
    type: str
  key:
    description:
      - Key of an encrypted profile (AES-256-CBC passphrase or RFC 8188 input key material).
        Overrides the rule's C(--key).
    type: str
  key_encoding:
    description: How O(key) turns into key octets for RFC 8188 (see M(phoneprov.mpp.phone_profiles)).
    type: str
    choices: [utf-8, base64url, hex]
    default: utf-8
  username:
    description: User name for HTTP authentication (Basic or Digest). Overrides the rule's C(--uid).
    type: str
  password:
    description: Password for HTTP authentication. Overrides the rule's C(--pwd).
    type: str
  expect:
    description:
      - The behaviour the phone must show; the task fails otherwise (and still returns every field).
      - V(any) only reports.
    type: str
    choices: [A, B, C, any]
    default: A
  resync_fails_on_fnf:
    description: The phone's C(Resync_Fails_On_FNF). When false, 404 counts as success (V(A)).
    type: bool
    default: true
  timeout:
    description: Seconds for each DNS lookup, connection and HTTP exchange.
    type: float
    default: 10
  max_redirects:
    description: Most 301/302 redirects followed before behaviour V(C) (the phone's own limit is not documented).
    type: int
    default: 5
  return_parameters:
    description: Return the profile's parameters. Set false to return only RV(parameter_count).
    type: bool
    default: true
  parameter_names:
    description: Return only these parameters (names as in the profile). Default all.
    type: list
    elements: str
  redact:
    description:
      - Parameters whose names match one of these shell patterns (case-insensitive) are returned
        with the value C(********). Profiles carry SIP passwords and keys.
      - The same rule (module_utils/redaction.py) and default as O(phoneprov.mpp.phone_profiles#module:redact),
        which masks the push's C(--diff).
      - An empty list returns every value as it is.
    type: list
    elements: str
    default: ['*Password*', '*Passwd*', '*Pwd*', '*Secret*', 'IKM_*', 'GPP_*']
  phones:
    description:
      - Fleet mode. A list of phones, each a dict with C(mac) and optionally C(model), C(serial),
        C(firmware), C(macros), C(key), C(username), C(password), C(client_cert), C(client_key),
        C(url), C(expect). Other keys are ignored. Values of C(key) and C(password) are hidden from
        the output.
      - The task fails when any phone's behaviour differs from its C(expect) (default O(expect)).
    type: list
    elements: dict
  workers:
    description: In fleet mode, how many phones resync at the same time.
    type: int
    default: 4
  return_phones:
    description:
      - In fleet mode, which per-phone results RV(phones) holds; RV(summary) always counts every phone.
      - V(unexpected) keeps only phones whose behaviour differs from their expect, V(none) none
        (for very large fleets, where the full list is megabytes of output).
    type: str
    choices: [all, unexpected, none]
    default: all
  profile_rule_b:
    description:
      - The phone's C(Profile_Rule_B) before the resync (a profile it reads may set another one, which
        then wins). Same syntax as O(url), also the conditional form '( expr )? url'.
      - With O(follow_rules), the phone's rules run in order, C(Profile_Rule) (O(url)), C(_B), C(_C), C(_D),
        and are returned in RV(rules).
    type: str
  profile_rule_c:
    description: The phone's C(Profile_Rule_C), see O(profile_rule_b).
    type: str
  profile_rule_d:
    description: The phone's C(Profile_Rule_D), see O(profile_rule_b).
    type: str
  settings:
    description:
      - Other parameters the phone holds before the resync, by their profile names, for example
        C(Resync_Error_Retry_Delay), C(Resync_Periodic), C(Resync_At__HHmm_), C(Upgrade_Rule), C(Upgrade_Enable),
        C(GPP_B). A profile the phone reads overrides them for the rules after it, as the phone applies it.
    type: dict
    default: {}
  follow_rules:
    description:
      - "Follow the phone's whole rule sequence (module_utils/rule_sequence.py) after O(url): C(Profile_Rule_B),
        C(_C), C(_D) from the profiles read or from O(profile_rule_b)..O(profile_rule_d); a false condition skips a
        rule; a C(tftp) rule (or one without a scheme) is reported as not fetched, not as a failure."
      - The top-level result stays that of O(url) (C(Profile_Rule)); RV(rules), RV(sequence), RV(schedule) and
        RV(upgrade) report the rest. V(false) does one resync of O(url) only.
      - "Not verified: that a profile's C(Profile_Rule_C) or C(GPP_B) already applies to the rules after it in
        the same sequence (it does here)."
    type: bool
    default: true
  stop_on_failure:
    description:
      - Stop the sequence at the first rule that fails (V(B) or V(C)), as the guide describes ("the whole
        sequence is retried after C(Resync_Error_Retry_Delay)"). Not verified whether a phone still runs the
        later rules; V(false) runs them and still reports the first failure.
    type: bool
    default: true
  attempt:
    description:
      - Which try this resync stands for (1 = the first retry after a failure); it picks the element of a
        C(Resync_Error_Retry_Delay) list such as C(1800,3600,7200) in RV(schedule) (the last repeats).
    type: int
    default: 1
  check_upgrade:
    description:
      - "Follow C(Upgrade_Rule) (from the profiles read, or O(settings)) as the phone would: C(Upgrade_Enable) No
        means no upgrade; the condition (as in '( $SWVER ne sip88xx.12-0-1MPP )? https://...') is evaluated against
        O(firmware); the file is fetched over the client certificate as a ranged GET of its first byte
        (C(Range: bytes=0-0)), 200 or 206 means the upgrade would start. Reported in RV(upgrade)."
    type: bool
    default: true
'''

EXAMPLES = r'''
- name: Check that phone 000e08abcdef gets its profile (fail the play otherwise)
  phoneprov.mpp.phone_check:
    url: https://prov.example.net/cfg/$MA.xml
    mac: 00:0e:08:ab:cd:ef
    model: CP-8841-3PCC
    serial: FCH1234ABCD
    ca_path: /etc/mpp/cisco-server-ca.pem
    client_cert: /etc/mpp/phone.crt
    client_key: /etc/mpp/phone.key

- name: Encrypted profile with the key in a GPP parameter, only report
  phoneprov.mpp.phone_check:
    url: '[--key "$B"] https://prov.example.net/cfg/$MA.cfg'
    mac: 000e08abcdef
    key: "{{ phone_key }}"
    ca_path: /etc/mpp/cisco-server-ca.pem
    expect: any
  register: resync

- name: A phone without a profile must get B (file not found)
  phoneprov.mpp.phone_check:
    url: https://prov.example.net/cfg/$MA.xml
    mac: 000e08000000
    ca_path: /etc/mpp/cisco-server-ca.pem
    client_cert: /etc/mpp/clients/$MA.crt
    client_key: /etc/mpp/clients/$MA.key
    expect: B

- name: The whole fleet in one task, against one server behind the name
  phoneprov.mpp.phone_check:
    url: https://prov.example.net/cfg/$MA.xml
    phones: "{{ mpp_phones }}"
    address: 192.0.2.10
    ca_path: /etc/mpp/cisco-server-ca.pem
    client_cert: /etc/mpp/clients/$MA.crt
    client_key: /etc/mpp/clients/$MA.key
    return_parameters: false
    expect: any
  register: fleet

- name: Show how many phones got A, B and C
  ansible.builtin.debug:
    var: fleet.summary
'''

RETURN = r'''
status:
  description: The last HTTP status (after redirects and authentication); null when no HTTP exchange happened.
  returned: single phone
  type: int
  sample: 200
behavior:
  description: How the phone reacts, V(A) (success), V(B) (file not found or corrupt profile) or V(C) (any other failure).
  returned: single phone
  type: str
  sample: A
reason:
  description:
    - Why, naming the failing step (DNS lookup, connect, TLS, CN rule, DNS check, HTTP status, decoding, parsing).
    - "A 400 for a client whose certificate file holds a certificate signed with SHA-1 (leaf or intermediate)
      reads C(client certificate chain uses SHA-1: refused by the server's security level (400 ...))."
  returned: single phone
  type: str
  sample: 'DNS check failed: the server address 192.0.2.10 is not among the addresses of the CN FQDN prov.example.net (192.0.2.11)'
client_cert_mac:
  description: The MAC (C($MA) form) O(client_identity) reads from the client certificate; null without one, or when it names none.
  returned: single phone
  type: str
  sample: 000e08abcdef
step:
  description: The last step reached, one of V(resolve), V(connect), V(tls), V(cn), V(dns_check), V(http), V(redirect), V(auth), V(decode), V(parse), V(done).
  returned: single phone
  type: str
  sample: done
next_try_parameter:
  description: The profile parameter that sets when the phone tries again (C(Resync_Periodic) after V(A), else C(Resync_Error_Retry_Delay)).
  returned: single phone
  type: str
  sample: Resync_Periodic
next_try_value:
  description: >-
    The value of RV(next_try_parameter) in the profile just received (seconds; for C(Resync_Error_Retry_Delay)
    possibly a list such as C(1800,3600,7200)), or null when the profile does not set it or none was received.
  returned: single phone
  type: str
  sample: '3600'
mac:
  description: The phone's MAC, C($MA) form.
  returned: single phone
  type: str
  sample: 000e08abcdef
url:
  description: The URL actually fetched last (after macro expansion and redirects).
  returned: single phone
  type: str
  sample: https://prov.example.net/cfg/000e08abcdef.xml
rule_url:
  description: The rule's URL after macro expansion, before redirects.
  returned: single phone
  type: str
redirects:
  description: Redirects followed, each with C(status), C(from) and C(location).
  returned: single phone
  type: list
  elements: dict
auth:
  description: The authentication scheme used (V(Basic), V(Digest)) or null.
  returned: single phone
  type: str
common_name:
  description: The server certificate's subject CN.
  returned: single phone
  type: str
  sample: prov.example.net/mailto:ops@example.net
fqdn:
  description: The FQDN the CN names (null when the handshake failed before).
  returned: single phone
  type: str
  sample: prov.example.net
peer_address:
  description: The server address connected to.
  returned: single phone
  type: str
  sample: 192.0.2.10
dns_ok:
  description: Result of the DNS check (true, false, or null when not reached).
  returned: single phone
  type: bool
dns_addresses:
  description: The addresses the CN's FQDN resolved to.
  returned: single phone
  type: list
  elements: str
tls:
  description: >-
    The server certificate and session: C(subject), C(issuer), C(common_name), C(serial), C(not_before),
    C(not_after), C(subject_alt_names), C(fingerprint) (SHA-256), C(version), C(cipher), C(client_cert_sent).
  returned: single phone, after a verified handshake
  type: dict
decoding:
  description: What the profile was (C(encryption) none, aes-256-cbc or rfc8188; C(compressed)).
  returned: single phone, on 200
  type: dict
parameters:
  description: The profile's parameters (name -> value), filtered by O(parameter_names) and redacted by O(redact).
  returned: single phone
  type: dict
  sample: {"Resync_Periodic": "3600", "User_ID_1_": "1001", "Password_1_": "********"}
parameter_count:
  description:
    - How many parameter elements the profile holds (leaf elements, also inside nested blocks such as an ATA's
      C(<router-configuration>); a repeated name counts each time, RV(parameters) keeps its last value).
  returned: single phone
  type: int
user_agent:
  description: The User-Agent sent.
  returned: single phone
  type: str
  sample: Cisco-CP-8841-3PCC/12.0.1 (000e08abcdef)
elapsed:
  description: Seconds the resync took.
  returned: single phone
  type: float
phones:
  description: >-
    In fleet mode, one result per phone (all, or those selected by O(return_phones)) with the fields
    above and C(expect), C(ok); a phone whose input is wrong (an invalid MAC, a missing certificate file)
    has C(behavior) null, C(step) V(input) and the problem in C(reason).
  returned: fleet mode
  type: list
  elements: dict
summary:
  description: >-
    In fleet mode, C(total), counts C(A), C(B), C(C), C(unexpected) (phones whose behaviour differs
    from their expect), C(by_reason), a list of C(behavior), C(reason), C(count) and up to ten C(macs),
    largest group first, and C(lines), one readable line per group.
  returned: fleet mode
  type: dict
  sample: {"total": 3, "A": 2, "B": 1, "C": 0, "unexpected": 1,
           "by_reason": [{"behavior": "A", "reason": "HTTP 200 profile received, profile parsed", "count": 2,
                          "macs": ["000e08000001", "000e08000002"]}],
           "lines": ["A x2: HTTP 200 profile received, profile parsed (000e08000001, 000e08000002)",
                     "B x1: HTTP 404 file not found (000e08000003)"]}
rules:
  description:
    - With O(follow_rules), each non-blank rule of the sequence in order, C(Profile_Rule) first - C(name), C(rule)
      (as the phone holds it), C(condition), C(condition_true) (null without a condition), C(url) (expanded, after
      redirects), C(status), C(behavior) (null when not fetched), C(reason), C(step) (as RV(step), or V(condition)
      for a rule skipped by its condition, V(not_fetched), V(input) for a rule the emulator cannot use),
      C(not_fetched) (the scheme, for example V(tftp)), C(parameter_count), C(decoding).
  returned: single phone, with follow_rules
  type: list
  elements: dict
  sample: [{"name": "Profile_Rule", "behavior": "A", "status": 200, "step": "done"},
           {"name": "Profile_Rule_B", "condition": "$SWVER lt sip88xx.12-0-1MPP", "condition_true": false,
            "behavior": null, "step": "condition"}]
sequence:
  description:
    - The whole sequence - C(behavior) (the failed rule's V(B) or V(C), V(A) when every fetched rule succeeded, null
      when none was fetched), C(failed_rule), C(reason), C(rules_fetched). After a failure the phone retries the whole
      sequence after C(Resync_Error_Retry_Delay) (RV(schedule)).
  returned: single phone, with follow_rules
  type: dict
  sample: {"behavior": "C", "failed_rule": "Profile_Rule_B", "rules_fetched": 2,
           "reason": "Profile_Rule_B: HTTP 503 ...; the whole sequence is retried after Resync_Error_Retry_Delay"}
schedule:
  description:
    - When the phone tries again, as data (seconds; C(random) is the C(+N) extra of a C(3600+600) element) from the
      parameters it holds after the sequence - C(failed), C(attempt), C(retry_delays) (C(Resync_Error_Retry_Delay)
      as a list of C(delay)/C(random), the last repeating), C(next_retry) (the element for O(attempt), null after
      success or for 0), C(next_periodic) (C(Resync_Periodic) after success; null when 0 or when C(Resync_At) is
      set), C(resync_at) (C(time), C(random_delay), C(window_minutes), C(next) in the local time of the machine running
      the module), C(resync_random_delay).
  returned: single phone, with follow_rules
  type: dict
  sample: {"failed": true, "attempt": 1, "next_retry": {"delay": 1800, "random": 0}, "next_periodic": null,
           "retry_delays": [{"delay": 1800, "random": 0}, {"delay": 3600, "random": 0}], "resync_at": null,
           "resync_random_delay": "2"}
upgrade:
  description:
    - With O(check_upgrade) and an C(Upgrade_Rule) - C(rule), C(enabled) (C(Upgrade_Enable)), C(firmware) (the emulated
      C($SWVER)), C(condition), C(condition_true), C(url), C(status) (206 or 200 when fetched), C(behavior),
      C(not_fetched), C(size) (bytes, from C(Content-Range)), C(would_start) (null when not fetched), C(reason),
      C(retry_delays) (C(Upgrade_Error_Retry_Delay)) and C(next_retry) after a failed download. Null without an
      C(Upgrade_Rule).
  returned: single phone, with follow_rules
  type: dict
  sample: {"rule": "( $SWVER ne sip88xx.12-0-1MPP )? https://prov.example.net/fw/$PN-12-0-1.loads",
           "condition_true": true, "status": 206, "would_start": true, "size": 71024640}
'''

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_entry import BAD_MAC, PhoneEntryError, phone_mac
from ansible_collections.phoneprov.mpp.plugins.module_utils.redaction import DEFAULT_REDACT, redact_parameters

try:
    from ansible_collections.phoneprov.mpp.plugins.module_utils.dns_check import HAS_DNSPYTHON
    from ansible_collections.phoneprov.mpp.plugins.module_utils.phone_emulator import Emulator, EmulatorError
    from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_rule import mac_macro_values
    from ansible_collections.phoneprov.mpp.plugins.module_utils.rule_sequence import run_sequence
    from ansible_collections.phoneprov.mpp.plugins.module_utils.resync_report import (
        behaves_as_expected, fleet_report, not_checked)
    IMPORT_ERROR = None
except ImportError:  # pragma: no cover
    IMPORT_ERROR = traceback.format_exc()
    HAS_DNSPYTHON = False

PHONE_KEYS = ('mac', 'model', 'serial', 'firmware', 'macros', 'key', 'username', 'password',
              'client_cert', 'client_key', 'url', 'expect')
SECRET_KEYS = ('key', 'password')
# The options that give the phone's Profile_Rule_B.._D (its Profile_Rule is url).
SEQUENCE_RULES = (('profile_rule_b', 'Profile_Rule_B'), ('profile_rule_c', 'Profile_Rule_C'), ('profile_rule_d', 'Profile_Rule_D'))
EXPECT_CHOICES = ('A', 'B', 'C', 'any')


def _shape(module, result, params, expect):
    for secret in result.pop('_secrets', ()):
        module.no_log_values.add(secret)
    if params['return_parameters']:
        result['parameters'] = redact_parameters(result['parameters'], params['redact'], params['parameter_names'])
    else:
        result['parameters'] = {}
    result['expect'] = expect
    result['ok'] = behaves_as_expected(result['behavior'], expect)
    return result


def _phone_args(params, phone):
    args = {}
    for name in PHONE_KEYS:
        value = phone.get(name) if name in phone else None
        args[name] = value if value is not None else params.get(name)
    return args


def _resync(emulator, params, args):
    phone = dict(mac=args['mac'], model=args['model'], serial=args['serial'], firmware=args['firmware'],
                 client_cert=args['client_cert'], client_key=args['client_key'], key=args['key'],
                 key_encoding=params['key_encoding'], username=args['username'], password=args['password'],
                 macros=args['macros'], resync_fails_on_fnf=params['resync_fails_on_fnf'])
    if not params['follow_rules']:
        return emulator.resync(args['url'], **phone)
    return _sequence(emulator, params, args['url'], phone)


def _sequence(emulator, params, url, phone):
    """The phone's whole sequence (module_utils/rule_sequence.py); the top-level fields stay Profile_Rule's."""
    rules = dict((parameter, params[option]) for option, parameter in SEQUENCE_RULES)
    rules['Profile_Rule'] = url
    run = run_sequence(emulator, phone, rules, settings=params['settings'], stop_on_failure=params['stop_on_failure'],
                       attempt=params['attempt'], upgrade=params['check_upgrade'])
    result = run['first']
    if result is None:
        first = run['rules'][0]
        result = {'mac': mac_macro_values(phone['mac'])['MA'], 'url': None, 'rule_url': None, 'status': None, 'behavior': None,
                  'reason': 'Profile_Rule not fetched: %s' % first['reason'], 'step': first['step'], 'parameters': {},
                  'parameter_count': 0, 'next_try_parameter': None, 'next_try_value': None}
    result.update(rules=run['rules'], sequence=run['sequence'], schedule=run['schedule'], upgrade=run['upgrade'],
                  _secrets=run['secrets'])
    return result


def _fleet(module, emulator, params):
    from concurrent.futures import ThreadPoolExecutor

    phones = []
    for index, phone in enumerate(params['phones']):
        try:
            phone_mac(index, phone)
        except PhoneEntryError as exc:
            # A MAC the phone rule refuses is reported for that phone (not checked), as the
            # emulator reports it; an entry without one cannot be reported at all.
            if exc.kind != BAD_MAC:
                module.fail_json(msg='phones[%d] has no mac: each phone is a dict with at least mac' % index)
        for name in SECRET_KEYS:
            if phone.get(name):
                module.no_log_values.add(str(phone[name]))
        args = _phone_args(params, phone)
        if args['expect'] not in EXPECT_CHOICES:
            module.fail_json(msg='phones[%d] (%s): expect must be one of %s, got %r'
                             % (index, phone['mac'], ', '.join(EXPECT_CHOICES), args['expect']))
        phones.append(args)

    def _one(args):
        try:
            return _shape(module, _resync(emulator, params, args), params, args['expect'])
        except EmulatorError as exc:
            return not_checked(args['mac'], args['expect'], exc)

    workers = max(1, min(params['workers'], len(phones) or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(_one, phones))
    report, message = fleet_report(results, params['return_phones'])
    if message:
        module.fail_json(msg=message, changed=False, **report)
    module.exit_json(changed=False, **report)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type='str', required=True),
            mac=dict(type='str'),
            model=dict(type='str', default='CP-8841-3PCC'),
            serial=dict(type='str'),
            firmware=dict(type='str', default='12.0.1'),
            macros=dict(type='dict'),
            ca_path=dict(type='path'),
            client_cert=dict(type='str'),
            client_key=dict(type='str', no_log=False),
            nameservers=dict(type='list', elements='str'),
            dns_port=dict(type='int', default=53),
            address=dict(type='str'),
            key=dict(type='str', no_log=True),
            key_encoding=dict(type='str', default='utf-8', choices=['utf-8', 'base64url', 'hex'], no_log=False),
            username=dict(type='str'),
            password=dict(type='str', no_log=True),
            expect=dict(type='str', default='A', choices=list(EXPECT_CHOICES)),
            resync_fails_on_fnf=dict(type='bool', default=True),
            timeout=dict(type='float', default=10),
            max_redirects=dict(type='int', default=5),
            return_parameters=dict(type='bool', default=True),
            parameter_names=dict(type='list', elements='str'),
            redact=dict(type='list', elements='str', default=list(DEFAULT_REDACT)),
            phones=dict(type='list', elements='dict'),
            workers=dict(type='int', default=4),
            return_phones=dict(type='str', default='all', choices=['all', 'unexpected', 'none']),
            client_identity=dict(type='raw', default='st'),
            profile_rule_b=dict(type='str'),
            profile_rule_c=dict(type='str'),
            profile_rule_d=dict(type='str'),
            settings=dict(type='dict', default={}),
            follow_rules=dict(type='bool', default=True),
            check_upgrade=dict(type='bool', default=True),
            stop_on_failure=dict(type='bool', default=True),
            attempt=dict(type='int', default=1),
        ),
        required_one_of=[('mac', 'phones')],
        mutually_exclusive=[('mac', 'phones')],
        supports_check_mode=True,
    )
    if IMPORT_ERROR:
        module.fail_json(msg='phone_check cannot import its module_utils', exception=IMPORT_ERROR)
    if not HAS_DNSPYTHON:
        module.fail_json(msg=missing_required_lib('dnspython'))
    params = module.params
    if params['attempt'] < 1:
        module.fail_json(msg='attempt must be at least 1 (the first retry), got %d' % params['attempt'])
    if params['workers'] < 1:
        module.fail_json(msg='workers must be at least 1, got %d' % params['workers'])
    if params['timeout'] <= 0:
        module.fail_json(msg='timeout must be positive, got %s' % params['timeout'])
    try:
        emulator = Emulator(ca_path=params['ca_path'], nameservers=params['nameservers'], dns_port=params['dns_port'],
                            timeout=params['timeout'], address=params['address'], max_redirects=params['max_redirects'],
                            client_identity=params['client_identity'])
    except EmulatorError as exc:
        module.fail_json(msg='client_identity: %s' % exc)
    except ValueError as exc:
        module.fail_json(msg='address: %s' % exc)
    if params['phones'] is not None:
        _fleet(module, emulator, params)
    try:
        result = _resync(emulator, params, _phone_args(params, {}))
    except EmulatorError as exc:
        module.fail_json(msg=str(exc))
    result = _shape(module, result, params, params['expect'])
    result['changed'] = False
    if not result['ok']:
        module.fail_json(msg='the phone would get behaviour %s, expected %s: %s'
                         % (result['behavior'], params['expect'], result['reason']), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
