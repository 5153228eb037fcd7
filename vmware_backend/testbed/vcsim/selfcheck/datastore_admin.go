package main

// Checks of patch 0020 (datastore administration): CreateNasDatastore per
// host, RemoveDatastore, RenameDatastore, iormConfiguration and
// ConfigureDatastoreIORM_Task.

import (
	"context"
	"sort"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

func dsSystem(ctx context.Context, c *vim25.Client, host string) *object.HostDatastoreSystem {
	h := object.NewHostSystem(c, byName(ctx, c, "HostSystem", host))
	dss, err := h.ConfigManager().DatastoreSystem(ctx)
	must(err, "datastoreSystem of "+host)
	return dss
}

func mountedOn(ctx context.Context, c *vim25.Client, ref types.ManagedObjectReference) []string {
	var ds mo.Datastore
	must(property.DefaultCollector(c).RetrieveOne(ctx, ref, []string{"host"}, &ds), "datastore host")
	var names []string
	for _, m := range ds.Host {
		var h mo.HostSystem
		must(property.DefaultCollector(c).RetrieveOne(ctx, m.Key, []string{"name"}, &h), "host name")
		names = append(names, h.Name)
	}
	sort.Strings(names)
	return names
}

func runDatastoreAdmin(bin string) {
	ctx := context.Background()
	s := start(bin)
	defer s.stop()
	c, err := s.client(ctx, "user", "pass")
	must(err, "login")
	pc := property.DefaultCollector(c)

	spec := types.HostNasVolumeSpec{RemoteHost: "127.0.0.9", RemotePath: "/exports/a", LocalPath: "nfs-a", AccessMode: "readWrite", Type: "NFS"}
	ds0, err := dsSystem(ctx, c, "DC0_C0_H0").CreateNasDatastore(ctx, spec)
	check(err == nil, "0020: CreateNasDatastore takes localPath as the datastore name (%v)", err)
	ds1, err := dsSystem(ctx, c, "DC0_C0_H1").CreateNasDatastore(ctx, spec)
	check(err == nil && ds1.Reference() == ds0.Reference(), "0020: a second host mounting the same export joins the datastore (%v)", err)
	check(reflectEqual(mountedOn(ctx, c, ds0.Reference()), []string{"DC0_C0_H0", "DC0_C0_H1"}), "0020: Datastore.host lists both mounts (%v)", mountedOn(ctx, c, ds0.Reference()))
	var nas mo.Datastore
	must(pc.RetrieveOne(ctx, ds0.Reference(), []string{"name", "summary", "info", "iormConfiguration"}, &nas), "nas datastore")
	info, ok := nas.Info.(*types.NasDatastoreInfo)
	check(nas.Name == "nfs-a" && nas.Summary.Type == "NFS" && ok && info.Nas.RemotePath == "/exports/a",
		"0020: NFS datastore name, type and export (%s %s)", nas.Name, nas.Summary.Type)
	check(nas.IormConfiguration != nil && !nas.IormConfiguration.Enabled && nas.IormConfiguration.CongestionThreshold == 30,
		"0020: a new datastore reports the default iormConfiguration (%+v)", nas.IormConfiguration)
	_, err = dsSystem(ctx, c, "DC0_C0_H0").CreateNasDatastore(ctx, spec)
	_, isExists := faultOf(err).(*types.AlreadyExists)
	check(isExists, "0020: the same export again on a host is AlreadyExists (%v)", err)
	other := spec
	other.RemotePath = "/exports/b"
	_, err = dsSystem(ctx, c, "DC0_C0_H2").CreateNasDatastore(ctx, other)
	_, isDup := faultOf(err).(*types.DuplicateName)
	check(isDup, "0020: another export under a used name is DuplicateName (%v)", err)
	bad := spec
	bad.LocalPath = ""
	_, err = dsSystem(ctx, c, "DC0_C0_H2").CreateNasDatastore(ctx, bad)
	_, isArg := faultOf(err).(*types.InvalidArgument)
	check(isArg, "0020: a spec without localPath is InvalidArgument (%v)", err)

	// rename
	_, err = methods.RenameDatastore(ctx, c, &types.RenameDatastore{This: ds0.Reference(), NewName: "LocalDS_0"})
	_, isDup = faultOf(err).(*types.DuplicateName)
	check(isDup, "0020: RenameDatastore to a used name is DuplicateName (%v)", err)
	_, err = methods.RenameDatastore(ctx, c, &types.RenameDatastore{This: ds0.Reference(), NewName: "nfs-renamed"})
	must(pc.RetrieveOne(ctx, ds0.Reference(), []string{"name", "summary"}, &nas), "renamed")
	check(err == nil && nas.Name == "nfs-renamed" && nas.Summary.Name == "nfs-renamed", "0020: RenameDatastore renames name and summary.name (%v %s)", err, nas.Name)

	// IORM
	srm := object.NewStorageResourceManager(c)
	on := true
	t, err := srm.ConfigureDatastoreIORM(ctx, ds0, types.StorageIORMConfigSpec{Enabled: &on, CongestionThresholdMode: "manual", CongestionThreshold: 4}, "")
	_, err = wait(t, err)
	_, isArg = faultOf(err).(*types.InvalidArgument)
	check(isArg, "0020: congestionThreshold 4 ms is InvalidArgument (%v)", err)
	t, err = srm.ConfigureDatastoreIORM(ctx, ds0, types.StorageIORMConfigSpec{PercentOfPeakThroughput: 101}, "")
	_, err = wait(t, err)
	_, isArg = faultOf(err).(*types.InvalidArgument)
	check(isArg, "0020: percentOfPeakThroughput 101 is InvalidArgument (%v)", err)
	t, err = srm.ConfigureDatastoreIORM(ctx, ds0, types.StorageIORMConfigSpec{Enabled: &on, CongestionThresholdMode: "manual", CongestionThreshold: 45}, "")
	_, err = wait(t, err)
	must(pc.RetrieveOne(ctx, ds0.Reference(), []string{"iormConfiguration"}, &nas), "iorm")
	check(err == nil && nas.IormConfiguration.Enabled && nas.IormConfiguration.CongestionThresholdMode == "manual" &&
		nas.IormConfiguration.CongestionThreshold == 45 && nas.IormConfiguration.PercentOfPeakThroughput == 90,
		"0020: ConfigureDatastoreIORM_Task merges the spec (%v %+v)", err, nas.IormConfiguration)

	// 0021: disk details in datastore searches
	local := object.NewDatastore(c, byName(ctx, c, "Datastore", "LocalDS_0"))
	browser, err := local.Browser(ctx)
	must(err, "browser")
	yes := true
	st, err := browser.SearchDatastoreSubFolders(ctx, "[LocalDS_0]", &types.HostDatastoreBrowserSearchSpec{
		MatchPattern: []string{"*.vmdk"},
		Query:        []types.BaseFileQuery{&types.VmDiskFileQuery{Details: &types.VmDiskFileQueryFlags{CapacityKb: true, DiskType: true, Thin: &yes}}},
	})
	res, err := wait(st, err)
	disksFound, detailed := 0, 0
	if arr, ok := res.(types.ArrayOfHostDatastoreBrowserSearchResults); ok {
		for _, r := range arr.HostDatastoreBrowserSearchResults {
			for _, f := range r.File {
				disksFound++
				if d, ok := f.(*types.VmDiskFileInfo); ok && d.CapacityKb > 0 && d.Thin != nil && d.DiskType == "VirtualDiskFlatVer2BackingInfo" {
					detailed++
				}
			}
		}
	}
	check(err == nil && disksFound > 0 && detailed == disksFound, "0021: VmDiskFileQuery details on every VM disk (%v, %d of %d)", err, detailed, disksFound)

	// 0022: RenameSnapshot
	vmRef := allRefs(ctx, c, "VirtualMachine")[0]
	snapRef := snapshot(ctx, c, object.NewVirtualMachine(c, vmRef), "before")
	_, err = methods.RenameSnapshot(ctx, c, &types.RenameSnapshot{This: snapRef, Name: "after", Description: "renamed"})
	var vmMo mo.VirtualMachine
	must(pc.RetrieveOne(ctx, vmRef, []string{"snapshot"}, &vmMo), "snapshot tree")
	root := vmMo.Snapshot.RootSnapshotList[0]
	check(err == nil && root.Name == "after" && root.Description == "renamed", "0022: RenameSnapshot sets name and description (%v %q %q)", err, root.Name, root.Description)
	_, err = methods.RenameSnapshot(ctx, c, &types.RenameSnapshot{This: snapRef, Description: "again"})
	must(pc.RetrieveOne(ctx, vmRef, []string{"snapshot"}, &vmMo), "snapshot tree")
	root = vmMo.Snapshot.RootSnapshotList[0]
	check(err == nil && root.Name == "after" && root.Description == "again", "0022: an unset name is left as it is (%v %q)", err, root.Name)

	// remove
	err = dsSystem(ctx, c, "DC0_H0").Remove(ctx, local)
	_, inUse := faultOf(err).(*types.ResourceInUse)
	check(inUse, "0020: RemoveDatastore with a registered VM's files on it is ResourceInUse (%v)", err)
	err = dsSystem(ctx, c, "DC0_C0_H2").Remove(ctx, ds0)
	_, notFound := faultOf(err).(*types.NotFound)
	check(notFound, "0020: RemoveDatastore of a datastore the host does not mount is NotFound (%v)", err)
	err = dsSystem(ctx, c, "DC0_C0_H0").Remove(ctx, ds0)
	check(err == nil && reflectEqual(mountedOn(ctx, c, ds0.Reference()), []string{"DC0_C0_H1"}), "0020: RemoveDatastore unmounts one host (%v)", err)
	err = dsSystem(ctx, c, "DC0_C0_H1").Remove(ctx, ds0)
	gone := true
	for _, ref := range allRefs(ctx, c, "Datastore") {
		gone = gone && ref != ds0.Reference()
	}
	check(err == nil && gone, "0020: a datastore mounted nowhere leaves the inventory (%v)", err)
}

func reflectEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
