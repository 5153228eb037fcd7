"""The volume driver in Cinder's vocabulary, split by concern.

``driver`` assembles ``backings``, ``lifecycle``, ``snapshots``, ``clones``
and ``connections``; ``placement`` chooses datastores (pools) with the pure
rules of ``datastore``; ``volume_types`` reads sizes and extra specs.
"""
