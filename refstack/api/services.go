package api

// The reference stack's services: one of each but the router per region. Faults name them
// (process-crash, pause), providers start and signal them.
const (
	ServiceEtcd   = "etcd"
	ServiceMinIO  = "minio"
	ServiceHost   = "host"
	ServiceRouter = "router" // the one global service; its region is ""
)

// Services lists them.
func Services() []string { return []string{ServiceEtcd, ServiceMinIO, ServiceHost, ServiceRouter} }
