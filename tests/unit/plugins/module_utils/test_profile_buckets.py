# -*- coding: utf-8 -*-
# Copyright: phoneprov.mpp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bucket digests: the controller and the host find the changed profiles without a line per phone."""

from __future__ import annotations

from ansible_collections.phoneprov.mpp.plugins.module_utils.profile_buckets import (
    MAX_BUCKETS, UNKNOWN, bucket_count, bucket_digests, bucket_of, differing_buckets)


def pairs(count, changed=None):
    return [('0a%010x.xml' % index, ('changed' if index == changed else 'render-%d' % index)) for index in range(count)]


def test_one_changed_phone_moves_exactly_its_bucket():
    count = bucket_count(10000)
    ours, theirs = bucket_digests(pairs(10000, changed=4321), count), bucket_digests(pairs(10000), count)
    assert differing_buckets(ours, theirs) == [bucket_of('0a00000010e1.xml', count)]


def test_order_does_not_matter_and_an_extra_or_missing_file_does():
    count = bucket_count(5000)
    fleet = pairs(5000)
    assert bucket_digests(fleet, count) == bucket_digests(list(reversed(fleet)), count)
    extra = fleet + [('0b0000000000.xml', 'render-x')]
    assert differing_buckets(bucket_digests(extra, count), bucket_digests(fleet, count)) == [bucket_of('0b0000000000.xml', count)]
    assert differing_buckets(bucket_digests(fleet[1:], count), bucket_digests(fleet, count)) == [bucket_of(fleet[0][0], count)]


def test_a_file_without_a_fingerprint_makes_its_bucket_unknown_and_dirty():
    count = 4
    with_unknown = [('a.xml', None), ('b.xml', 'x')]
    digests = bucket_digests(with_unknown, count)
    assert digests[bucket_of('a.xml', count)] == UNKNOWN
    # unknown on either side, or on both, is never current
    assert bucket_of('a.xml', count) in differing_buckets(digests, digests)
    assert bucket_of('a.xml', count) in differing_buckets(bucket_digests([('b.xml', 'x')], count), digests)


def test_bucket_counts_are_bounded_and_mismatched_counts_are_all_dirty():
    assert bucket_count(0) == 1 and bucket_count(63) == 1 and bucket_count(6400) == 100
    assert bucket_count(10 ** 7) == MAX_BUCKETS
    assert differing_buckets(['a', 'b'], ['a']) == [0, 1]
