"""Storage policies (``vmware:storage_profile``): placement and backing.

A volume type's ``vmware:storage_profile`` names a vCenter VM storage
policy. Creating the volume places it only on the pools whose datastores
comply with the policy (``PbmQueryMatchingHub``) and applies the policy to
the backing VM and its disk (``VirtualMachineDefinedProfileSpec`` in the
create spec); a retype re-applies the new one (or removes it) to both,
and a move goes only to a compliant pool. A policy vCenter does not have
is refused before anything is made, naming it and the policies there are.
"""

from vmware_backend import exceptions
from vmware_backend.volume import volume_types
from vmware_backend.vsphere import storage_policies


class StoragePolicyMixin:
    """The policy of a volume, where it may go; mixed into the driver."""

    def _storage_policy(self, volume):
        """The volume's :class:`storage_policies.Policy`, or None.

        :raises exceptions.InvalidExtraSpec: vCenter has no such policy.
        """
        name = volume_types.storage_policy(volume)
        if name is None:
            return None
        policy, known = storage_policies.find_policy(self.session, name)
        if policy is None:
            raise exceptions.InvalidExtraSpec(
                volume=volume_types.describe(volume),
                spec=volume_types.SPEC_STORAGE_PROFILE, value=name,
                allowed='the name of a VM storage policy of vCenter (it '
                        'has: %s)' % (', '.join(known) or 'none'))
        return policy

    def _compliant(self, policy):
        """(datastore MoRefs complying with ``policy``, why others not)."""
        pools = self.placement.usable_pools()
        refs = storage_policies.matching_datastores(
            self.session, policy.profile_id, [p.datastore for p in pools])
        return refs, 'not compliant with storage policy %s' % policy.name

    def _check_compliant(self, volume, policy, datastore, datastore_name):
        """Refuse a move of ``volume`` to a datastore the policy excludes."""
        if policy is None:
            return
        refs = storage_policies.matching_datastores(
            self.session, policy.profile_id, [datastore])
        if datastore not in refs:
            raise exceptions.InvalidVolume(
                volume=volume.id,
                reason='datastore %s does not comply with its storage '
                       'policy %s' % (datastore_name, policy.name))
