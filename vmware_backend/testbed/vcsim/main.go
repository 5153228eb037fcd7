// Command vcsim-testbed: the vCenter simulator used by vmware_backend's test bed.
//
// It serves a govmomi 0.24.2 simulator.VPX() model (built with the patches in
// patches/) over plain http on loopback and shapes the inventory with flags.
// See README.md for the flags and for the vcsim gaps closed here.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

const gib = int64(1) << 30

// listFlag is a comma separated list flag; repeated flags accumulate.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func (l listFlag) has(name string) bool {
	for _, s := range l {
		if s == name {
			return true
		}
	}
	return false
}

// pairs parses NAME=VALUE items.
func (l listFlag) pairs(flagName string) map[string]string {
	m := make(map[string]string)
	for _, s := range l {
		kv := strings.SplitN(s, "=", 2)
		if len(kv) != 2 || kv[0] == "" || kv[1] == "" {
			log.Fatalf("-%s: expected NAME=VALUE, got %q", flagName, s)
		}
		m[kv[0]] = kv[1]
	}
	return m
}

var (
	listen      = flag.String("listen", "127.0.0.1:0", "address to listen on (plain http)")
	username    = flag.String("username", "user", "the only user name Login accepts")
	password    = flag.String("password", "pass", "the only password Login accepts")
	datacenters = flag.Int("datacenters", 1, "number of datacenters")
	clusters    = flag.Int("clusters", 1, "clusters per datacenter")
	hosts       = flag.Int("hosts", 3, "hosts per cluster")
	standalone  = flag.Int("standalone-hosts", 1, "standalone hosts per datacenter (0 or 1)")
	vms         = flag.Int("vms", 2, "VMs per standalone host and per cluster (created in its root resource pool); total = datacenters*(standalone-hosts+clusters)*vms")
	datastores  = flag.Int("datastores", 2, "shared datastores per datacenter (LocalDS_0..N-1), mounted on every host")
	dsCapacity  = flag.Int64("ds-capacity-gib", 1024, "summary.capacity of every datastore, GiB")
	dsFreeGiB   = flag.Int64("ds-free-gib", 900, "summary.freeSpace of every datastore, GiB")
	taskDelay   = flag.Int("task-delay-ms", 0, "complete every *_Task asynchronously this many ms after it was started (0: complete before returning)")
	trace       = flag.Bool("trace", false, "write SOAP traffic to stderr")
	nfcTimeout  = flag.Int("nfc-lease-timeout-s", 300, "leaseTimeout of HttpNfcLeases (patch 0030): seconds without HttpNfcLeaseProgress before a ready lease times out")
	vijson      = flag.String("vijson-releases", "8.0.2.0,8.0.1.0", "VI/JSON releases served (patch 0060); empty: no VI/JSON, as vCenter before 8.0 U1; none >= 8.0.2.0: no System.hello (404), as 8.0 U1")

	dsFree         listFlag
	dsInaccessible listFlag
	dsType         listFlag
	dsUnmounted    listFlag
	hostMaint      listFlag
)

func init() {
	flag.Var(&dsFree, "ds-free", "per-datastore free space override NAME=GIB[,NAME=GIB] (0 makes it full)")
	flag.Var(&dsInaccessible, "ds-inaccessible", "datastores with summary.accessible=false NAME[,NAME]")
	flag.Var(&dsType, "ds-type", "datastore types NAME=TYPE[,NAME=TYPE] (VMFS, NFS, NFS41, vsan, VVOL; default VMFS)")
	flag.Var(&dsUnmounted, "ds-unmounted", "datastores not mounted on any cluster host (only on standalone hosts) NAME[,NAME]")
	flag.Var(&hostMaint, "host-maintenance", "hosts in maintenance mode NAME[,NAME]")
}

func main() {
	flag.Parse()
	log.SetOutput(os.Stderr)
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)

	if *standalone < 0 || *standalone > 1 {
		log.Fatal("-standalone-hosts must be 0 or 1")
	}
	for name, n := range map[string]int{"datacenters": *datacenters, "clusters": *clusters, "hosts": *hosts, "vms": *vms, "datastores": *datastores} {
		if n < 0 || (name == "datacenters" && n < 1) || (name == "datastores" && n < 1) {
			log.Fatalf("-%s: invalid value %d", name, n)
		}
	}

	start := time.Now()
	m := simulator.VPX()
	m.Datacenter = *datacenters
	m.Cluster = *clusters
	m.ClusterHost = *hosts
	m.Host = *standalone
	m.Machine = *vms
	m.Datastore = *datastores

	if err := m.Create(); err != nil {
		log.Fatalf("creating the model: %s", err)
	}

	fixDatastores()
	fixHosts()
	installDiskManager()

	simulator.Trace = *trace
	m.Service.Listen = &url.URL{
		Host: *listen,
		// a Userinfo other than simulator.DefaultLogin makes SessionManager.Login strict
		User: url.UserPassword(*username, *password),
	}
	s := m.Service.NewServer()

	// Only tasks started by clients are delayed (the model is built by now).
	simulator.TaskDelay = time.Duration(*taskDelay) * time.Millisecond
	if *nfcTimeout < 1 {
		fmt.Fprintf(os.Stderr, "-nfc-lease-timeout-s must be at least 1 (got %d)\n", *nfcTimeout)
		os.Exit(2)
	}
	simulator.NfcLeaseTimeout = *nfcTimeout
	installControl(m.Service.ServeMux)
	simulator.InstallVIJSON(m.Service, viJSONReleases())
	installPbm(m.Service) // pbm.go: storage policies at /pbm

	count := m.Count()
	log.Printf("vcsim: %d datacenters, %d clusters, %d hosts, %d VMs, %d datastores ready in %s",
		count.Datacenter, count.Cluster, count.Host, count.Machine, count.Datastore, time.Since(start).Round(time.Millisecond))
	describe()

	// before the banner: a client may stop us as soon as it reads it
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	u := url.URL{Scheme: s.URL.Scheme, Host: s.URL.Host, Path: s.URL.Path}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "VCSIM_URL=%s\n", u.String())
	fmt.Fprintln(w, "VCSIM_READY")
	_ = w.Flush()

	got := <-sig
	log.Printf("vcsim: %s, stopping", got)

	done := make(chan struct{})
	go func() {
		s.Close() // waits for outstanding requests (e.g. a long WaitForUpdatesEx)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		log.Print("vcsim: requests still running after 5s, exiting anyway")
	}
	m.Remove()
	log.Print("vcsim: stopped")
}

func datastoresOf() []*simulator.Datastore {
	var res []*simulator.Datastore
	for _, e := range simulator.Map.All("Datastore") {
		res = append(res, e.(*simulator.Datastore))
	}
	sort.Slice(res, func(i, j int) bool { return res[i].Self.Value < res[j].Self.Value })
	return res
}

func hostsOf() []*simulator.HostSystem {
	var res []*simulator.HostSystem
	for _, e := range simulator.Map.All("HostSystem") {
		res = append(res, e.(*simulator.HostSystem))
	}
	sort.Slice(res, func(i, j int) bool { return res[i].Name < res[j].Name })
	return res
}

func inCluster(h *simulator.HostSystem) bool {
	return h.Parent != nil && h.Parent.Type == "ClusterComputeResource"
}

func computeResource(h *simulator.HostSystem) *mo.ComputeResource {
	switch cr := simulator.Map.Get(*h.Parent).(type) {
	case *mo.ComputeResource:
		return cr
	case *simulator.ClusterComputeResource:
		return &cr.ComputeResource
	}
	return nil
}

func removeRef(refs []types.ManagedObjectReference, ref types.ManagedObjectReference) []types.ManagedObjectReference {
	var res []types.ManagedObjectReference
	for _, r := range refs {
		if r != ref {
			res = append(res, r)
		}
	}
	return res
}

func dedupe(refs []types.ManagedObjectReference) []types.ManagedObjectReference {
	seen := make(map[types.ManagedObjectReference]bool)
	var res []types.ManagedObjectReference
	for _, r := range refs {
		if !seen[r] {
			seen[r] = true
			res = append(res, r)
		}
	}
	return res
}

// fixDatastores applies the datastore flags and repairs vcsim's datastore
// inventory: Model.Create mounts a datastore on N hosts by creating N
// Datastore objects with the same moref, so only the last one (mounted on one
// host) survives, and the datastore folder lists it N times.
func fixDatastores() {
	free := make(map[string]int64)
	for name, v := range dsFree.pairs("ds-free") {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			log.Fatalf("-ds-free: invalid GiB value %q", v)
		}
		free[name] = n
	}
	kinds := dsType.pairs("ds-type")

	all := datastoresOf()
	known := make(map[string]bool)
	for _, ds := range all {
		known[ds.Name] = true
	}
	for _, l := range []struct {
		flag  string
		names []string
	}{{"ds-free", keys(free)}, {"ds-type", keys(kinds)}, {"ds-inaccessible", dsInaccessible}, {"ds-unmounted", dsUnmounted}} {
		for _, name := range l.names {
			if !known[name] {
				log.Fatalf("-%s: unknown datastore %q (datastores: %s)", l.flag, name, strings.Join(keys(known), ", "))
			}
		}
	}

	hosts := hostsOf()

	// unmount from cluster hosts
	for _, h := range hosts {
		if !inCluster(h) {
			continue
		}
		dss := simulator.Map.Get(*h.ConfigManager.DatastoreSystem).(*simulator.HostDatastoreSystem)
		list := append([]types.ManagedObjectReference(nil), h.Datastore...)
		for _, ds := range all {
			if dsUnmounted.has(ds.Name) {
				list = removeRef(list, ds.Self)
			}
		}
		h.Datastore = list
		dss.Datastore = append([]types.ManagedObjectReference(nil), list...)
	}
	// compute resources list the datastores of their hosts
	for _, e := range append(simulator.Map.All("ClusterComputeResource"), simulator.Map.All("ComputeResource")...) {
		var cr *mo.ComputeResource
		switch x := e.(type) {
		case *mo.ComputeResource:
			cr = x
		case *simulator.ClusterComputeResource:
			cr = &x.ComputeResource
		default:
			continue
		}
		var list []types.ManagedObjectReference
		for _, ref := range cr.Host {
			if h, ok := simulator.Map.Get(ref).(*simulator.HostSystem); ok {
				list = append(list, h.Datastore...)
			}
		}
		cr.Datastore = dedupe(list)
	}
	// datastore folders list each datastore once
	for _, e := range simulator.Map.All("Folder") {
		f := e.(*simulator.Folder)
		f.ChildEntity = dedupe(f.ChildEntity)
	}
	for _, e := range simulator.Map.All("Datacenter") {
		dc := e.(*simulator.Datacenter)
		dc.Datastore = dedupe(dc.Datastore)
	}

	for _, ds := range all {
		accessible := !dsInaccessible.has(ds.Name)
		info := ds.Info.GetDatastoreInfo()

		// host mounts: every host whose datastore list has ds
		ds.Host = nil
		for _, h := range hosts {
			for _, ref := range h.Datastore {
				if ref == ds.Self {
					ds.Host = append(ds.Host, types.DatastoreHostMount{
						Key: h.Self,
						MountInfo: types.HostMountInfo{
							Path:       info.Url,
							AccessMode: string(types.HostMountModeReadWrite),
							Mounted:    types.NewBool(true),
							Accessible: types.NewBool(accessible),
						},
					})
				}
			}
		}

		capacity := *dsCapacity * gib
		freeSpace := *dsFreeGiB * gib
		if n, ok := free[ds.Name]; ok {
			freeSpace = n * gib
		}
		if freeSpace > capacity {
			freeSpace = capacity
		}
		kind := "VMFS"
		if k, ok := kinds[ds.Name]; ok {
			kind = k
		}

		base := *info
		base.FreeSpace = freeSpace
		base.MaxFileSize = 62 * 1024 * gib
		base.MaxVirtualDiskCapacity = 62 * 1024 * gib
		base.MaxMemoryFileSize = 62 * 1024 * gib
		now := time.Now()
		base.Timestamp = &now
		switch strings.ToUpper(kind) {
		case "VMFS":
			ds.Info = &types.VmfsDatastoreInfo{
				DatastoreInfo: base,
				Vmfs: &types.HostVmfsVolume{
					HostFileSystemVolume: types.HostFileSystemVolume{Type: kind, Name: ds.Name, Capacity: capacity},
					BlockSizeMb:          1,
					MaxBlocks:            int32(capacity / (1 << 20)),
					MajorVersion:         6,
					Version:              "6.82",
					Uuid:                 strings.ReplaceAll(ds.Self.Value, "/", "-"),
					Extent:               []types.HostScsiDiskPartition{{DiskName: "naa.6000c29" + fmt.Sprintf("%025x", len(ds.Name)), Partition: 1}},
					Local:                types.NewBool(false),
				},
			}
		case "NFS", "NFS41":
			ds.Info = &types.NasDatastoreInfo{
				DatastoreInfo: base,
				Nas: &types.HostNasVolume{
					HostFileSystemVolume: types.HostFileSystemVolume{Type: kind, Name: ds.Name, Capacity: capacity},
					RemoteHost:           "127.0.0.1",
					RemotePath:           "/exports/" + ds.Name,
				},
			}
		default:
			local := &types.LocalDatastoreInfo{DatastoreInfo: base, Path: info.Url}
			ds.Info = local
		}

		ds.Summary.Type = kind
		ds.Summary.Capacity = capacity
		ds.Summary.FreeSpace = freeSpace
		ds.Summary.Uncommitted = 0
		ds.Summary.Accessible = accessible
		ds.Summary.MultipleHostAccess = types.NewBool(len(ds.Host) > 1)
		ds.IormConfiguration = simulator.DefaultIORMInfo() // patch 0020
	}
}

func keys(m interface{}) []string {
	var res []string
	switch x := m.(type) {
	case map[string]int64:
		for k := range x {
			res = append(res, k)
		}
	case map[string]string:
		for k := range x {
			res = append(res, k)
		}
	case map[string]bool:
		for k := range x {
			res = append(res, k)
		}
	}
	sort.Strings(res)
	return res
}

func fixHosts() {
	known := make(map[string]*simulator.HostSystem)
	for _, h := range hostsOf() {
		known[h.Name] = h
	}
	for _, name := range hostMaint {
		h, ok := known[name]
		if !ok {
			log.Fatalf("-host-maintenance: unknown host %q (hosts: %s)", name, strings.Join(keysHosts(known), ", "))
		}
		// Summary.Runtime points at Runtime
		h.Runtime.InMaintenanceMode = true
		if h.Summary.Runtime != nil {
			h.Summary.Runtime.InMaintenanceMode = true
		}
	}
}

func keysHosts(m map[string]*simulator.HostSystem) []string {
	var res []string
	for k := range m {
		res = append(res, k)
	}
	sort.Strings(res)
	return res
}

// describe logs the inventory names a test needs.
func describe() {
	for _, ds := range datastoresOf() {
		var hs []string
		for _, m := range ds.Host {
			if h, ok := simulator.Map.Get(m.Key).(*simulator.HostSystem); ok {
				hs = append(hs, h.Name)
			}
		}
		log.Printf("vcsim: datastore %s (%s) type=%s capacity=%dGiB free=%dGiB accessible=%v hosts=[%s]",
			ds.Name, ds.Self.Value, ds.Summary.Type, ds.Summary.Capacity/gib, ds.Summary.FreeSpace/gib,
			ds.Summary.Accessible, strings.Join(hs, " "))
	}
	for _, h := range hostsOf() {
		parent := ""
		if cr := computeResource(h); cr != nil {
			parent = cr.Name
		}
		log.Printf("vcsim: host %s (%s) parent=%s inMaintenanceMode=%v", h.Name, h.Self.Value, parent, h.Runtime.InMaintenanceMode)
	}
}

// diskManager adds the VirtualDiskManager methods that vcsim lacks
// (ExtendVirtualDisk_Task) and keeps the vmdk descriptor (uuid, capacity)
// right for the ones it has.  Map.VirtualDiskManager() returns an interface, so
// wrapping the singleton is safe.
type diskManager struct {
	// embedded by value: the simulator's PropertyCollector and SearchIndex
	// walk the first field of wrapper types down to the mo type
	simulator.VirtualDiskManager
}

func installDiskManager() {
	ref := simulator.Map.VirtualDiskManager().Reference()
	vdm := simulator.Map.Get(ref).(*simulator.VirtualDiskManager)
	simulator.Map.Put(&diskManager{*vdm})
}

func nestedFault(res soap.HasFault) types.BaseMethodFault {
	if f := res.Fault(); f != nil {
		return f.VimFault().(types.BaseMethodFault)
	}
	ref := reflectReturnval(res)
	if t, ok := simulator.Map.Get(ref).(*simulator.Task); ok && t.Info.Error != nil {
		return t.Info.Error.Fault
	}
	return nil
}

func reflectReturnval(res soap.HasFault) types.ManagedObjectReference {
	switch b := res.(type) {
	case *methods.CreateVirtualDisk_TaskBody:
		return b.Res.Returnval
	case *methods.CopyVirtualDisk_TaskBody:
		return b.Res.Returnval
	}
	return types.ManagedObjectReference{}
}

func (m *diskManager) CreateVirtualDiskTask(ctx *simulator.Context, req *types.CreateVirtualDisk_Task) soap.HasFault {
	task := simulator.CreateTask(m, "createVirtualDisk", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if spec, ok := req.Spec.(*types.FileBackedVirtualDiskSpec); ok { // patch 0051
			if !simulator.ProvisioningOK(spec.DiskType) {
				return nil, &types.InvalidArgument{InvalidProperty: "spec.diskType"}
			}
			if _, ok := simulator.DescriptorAdapter(spec.AdapterType); !ok {
				return nil, &types.InvalidArgument{InvalidProperty: "spec.adapterType"}
			}
		}
		if fault := nestedFault(m.VirtualDiskManager.CreateVirtualDiskTask(ctx, req)); fault != nil {
			return nil, fault
		}
		var kb int64
		var diskType, adapter string // patch 0051: recorded in the descriptor
		switch spec := req.Spec.(type) {
		case *types.FileBackedVirtualDiskSpec:
			kb, diskType, adapter = spec.CapacityKb, spec.DiskType, spec.AdapterType
		case *types.SeSparseVirtualDiskSpec:
			kb, diskType, adapter = spec.CapacityKb, spec.DiskType, spec.AdapterType
		}
		file, fault := simulator.ResolveDatastorePath(req.Datacenter, req.Name)
		if fault != nil {
			return nil, fault
		}
		adapter, _ = simulator.DescriptorAdapter(adapter)
		if err := simulator.WriteVmdk(file, &simulator.VmdkInfo{UUID: simulator.NewDiskUUID(), CapacityKB: kb,
			DiskType: diskType, AdapterType: adapter}); err != nil {
			return nil, &types.CannotCreateFile{FileFault: types.FileFault{File: req.Name}}
		}
		chargeDatastore(req.Name, kb*1024)
		return req.Name, nil
	})
	return &methods.CreateVirtualDisk_TaskBody{Res: &types.CreateVirtualDisk_TaskResponse{Returnval: task.Run()}}
}

func (m *diskManager) CopyVirtualDiskTask(ctx *simulator.Context, req *types.CopyVirtualDisk_Task) soap.HasFault {
	task := simulator.CreateTask(m, "copyVirtualDisk", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		if fault := nestedFault(m.VirtualDiskManager.CopyVirtualDiskTask(ctx, req)); fault != nil {
			return nil, fault
		}
		// the copy is a new disk: same capacity, new uuid, no parent
		dc := req.DestDatacenter
		if dc == nil {
			dc = req.SourceDatacenter
		}
		file, fault := simulator.ResolveDatastorePath(dc, req.DestName)
		if fault != nil {
			return nil, fault
		}
		if info, _ := simulator.ReadVmdk(file); info != nil {
			info.UUID = simulator.NewDiskUUID()
			info.Parent = ""
			_ = simulator.WriteVmdk(file, info)
			chargeDatastore(req.DestName, info.CapacityKB*1024)
		}
		return nil, nil
	})
	return &methods.CopyVirtualDisk_TaskBody{Res: &types.CopyVirtualDisk_TaskResponse{Returnval: task.Run()}}
}

func (m *diskManager) QueryVirtualDiskUuid(ctx *simulator.Context, req *types.QueryVirtualDiskUuid) soap.HasFault {
	body := new(methods.QueryVirtualDiskUuidBody)
	file, fault := simulator.ResolveDatastorePath(req.Datacenter, req.Name)
	if fault != nil {
		body.Fault_ = simulator.Fault("", fault)
		return body
	}
	info, err := simulator.ReadVmdk(file)
	if err != nil {
		body.Fault_ = simulator.Fault(fmt.Sprintf("File %s was not found", req.Name),
			&types.FileNotFound{FileFault: types.FileFault{File: req.Name}})
		return body
	}
	if info == nil {
		info = &simulator.VmdkInfo{UUID: simulator.NewDiskUUID()}
		_ = simulator.WriteVmdk(file, info)
	}
	body.Res = &types.QueryVirtualDiskUuidResponse{Returnval: simulator.DdbUUID(info.UUID)}
	return body
}

func (m *diskManager) SetVirtualDiskUuid(ctx *simulator.Context, req *types.SetVirtualDiskUuid) soap.HasFault {
	body := new(methods.SetVirtualDiskUuidBody)
	file, fault := simulator.ResolveDatastorePath(req.Datacenter, req.Name)
	if fault != nil {
		body.Fault_ = simulator.Fault("", fault)
		return body
	}
	info, err := simulator.ReadVmdk(file)
	if err != nil {
		body.Fault_ = simulator.Fault("", &types.FileNotFound{FileFault: types.FileFault{File: req.Name}})
		return body
	}
	if info == nil {
		info = &simulator.VmdkInfo{}
	}
	id := simulator.BackingUUID(req.Uuid)
	if len(strings.ReplaceAll(id, "-", "")) != 32 {
		body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "uuid"})
		return body
	}
	info.UUID = id
	_ = simulator.WriteVmdk(file, info)
	updateDisks(req.Name, func(d *types.VirtualDisk) {
		if b, ok := d.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
			b.Uuid = id
		}
	})
	body.Res = new(types.SetVirtualDiskUuidResponse)
	return body
}

// ExtendVirtualDiskTask implements VirtualDiskManager.ExtendVirtualDisk_Task.
func (m *diskManager) ExtendVirtualDiskTask(ctx *simulator.Context, req *types.ExtendVirtualDisk_Task) soap.HasFault {
	task := simulator.CreateTask(m, "extendVirtualDisk", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		file, fault := simulator.ResolveDatastorePath(req.Datacenter, req.Name)
		if fault != nil {
			return nil, fault
		}
		info, err := simulator.ReadVmdk(file)
		if err != nil {
			return nil, &types.FileNotFound{FileFault: types.FileFault{File: req.Name}}
		}
		if info == nil {
			info = &simulator.VmdkInfo{UUID: simulator.NewDiskUUID()}
		}
		if req.NewCapacityKb < info.CapacityKB {
			return nil, &types.InvalidArgument{InvalidProperty: "newCapacityKb"}
		}
		grow := (req.NewCapacityKb - info.CapacityKB) * 1024
		info.CapacityKB = req.NewCapacityKb
		if err := simulator.WriteVmdk(file, info); err != nil {
			return nil, &types.CannotCreateFile{FileFault: types.FileFault{File: req.Name}}
		}
		chargeDatastore(req.Name, grow)
		updateDisks(req.Name, func(d *types.VirtualDisk) {
			d.CapacityInKB = info.CapacityKB
			d.CapacityInBytes = info.CapacityKB * 1024
		})
		return nil, nil
	})
	return &methods.ExtendVirtualDisk_TaskBody{Res: &types.ExtendVirtualDisk_TaskResponse{Returnval: task.Run()}}
}

func normDatastorePath(p string) string {
	var dp object.DatastorePath
	if !dp.FromString(p) {
		return p
	}
	return "[" + dp.Datastore + "] " + path.Clean(strings.TrimPrefix(dp.Path, "/"))
}

// updateDisks applies f to every VM disk whose backing file is name and publishes the change.
func updateDisks(name string, f func(*types.VirtualDisk)) {
	want := normDatastorePath(name)
	for _, e := range simulator.Map.All("VirtualMachine") {
		vm, ok := e.(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		simulator.Map.WithLock(vm, func() {
			if vm.Config == nil {
				return
			}
			changed := false
			for _, d := range vm.Config.Hardware.Device {
				disk, ok := d.(*types.VirtualDisk)
				if !ok {
					continue
				}
				b, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo)
				if !ok || normDatastorePath(b.GetVirtualDeviceFileBackingInfo().FileName) != want {
					continue
				}
				f(disk)
				changed = true
			}
			if changed {
				simulator.Map.Update(vm, []types.PropertyChange{
					{Name: "config.hardware.device", Val: vm.Config.Hardware.Device},
				})
			}
		})
	}
}

// chargeDatastore takes n bytes from the free space of the datastore of a datastore path.
func chargeDatastore(name string, n int64) {
	var dp object.DatastorePath
	if n == 0 || !dp.FromString(name) {
		return
	}
	for _, ds := range datastoresOf() {
		if ds.Name != dp.Datastore {
			continue
		}
		simulator.Map.WithLock(ds, func() {
			ds.Summary.FreeSpace -= n
			ds.Info.GetDatastoreInfo().FreeSpace = ds.Summary.FreeSpace
		})
		return
	}
}

// ---- control endpoint (/testbed/...) for fault injection, loopback clients only

func installControl(mux *http.ServeMux) {
	mux.HandleFunc("/testbed/task-faults", loopbackOnly(serveTaskFaults))
	mux.HandleFunc("/testbed/expire-sessions", loopbackOnly(serveExpireSessions))
}

func loopbackOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			http.Error(w, "testbed control endpoints answer loopback clients only", http.StatusForbidden)
			return
		}
		h(w, r)
	}
}

func writeJSON(w http.ResponseWriter, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func readBody(r *http.Request) (string, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	return strings.TrimSpace(string(body)), err
}

// decodeJSON decodes a JSON object, rejecting unknown fields and trailing data.
func decodeJSON(body string, v interface{}) error {
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON: %s", err)
	}
	if dec.More() {
		return fmt.Errorf("bad JSON: trailing data after the object")
	}
	return nil
}

func taskFaultsState() interface{} {
	return map[string]interface{}{"rules": simulator.TaskFaults()}
}

// serveTaskFaults: GET lists the rules (with "matched" and "remaining"), PUT
// {"rules": [...]} replaces them, DELETE clears them.
func serveTaskFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut:
		var req struct {
			Rules *[]simulator.TaskFaultRule `json:"rules"`
		}
		body, err := readBody(r)
		if err == nil {
			err = decodeJSON(body, &req)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if req.Rules == nil {
			http.Error(w, `bad request: expected {"rules": [...]}`, http.StatusBadRequest)
			return
		}
		if err := simulator.SetTaskFaults(*req.Rules); err != nil {
			http.Error(w, "bad rule: "+err.Error(), http.StatusBadRequest)
			return
		}
		log.Printf("testbed: task fault rules set: %d rules", len(*req.Rules))
	case http.MethodDelete:
		_ = simulator.SetTaskFaults(nil)
		log.Print("testbed: task fault rules cleared")
	default:
		w.Header().Set("Allow", "GET, PUT, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	writeJSON(w, taskFaultsState())
}

// serveExpireSessions: POST with an optional {"except": ["<session key>", ...]}
// terminates every other session; answers {"expired": [keys]}.
func serveExpireSessions(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var req struct {
		Except []string `json:"except"`
	}
	body, err := readBody(r)
	if err == nil && body != "" {
		err = decodeJSON(body, &req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	expired := simulator.ExpireSessions(req.Except)
	if expired == nil {
		expired = []string{}
	}
	log.Printf("testbed: expired %d sessions", len(expired))
	writeJSON(w, map[string]interface{}{"expired": expired})
}

// viJSONReleases: the -vijson-releases list (patch 0060 serves them).
func viJSONReleases() []string {
	var l listFlag
	_ = l.Set(*vijson)
	return l
}
