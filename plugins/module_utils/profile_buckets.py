# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Buckets of phone_profiles: the controller and the host agree which profiles are current
without sending each other a line per phone.

Every profile file name falls in one of ``count`` buckets (CRC-32 of the name). A bucket's
digest covers the sorted ``(file name, render fingerprint)`` pairs in it: on the controller the
pairs of this push, on the host those of the manifest entries that still verify. The controller
sends its digests with the inventory call; the host answers with the buckets whose digests differ
(``dirty``) and the hashes of their files only. A one-line change in a fleet of 100,000 then moves
one bucket, about BUCKET_SIZE phones, each way, where every phone's hash used to travel.

A bucket the host cannot vouch for (a file that no longer verifies, an entry without a render
fingerprint) gets :data:`UNKNOWN`, which equals no digest: it is dirty, and handled phone by phone.
"""

from __future__ import annotations

import hashlib
import zlib

BUCKET_SIZE = 64      # phones per bucket, on average
MAX_BUCKETS = 4096
UNKNOWN = '-'
DIGEST_LENGTH = 32


def bucket_count(phones):
    """The number of buckets for a fleet of ``phones``."""
    return max(1, min(MAX_BUCKETS, phones // BUCKET_SIZE))


def bucket_of(filename, count):
    """The bucket of a profile file name."""
    return zlib.crc32(filename.encode('utf-8')) % count


def bucket_digests(pairs, count):
    """The digest of every bucket, from ``(file name, render fingerprint)`` pairs; a pair whose
    fingerprint is None makes its bucket UNKNOWN. An empty bucket has a digest too."""
    lines = [[] for _bucket in range(count)]
    unknown = set()
    for filename, render in pairs:
        bucket = bucket_of(filename, count)
        if render is None:
            unknown.add(bucket)
        else:
            lines[bucket].append('%s %s' % (filename, render))
    return [UNKNOWN if bucket in unknown else
            hashlib.sha256('\n'.join(sorted(lines[bucket])).encode('utf-8')).hexdigest()[:DIGEST_LENGTH]
            for bucket in range(count)]


def differing_buckets(ours, theirs):
    """The buckets whose digests differ (UNKNOWN differs from everything, itself included)."""
    if len(ours) != len(theirs):
        return list(range(max(len(ours), len(theirs))))
    return [bucket for bucket, (mine, other) in enumerate(zip(ours, theirs)) if mine == UNKNOWN or mine != other]
