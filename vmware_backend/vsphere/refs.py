"""Managed object references as plain values, shared by both transports."""

import collections

MoRef = collections.namedtuple('MoRef', 'type value')
MoRef.__doc__ = 'A managed object reference as a plain, hashable value.'
