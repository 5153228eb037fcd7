"""Keystone entries of the test stack (run by tools/openstack-up.sh).

After ``keystone-manage bootstrap`` (admin user, project, roles, identity
endpoint): the ``service`` project, the ``cinder`` and ``glance`` service
users (admin role there), the block-storage (``block-storage`` and
``volumev3`` types) and image services with their endpoints. Uses the
admin credentials of the ``OS_*`` environment; one process instead of a
dozen ``openstack`` commands.
"""

import argparse

from keystoneclient.v3 import client

import stackenv

INTERFACES = ('public', 'internal', 'admin')


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--service-password', required=True)
    parser.add_argument('--cinder-url', required=True)
    parser.add_argument('--glance-url', required=True)
    parser.add_argument('--region', default='RegionOne')
    parser.add_argument(
        '--internal-tenant-conf', metavar='FILE',
        help='write a cinder.conf [DEFAULT] snippet naming the service '
             'project and the cinder user as Cinder\'s internal tenant '
             '(cinder_internal_tenant_project_id/_user_id: the owner of the '
             'image-volume cache entries)')
    args = parser.parse_args()

    ks = client.Client(session=stackenv.keystone_session())

    service_project = ks.projects.create('service', domain='default')
    admin_role = ks.roles.find(name='admin')
    service_role = ks.roles.list(name='service')
    service_role = (service_role[0] if service_role
                    else ks.roles.create('service'))
    users = {}
    for name in ('cinder', 'glance'):
        user = users[name] = ks.users.create(name, domain='default',
                                             password=args.service_password)
        ks.roles.grant(admin_role, user=user, project=service_project)
        ks.roles.grant(service_role, user=user, project=service_project)
    if args.internal_tenant_conf:
        with open(args.internal_tenant_conf, 'w') as f:
            f.write('[DEFAULT]\ncinder_internal_tenant_project_id = %s\n'
                    'cinder_internal_tenant_user_id = %s\n'
                    % (service_project.id, users['cinder'].id))

    for name, stype, url in (
            ('cinder', 'block-storage', args.cinder_url),
            ('cinderv3', 'volumev3', args.cinder_url),
            ('glance', 'image', args.glance_url)):
        service = ks.services.create(name, type=stype)
        for interface in INTERFACES:
            ks.endpoints.create(service, url, interface=interface,
                                region=args.region)
        print('keystone: %s (%s) at %s' % (name, stype, url))


if __name__ == '__main__':
    main()
