package main

// Checks of patches 0040 (ExtensionManager) and 0041 (xsd:dateTime values
// without a time zone), which Cinder's in-tree VMDK driver needs.

import (
	"context"
	"fmt"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// rawRegister posts a RegisterExtension envelope whose lastHeartbeatTime is
// the given text, as oslo.vmware writes it; returns the HTTP body.
func rawRegister(c *vim25.Client, key, when string) string {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:ns0="urn:vim25">
<soapenv:Body><ns0:RegisterExtension><ns0:_this type="ExtensionManager">ExtensionManager</ns0:_this>
<ns0:extension><ns0:description xsi:type="ns0:Description"><ns0:label>l</ns0:label><ns0:summary>s</ns0:summary></ns0:description>
<ns0:key>%s</ns0:key><ns0:version>1.0</ns0:version><ns0:lastHeartbeatTime>%s</ns0:lastHeartbeatTime></ns0:extension>
</ns0:RegisterExtension></soapenv:Body></soapenv:Envelope>`, key, when)
	resp, err := c.Client.Client.Post(c.URL().String(), "text/xml", strings.NewReader(body))
	return answerOf(resp, err, "raw RegisterExtension")
}

func runManage9(bin string) {
	ctx := context.Background()
	s := start(bin)
	defer s.stop()
	c, err := s.client(ctx, "user", "pass")
	must(err, "login")
	m := object.NewExtensionManager(c)

	ext, err := m.Find(ctx, "org.openstack.storage")
	check(err == nil && ext == nil, "0040: FindExtension of an unregistered key returns nothing (%v %v)", ext, err)
	err = m.Register(ctx, types.Extension{Key: "org.openstack.storage", Version: "1.0", Type: "volume",
		Description: &types.Description{Label: "OpenStack Cinder", Summary: "s"}})
	check(err == nil, "0040: RegisterExtension (%v)", err)
	ext, err = m.Find(ctx, "org.openstack.storage")
	check(err == nil && ext != nil && ext.Type == "volume" && ext.Description.GetDescription().Label == "OpenStack Cinder" &&
		!ext.LastHeartbeatTime.IsZero(), "0040: FindExtension returns the registered extension (%+v)", ext)
	err = m.Register(ctx, types.Extension{Key: "org.openstack.storage", Version: "2.0",
		Description: &types.Description{Label: "again", Summary: "s"}})
	_, invalid := faultOf(err).(*types.InvalidArgument)
	check(invalid, "0040: registering a key again is InvalidArgument (%v)", err)
	var em mo.ExtensionManager
	must(property.DefaultCollector(c).RetrieveOne(ctx, m.Reference(), []string{"extensionList"}, &em), "extensionList")
	check(len(em.ExtensionList) == 1 && em.ExtensionList[0].Version == "1.0", "0040: extensionList holds the extension once (%d)", len(em.ExtensionList))
	err = m.Update(ctx, types.Extension{Key: "org.openstack.storage", Version: "1.1",
		Description: &types.Description{Label: "OpenStack Cinder", Summary: "s"}})
	ext, _ = m.Find(ctx, "org.openstack.storage")
	check(err == nil && ext != nil && ext.Version == "1.1", "0040: UpdateExtension replaces it (%v)", err)
	err = m.Update(ctx, types.Extension{Key: "no.such", Version: "1", Description: &types.Description{}})
	_, notFound := faultOf(err).(*types.NotFound)
	check(notFound, "0040: UpdateExtension of an unknown key is NotFound (%v)", err)
	check(m.Unregister(ctx, "org.openstack.storage") == nil, "0040: UnregisterExtension")
	ext, _ = m.Find(ctx, "org.openstack.storage")
	check(ext == nil, "0040: gone after UnregisterExtension")
	err = m.Unregister(ctx, "org.openstack.storage")
	_, notFound = faultOf(err).(*types.NotFound)
	check(notFound, "0040: UnregisterExtension of an unknown key is NotFound (%v)", err)

	out := rawRegister(c, "zoneless", "2026-12-04T21:24:11.727443")
	ext, _ = m.Find(ctx, "zoneless")
	check(!strings.Contains(out, "Fault") && ext != nil, "0041: a dateTime without a zone is accepted (%s)", out)
	out = rawRegister(c, "zoned", "2026-12-04T21:24:11+02:00")
	ext, _ = m.Find(ctx, "zoned")
	check(!strings.Contains(out, "Fault") && ext != nil, "0041: a dateTime with a zone still is (%s)", out)
	out = rawRegister(c, "garbage", "2026-13-45Tnonsense")
	ext, _ = m.Find(ctx, "garbage")
	check(strings.Contains(out, "Fault") && ext == nil, "0041: a malformed dateTime is still refused")
}

func freeBytes(ctx context.Context, c *vim25.Client, name string) (int64, int64) {
	var ds mo.Datastore
	must(property.DefaultCollector(c).RetrieveOne(ctx, byName(ctx, c, "Datastore", name), []string{"summary", "info"}, &ds), "ds free "+name)
	return ds.Summary.FreeSpace, ds.Info.GetDatastoreInfo().FreeSpace
}

// runRelocateCharge: patch 0042, a relocated VM's disk moves its space
// charge between the datastores.
func runRelocateCharge(bin string) {
	ctx := context.Background()
	s := start(bin)
	defer s.stop()
	c, err := s.client(ctx, "user", "pass")
	must(err, "login")
	s.dirs = append(s.dirs, dsLocalPath(ctx, c, "LocalDS_0"), dsLocalPath(ctx, c, "LocalDS_1"))
	folder, pool := vmFolderAndPool(ctx, c)
	const size = int64(2 << 30)
	a0, _ := freeBytes(ctx, c, "LocalDS_0")
	b0, _ := freeBytes(ctx, c, "LocalDS_1")
	res, err := wait(folder.CreateVM(ctx, oneDiskVM("charge-vm", "LocalDS_0", size/1024, ""), object.NewResourcePool(c, pool), nil))
	must(err, "CreateVM_Task charge-vm")
	if err != nil {
		return
	}
	vm := object.NewVirtualMachine(c, res.(types.ManagedObjectReference))
	a1, _ := freeBytes(ctx, c, "LocalDS_0")
	check(a0-a1 == size, "0042: creating the 2 GiB disk charges LocalDS_0 (%d)", a0-a1)
	ds1 := byName(ctx, c, "Datastore", "LocalDS_1")
	_, err = wait(vm.Relocate(ctx, types.VirtualMachineRelocateSpec{Datastore: &ds1}, types.VirtualMachineMovePriorityDefaultPriority))
	check(err == nil, "0042: RelocateVM_Task to LocalDS_1 (%v)", err)
	a2, a2info := freeBytes(ctx, c, "LocalDS_0")
	b2, b2info := freeBytes(ctx, c, "LocalDS_1")
	check(a2 == a0 && a2info == a0, "0042: LocalDS_0 gets the disk's space back (summary %d, info %d, before %d)", a2, a2info, a0)
	check(b0-b2 == size && b2info == b2, "0042: LocalDS_1 is charged the disk (%d, info %d)", b0-b2, b2info)
	ds0 := byName(ctx, c, "Datastore", "LocalDS_0")
	_, err = wait(vm.Relocate(ctx, types.VirtualMachineRelocateSpec{Datastore: &ds0}, types.VirtualMachineMovePriorityDefaultPriority))
	a3, _ := freeBytes(ctx, c, "LocalDS_0")
	b3, _ := freeBytes(ctx, c, "LocalDS_1")
	check(err == nil && a3 == a1 && b3 == b0, "0042: and back (%v: LocalDS_0 %d, LocalDS_1 %d)", err, a1-a3, b0-b3)
	_, err = wait(vm.Destroy(ctx))
	a4, _ := freeBytes(ctx, c, "LocalDS_0")
	check(err == nil && a4 == a0, "0042: destroying it frees LocalDS_0 (%v %d)", err, a0-a4)
}
