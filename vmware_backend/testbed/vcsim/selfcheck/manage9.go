package main

// Checks of patches 0040 (ExtensionManager) and 0041 (xsd:dateTime values
// without a time zone), which Cinder's in-tree VMDK driver needs.

import (
	"context"
	"fmt"
	"io"
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
	must(err, "raw RegisterExtension")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return string(out)
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
